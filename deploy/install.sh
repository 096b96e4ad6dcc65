#!/usr/bin/env bash
# MaskWatch installer for Raspberry Pi OS 64-bit / Debian bookworm (arm64 or x86_64).
#
# Installs (and, run again, upgrades) the edge agent, the dashboard and a secured mosquitto:
#   /opt/maskwatch/venv               virtualenv with the agent (no TensorFlow) and the dashboard
#   /etc/maskwatch/config.yaml        configuration (written once, never overwritten)
#   /etc/maskwatch/maskwatch.env      the agent's secrets and broker settings (0640 root:maskwatch)
#   /etc/maskwatch/dashboard.env      the dashboard's and ingest's secrets (0640 root:maskwatch-web)
#   /var/lib/maskwatch                the agent's queue, owned by maskwatch
#   /var/lib/maskwatch-dashboard      database and snapshots, owned by maskwatch-web
#   /etc/mosquitto/conf.d/maskwatch.conf, maskwatch.passwd, maskwatch.acl
#   /etc/systemd/system/maskwatch-{agent,dashboard,ingest}.service
#
# Usage: sudo deploy/install.sh [options]          (deploy/install.sh --help for the options)
#        sudo deploy/install.sh add-agent --site S --agent-id A   (broker user + ACL for another agent)
# Docs:  docs/raspberry-pi.md, docs/deploy.md
set -euo pipefail
umask 022

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY_DIR="$SRC_DIR/deploy"

# ------------------------------------------------------------------ options
ROOT=""
DRY_RUN=0
UNINSTALL=0
PURGE=0
SITE=""
AGENT_ID=""
PYTHON_BIN="python3"
WHEELHOUSE=""
DEPS_FROM=""
SKIP_VENV=0
SKIP_APT=0
WITH_DASHBOARD=1
WITH_BROKER=1
MQTT_HOST=""
MQTT_PORT=""
MQTT_BIND=""
TLS_MODE=""          # "" | generate | provided | keep (upgrade of a TLS install)
TLS_CERT=""
TLS_KEY=""
TLS_CA=""
TLS_PORT=""
TLS_NAMES=()
DASHBOARD_BIND="127.0.0.1"
DASHBOARD_PORT="8080"
DASHBOARD_TLS=""
DASHBOARD_TLS_PORT="8443"
NO_START=0
SERVICE_USER="maskwatch"
COMMAND="install"     # install | add-agent
CAMERAS=""            # --cameras a,b: the agent's broker user may write only these cameras (kept on re-runs)
WEB_USER="maskwatch-web"   # dashboard + ingest: the agent's user cannot read their secrets or data

usage() {
  cat <<'EOF'
Usage: sudo deploy/install.sh [options]

Install or upgrade MaskWatch (run it again to upgrade: config.yaml and secrets are kept).

       sudo deploy/install.sh add-agent --site S --agent-id A [--cameras C1,C2] [--root DIR]
  adds a broker user and ACL for one more agent (on another machine) to this broker and writes its
  credentials to /etc/maskwatch/agents/<user>.env (0600); re-runs of the installer keep it.

  --site NAME            site name (topic level, broker ACL); default: this host's name
  --agent-id NAME        agent name, unique per site; default: agent-1
  --cameras C1,C2        the cameras this agent may publish (broker ACL); default: every camera of its
                         site. Kept by later runs that do not give it
  --no-dashboard         agent only (no dashboard/ingest services, no dashboard packages)
  --no-broker            do not install mosquitto; use --mqtt-host and set the credentials in
                         /etc/maskwatch/maskwatch.env yourself
  --mqtt-host HOST       broker the services connect to (default 127.0.0.1)
  --mqtt-port PORT       plain MQTT port (default 1883)
  --mqtt-bind ADDR       address mosquitto's plain listener binds (default 127.0.0.1;
                         0.0.0.0 lets agents on other machines connect, with passwords)
  --tls generate         TLS listener (port 8883) with a CA and server certificate made here (openssl)
  --tls-cert F --tls-key F [--tls-ca F]
                         TLS listener with your certificate and key (and the CA that signed it)
  --tls-name NAME        extra DNS name or IP for a generated certificate (repeatable)
  --tls-port PORT        TLS listener port (default 8883)
  --dashboard-bind ADDR  dashboard listen address (default 127.0.0.1; 0.0.0.0 for the LAN)
  --dashboard-port PORT  dashboard port (default 8080)
  --dashboard-tls generate
                         HTTPS for the dashboard: nginx (nginx-light) with a certificate made here,
                         forwarding to the dashboard on 127.0.0.1 (the dashboard trusts only it)
  --dashboard-tls-port PORT  HTTPS port (default 8443)
  --wheelhouse DIR       install Python packages from DIR only (offline; see docs/deploy.md)
  --python PATH          Python >= 3.11 for the virtualenv (default python3)
  --no-start             install but do not enable/start the services
  --skip-apt             do not install Debian packages (they must be present)
  --uninstall            remove services, virtualenv and broker settings; keep config and data
  --purge                with --uninstall: also remove config, secrets, data and the user
  --dry-run              print what would be done, change nothing
  --root DIR             install everything under DIR (a self-contained tree for tests and
                         image building): paths inside the written files point into DIR; no
                         packages, users, chown or systemctl outside it
  --deps-from VENV       (development/tests) make VENV's packages visible to the new virtualenv
                         instead of downloading them; the project itself is still pip-installed
  --skip-venv            (re)configure only: leave the virtualenv as it is
  -h, --help             this help
EOF
}

die() { echo "install.sh: error: $*" >&2; exit 1; }
# a site, agent or camera name is a topic level: edge_agent/core/topics.py NAME_PATTERN (tests/core/test_vocabulary.py checks)
NAME_RE='^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
check_names() {
  local n
  for n in "$@"; do
    [[ "$n" =~ $NAME_RE ]] || die "'$n' is not a valid site/agent name: use 1-64 letters, digits, '_', '-', '.'"
  done
}
warn() { echo "install.sh: warning: $*" >&2; }
info() { echo "==> $*"; }

