#!/usr/bin/env bash
# Set up a development machine: Debian packages (when root or with sudo) and the project's virtualenv.
# Usage: scripts/setup.sh [EXTRAS]   (default extras: dashboard,broker,postgres,train,onnxruntime,dev)
# Idempotent: packages and the venv that are already present are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-dashboard,broker,postgres,train,onnxruntime,dev}"

APT_PACKAGES=(
  mosquitto mosquitto-clients                          # real MQTT broker for tests and the demo
  gir1.2-gst-rtsp-server-1.0 python3-gi                # real RTSP server for camera tests
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-tools
  chromium                                             # headless browser tests of the dashboard
  postgresql                                           # PostgreSQL tests
  systemd shellcheck openssl                           # unit file lint, installer lint, TLS certificates
  nginx-light                                          # the installer's HTTPS proxy for the dashboard
  qemu-user-static debootstrap                         # the arm64 proof under emulation (scripts/arm64_proof.sh)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "error: these Debian packages are missing and I cannot install them (not root, no sudo):" >&2
    echo "  ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "error: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]"
echo "setup done: .venv ready with extras [${EXTRAS}]"
