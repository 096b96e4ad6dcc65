"""``maskwatch dashboard serve|ingest|create-user|create-token|db-upgrade|purge``.

- serve: the web app under waitress (host/port from the config's dashboard section); needs a secret key.
- ingest: the MQTT ingest process (shared subscription when dashboard.ingest_group is set); also purges old
  data every hour.
- create-user NAME [--password-stdin] [--update] [--role R] [--site S]...: prints a generated password (stdout,
  alone) if none given. Role: viewer, operator, admin (the default here; users made on the Users page default
  to viewer); sites: what a non-admin sees.
- delete-user NAME: removes the user and their tokens.
- create-token USER [--name N] [--scope read|write] [--days D | --no-expiry]: prints a bearer token.
- list-tokens [--user U]: id, user, name, scope, created, expires, last used. revoke-token ID: deletes it.
- end-sessions USER: logs the user out everywhere (every browser session ends at its next request).
- db-upgrade: Alembic upgrade to the latest schema.
- purge: one retention run (dashboard.retention per kind: files, rows, stale previews, retained images on the
  broker).
- erase --camera [SITE/]NAME --since T --until T [--dry-run]: erase a camera's events and snapshots of a time
  window on request (docs/privacy.md); times are ISO 8601, in dashboard.timezone unless they carry an offset.
- notify-test [--channel NAME]: one test message per notification channel, result per channel (exit 1 if any failed).
- export-reviewed --out DIR: reviewed face crops as DIR/<label>/<event_id>.jpg, for ``maskwatch train --folders``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from dashboard.zones import SiteZones

HELP = "dashboard: web server (serve), MQTT ingest (ingest), users and tokens, database upgrade, purge, erase"
log = logging.getLogger(__name__)
EXIT_CONFIG = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--config", type=Path, help="config file (default: $MASKWATCH_CONFIG, ./config.yaml)")
        return sp

    s = cmd("serve", "serve the web dashboard with waitress (dashboard.host / dashboard.port)")
    s.add_argument("--threads", type=int, default=16, help="worker threads (live viewers poll: none is held)")
    s.add_argument("--upgrade", action="store_true", help="upgrade the database schema first")
    i = cmd("ingest", "subscribe to the agents' MQTT topics and store what they publish")
    i.add_argument("--upgrade", action="store_true", help="upgrade the database schema first")
    i.add_argument("--client-id", help="MQTT client id, the name of the broker session that queues this worker's "
                   "messages (default: maskwatch-dashboard-<host>[-p<I> with a partition][-<pid> with a group])")
    u = cmd("create-user", "create a dashboard user; prints a generated password unless --password-stdin")
    u.add_argument("name")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.add_argument("--update", action="store_true", help="set a new password for an existing user")
    u.add_argument("--role", choices=("viewer", "operator", "admin"),
                   help="viewer: read-only; operator: also reviews events; admin: everything (the default for a "
                        "new user made here: whoever runs this holds the machine already; --update keeps the role)")
    u.add_argument("--site", action="append", dest="sites", metavar="SITE",
                   help="a site this user may see (repeat for more; '*' for all); admins see every site")
    d = cmd("delete-user", "delete a dashboard user and their API tokens")
    d.add_argument("name")
    t = cmd("create-token", "create a bearer token for the JSON API (printed once)")
    t.add_argument("user")
    t.add_argument("--name", default="api", help="a label for the token")
    t.add_argument("--scope", choices=("read", "write"), default="read",
                   help="read: GET/HEAD only (default); write: any method")
    t.add_argument("--days", type=float, default=90.0, help="lifetime in days (default 90)")
    t.add_argument("--no-expiry", action="store_true", help="a token that never expires (revoke it by hand)")
    lt = cmd("list-tokens", "list API tokens (never the tokens themselves)")
    lt.add_argument("--user", help="only this user's tokens")
    rt = cmd("revoke-token", "delete an API token (its id from list-tokens)")
    rt.add_argument("id", type=int)
    es = cmd("end-sessions", "log a user out everywhere: all their browser sessions end")
    es.add_argument("user")
    cmd("db-upgrade", "create or upgrade the database schema (Alembic upgrade head)")
    x = cmd("export-reviewed", "write the reviewed face crops as a class-folder data set (DIR/<label>/*.jpg) "
            "that `maskwatch train --folders DIR` imports")
    x.add_argument("--out", type=Path, required=True, help="output folder (created; existing files are updated)")
    cmd("purge", "one retention run: delete what dashboard.retention has expired (files, rows, broker)")
    e = cmd("erase", "erase one camera's events and snapshots of a time window (a data subject's request)")
    e.add_argument("--camera", required=True, help="SITE/NAME, or NAME when it is unique")
    e.add_argument("--since", required=True, help="start, ISO 8601 (e.g. 2026-12-01T09:00); dashboard.timezone "
                   "unless it has an offset")
    e.add_argument("--until", required=True, help="end (exclusive), same format")
    e.add_argument("--dry-run", action="store_true", help="only say what would be erased")
    n = cmd("notify-test", "send a test message on every notification channel (or --channel NAME) now")
    n.add_argument("--channel", action="append", help="only this channel (repeatable)")


def _engine(cfg):  # type: ignore[no-untyped-def]
    from dashboard.db import make_engine

    return make_engine(cfg.dashboard.database_url)


def _ready(engine, upgrade: bool) -> int:  # type: ignore[no-untyped-def]
    from dashboard.db import SchemaError, check_schema
    from dashboard.db import upgrade as do_upgrade

    if upgrade:
        do_upgrade(engine)
    try:
        check_schema(engine)
    except SchemaError as err:
        print(f"maskwatch dashboard: {err}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run(args: argparse.Namespace) -> int:
    from dashboard.settings import load_settings

    cfg = load_settings(args.config)  # other services' ${VAR}s (camera passwords) may be unset
    logging.getLogger().setLevel(cfg.log_level)
    if args.action != "db-upgrade":
        logging.getLogger("alembic").setLevel(logging.WARNING)  # schema checks are not news
    return int(ACTIONS[args.action](args, cfg))


def _serve(args, cfg) -> int:  # type: ignore[no-untyped-def]
    import waitress

    from dashboard import create_app

    app = create_app(cfg)  # raises ConfigError without a secret key
    rc = _ready(app.extensions["maskwatch"]["engine"], args.upgrade)
    if rc:
        return rc
    log.info("serving the dashboard on http://%s:%d/", cfg.dashboard.host, cfg.dashboard.port)
    # waitress drops X-Forwarded-* by default; with trusted_proxies they reach the app, whose middleware
    # believes them only from those proxies (dashboard.throttle.trusted_proxy_middleware)
    waitress.serve(app, host=cfg.dashboard.host, port=cfg.dashboard.port, threads=args.threads,
                   ident="maskwatch", channel_timeout=60,
                   clear_untrusted_proxy_headers=not cfg.dashboard.security.trusted_proxies)
    return 0


def _ingest(args, cfg) -> int:  # type: ignore[no-untyped-def]
    import os
    import socket

    from dashboard.ingest import Ingester, MqttIngest
    from dashboard.ingest_partition import Partition

    d, m = cfg.dashboard, cfg.mqtt
    engine = _engine(cfg)
    rc = _ready(engine, args.upgrade)
    if rc:
        return rc
    host = socket.gethostname()
    part = Partition.parse(d.ingest_partition) if d.ingest_partition else None
    # the client id names the broker session that queues this worker's messages: stable across restarts
    client_id = args.client_id or (f"maskwatch-dashboard-{host}-{os.getpid()}" if d.ingest_group
                                   else f"maskwatch-dashboard-{host}" + (f"-p{part.index}" if part else ""))
    if d.ingest_group:
        log.warning("dashboard.ingest_group: shared subscriptions lose messages across a restart of "
                    "mosquitto 2.0.11; use dashboard.ingest_partition (docs/mqtt.md, Scale-out)")
    ing = Ingester(engine, d.snapshot_dir, m.topic_prefix, name=client_id, preview_dir=d.preview_dir,
                   partition=part, camera_claim_s=d.camera_claim_s)
    mq = MqttIngest(
        ing, m, username=d.mqtt_username, password=d.mqtt_password.get_secret_value() if d.mqtt_password else None,
        group=d.ingest_group, retention=d.retention, client_id=client_id,
    )
    log.info("ingest %s: broker %s:%d, prefix %r, group %s, partition %s, database %s", client_id, m.host,
             m.port, m.topic_prefix, d.ingest_group or "(none)", part or "(all)",
             engine.url.render_as_string(hide_password=True))
    notifier = _start_alerts(cfg, engine, ing, mq)
    try:
        mq.run_forever(_stop_event())
    finally:
        if notifier is not None:
            notifier.stop()
    return 0


def _start_alerts(cfg, engine, ing, mq):  # type: ignore[no-untyped-def]
    """Notifications, Home Assistant discovery and /metrics of the ingest process (docs/notifications.md)."""
    d, m = cfg.dashboard, cfg.mqtt
    notifier = None
    if cfg.notifications.enabled:
        from dashboard.notifier import Notifier, check_channels

        check_channels(cfg.notifications)
        notifier = Notifier(engine, cfg.notifications, d.snapshot_dir, SiteZones.from_config(d),
                            keep_days=d.retention.events_days)
        ing.attach_notifier(notifier)
        notifier.start()
        log.info("notifications on: %d channel(s) %s, %d rule(s)", len(cfg.notifications.channels),
                 ", ".join(sorted(cfg.notifications.channels)), len(cfg.notifications.rules))
    if cfg.homeassistant.enabled:
        from dashboard.homeassistant import HomeAssistantPublisher

        ha = HomeAssistantPublisher(engine, cfg.homeassistant, m.topic_prefix, d.snapshot_dir,
                                    lambda t, p, r: mq.client.publish(t, p, qos=1, retain=r),
                                    SiteZones.from_config(d), cfg)
        ing.after_commit.append(ha.after_batch)
        mq.connect_listeners.append(ha.reset)
        log.info("Home Assistant discovery on (prefix %r)", cfg.homeassistant.discovery_prefix)
    if d.metrics_port:
        from dashboard.metrics import IngestCollector, serve_metrics

        serve_metrics(d.metrics_host, d.metrics_port, IngestCollector(ing, notifier, mq))
    return notifier


def _notify_test(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.notifier import check_channels, send_test_now

    engine = _engine(cfg)
    rc = _ready(engine, False)
    if rc:
        return rc
    if not cfg.notifications.channels:
        print("maskwatch dashboard notify-test: no channels in notifications.channels", file=sys.stderr)
        return EXIT_CONFIG
    check_channels(cfg.notifications)
    failed = 0
    for channel, status, error in send_test_now(engine, cfg.notifications, cfg.dashboard.snapshot_dir,
                                                args.channel, zones=SiteZones.from_config(cfg.dashboard)):
        print(f"{channel}: {status}{' - ' + error if error else ''}")
        failed += status != "sent"
    return 1 if failed else 0


def _create_user(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.audit import record
    from dashboard.auth import create_user

    role = args.role or (None if args.update else "admin")
    made: list[tuple[str | None, str]] = []  # (password given on stdin, the password set)

    def create(db) -> None:  # type: ignore[no-untyped-def]
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
        made.append((password, create_user(db, args.name, password, update=args.update, role=role, sites=args.sites)))
        record(db, "cli", "user.update" if args.update else "user.create", args.name,
               f"role={role or '(kept)'} sites={args.sites}", commit=True)

    rc = _with_db(args, cfg, "create-user", create)
    if rc:
        return rc
    print(f"user {args.name!r} {'updated' if args.update else 'created'}", file=sys.stderr)
    given, pw = made[0]
    if given is None:
        print(pw)  # stdout: the generated password alone, for scripts
    return 0


def _delete_user(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.audit import record
    from dashboard.auth import delete_user

    def delete(db) -> None:  # type: ignore[no-untyped-def]
        delete_user(db, args.name)
        record(db, "cli", "user.delete", args.name, commit=True)

    rc = _with_db(args, cfg, "delete-user", delete)
    if not rc:
        print(f"user {args.name!r} deleted", file=sys.stderr)
    return rc


def _with_db(args, cfg, what: str, fn) -> int:  # type: ignore[no-untyped-def]
    """Run ``fn(db)`` on a session of an up-to-date database; a UserError is printed, exit 1."""
    from dashboard.auth import UserError
    from dashboard.db import session_factory

    engine = _engine(cfg)
    rc = _ready(engine, False)
    if rc:
        return rc
    try:
        with session_factory(engine)() as db:
            fn(db)
    except UserError as err:
        print(f"maskwatch dashboard {what}: {err}", file=sys.stderr)
        return 1
    return 0


def _create_token(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.auth import create_token

    days = None if args.no_expiry else args.days
    return _with_db(args, cfg, "create-token",
                    lambda db: print(create_token(db, args.user, args.name, scope=args.scope, days=days)))


def _list_tokens(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.auth import list_tokens

    def show(db) -> None:  # type: ignore[no-untyped-def]
        print("id\tuser\tname\tscope\tcreated\texpires\tlast_used")
        for t in list_tokens(db, args.user):
            print("\t".join([str(t.id), t.user.name, t.name, t.scope, _iso(t.created_at),
                             _iso(t.expires_at) or "never", _iso(t.last_used) or "-"]))

    return _with_db(args, cfg, "list-tokens", show)


def _iso(t) -> str:  # type: ignore[no-untyped-def]
    return "" if t is None else t.replace(microsecond=0).isoformat()


def _revoke_token(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.auth import revoke_token

    def revoke(db) -> None:  # type: ignore[no-untyped-def]
        tok = revoke_token(db, args.id)
        print(f"token {tok.id} ({tok.name!r} of {tok.user.name!r}) revoked", file=sys.stderr)

    return _with_db(args, cfg, "revoke-token", revoke)


def _end_sessions(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.auth import end_sessions, user_by_name

    def end(db) -> None:  # type: ignore[no-untyped-def]
        n = end_sessions(db, user_by_name(db, args.user).id)
        db.commit()
        print(f"ended {n} session(s) of {args.user!r}", file=sys.stderr)

    return _with_db(args, cfg, "end-sessions", end)


def _db_upgrade(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.db import current_revision, upgrade

    engine = _engine(cfg)
    upgrade(engine)
    print(f"database at schema {current_revision(engine)}")
    return 0


def _purge(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from dashboard.broker_retention import clear_retained_images
    from dashboard.previews import PreviewStore, default_preview_dir
    from dashboard.retention import purge

    d, m = cfg.dashboard, cfg.mqtt
    engine = _engine(cfg)
    rc = _ready(engine, False)
    if rc:
        return rc
    out = purge(engine, d.snapshot_dir, d.retention, previews=PreviewStore(d.preview_dir or default_preview_dir(d.snapshot_dir)))
    out["retained_images"] = clear_retained_images(
        m, prefix=m.topic_prefix, username=d.mqtt_username,
        password=d.mqtt_password.get_secret_value() if d.mqtt_password else None)
    r = d.retention
    print(f"purged {out['snapshots']} snapshots (older than {r.snapshots_days} days), {out['events']} events and "
          f"{out['stat_samples']} stats samples ({r.events_days} days), {out['hourly_counts']} hourly counts "
          f"({r.statistics_days} days), {out['access_log']} access-log entries ({r.access_log_days} days), "
          f"{out['previews']} stale previews; cleared {out['retained_images']} retained images on the broker")
    return 0


def _erase(args, cfg) -> int:  # type: ignore[no-untyped-def]
    import getpass

    from dashboard.erasure import ErasureError, erase, parse_time

    engine = _engine(cfg)
    rc = _ready(engine, False)
    if rc:
        return rc
    try:
        since, until = parse_time(args.since, cfg.dashboard.timezone), parse_time(args.until, cfg.dashboard.timezone)
        result = erase(engine, cfg.dashboard.snapshot_dir, args.camera, since, until,
                       user=f"cli:{getpass.getuser()}", dry_run=args.dry_run)
    except (ErasureError, ValueError) as err:
        print(f"maskwatch dashboard erase: {err}", file=sys.stderr)
        return 1
    print(result.summary)
    for eid in result.event_ids:
        print(f"  event {eid}")
    return 0


def _export_reviewed(args, cfg) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    from dashboard.review import export_reviewed

    engine = _engine(cfg)
    rc = _ready(engine, False)
    if rc:
        return rc
    import getpass

    from dashboard import access_log

    with Session(engine) as db:
        rep = export_reviewed(db, cfg.dashboard.snapshot_dir, args.out)
        access_log.record_action(db.connection(), f"cli:{getpass.getuser()}", access_log.EXPORT_REVIEWED,
                                 f"{sum(rep.written.values())} faces to {args.out}"[:255])
        db.commit()
    per = ", ".join(f"{n} {label}" for label, n in sorted(rep.written.items())) or "none"
    print(f"exported {sum(rep.written.values())} reviewed faces to {args.out} ({per}); "
          f"{rep.without_face_crop} reviewed events had no face crop (agent snapshots.face_crops is off)")
    return 0


ACTIONS = {"serve": _serve, "ingest": _ingest, "create-user": _create_user, "delete-user": _delete_user,
           "create-token": _create_token, "list-tokens": _list_tokens, "revoke-token": _revoke_token,
           "end-sessions": _end_sessions,
           "db-upgrade": _db_upgrade, "purge": _purge, "erase": _erase, "notify-test": _notify_test,
           "export-reviewed": _export_reviewed}
