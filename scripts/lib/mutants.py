"""Mutation testing of the critical modules with cargo-mutants (called by scripts/mutants).

Each module is a set of files of passerelle-core and the integration tests that exercise them.
A mutant is tried in up to three stages, all in place (the tree is restored after each mutant):
  1. the unit tests of passerelle-core (`cargo test -p passerelle-core --lib`), 10 to 20 s each;
  2. only for the mutants still alive: the module's integration tests (`--test it`) on SQLite,
     with `--iterate`;
  3. for modules whose code differs by engine (SQL, locks, readers), the mutants still alive
     after stage 2: the same tests on PostgreSQL (a server from scripts/pg-test-server, or the
     one PASSERELLE_TEST_DATABASE_URL names).
The figures of the stages are added up per module, written to target/mutants/resume.md and
target/mutants/resume.json, and the run fails when a module is under its goal (full run) or
when any mutant of a changed line survives (--depuis, as CI runs it).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CORE = "crates/core/src/"

# name: (files, integration test modules of crates/passerelle/tests/it, goal in % of viable mutants)
# Modules whose files hold SQL or engine-specific code get a PostgreSQL stage (ENGINE_DEPENDENT).
MODULES = {
    "argent": (
        ["money.rs", "identifiants/centimes.rs"],
        ["pass::", "pass_invariants::", "reglements::", "rapports::", "opendata_indicateurs::"],
        100,
    ),
    "codes-cheques": (
        ["pass_numerique/code.rs"],
        ["pass::", "pass_pages::", "pannes_encaissements::", "limites_secrets::", "securite::"],
        100,
    ),
    "encaissement": (
        ["pass_numerique/redeem.rs", "pass_numerique/guichet.rs"],
        [
            "pass::",
            "pass_pages::",
            "pass_invariants::",
            "pannes_encaissements::",
            "limites_secrets::",
            "securite::",
            "horloge::",
            "validation_groupee::",
        ],
        100,
    ),
    "sepa": (
        ["reglements/sepa.rs"],
        ["reglements::", "reglements_pages::", "pannes_lots::"],
        100,
    ),
    "reglements": (
        ["reglements/run.rs", "reglements/batches.rs", "reglements/bank.rs"],
        ["reglements::", "reglements_pages::", "pannes_lots::", "cli::"],
        95,
    ),
    "identifiants-bancaires": (
        ["identifiants/iban.rs", "identifiants/bic.rs"],
        ["reglements::", "reglements_pages::", "operator::"],
        95,
    ),
    "journal": (
        [
            "journal/chain.rs",
            "journal/checkpoint.rs",
            "journal/verifier.rs",
            "journal/reader.rs",
            "journal/store.rs",
            "journal/tete.rs",
        ],
        [
            "journal::",
            "journal_points::",
            "journal_temoins::",
            "pannes::",
            "pannes_base::",
            "cli::",
            "sauvegarde::",
            # The one test that appends several entries at once (a group of redemptions).
            "validation_groupee::",
        ],
        100,
    ),
    "tableur": (
        ["tableur.rs"],
        ["rapports::", "reglements::", "lieux::", "opendata_indicateurs::", "opendata_pass_aidants::"],
        95,
    ),
    "oidc": (
        [
            "aidants_connect/oidc_provider/tokens.rs",
            "aidants_connect/oidc_provider/authorize.rs",
            "aidants_connect/oidc_provider/assertion.rs",
        ],
        [
            "oidc::",
            "oidc_authlib::",
            "oidc_authorize::",
            "oidc_core::",
            "oidc_interop::",
            "oidc_federation::",
            "oidc_private_key_jwt::",
            "fuzz_oidc::",
        ],
        95,
    ),
    "mandats": (
        [
            "aidants_connect/authz.rs",
            "aidants_connect/mandats/authz.rs",
            "aidants_connect/mandats/lookup.rs",
            "aidants_connect/mandats/revoke.rs",
        ],
        # lookup.rs feeds the consent page of the OpenID Connect provider (oidc_authorize::).
        ["mandats::", "mandats_acces::", "pannes_mandats::", "espace_usager::", "oidc::", "oidc_authorize::"],
        95,
    ),
}

# Files with SQL, transactions or a reader per engine: a mutant may live on one engine only.
ENGINE_DEPENDENT = {"encaissement", "reglements", "journal", "mandats", "oidc"}

# Stage 1 builds and runs the library's unit tests only (`--cargo-arg` reaches the build too:
# without it, each mutant also built the library alone and the crate's other test targets;
# builds read in the logs of two parallel runs went from 15-36 s to 6-15 s per mutant).
UNIT = ["--cargo-arg=--lib"]

OUT = Path("target/mutants")

# A mutant that breaks a property test must not leave a regression file in the source tree.
os.environ["PROPTEST_DISABLE_FAILURE_PERSISTENCE"] = "1"


def cargo_mutants(files, out, extra, test_args, timeout, env=None):
    cmd = ["cargo", "mutants", "--in-place", "--baseline", "skip", "-p", "passerelle-core"]
    for f in files:
        cmd += ["-f", CORE + f]
    cmd += ["--timeout", str(timeout), "-o", str(out)] + extra + ["--"] + test_args
    out.mkdir(parents=True, exist_ok=True)
    print("$", " ".join(cmd), flush=True)
    # Exit codes: 0 all caught, 2 missed, 3 timeouts, 4 baseline failed; the outcomes are read below.
    rc = subprocess.call(cmd, env=env)
    if rc not in (0, 2, 3):
        sys.exit(f"cargo mutants a échoué (code {rc}) ; voir {out}/mutants.out/debug.log")


def outcomes(out):
    path = out / "mutants.out" / "outcomes.json"
    if not path.exists():
        return {}
    found = {}
    for o in json.loads(path.read_text())["outcomes"]:
        scenario = o["scenario"]
        if isinstance(scenario, dict) and "Mutant" in scenario:
            found[scenario["Mutant"]["name"]] = o["summary"]
    return found


def next_stage(previous, stage, carried):
    """A copy of the output of `previous` for `stage` (--iterate), where `carried`
    mutants (noticed but not caught, e.g. hanging tests) are not tried again."""
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(previous, stage)
    with open(stage / "mutants.out" / "previously_caught.txt", "a", encoding="utf-8") as known:
        known.write("".join(m + "\n" for m in carried))


def sqlite_env():
    env = dict(os.environ)
    env.pop("PASSERELLE_TEST_DATABASE_URL", None)
    return env


def run_module(name, diff, whole_suite, resume, pg):
    files, it_modules, goal = MODULES[name]
    base = OUT / name
    unit = base / "unitaires"
    extra = ["--in-diff", str(diff)] if diff else []
    # Every outcome of stage 1 so far: an interrupted run may be resumed more than once.
    cumul = base / "unitaires.json"
    if resume and cumul.exists():
        # What was caught or unviable is not tried again (cargo mutants --iterate).
        earlier = json.loads(cumul.read_text())
        for later in ("integration", "postgresql"):
            shutil.rmtree(base / later, ignore_errors=True)
        cargo_mutants(files, unit, extra + ["--iterate"] + UNIT, [], 120)
    else:
        earlier = {}
        shutil.rmtree(base, ignore_errors=True)
        cargo_mutants(files, unit, extra + UNIT, [], 120)
    first = {**earlier, **outcomes(unit)}
    cumul.write_text(json.dumps(first, indent=1, ensure_ascii=False))
    # A mutant that made the unit tests hang was noticed: stage 2 takes the missed ones only.
    alive = [m for m, s in first.items() if s == "MissedMutant"]
    if whole_suite:
        scope, test_args = ["--test-workspace", "true"], []
    else:
        scope, test_args = ["--test-package", "passerelle", "--cargo-arg=--test=it"], ["--"] + it_modules
    second = {}
    if alive:
        integ = base / "integration"
        next_stage(unit, integ, [m for m, s in first.items() if s == "Timeout"])
        cargo_mutants(files, integ, extra + ["--iterate"] + scope, test_args, 900, sqlite_env())
        second = outcomes(integ)
    third = {}
    if pg and name in ENGINE_DEPENDENT and any(s == "MissedMutant" for s in second.values()):
        on_pg = base / "postgresql"
        next_stage(base / "integration", on_pg, [m for m, s in second.items() if s == "Timeout"])
        env = dict(os.environ, PASSERELLE_TEST_DATABASE_URL=pg.url())
        cargo_mutants(files, on_pg, extra + ["--iterate"] + scope, test_args, 900, env)
        third = outcomes(on_pg)
    final = dict(first)
    final.update(second)
    final.update(third)
    count = {
        "module": name,
        "fichiers": [CORE + f for f in files],
        "mutants": len(final),
        "tues_unitaires": sum(1 for s in first.values() if s == "CaughtMutant"),
        "tues_integration": sum(1 for s in second.values() if s == "CaughtMutant"),
        "tues_postgresql": sum(1 for s in third.values() if s == "CaughtMutant"),
        "survivants": sorted(m for m, s in final.items() if s == "MissedMutant"),
        "non_compilables": sum(1 for s in final.values() if s == "Unviable"),
        "delais_depasses": sum(1 for s in final.values() if s == "Timeout"),
        "objectif": goal,
    }
    count["tues"] = count["tues_unitaires"] + count["tues_integration"] + count["tues_postgresql"]
    viable = count["mutants"] - count["non_compilables"]
    # A mutant that makes the tests hang was noticed: it counts as caught, and is listed apart.
    count["taux"] = 100.0 if viable == 0 else 100.0 * (viable - len(count["survivants"])) / viable
    return count


def write_summary(counts, diff_base):
    lines = [
        "| module | mutants | tués (unitaires + intégration SQLite + PostgreSQL) | survivants | non compilables | délais dépassés | tués / viables | objectif |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in counts:
        lines.append(
            f"| {c['module']} | {c['mutants']} | {c['tues']} ({c['tues_unitaires']} + {c['tues_integration']} + {c['tues_postgresql']}) "
            f"| {len(c['survivants'])} | {c['non_compilables']} | {c['delais_depasses']} "
            f"| {c['taux']:.1f} % | {c['objectif']} % |"
        )
    text = "\n".join(lines) + "\n"
    for c in counts:
        for m in c["survivants"]:
            text += f"\nsurvivant : {m}"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "resume.md").write_text(text + "\n")
    (OUT / "resume.json").write_text(json.dumps({"depuis": diff_base, "modules": counts}, indent=2, ensure_ascii=False))
    print(text)


def module_counts(n, args, pg):
    diff = None
    if args.depuis:
        files = [CORE + f for f in MODULES[n][0]]
        text = subprocess.run(["git", "diff", args.depuis, "--"] + files, check=True, capture_output=True, text=True).stdout
        if not text.strip():
            print(f"== {n} : aucune ligne changée depuis {args.depuis}")
            return None
        diff = OUT / f"{n}.diff"
        OUT.mkdir(parents=True, exist_ok=True)
        diff.write_text(text)
    print(f"== {n}", flush=True)
    return run_module(n, diff, args.suite_complete, args.reprendre, pg)


class PostgreSQL:
    """The server of stage 3, started the first time a module needs it: the one
    PASSERELLE_TEST_DATABASE_URL names, or one from scripts/pg-test-server."""

    def __init__(self):
        self.given = os.environ.get("PASSERELLE_TEST_DATABASE_URL")
        self.started = None

    def url(self):
        if self.given:
            return self.given
        if not self.started:
            print("== PostgreSQL pour la troisième étape (scripts/pg-test-server)", flush=True)
            out = subprocess.run(["scripts/pg-test-server", "start"], check=True, capture_output=True, text=True).stdout
            self.started = out.strip().splitlines()[-1]
        return self.started

    def stop(self):
        if self.started:
            subprocess.call(["scripts/pg-test-server", "stop"], stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(prog="scripts/mutants", description=__doc__.split("\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="un module (répétable) ; tous par défaut")
    parser.add_argument("--depuis", metavar="COMMIT", help="seulement les mutants des lignes changées depuis COMMIT (git diff, arbre de travail compris)")
    parser.add_argument("--suite-complete", action="store_true", help="deuxième étape avec toute la suite d'intégration, pas seulement celle du module")
    parser.add_argument("--reprendre", action="store_true", help="reprend un passage interrompu : les mutants déjà tués ou non compilables ne sont pas refaits")
    parser.add_argument("--sans-postgresql", action="store_true", help="pas de troisième étape sur PostgreSQL")
    parser.add_argument("--liste", action="store_true", help="affiche les modules, leurs fichiers et leurs tests, puis s'arrête")
    args = parser.parse_args()
    names = args.module or list(MODULES)
    if args.liste:
        for n in names:
            files, it_modules, goal = MODULES[n]
            engines = "SQLite puis PostgreSQL" if n in ENGINE_DEPENDENT else "SQLite"
            print(f"{n} (objectif {goal} %) : {' '.join(CORE + f for f in files)}\n    tests : {' '.join(it_modules)} ({engines})")
        return 0
    if subprocess.call(["git", "diff", "--quiet", "--", CORE]) != 0 and not args.depuis:
        print("attention : crates/core/src a des changements non commités ; ils sont mutés aussi", file=sys.stderr)
    pg = None if args.sans_postgresql else PostgreSQL()
    try:
        counts = [c for c in (module_counts(n, args, pg) for n in names) if c]
    finally:
        if pg:
            pg.stop()
    write_summary(counts, args.depuis)
    if args.depuis:
        bad = [c for c in counts if c["survivants"]]
        if bad:
            print("ÉCHEC : des mutants de lignes changées survivent (liste ci-dessus) ; ajoutez le test qui les tue.")
            return 1
    else:
        bad = [c for c in counts if c["taux"] < c["objectif"]]
        if bad:
            print("ÉCHEC : sous l'objectif : " + ", ".join(c["module"] for c in bad))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
