"""Validate MQTT discovery payloads with Home Assistant's own schemas. Runs under the Python of a separate
environment that has the ``homeassistant`` package (see tests/dashboard/test_homeassistant.py):

    /tmp/ha-venv/bin/python tests/helpers/ha_validate.py < payloads.jsonl

Each input line: {"component": "sensor", "topic": ..., "payload": {...}}. Each output line: {"topic", "ok",
"error", "dropped"}: ``dropped`` lists keys the schema removed (HA drops unknown keys silently, so a typo
would otherwise pass). The first output line names the Home Assistant version."""

from __future__ import annotations

import importlib
import json
import logging
import sys

import voluptuous as vol
from homeassistant.const import __version__

logging.disable(logging.WARNING)  # "validates outside the event loop": true, and fine for a schema check
print(json.dumps({"homeassistant": __version__}))
for line in sys.stdin:
    item = json.loads(line)
    out = {"topic": item["topic"], "ok": True, "error": None, "dropped": []}
    try:
        module = importlib.import_module(f"homeassistant.components.mqtt.{item['component']}")
        validated = module.DISCOVERY_SCHEMA(item["payload"])
        out["dropped"] = sorted(k for k in item["payload"] if k not in validated)
        out["ok"] = not out["dropped"]
    except vol.Invalid as err:
        out["ok"], out["error"] = False, str(err)
    print(json.dumps(out))