need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    add-agent) COMMAND=add-agent; shift ;;
    --site) need_arg "$@"; SITE="$2"; shift 2 ;;
    --agent-id) need_arg "$@"; AGENT_ID="$2"; shift 2 ;;
    --cameras) need_arg "$@"; CAMERAS="$2"; shift 2 ;;
    --no-dashboard) WITH_DASHBOARD=0; shift ;;
    --no-broker) WITH_BROKER=0; shift ;;
    --mqtt-host) need_arg "$@"; MQTT_HOST="$2"; shift 2 ;;
    --mqtt-port) need_arg "$@"; MQTT_PORT="$2"; shift 2 ;;
    --mqtt-bind) need_arg "$@"; MQTT_BIND="$2"; shift 2 ;;
    --tls) need_arg "$@"; [ "$2" = generate ] || die "--tls takes 'generate' (or use --tls-cert/--tls-key)"
      TLS_MODE=generate; shift 2 ;;
    --tls-cert) need_arg "$@"; TLS_CERT="$2"; TLS_MODE=provided; shift 2 ;;
    --tls-key) need_arg "$@"; TLS_KEY="$2"; TLS_MODE=provided; shift 2 ;;
    --tls-ca) need_arg "$@"; TLS_CA="$2"; shift 2 ;;
    --tls-name) need_arg "$@"; TLS_NAMES+=("$2"); shift 2 ;;
    --tls-port) need_arg "$@"; TLS_PORT="$2"; shift 2 ;;
    --dashboard-bind) need_arg "$@"; DASHBOARD_BIND="$2"; shift 2 ;;
    --dashboard-port) need_arg "$@"; DASHBOARD_PORT="$2"; shift 2 ;;
    --dashboard-tls) need_arg "$@"; [ "$2" = generate ] || die "--dashboard-tls takes 'generate'"
      DASHBOARD_TLS=generate; shift 2 ;;
    --dashboard-tls-port) need_arg "$@"; DASHBOARD_TLS_PORT="$2"; shift 2 ;;
    --wheelhouse) need_arg "$@"; WHEELHOUSE="$2"; shift 2 ;;
    --python) need_arg "$@"; PYTHON_BIN="$2"; shift 2 ;;
    --deps-from) need_arg "$@"; DEPS_FROM="$2"; shift 2 ;;
    --skip-venv) SKIP_VENV=1; shift ;;
    --skip-apt) SKIP_APT=1; shift ;;
    --no-start) NO_START=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --root) need_arg "$@"; ROOT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

