"""The fixtures several test modules share, defined once (tests/README.md lists them).

A module that needs a variant does not define the fixture again: it says what differs with a marker of the
fixture's name, usually for the whole module (``pytestmark = pytest.mark.broker(anonymous=False)``), and the
fixture below reads it (pytest's "passing data to fixtures" pattern). Each fixture's docstring names its
options. Ports come from ``helpers.net.free_port``; broker configs from ``helpers.mosquitto`` (the files
``deploy/install.sh`` renders, with the test-only settings that module explains).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from dashboard_support import (
    PostgresCluster,
    add_user,
    login,
    make_app,
    maskwatch,
    pg_binaries,
    write_config,
)
from helpers import rtsp
from helpers.browser import ARGS, ARTIFACTS, CHROMIUM, PASSWORD, playwright
from helpers.mosquitto import Mosquitto
from helpers.mqtt_publisher import Publisher
from helpers.net import free_port, port_open, wait_for
from helpers.stack import dashboard_processes, stop_all
from helpers.webhook import Receiver

from edge_agent.assets import ASTRONAUT_JPG


def options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the closest ``@pytest.mark.<name>(...)`` (test, class or module), or {}."""
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker else {}


# ---------------------------------------------------------------- MQTT
@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto with the installer's config on a free port (helpers/mosquitto.py).

    Options (``@pytest.mark.broker(...)``): the keyword arguments of :class:`Mosquitto`, e.g.
    ``anonymous=False, site=..., agent=...`` for tests of broker security and delivery custody.
    """
    b = Mosquitto(tmp_path / "broker", **options(request, "broker")).start()
    yield b
    b.stop()


@pytest.fixture
def pub(broker: Mosquitto) -> Iterator[Publisher]:
    """A publisher connected to ``broker``: ``pub.send(topic, payload, qos=1, retain=False)`` or ``pub(topic,
    payload)``; each call returns once the broker has the message."""
    p = Publisher(broker.port)
    yield p
    p.close()


# ---------------------------------------------------------------- dashboard
@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A testing dashboard app on a real SQLite file (dashboard_support.make_app) with the admin "manager".

    Options (``@pytest.mark.app(...)``): Flask settings (``WTF_CSRF_ENABLED=False``, ``TIMEZONE=...``);
    ``manager=False`` leaves out the default user; ``seed=f`` calls ``f(app, tmp_path)`` last (the module's
    own users and data).
    """
    opts = options(request, "app")
    manager, seed = opts.pop("manager", True), opts.pop("seed", None)
    app = make_app(tmp_path, **opts)
    if manager:
        add_user(app)
    if seed is not None:
        seed(app, tmp_path)
    return app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """The app's test client, logged in as "manager"."""
    c = app.test_client()
    assert login(c).status_code == 302
    return c


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A migrated SQLite database at tmp_path/db.sqlite3 without an app; ``@pytest.mark.engine(app=True)``:
    the ``app`` fixture's engine instead."""
    if options(request, "engine").get("app"):
        return request.getfixturevalue("app").extensions["maskwatch"]["engine"]
    from dashboard.db import make_engine, upgrade

    e = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(e)
    return e


