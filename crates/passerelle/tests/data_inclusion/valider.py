"""Validates an export in the data·inclusion v1 schema with the schema's own package.

    python valider.py structures.json services.json

Uses the models of the PyPI package `data-inclusion-schema` (pydantic), with its warnings
counted as errors. Prints one line per problem and exits 1 when there is any; prints the
counts and exits 0 otherwise. Also checks that every service names a structure of the file.
"""

import json
import sys

import pydantic
from data_inclusion.schema import v1


def valider(path, model):
    with open(path, encoding="utf-8") as f:
        items = json.load(f)
    if not isinstance(items, list):
        return [], [f"{path} : une liste est attendue"]
    problems = []
    adapter = pydantic.TypeAdapter(model)
    for i, item in enumerate(items):
        try:
            adapter.validate_python(item, context={"ignore_warnings": False})
        except pydantic.ValidationError as e:
            for err in e.errors():
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"{path} [{i}] {item.get('id')} {where} : {err['msg']}")
    return items, problems


def main():
    structures, problems = valider(sys.argv[1], v1.Structure)
    services, more = valider(sys.argv[2], v1.Service)
    problems += more
    ids = {s.get("id") for s in structures}
    if len(ids) != len(structures):
        problems.append("identifiants de structures en double")
    service_ids = [s.get("id") for s in services]
    if len(set(service_ids)) != len(service_ids):
        problems.append("identifiants de services en double")
    for s in services:
        if s.get("structure_id") not in ids:
            problems.append(f"service {s.get('id')} : structure {s.get('structure_id')} absente")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"{len(structures)} structures et {len(services)} services conformes")


main()
