#!/usr/bin/env bash
# The agent on arm64, proven here under emulation (qemu-user; no Raspberry Pi needed):
#   1. an arm64 Debian bookworm root (debootstrap minbase) holding exactly the Debian packages
#      deploy/install.sh installs for the agent (python3 python3-venv openssl),
#   2. the agent installed into it from aarch64 wheels (scripts/agent_install_size.sh: pip --platform),
#   3. `maskwatch config check`, `maskwatch detect` on the shipped photo, and the agent on the demo camera
#      for DURATION seconds after it is up, with no broker reachable (everything stays in the durable
#      queue), all run by the arm64 python3.11 through qemu-aarch64-static.
#   scripts/arm64_proof.sh [WORK_DIR] [DURATION_S]
# Output under WORK_DIR: detect.json (one JSON line), agent.log, queue.sqlite3. Exit status 0 = all ran.
# Reuses WORK_DIR/root and WORK_DIR/site when they exist (delete them to rebuild). Timings under emulation
# say nothing about a Pi's speed. Needs root (debootstrap), qemu-user-static, debootstrap and a Debian mirror
# and package index (MIRROR, pip's index).
set -euo pipefail
WORK="${1:-/tmp/maskwatch-arm64}"
DURATION="${2:-60}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$WORK/root"
SITE="$WORK/site"
# What install.sh's install_packages() installs for an agent-only install (--no-broker --no-dashboard).
PACKAGES="$(sed -n 's/^  local want=(\(.*\)) missing=.*/\1/p' "$HERE/deploy/install.sh")"
[ -n "$PACKAGES" ] || { echo "cannot read the package list from deploy/install.sh" >&2; exit 1; }
for tool in qemu-aarch64-static debootstrap dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install qemu-user-static debootstrap)" >&2; exit 1; }
done
mkdir -p "$WORK"

if [ ! -x "$ROOT/usr/bin/python3.11" ]; then
  echo "==> arm64 bookworm root (minbase + ${PACKAGES}) in $ROOT"
  rm -rf "$ROOT"
  debootstrap --foreign --arch=arm64 --variant=minbase --include="${PACKAGES// /,}" bookworm "$ROOT" "$MIRROR" \
    > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # --foreign only extracts the essential set; the --include packages (and what they depend on) wait as .debs
  for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
fi
echo "Debian packages in the root: minbase + $(find "$ROOT/var/cache/apt/archives" -name '*.deb' | wc -l) .debs for: $PACKAGES"

if [ ! -d "$SITE/edge_agent" ]; then
  echo "==> agent from aarch64 wheels into $SITE"
  "$HERE/scripts/agent_install_size.sh" aarch64 "$SITE"
fi

# one OpenCV thread: emulated threads only compete for the same host cores
emu() { qemu-aarch64-static -L "$ROOT" -E PYTHONPATH="$SITE" -E HOME=/tmp -E LC_ALL=C.UTF-8 -E OPENCV_FOR_THREADS_NUM=1 \
          "$ROOT/usr/bin/python3.11" "$@"; }
emu -c 'import platform, sys; print("emulated:", platform.machine(), sys.version.split()[0])'

cat > "$WORK/config.yaml" <<YAML
site: arm64
agent_id: proof
mqtt: {host: 127.0.0.1, port: 9, reconnect_max_s: 5}   # nothing listens: messages stay queued
queue: {path: $WORK/queue.sqlite3}
snapshots: {enabled: true}
preview: {enabled: false}
agent: {stats_interval_s: 20}
cameras:
  - name: door
    source: {type: demo, fps: 2, width: 160, height: 120}   # tiny: emulated OpenCV DNN is 100-1000x slower
    detect_fps: 2
    read_timeout_s: 60                                        # emulated rendering is slow too
YAML
rm -f "$WORK"/queue.sqlite3*

echo "==> maskwatch config check (emulated)"
emu -m edge_agent config check --config "$WORK/config.yaml"
echo "==> maskwatch detect on the shipped photo (emulated; the live agent's detector settings)"
emu -m edge_agent detect "$SITE/edge_agent/assets/astronaut.jpg" --json --profile config > "$WORK/detect.json"
cat "$WORK/detect.json"
echo "==> maskwatch agent on the demo camera for ${DURATION} s after it is up (emulated)"
qemu-aarch64-static -L "$ROOT" -E PYTHONPATH="$SITE" -E HOME=/tmp -E LC_ALL=C.UTF-8 -E OPENCV_FOR_THREADS_NUM=1 \
  "$ROOT/usr/bin/python3.11" -m edge_agent agent --config "$WORK/config.yaml" > "$WORK/agent.log" 2>&1 &
agent=$!
for _ in $(seq 600); do  # start-up (imports, model load) takes about a minute under emulation
  grep -q "running 1 camera" "$WORK/agent.log" && break
  kill -0 "$agent" 2>/dev/null || break
  sleep 1
done
grep -q "running 1 camera" "$WORK/agent.log" || { cat "$WORK/agent.log" >&2; kill "$agent" 2>/dev/null; exit 1; }
sleep "$DURATION"
kill -INT "$agent"
rc=0
wait "$agent" || rc=$?
grep -v "XNNPACK" "$WORK/agent.log" | tail -8
[ "$rc" = 0 ] || { echo "agent exited with $rc" >&2; exit 1; }
echo "arm64 proof ran; results in $WORK (detect.json, agent.log, queue.sqlite3)"