# ------------------------------------------------------------------ layout
if [ -n "$ROOT" ]; then
  [[ "$ROOT" == /* ]] || ROOT="$(pwd)/$ROOT"
  ROOT="${ROOT%/}"
  [[ "$ROOT" =~ ^[A-Za-z0-9_./-]+$ ]] || die "--root: use a path of letters, digits, '_', '-', '.' and '/'"
fi
R="$ROOT"
PREFIX="$R/opt/maskwatch"
VENV="$PREFIX/venv"
ETC="$R/etc/maskwatch"
STATE="$R/var/lib/maskwatch"
UNIT_DIR="$R/etc/systemd/system"
MOSQ_ETC="$R/etc/mosquitto"
MOSQ_CONF="$MOSQ_ETC/conf.d/maskwatch.conf"
MOSQ_PASSWD="$MOSQ_ETC/maskwatch.passwd"
MOSQ_ACL="$MOSQ_ETC/maskwatch.acl"
MOSQ_ACL_DIR="$MOSQ_ETC/maskwatch-agents.d"     # one ACL fragment per agent; kept across re-runs
AGENTS_DIR="$ETC/agents"                        # credentials made by add-agent, for the other machines
MOSQ_CERTS="$MOSQ_ETC/certs/maskwatch"
ENV_FILE="$ETC/maskwatch.env"          # the agent's: broker settings and its MQTT login
DASH_ENV_FILE="$ETC/dashboard.env"     # dashboard + ingest: SECRET_KEY, their MQTT login, database URL
WEB_STATE="$R/var/lib/maskwatch-dashboard"
CA_DIR="$ETC/ca"                       # the generated CA's private key: root only, out of the broker's reach
NGINX_SITE="$R/etc/nginx/sites-available/maskwatch-dashboard"
NGINX_LINK="$R/etc/nginx/sites-enabled/maskwatch-dashboard"
CONFIG="$ETC/config.yaml"
UNITS=(maskwatch-agent.service)
if [ "$WITH_DASHBOARD" = 1 ]; then UNITS+=(maskwatch-dashboard.service maskwatch-ingest.service); fi

# Real system changes (packages, users, chown, systemctl) only for a real install as root.
REAL=0
[ -z "$ROOT" ] && REAL=1

# ------------------------------------------------------------------ actions (dry-run aware)
run() {
  if [ "$DRY_RUN" = 1 ]; then echo "would run: $*"; return 0; fi
  "$@"
}

# write_file DEST MODE [OWNER:GROUP] < content
write_file() {
  local dest="$1" mode="$2" owner="${3:-}" tmp
  if [ "$DRY_RUN" = 1 ]; then
    cat >/dev/null
    echo "would write: $dest (mode $mode${owner:+, owner $owner})"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  tmp="$(mktemp "$dest.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ "$REAL" = 1 ] && [ -n "$owner" ]; then chown "$owner" "$tmp"; fi
  mv -f "$tmp" "$dest"
}

# copy_file SRC DEST MODE [OWNER:GROUP]
copy_file() {
  if [ "$DRY_RUN" = 1 ]; then echo "would copy: $1 -> $2 (mode $3${4:+, owner $4})"; return 0; fi
  write_file "$2" "$3" "${4:-}" <"$1"
}

make_dir() {
  local dir="$1" mode="$2" owner="${3:-}"
  if [ "$DRY_RUN" = 1 ]; then echo "would create directory: $dir (mode $mode${owner:+, owner $owner})"; return 0; fi
  mkdir -p "$dir"
  chmod "$mode" "$dir"
  if [ "$REAL" = 1 ] && [ -n "$owner" ]; then chown "$owner" "$dir"; fi
}

remove() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || [ -L "$p" ] || continue
    if [ "$DRY_RUN" = 1 ]; then echo "would remove: $p"; else rm -rf -- "$p"; echo "removed $p"; fi
  done
}

# render TEMPLATE KEY=VALUE... : replace @KEY@ by VALUE (values must not contain newlines)
render() {
  local template="$1" text kv key value
  shift
  text="$(cat "$template")"
  for kv in "$@"; do
    key="${kv%%=*}"
    value="${kv#*=}"
    text="${text//@"$key"@/"$value"}"
  done
  if [[ "$text" =~ @[A-Z_]+@ ]]; then die "template $template: unfilled placeholder ${BASH_REMATCH[0]}"; fi
  printf '%s\n' "$text"
}

# env_value FILE KEY: the value of KEY=... in an existing env file ("" if absent)
env_value() {
  local file="$1" key="$2" line
  [ -r "$file" ] || return 0
  line="$(grep -E "^${key}=" "$file" | tail -n 1 || true)"
  printf '%s' "${line#*=}"
}

# yaml_top FILE KEY: a plain top-level scalar of a YAML file ("" if absent)
yaml_top() {
  [ -r "$1" ] || return 0
  sed -n -E "s/^$2:[[:space:]]*[\"']?([A-Za-z0-9_.-]+).*/\\1/p" "$1" | head -n 1
}

# listener_field FILE N F: word F of the N-th "listener" line of a mosquitto config ("" if absent)
listener_field() {
  [ -r "$1" ] || return 0
  awk -v n="$2" -v f="$3" '$1 == "listener" { i++; if (i == n) { print $f; exit } }' "$1"
}

# An upgrade run without options keeps what the previous install chose (site, ports, bind address, TLS).
load_previous() {
  local prev
  prev="$(yaml_top "$CONFIG" site)"
  if [ -z "$SITE" ]; then SITE="$prev"
  elif [ -n "$prev" ] && [ "$prev" != "$SITE" ]; then
    warn "$CONFIG keeps site '$prev' (the installer never rewrites it), but the broker ACL will allow only site '$SITE': set site: $SITE in $CONFIG"
  fi
  [ -n "$AGENT_ID" ] || AGENT_ID="$(yaml_top "$CONFIG" agent_id)"
  [ -n "$MQTT_PORT" ] || MQTT_PORT="$(listener_field "$MOSQ_CONF" 1 2)"
  [ -n "$MQTT_BIND" ] || MQTT_BIND="$(listener_field "$MOSQ_CONF" 1 3)"
  [ -n "$TLS_PORT" ] || TLS_PORT="$(listener_field "$MOSQ_CONF" 2 2)"
  if [ -z "$TLS_MODE" ] && [ "$(env_value "$ENV_FILE" MASKWATCH_MQTT_TLS)" = true ] && [ -s "$MOSQ_CERTS/server.crt" ]; then
    TLS_MODE=keep
  fi
  [ -n "$MQTT_BIND" ] || MQTT_BIND="127.0.0.1"
  [ -n "$TLS_PORT" ] || TLS_PORT="8883"
  if [ -z "$DASHBOARD_TLS" ] && [ -e "$NGINX_SITE" ] && [ -s "$ETC/tls/dashboard.crt" ]; then
    DASHBOARD_TLS=keep
    DASHBOARD_TLS_PORT="$(sed -n -E 's/^[[:space:]]*listen[[:space:]]+([0-9]+).*/\1/p' "$NGINX_SITE" | head -n 1)"
  fi
  # Installs before the per-service split kept the dashboard's data in the agent's state directory, as the
  # agent's user: keep that layout (moving a live database is the admin's call), and say what it means.
  local old_db
  old_db="$(dash_value MASKWATCH_DATABASE_URL)"
  if [ "$WITH_DASHBOARD" = 1 ] && { [[ "$old_db" == "sqlite:///$STATE/"* ]] || [ -e "$STATE/dashboard.sqlite3" ]; }; then
    WEB_USER="$SERVICE_USER"; WEB_STATE="$STATE"
    warn "the dashboard's data is in $STATE (an older install): the dashboard keeps running as $SERVICE_USER, so the agent can still read its secrets; docs/deploy.md says how to move it to $R/var/lib/maskwatch-dashboard"
  fi
  return 0
}

# dash_value KEY: a dashboard setting from dashboard.env, or from maskwatch.env of an older install
dash_value() {
  local v
  v="$(env_value "$DASH_ENV_FILE" "$1")"
  [ -n "$v" ] || v="$(env_value "$ENV_FILE" "$1")"
  printf '%s' "$v"
}

gen_secret() { "$PYTHON_BIN" -c 'import secrets; print(secrets.token_urlsafe(32))'; }

# systemd present and running (not in a container or chroot used to build an image)?
have_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

systemctl_real() {
  if [ "$REAL" = 0 ]; then echo "skipped (--root): systemctl $*"
  elif ! have_systemd; then echo "skipped (systemd is not running here): systemctl $*"
  else run systemctl "$@"; fi
}

# ------------------------------------------------------------------ checks
check_python() {
  command -v "$PYTHON_BIN" >/dev/null 2>&1 || die "Python not found ($PYTHON_BIN): sudo apt-get install python3 python3-venv"
  if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    die "MaskWatch needs Python >= 3.11; $PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1).
  Raspberry Pi OS bookworm (64-bit) ships 3.11; older releases (bullseye) are too old: reflash with bookworm."
  fi
  "$PYTHON_BIN" -c 'import venv, ensurepip' 2>/dev/null || \
    die "the Python venv module is missing: sudo apt-get install python3-venv"
}

check_arch() {
  local arch
  arch="$(uname -m)"
  case "$arch" in
    aarch64|arm64|x86_64|amd64) ;;
    armv6l|armv7l|armhf)
      die "32-bit ARM ($arch) is not supported: opencv-python and ai-edge-litert publish no 32-bit ARM wheels.
  Install Raspberry Pi OS 64-bit (bookworm, arm64) on a Pi 3B+/4/5 or newer." ;;
    *) warn "untested architecture $arch: Python wheels may be missing (tested: aarch64, x86_64)" ;;
  esac
}

check_camera() {
  local dev found=0
  for dev in /dev/video*; do
    [ -e "$dev" ] || continue
    found=1
    if [ "$(stat -c %G "$dev")" != video ]; then
      warn "$dev belongs to group $(stat -c %G "$dev"), not 'video': the service user will not be able to open it"
    fi
  done
  getent group video >/dev/null 2>&1 || warn "there is no 'video' group: USB cameras will not be readable by the service user"
  if [ "$found" = 0 ]; then
    echo "no camera at /dev/video*: config.yaml gets the demo source; add your RTSP/USB cameras to it"
  fi
  return 0
}

