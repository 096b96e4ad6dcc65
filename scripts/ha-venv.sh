#!/usr/bin/env bash
# Build the separate Home Assistant environment that tests/dashboard/test_homeassistant.py uses to validate the
# MQTT discovery payloads with Home Assistant's own schemas (docs/mqtt.md, "Checked against Home Assistant").
#
#   scripts/ha-venv.sh [DIR] [PYTHON]      # default /tmp/ha-venv, python3.12
#
# homeassistant 2025.1.4 is the newest release that runs on Python 3.12 (later ones need 3.13). A full
# `pip install homeassistant` backtracks for a long time over Bluetooth packages the MQTT platforms never
# import, so: its pinned requirements without those (binary wheels only), then the package itself and the
# few modules its MQTT integration imports, without their dependency trees.
set -euo pipefail
DIR=${1:-/tmp/ha-venv}
PY=${2:-python3.12}
HA=2025.1.4
"$PY" -m venv "$DIR"
PIP="$DIR/bin/pip"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PIP" download -q --no-deps -d "$TMP" "homeassistant==$HA"
"$DIR/bin/python" - "$TMP" > "$TMP/reqs.txt" <<'PY'
import sys, zipfile, pathlib
whl = next(pathlib.Path(sys.argv[1]).glob("homeassistant-*.whl"))
meta = zipfile.ZipFile(whl).read(f"{whl.name.split('-py3')[0]}.dist-info/METADATA").decode()
skip = ("hass-nabucasa", "home-assistant-bluetooth", "uv ", "aiohasupervisor", "fnv-hash-fast")
for line in meta.splitlines():
    if line.startswith("Requires-Dist: ") and "python_version" not in line:
        req = line.removeprefix("Requires-Dist: ")
        if not req.startswith(skip):
            print(req)
PY
"$PIP" install -q --prefer-binary --only-binary=:all: -r "$TMP/reqs.txt"
"$PIP" install -q "paho-mqtt==1.6.1"
"$PIP" install -q --no-deps "$TMP"/homeassistant-*.whl hass-nabucasa==0.87.0 async-timeout boto3 botocore s3transfer \
    python-dateutil jmespath six pycognito envs snitun acme josepy pyrfc3339
"$DIR/bin/python" -c "import homeassistant.components.mqtt.sensor, homeassistant.const as c; print('homeassistant', c.__version__)"