@pytest.fixture
def ingester(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An Ingester (prefix "maskwatch") on the ``app`` fixture's database, snapshots in tmp_path/snapshots.

    Options (``@pytest.mark.ingester(...)``): ``bare=True`` for the ``engine`` fixture's database (no app);
    ``snapshots`` (folder name under tmp_path), ``name`` (default "t") and Ingester keyword arguments
    (``time_bounds=False``).
    """
    from dashboard.ingest import Ingester

    opts = options(request, "ingester")
    bare, snapshots, name = opts.pop("bare", False), opts.pop("snapshots", "snapshots"), opts.pop("name", "t")
    engine = (request.getfixturevalue("engine") if bare
              else request.getfixturevalue("app").extensions["maskwatch"]["engine"])
    return Ingester(engine, tmp_path / snapshots, "maskwatch", name=name, **opts)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL cluster on a free port, shared by a module's tests (skips without initdb)."""
    if pg_binaries() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
    work = Path(tempfile.mkdtemp(prefix="mw-pg-"))
    cluster = PostgresCluster(work, free_port())
    try:
        cluster.start()
    except Exception as err:  # noqa: BLE001
        cluster.stop()
        pytest.fail(f"could not start PostgreSQL: {err}; log: {(work / 'log').read_text()[-1500:] if (work / 'log').exists() else ''}")
    yield cluster
    cluster.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on loopback recording what apprise's json:// plugin POSTs (helpers/webhook.py)."""
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The real dashboard stack for the browser tests: mosquitto, `maskwatch dashboard ingest` and `serve`
    (waitress) as processes, the admin "manager" (helpers.browser.PASSWORD) and a headless Chromium. Yields
    url, send(topic, payload, retain=False), browser and tmp; the processes' logs go to test-artifacts/."""
    sync_playwright = playwright()
    broker = Mosquitto(tmp_path / "broker", persistence=False).start()
    http_port = free_port()
    cfg = write_config(tmp_path / "config.yaml", db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       snapshot_dir=tmp_path / "snaps", mqtt_port=broker.port, http_port=http_port)
    env = {**os.environ, "MASKWATCH_SECRET_KEY": uuid.uuid4().hex * 2}
    assert maskwatch("dashboard", "db-upgrade", "--config", str(cfg)).returncode == 0
    r = maskwatch("dashboard", "create-user", "manager", "--password-stdin", "--role", "admin", "--config", str(cfg),
                  input=PASSWORD)
    assert r.returncode == 0, r.stderr
    procs = dashboard_processes(cfg, tmp_path, env)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="browser-pub", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    try:
        wait_for(lambda: port_open(http_port), 30, what="the dashboard server")
        # a message sent before the ingest's first subscription has no subscriber on this fresh broker and is
        # gone (a loaded CI run lost the privacy test's event that way): wait for the SUBACK first
        ingest_log = tmp_path / "ingest.log"
        wait_for(lambda: ingest_log.exists() and "subscribed (" in ingest_log.read_text(errors="replace"), 60,
                 what="the ingest subscribed")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

        def send(t: str, payload: bytes, retain: bool = False) -> None:
            pub.publish(t, payload, qos=1, retain=retain).wait_for_publish(10)

        yield {"url": f"http://127.0.0.1:{http_port}", "send": send, "browser": browser, "tmp": tmp_path}
    finally:
        browser.close()
        pw.stop()
        pub.disconnect()
        pub.loop_stop()
        stop_all(procs)
        broker.stop()
        for action in ("ingest", "serve"):
            log = tmp_path / f"{action}.log"
            if log.exists():
                shutil.copy(log, ARTIFACTS / f"{action}.log")


# ---------------------------------------------------------------- cameras and images
@pytest.fixture
def astronaut() -> np.ndarray:
    """The photo shipped with the agent (one face), BGR."""
    return cv2.imread(str(ASTRONAUT_JPG))


@pytest.fixture(scope="module")
def frames(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered frames for the RTSP test server; ``@pytest.mark.frames(seconds=N)`` (default 4) on the module."""
    if not rtsp.available():
        pytest.skip("GStreamer RTSP server not installed (apt install gir1.2-gst-rtsp-server-1.0 "
                    "gstreamer1.0-plugins-{base,good,bad,ugly} python3-gi)")
    seconds = options(request, "frames").get("seconds", 4)
    return rtsp.render_frames(tmp_path_factory.mktemp("rtsp") / "frames", seconds=seconds, fps=10)


@pytest.fixture
def server(frames: Path) -> Iterator[rtsp.RtspServer]:
    """A real RTSP server (GStreamer, helpers/rtsp.py) looping ``frames`` at 10 fps."""
    s = rtsp.RtspServer(frames, fps=10).start()
    yield s
    s.stop()