# ------------------------------------------------------------------ uninstall
do_uninstall() {
  info "uninstalling MaskWatch${ROOT:+ from $ROOT}"
  local u
  for u in maskwatch-agent.service maskwatch-dashboard.service maskwatch-ingest.service; do
    if [ "$REAL" = 1 ] && have_systemd && [ -e "$UNIT_DIR/$u" ]; then
      run systemctl disable --now "$u" || warn "could not stop $u"
    fi
    remove "$UNIT_DIR/$u"
  done
  if [ "$REAL" = 1 ] && have_systemd; then run systemctl daemon-reload || true; fi
  remove "$PREFIX" "$MOSQ_CONF" "$MOSQ_PASSWD" "$MOSQ_ACL" "$MOSQ_ACL_DIR" "$MOSQ_CERTS" "$NGINX_LINK" "$NGINX_SITE"
  if [ "$REAL" = 1 ] && have_systemd && systemctl is-active --quiet mosquitto 2>/dev/null; then
    run systemctl restart mosquitto || warn "could not restart mosquitto"
  fi
  if [ "$PURGE" = 1 ]; then
    remove "$ETC" "$STATE" "$WEB_STATE"
    for u in "$SERVICE_USER" "$WEB_USER"; do
      if [ "$REAL" = 1 ] && id "$u" >/dev/null 2>&1; then run userdel "$u" || warn "could not remove user $u"; fi
    done
  else
    echo "kept $ETC (config, secrets), $STATE and $WEB_STATE (data); --uninstall --purge removes them"
  fi
  info "uninstalled"
}

# camera_acl SITE CAMERAS: the camera lines of an agent's ACL fragment (CAMERAS: "a,b", or "" = the whole site)
camera_acl() {
  local base="maskwatch/$1/camera" cam cams
  if [ -z "$2" ]; then
    printf '%s\n' "topic write $base/#" "topic read $base/+/+/set"
    return 0
  fi
  echo "# cameras: $2"
  IFS=, read -r -a cams <<< "$2"
  for cam in "${cams[@]}"; do
    printf '%s\n' "topic write $base/$cam/#" "topic read $base/$cam/+/set"
  done
}

# write_agent_acl USER SITE AGENT: the ACL fragment of one agent (kept in $MOSQ_ACL_DIR across re-runs);
# its cameras from --cameras, else those of the fragment already there (a re-run never widens it)
write_agent_acl() {
  local mosq_owner="" cameras="$CAMERAS" cam cams
  [ "$REAL" = 1 ] && mosq_owner="mosquitto:mosquitto"
  make_dir "$MOSQ_ACL_DIR" 0750 "$mosq_owner"
  if [ -z "$cameras" ] && [ -e "$MOSQ_ACL_DIR/$1.acl" ]; then
    cameras="$(sed -n 's/^# cameras: //p' "$MOSQ_ACL_DIR/$1.acl" | head -n 1)"
  fi
  IFS=, read -r -a cams <<< "$cameras"
  for cam in "${cams[@]}"; do
    [[ "$cam" =~ $NAME_RE ]] || die "--cameras: '$cam' is not a valid camera name: use 1-64 letters, digits, '_', '-', '.' (comma-separated)"
  done
  render "$DEPLOY_DIR/mosquitto/maskwatch-agent.acl.in" "AGENT_USER=$1" "SITE=$2" "AGENT_ID=$3" \
    "PREFIX_TOPIC=maskwatch" "CAMERA_LINES=$(camera_acl "$2" "$cameras")" \
    | write_file "$MOSQ_ACL_DIR/$1.acl" 0640 "$mosq_owner"
}

# write_acl: the broker's one acl_file = the template (dashboard) + every agent fragment
write_acl() {
  local mosq_owner="" f
  [ "$REAL" = 1 ] && mosq_owner="mosquitto:mosquitto"
  {
    render "$DEPLOY_DIR/mosquitto/maskwatch.acl.in" "DASHBOARD_USER=$DASH_USER" "PREFIX_TOPIC=maskwatch" \
      "MOSQ_ACL_DIR=$MOSQ_ACL_DIR"
    for f in "$MOSQ_ACL_DIR"/*.acl; do
      [ -e "$f" ] && cat "$f"
    done
    return 0
  } | write_file "$MOSQ_ACL" 0640 "$mosq_owner"
}

# set_password USER PASSWORD: add or update one user of the broker's password file
set_password() {
  command -v mosquitto_passwd >/dev/null 2>&1 || die "mosquitto_passwd not found: sudo apt-get install mosquitto"
  [ -e "$MOSQ_PASSWD" ] || install -m 0600 /dev/null "$MOSQ_PASSWD"
  mosquitto_passwd -b "$MOSQ_PASSWD" "$1" "$2"
  chmod 0600 "$MOSQ_PASSWD"
  if [ "$REAL" = 1 ]; then chown mosquitto:mosquitto "$MOSQ_PASSWD"; fi
}

# add-agent: a broker user, password and ACL fragment for one more agent; the main install is untouched.
do_add_agent() {
  if [ -z "$SITE" ] || [ -z "$AGENT_ID" ]; then die "add-agent needs --site and --agent-id"; fi
  local user pw creds
  check_names "$SITE" "$AGENT_ID"
  [ -e "$MOSQ_CONF" ] || die "$MOSQ_CONF not found: run deploy/install.sh first (add-agent extends an installed broker)"
  DASH_USER="$(env_value "$DASH_ENV_FILE" MASKWATCH_DASHBOARD_MQTT_USER)"
  [ -n "$DASH_USER" ] || DASH_USER="$(env_value "$ENV_FILE" MASKWATCH_DASHBOARD_MQTT_USER)"
  [ -n "$DASH_USER" ] || DASH_USER="dashboard"
  user="agent-$SITE-$AGENT_ID"
  creds="$AGENTS_DIR/$user.env"
  pw="$(env_value "$creds" MASKWATCH_MQTT_PASSWORD)"
  [ -n "$pw" ] || pw="$(gen_secret)"
  info "broker user $user for agent $AGENT_ID of site $SITE"
  write_agent_acl "$user" "$SITE" "$AGENT_ID"
  write_acl
  if [ "$DRY_RUN" = 1 ]; then echo "would set the password of $user in $MOSQ_PASSWD"; else set_password "$user" "$pw"; fi
  make_dir "$AGENTS_DIR" 0700
  printf '%s\n' "# Broker credentials of agent $AGENT_ID (site $SITE): put these into that agent's maskwatch.env." \
    "MASKWATCH_MQTT_USER=$user" "MASKWATCH_MQTT_PASSWORD=$pw" | write_file "$creds" 0600
  if [ "$REAL" = 1 ] && have_systemd && systemctl is-active --quiet mosquitto 2>/dev/null; then
    run systemctl reload mosquitto || run systemctl restart mosquitto || warn "could not reload mosquitto"
  else
    echo "reload the broker to apply (systemctl reload mosquitto, or SIGHUP)"
  fi
  echo "credentials for the agent: $creds"
}

# ------------------------------------------------------------------ install steps
install_packages() {
  local want=(python3 python3-venv openssl) missing=() p
  [ "$WITH_BROKER" = 1 ] && want+=(mosquitto mosquitto-clients)
  [ -n "$DASHBOARD_TLS" ] && want+=(nginx-light)
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || { echo "Debian packages present: ${want[*]}"; return 0; }
  if [ "$REAL" = 0 ] || [ "$SKIP_APT" = 1 ]; then
    warn "Debian packages missing (not installed with --root/--skip-apt): ${missing[*]}"
    return 0
  fi
  info "installing Debian packages: ${missing[*]}"
  run apt-get install -y --no-install-recommends "${missing[@]}" || \
    die "apt-get failed. Offline? Install these packages first: ${missing[*]}"
}

create_user() {
  if [ "$REAL" = 0 ]; then echo "skipped (--root): system users $SERVICE_USER (group video), $WEB_USER"; return 0; fi
  if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir /var/lib/maskwatch --no-create-home --shell /usr/sbin/nologin \
      --user-group "$SERVICE_USER"
  fi
  if getent group video >/dev/null 2>&1; then
    run usermod -a -G video "$SERVICE_USER"
  fi
  if [ "$WITH_DASHBOARD" = 1 ] && [ "$WEB_USER" != "$SERVICE_USER" ] && ! id "$WEB_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir "$WEB_STATE" --no-create-home --shell /usr/sbin/nologin --user-group "$WEB_USER"
  fi
}

install_venv() {
  if [ "$SKIP_VENV" = 1 ]; then echo "skipped (--skip-venv): virtualenv $VENV"; return 0; fi
  local extras="" spec pip_args=(--disable-pip-version-check --no-input) site
  [ "$WITH_DASHBOARD" = 1 ] && extras="[dashboard]"
  info "virtualenv $VENV"
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    run "$PYTHON_BIN" -m venv --clear "$VENV"
  fi
  if [ -n "$DEPS_FROM" ]; then
    [ -x "$DEPS_FROM/bin/python" ] || die "--deps-from $DEPS_FROM: not a virtualenv"
    site="$("$DEPS_FROM/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    local own_site
    if [ "$DRY_RUN" = 1 ]; then own_site="$VENV/lib/site-packages"; else
      own_site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; fi
    printf '%s\n' "$site" | write_file "$own_site/maskwatch-deps-from.pth" 0644
    pip_args+=(--no-deps --no-build-isolation --no-index)
  fi
  if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || die "--wheelhouse $WHEELHOUSE: no such directory"
    pip_args+=(--no-index --find-links "$WHEELHOUSE")
  fi
  if [ -n "$WHEELHOUSE" ] && compgen -G "$WHEELHOUSE/maskwatch-*.whl" >/dev/null; then
    spec="maskwatch$extras"        # the wheelhouse carries the project's own wheel
  else
    spec="$SRC_DIR$extras"
  fi
  run "$VENV/bin/python" -m pip install "${pip_args[@]}" --upgrade "$spec" || \
    die "pip install failed. Offline? Build a wheelhouse on a connected machine (docs/deploy.md) and pass --wheelhouse DIR"
  if [ "$spec" != "$SRC_DIR$extras" ]; then
    # A rebuilt wheel may keep its version number: reinstall the project itself (not its dependencies).
    run "$VENV/bin/python" -m pip install "${pip_args[@]}" --force-reinstall --no-deps "$spec" || die "pip install failed"
  fi
  if [ "$DRY_RUN" = 0 ]; then
    "$VENV/bin/maskwatch" --version >/dev/null || die "the installed maskwatch command does not run"
  fi
  make_dir "$PREFIX/docs" 0755
  local doc
  for doc in raspberry-pi.md deploy.md; do
    if [ -f "$SRC_DIR/docs/$doc" ]; then copy_file "$SRC_DIR/docs/$doc" "$PREFIX/docs/$doc" 0644; fi
  done
  return 0
}

install_secrets() {
  local agent_pw dash_pw secret agent_user dash_user host port tls ca db
  agent_user="$(env_value "$ENV_FILE" MASKWATCH_MQTT_USER)"
  agent_pw="$(env_value "$ENV_FILE" MASKWATCH_MQTT_PASSWORD)"
  dash_user="$(dash_value MASKWATCH_DASHBOARD_MQTT_USER)"
  dash_pw="$(dash_value MASKWATCH_DASHBOARD_MQTT_PASSWORD)"
  secret="$(dash_value MASKWATCH_SECRET_KEY)"
  host="$(env_value "$ENV_FILE" MASKWATCH_MQTT_HOST)"
  port="$(env_value "$ENV_FILE" MASKWATCH_MQTT_PORT)"
  tls="$(env_value "$ENV_FILE" MASKWATCH_MQTT_TLS)"
  ca="$(env_value "$ENV_FILE" MASKWATCH_MQTT_CA_FILE)"
  db="$(dash_value MASKWATCH_DATABASE_URL)"
  [ -n "$agent_user" ] || agent_user="agent-$SITE-$AGENT_ID"
  [ -n "$dash_user" ] || dash_user="dashboard"
  if [ "$WITH_BROKER" = 1 ]; then
    [ -n "$agent_pw" ] || agent_pw="$(gen_secret)"
    [ -n "$dash_pw" ] || dash_pw="$(gen_secret)"
  fi
  [ -n "$secret" ] || secret="$(gen_secret)"
  [ -n "$db" ] || db="sqlite:///$WEB_STATE/dashboard.sqlite3"
  # Broker settings: an explicit option wins, then the existing value, then the default.
  if [ -n "$MQTT_HOST" ]; then host="$MQTT_HOST"; elif [ -z "$host" ]; then host="127.0.0.1"; fi
  if [ -n "$TLS_MODE" ]; then
    tls=true; ca="$ETC/tls/ca.crt"; port="$TLS_PORT"
    [ -n "$MQTT_HOST" ] || [ "$host" != 127.0.0.1 ] || host=localhost   # the certificate names localhost
  else
    [ -n "$tls" ] || tls=false
    if [ -n "$MQTT_PORT" ]; then port="$MQTT_PORT"; elif [ -z "$port" ]; then port=1883; fi
  fi
  AGENT_USER="$agent_user"; AGENT_PW="$agent_pw"; DASH_USER="$dash_user"; DASH_PW="$dash_pw"
  # Each service's file holds only its own secrets (systemd reads both as root; the agent's user is not in
  # the dashboard's group).
  render "$DEPLOY_DIR/maskwatch.env.in" \
    "USER=$SERVICE_USER" "MQTT_HOST=$host" "MQTT_CLIENT_PORT=$port" "MQTT_TLS=$tls" "MQTT_CA_FILE=$ca" \
    "AGENT_USER=$agent_user" "AGENT_PASSWORD=$agent_pw" \
    | write_file "$ENV_FILE" 0640 "root:$SERVICE_USER"
  local proxies
  proxies="$(dash_value MASKWATCH_TRUSTED_PROXIES)"
  [ -z "$DASHBOARD_TLS" ] || proxies="127.0.0.1"
  if [ "$WITH_DASHBOARD" = 1 ]; then
    render "$DEPLOY_DIR/dashboard.env.in" "TRUSTED_PROXIES=$proxies" \
      "USER=$WEB_USER" "MQTT_HOST=$host" "MQTT_CLIENT_PORT=$port" "MQTT_TLS=$tls" "MQTT_CA_FILE=$ca" \
      "DASHBOARD_USER=$dash_user" "DASHBOARD_PASSWORD=$dash_pw" "SECRET_KEY=$secret" "DATABASE_URL=$db" \
      | write_file "$DASH_ENV_FILE" 0640 "root:$WEB_USER"
  fi
}

camera_entries() {
  if [ -e /dev/video0 ] && [ -z "$ROOT" ]; then
    printf '%s\n' "  - name: usb0" "    source: {type: usb, device: /dev/video0}" "    detect_fps: 5"
  else
    printf '%s\n' "  - name: demo                # generated scene (no camera found at install time): replace it" \
      "    source: {type: demo, fps: 10}" "    detect_fps: 5"
  fi
}

# system_timezone: this machine's IANA zone (the dashboard's proposed time zone), UTC if it cannot be told
system_timezone() {
  local tz=""
  if command -v timedatectl >/dev/null 2>&1; then tz="$(timedatectl show -p Timezone --value 2>/dev/null || true)"; fi
  if [ -z "$tz" ] && [ -r /etc/timezone ]; then tz="$(head -n 1 /etc/timezone)"; fi
  if [ -z "$tz" ] && [ -L /etc/localtime ]; then tz="$(readlink /etc/localtime | sed -n 's|.*/zoneinfo/||p')"; fi
  if [[ ! "$tz" =~ ^[A-Za-z0-9_+/-]+$ ]]; then tz="UTC"; fi
  printf '%s' "$tz"
}

install_config() {
  local cameras
  cameras="$(camera_entries)"
  make_dir "$ETC" 0755
  render "$DEPLOY_DIR/config.yaml.in" "VENV=$VENV" "ETC=$ETC" "STATE=$STATE" "WEB_STATE=$WEB_STATE" "SITE=$SITE" \
    "AGENT_ID=$AGENT_ID" "CAMERAS=$cameras" "DASHBOARD_BIND=$DASHBOARD_BIND" "DASHBOARD_PORT=$DASHBOARD_PORT" \
    "TIMEZONE=${TIMEZONE:-$(system_timezone)}" \
    | write_file "$CONFIG.dist" 0644
  if [ -e "$CONFIG" ]; then
    echo "kept $CONFIG (compare with $CONFIG.dist after upgrades)"
  else
    if [ "$DRY_RUN" = 1 ]; then echo "would write: $CONFIG (from $CONFIG.dist)"; else
      cp "$CONFIG.dist" "$CONFIG"; chmod 0644 "$CONFIG"; fi
  fi
  make_dir "$STATE" 0750 "$SERVICE_USER:$SERVICE_USER"
  if [ "$WITH_DASHBOARD" = 1 ]; then
    make_dir "$WEB_STATE" 0750 "$WEB_USER:$WEB_USER"
    make_dir "$WEB_STATE/snapshots" 0750 "$WEB_USER:$WEB_USER"
  fi
}

generate_tls() {
  local dir="$MOSQ_CERTS" san host
  host="$(hostname)"
  if [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] && [ -s "$dir/ca.crt" ]; then
    if [ -e "$dir/ca.key" ] && [ "$DRY_RUN" = 0 ]; then  # older installs left it where the broker can read it
      make_dir "$CA_DIR" 0700 root:root
      mv -f "$dir/ca.key" "$CA_DIR/ca.key"; echo "moved the CA key to $CA_DIR (root only)"
    fi
    echo "kept TLS certificates in $dir"; return 0
  fi
  command -v openssl >/dev/null 2>&1 || die "openssl is needed for --tls generate: sudo apt-get install openssl"
  san="DNS:localhost,IP:127.0.0.1,DNS:$host"
  [ "$host" = "${host%%.*}" ] && san="$san,DNS:$host.local"
  local n
  for n in "${TLS_NAMES[@]}"; do
    if [[ "$n" =~ ^[0-9.]+$|: ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
  done
  info "generating a CA and a server certificate for $san"
  if [ "$DRY_RUN" = 1 ]; then echo "would run: openssl (CA + server certificate) into $dir"; return 0; fi
  make_dir "$dir" 0750
  make_dir "$CA_DIR" 0700 root:root
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=MaskWatch CA ($host)" \
    -keyout "$CA_DIR/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:3072 -nodes -subj "/CN=$host" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$CA_DIR/ca.key" -CAcreateserial \
    -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  rm -f "$dir/server.csr" "$dir/server.ext"
  chmod 0600 "$CA_DIR/ca.key" "$dir/server.key"
}

install_broker() {
  if [ "$WITH_BROKER" = 0 ]; then
    echo "no broker installed (--no-broker): set MASKWATCH_MQTT_USER/PASSWORD in $ENV_FILE for your broker"
    return 0
  fi
  local mosq_owner="" plain_port tls_ca tls_cert tls_key
  [ "$REAL" = 1 ] && mosq_owner="mosquitto:mosquitto"
  plain_port="${MQTT_PORT:-1883}"
  make_dir "$MOSQ_ETC/conf.d" 0755
  if [ -n "$TLS_MODE" ]; then
    if [ "$TLS_MODE" = generate ] || [ "$TLS_MODE" = keep ]; then
      generate_tls
      tls_ca="$MOSQ_CERTS/ca.crt"; tls_cert="$MOSQ_CERTS/server.crt"; tls_key="$MOSQ_CERTS/server.key"
    else
      if [ ! -r "$TLS_CERT" ] || [ ! -r "$TLS_KEY" ]; then die "--tls-cert and --tls-key must both name readable files"; fi
      [ -z "$TLS_CA" ] || [ -r "$TLS_CA" ] || die "--tls-ca $TLS_CA: not readable"
      make_dir "$MOSQ_CERTS" 0750
      copy_file "$TLS_CERT" "$MOSQ_CERTS/server.crt" 0644
      copy_file "$TLS_KEY" "$MOSQ_CERTS/server.key" 0600 "$mosq_owner"
      copy_file "${TLS_CA:-$TLS_CERT}" "$MOSQ_CERTS/ca.crt" 0644
      tls_ca="$MOSQ_CERTS/ca.crt"; tls_cert="$MOSQ_CERTS/server.crt"; tls_key="$MOSQ_CERTS/server.key"
    fi
    if [ "$REAL" = 1 ] && [ "$DRY_RUN" = 0 ]; then chown -R "$mosq_owner" "$MOSQ_CERTS"; fi
    make_dir "$ETC/tls" 0755
    copy_file "$tls_ca" "$ETC/tls/ca.crt" 0644
  fi
  {
    render "$DEPLOY_DIR/mosquitto/maskwatch.conf.in" "MOSQ_PASSWD=$MOSQ_PASSWD" "MOSQ_ACL=$MOSQ_ACL" \
      "MOSQ_ACL_DIR=$MOSQ_ACL_DIR" "MQTT_PORT=$plain_port" "MQTT_BIND=$MQTT_BIND" \
      "PLAIN_NOTE=$([ "$MQTT_BIND" = 127.0.0.1 ] && echo "Local clients only." || echo "Passwords travel unencrypted: prefer TLS across a network.")"
    if [ -n "$TLS_MODE" ]; then
      render "$DEPLOY_DIR/mosquitto/maskwatch-tls.conf.in" "TLS_PORT=$TLS_PORT" "TLS_BIND=0.0.0.0" \
        "TLS_CA=$tls_ca" "TLS_CERT=$tls_cert" "TLS_KEY=$tls_key"
    fi
  } | write_file "$MOSQ_CONF" 0644
  write_agent_acl "$AGENT_USER" "$SITE" "$AGENT_ID"
  write_acl
  # Passwords: add or update our two users; other users in the file are kept.
  if [ "$DRY_RUN" = 1 ]; then
    echo "would set passwords of $AGENT_USER and $DASH_USER in $MOSQ_PASSWD"
  else
    set_password "$AGENT_USER" "$AGENT_PW"
    set_password "$DASH_USER" "$DASH_PW"
  fi
  if [ "$REAL" = 0 ] && [ ! -e "$MOSQ_ETC/mosquitto.conf" ]; then
    # A self-contained tree has no package-provided main config: write one like Debian's
    # /etc/mosquitto/mosquitto.conf (persistence true in the tree's own state directory), so that tests
    # run the broker as it is deployed. Differences, for a tree run by hand or by tests: "user" is whoever
    # runs the installer (Debian: mosquitto) and the log goes to stderr (Debian: a file).
    make_dir "$R/var/lib/mosquitto" 0755
    printf '%s\n' "# Main mosquitto config for the tree under $ROOT (a real system uses the Debian package's)." \
      "# Run: mosquitto -c $MOSQ_ETC/mosquitto.conf" "user $(id -un)" "persistence true" \
      "persistence_location $R/var/lib/mosquitto/" "log_dest stderr" \
      "include_dir $MOSQ_ETC/conf.d" | write_file "$MOSQ_ETC/mosquitto.conf" 0644
  fi
  systemctl_real enable mosquitto
  if [ "$REAL" = 1 ] && have_systemd; then
    run systemctl restart mosquitto || die "mosquitto did not start: journalctl -u mosquitto -n 30"
  else
    systemctl_real restart mosquitto
  fi
}

install_dashboard_tls() {
  [ -n "$DASHBOARD_TLS" ] && [ "$WITH_DASHBOARD" = 1 ] || return 0
  local crt="$ETC/tls/dashboard.crt" key="$ETC/tls/dashboard.key" san host n
  [ "$DASHBOARD_BIND" = 127.0.0.1 ] || warn "--dashboard-tls with --dashboard-bind $DASHBOARD_BIND: plain HTTP stays reachable there too"
  if [ -s "$crt" ] && [ -s "$key" ]; then echo "kept the dashboard certificate $crt"
  elif [ "$DRY_RUN" = 1 ]; then echo "would run: openssl (self-signed dashboard certificate) into $crt"
  else
    command -v openssl >/dev/null 2>&1 || die "openssl is needed for --dashboard-tls: sudo apt-get install openssl"
    host="$(hostname)"
    san="DNS:localhost,IP:127.0.0.1,DNS:$host"
    [ "$host" = "${host%%.*}" ] && san="$san,DNS:$host.local"
    for n in "${TLS_NAMES[@]}"; do
      if [[ "$n" =~ ^[0-9.]+$|: ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
    done
    info "generating the dashboard's certificate for $san"
    make_dir "$ETC/tls" 0755
    openssl req -x509 -newkey rsa:3072 -nodes -days 825 -subj "/CN=MaskWatch dashboard ($host)" \
      -addext "subjectAltName=$san" -keyout "$key" -out "$crt" 2>/dev/null || die "openssl failed"
    chmod 0600 "$key"; chmod 0644 "$crt"   # nginx's master process (root) reads the key
  fi
  render "$DEPLOY_DIR/nginx/maskwatch-dashboard.conf.in" "TLS_PORT=$DASHBOARD_TLS_PORT" "CERT=$crt" "KEY=$key" \
    "DASHBOARD_PORT=$DASHBOARD_PORT" | write_file "$NGINX_SITE" 0644
  if [ "$DRY_RUN" = 1 ]; then echo "would link: $NGINX_LINK -> $NGINX_SITE"
  else mkdir -p "$(dirname "$NGINX_LINK")"; ln -sfn "$NGINX_SITE" "$NGINX_LINK"; fi
  if [ "$REAL" = 1 ] && have_systemd; then
    run nginx -t || die "nginx rejected the configuration: nginx -t"
    run systemctl reload-or-restart nginx || die "nginx did not start: journalctl -u nginx -n 30"
  else
    systemctl_real reload-or-restart nginx
  fi
}

install_units() {
  local u
  make_dir "$UNIT_DIR" 0755
  for u in "${UNITS[@]}"; do
    render "$DEPLOY_DIR/systemd/$u.in" "PREFIX=$PREFIX" "VENV=$VENV" "ETC=$ETC" "STATE=$STATE" \
      "USER=$SERVICE_USER" "WEB_USER=$WEB_USER" "WEB_STATE=$WEB_STATE" | write_file "$UNIT_DIR/$u" 0644
  done
  if [ "$WITH_DASHBOARD" = 0 ]; then remove "$UNIT_DIR/maskwatch-dashboard.service" "$UNIT_DIR/maskwatch-ingest.service"; fi
  systemctl_real daemon-reload
}

# The agent's own check, with the installed config and its secrets: imports cv2, loads the configured detector and
# classifier and runs one inference on the photo shipped in the package (maskwatch config check).
sanity_check() {
  if [ "$DRY_RUN" = 1 ] || [ "$SKIP_VENV" = 1 ]; then echo "skipped: maskwatch config check (models + one inference)"; return 0; fi
  info "sanity check: maskwatch config check (imports cv2, loads the models, one inference on a shipped photo)"
  local as=()
  [ "$REAL" = 1 ] && as=(runuser -u "$SERVICE_USER" --)
  # shellcheck disable=SC2016  # the $ is for the inner shell
  "${as[@]}" sh -c 'set -a; . "$1"; set +a; exec "$2" config check --agent --config "$3"' \
    sh "$ENV_FILE" "$VENV/bin/maskwatch" "$CONFIG" || \
    die "the agent cannot analyse a frame on this machine (output above); nothing was started"
}

start_services() {
  if [ "$NO_START" = 1 ]; then echo "not started (--no-start): systemctl enable --now ${UNITS[*]}"; return 0; fi
  if [ "$REAL" = 1 ] && [ "$WITH_DASHBOARD" = 1 ] && [ "$SKIP_VENV" = 0 ]; then
    # shellcheck disable=SC2016  # the $ is for the inner shell
    run runuser -u "$WEB_USER" -- sh -c 'set -a; . "$1"; set +a; exec "$2" dashboard db-upgrade --config "$3"' \
      sh "$DASH_ENV_FILE" "$VENV/bin/maskwatch" "$CONFIG" || die "database upgrade failed"
  fi
  systemctl_real enable "${UNITS[@]}"
  systemctl_real restart "${UNITS[@]}"
}

summary() {
  info "MaskWatch installed${ROOT:+ under $ROOT}"
  cat <<EOF
  config:   $CONFIG   (edit cameras there, then: systemctl reload maskwatch-agent)
  secrets:  $ENV_FILE (agent)$([ "$WITH_DASHBOARD" = 1 ] && echo ", $DASH_ENV_FILE (dashboard)")
  data:     $STATE
  logs:     journalctl -u maskwatch-agent -f
EOF
  if [ "$WITH_DASHBOARD" = 1 ]; then
    cat <<EOF
  dashboard: http://$DASHBOARD_BIND:$DASHBOARD_PORT/$([ -n "$DASHBOARD_TLS" ] && echo " and https://$(hostname):$DASHBOARD_TLS_PORT/ (certificate $ETC/tls/dashboard.crt)")  -- create a login with:
    sudo runuser -u $WEB_USER -- sh -c 'set -a; . $DASH_ENV_FILE; exec $VENV/bin/maskwatch dashboard create-user admin --config $CONFIG'
EOF
  fi
}

# ------------------------------------------------------------------ main
main() {
  if [ "$REAL" = 1 ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo deploy/install.sh ...), or use --dry-run / --root DIR"
  fi
  [ "$DRY_RUN" = 1 ] && info "dry run: nothing is changed"
  if [ "$UNINSTALL" = 1 ]; then do_uninstall; return 0; fi
  if [ "$COMMAND" = add-agent ]; then do_add_agent; return 0; fi
  [ "$PURGE" = 0 ] || die "--purge goes with --uninstall"

  load_previous
  if [ -z "$SITE" ]; then SITE="$(hostname -s 2>/dev/null || hostname)"; fi
  [ -n "$AGENT_ID" ] || AGENT_ID="agent-1"
  check_names "$SITE" "$AGENT_ID"
  if [ "$TLS_MODE" = provided ] && { [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; }; then
    die "--tls-cert and --tls-key go together"
  fi
  if [ "$WITH_BROKER" = 0 ] && [ -z "$MQTT_HOST" ]; then warn "--no-broker without --mqtt-host: the agent connects to 127.0.0.1"; fi

  info "installing MaskWatch${ROOT:+ under $ROOT} (site $SITE, agent $AGENT_ID)"
  check_arch
  install_packages
  check_python
  check_camera
  create_user
  install_venv
  install_config
  install_secrets
  sanity_check
  install_broker
  install_dashboard_tls
  install_units
  start_services
  summary
}

main
