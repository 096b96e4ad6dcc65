"""Durable outbox: order, acknowledgement, restart, bounds, SIGKILL survival (real SQLite files)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_messages_leave_in_order_only_after_ack(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.sqlite3")
    ids = [box.put("t/a", f"m{i}".encode()) for i in range(5)]
    assert ids == sorted(ids)
    taken = box.take(3)
    assert [m.payload for m in taken] == [b"m0", b"m1", b"m2"]
    for mid, m in enumerate(taken, start=100):
        box.mark_sent(m.id, mid)
    # handed-over messages are not handed over again, the rest follow in order
    assert [m.payload for m in box.take(10)] == [b"m3", b"m4"]
    assert box.pending() == 5 and box.in_flight() == 3
    assert box.ack(101) is True
    assert box.ack(101) is False  # a duplicate PUBACK changes nothing
    assert box.ack(999) is False  # an id we never sent (e.g. the availability message)
    assert box.pending() == 4
    assert box.stats().acked == 1


def test_backlog_is_resent_in_order_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    box = Outbox(path)
    for i in range(4):
        box.put("t/e", f"e{i}".encode(), retain=(i == 2))
    for mid, m in enumerate(box.take(2), start=1):
        box.mark_sent(m.id, mid)
    box.ack(1)  # e0 delivered; e1 handed over but never acknowledged
    box.close()
    again = Outbox(path)
    msgs = again.take(10)
    assert [m.payload for m in msgs] == [b"e1", b"e2", b"e3"]
    assert [m.retain for m in msgs] == [False, True, False]
    assert again.in_flight() == 0


def test_forget_in_flight_hands_unacked_messages_over_again(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.sqlite3")
    box.put("t", b"x")
    (m,) = box.take(5)
    box.mark_sent(m.id, 7)
    assert box.take(5) == []
    box.forget_in_flight()
    assert [x.payload for x in box.take(5)] == [b"x"]


def test_an_acknowledged_event_settles_until_the_broker_shows_it_saved_it(tmp_path: Path) -> None:
    """Outbox.settle: acknowledged (out of pending, not handed over again) but kept until confirm(); a
    lost connection hands it over again (unsettle), a restart of the agent too (the row is still stored)."""
    clock = Clock()
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, clock=clock)
    for i in range(3):
        box.put("t/e", f"e{i}".encode())
    for mid, m in enumerate(box.take(3), start=1):
        box.mark_sent(m.id, mid)
    assert box.settle(1, mark=3, connection=1) and box.settle(2, mark=3, connection=1)
    assert box.settle(1, mark=3, connection=1) is False  # a duplicate PUBACK
    assert box.pending() == 1 and box.in_flight() == 1 and box.settling() == 2 and box.stats().acked == 2
    assert box.take(5) == [], "settling rows are not handed over again"
    assert box.confirm(1, sent_after=3) == 0, "publish 3 was sent before those PUBACKs: it proves nothing"
    assert box.confirm(2, sent_after=4) == 0, "another connection proves nothing"
    clock.t += 60
    assert box.confirm(1, sent_after=4) == 2 and box.settling() == 0
    box.settle(3, mark=3, connection=1)
    assert box.confirm(1, older_than=clock.t - 1) == 0, "settled after that time"
    assert box.unsettle(1) == 0, "the same connection: still settling"
    assert box.unsettle(2) == 1 and box.counter("resent_unconfirmed") == 1
    (m,) = box.take(5)
    assert m.payload == b"e2", "handed over again after the connection was lost"
    box.mark_sent(m.id, 4)
    box.settle(4, mark=5, connection=2)
    clock.t += 10
    assert box.confirm(2, older_than=clock.t - 10) == 1 and box.pending() == 0, "settled long enough ago"
    box.put("t/e", b"e3")
    (m,) = box.take(5)
    box.mark_sent(m.id, 5)
    box.settle(5, mark=6, connection=2)
    box.close()
    again = Outbox(path, clock=clock)
    assert [x.payload for x in again.take(5)] == [b"e3"], "an agent restart sends the unconfirmed row again"


def test_size_bound_drops_oldest_and_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, max_messages=3)
    for i in range(5):
        box.put("t", str(i).encode())
    assert [m.payload for m in box.take(10)] == [b"2", b"3", b"4"]
    assert box.stats().dropped_full == 2
    assert "outbox full" in caplog.text
    box.close()
    assert Outbox(path, max_messages=3).counter("dropped_full") == 2  # counted durably


def test_age_bound_drops_expired_and_counts(tmp_path: Path) -> None:
    clock = Clock()
    box = Outbox(tmp_path / "q.sqlite3", max_age_s=60, clock=clock)
    box.put("t", b"old")
    clock.t += 30
    box.put("t", b"newer")
    clock.t += 45  # "old" is 75 s old, "newer" 45 s
    assert box.purge_expired() == 1
    assert [m.payload for m in box.take(5)] == [b"newer"]
    assert box.stats().dropped_age == 1


def test_expired_messages_are_dropped_when_reopened(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "q.sqlite3"
    Outbox(path, max_age_s=10, clock=clock).put("t", b"stale")
    clock.t += 11
    box = Outbox(path, max_age_s=10, clock=clock)
    assert box.pending() == 0 and box.counter("dropped_age") == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_messages": 0}, "max_messages"),
    ({"max_age_s": 0}, "max_age_s"),
])
def test_bad_bounds_fail_fast(tmp_path: Path, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Outbox(tmp_path / "q.sqlite3", **kwargs)  # type: ignore[arg-type]


def test_binary_payloads_roundtrip(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.sqlite3")
    blob = bytes(range(256)) * 100
    box.put("snap", blob)
    assert box.take(1)[0].payload == blob


def test_messages_survive_sigkill(tmp_path: Path) -> None:
    """A writer killed with SIGKILL right after put() loses nothing that put() returned for."""
    path = tmp_path / "q.sqlite3"
    script = textwrap.dedent(f"""
        import sys, time
        from edge_agent.outbox import Outbox
        box = Outbox({str(path)!r})
        for i in range(200):
            box.put("t/e", str(i).encode())
            print(i, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None
    last = None
    for line in proc.stdout:
        last = int(line)
        if last == 199:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert last == 199
    box = Outbox(path)
    assert [int(m.payload) for m in box.take(500)] == list(range(200))


def test_a_corrupt_queue_file_is_moved_aside_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    box = Outbox(path)
    box.put("t", b"x")
    assert box.pending() == 1
    assert list(tmp_path.glob("q.sqlite3.corrupt-*")), "the unreadable file is kept for inspection"
    assert "damaged" in caplog.text


def test_byte_bound_drops_oldest_snapshots_before_events(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, max_bytes=10_000)
    for i in range(4):
        box.put(f"m/s/camera/c/snapshot/{i}", b"j" * 2000)
        box.put("m/s/camera/c/event", f"e{i}".encode())
    box.put("m/s/camera/c/snapshot/4", b"j" * 3000)  # 11,008 bytes stored: over the bound
    kept = box.take(100)
    assert [m.payload for m in kept if m.topic.endswith("/event")] == [b"e0", b"e1", b"e2", b"e3"]
    snaps = [m.topic.rsplit("/", 1)[1] for m in kept if "/snapshot/" in m.topic]
    assert snaps == ["2", "3", "4"]  # the two oldest pictures went; 9,008 bytes <= 90% of the bound
    stats = box.stats()
    assert stats.dropped_bytes == 2 and stats.bytes == sum(len(m.payload) for m in kept)
    box.close()
    assert Outbox(path, max_bytes=10_000).stats().bytes == stats.bytes  # recomputed on open


def test_an_outbox_from_before_the_kind_column_gets_its_rows_kinds(tmp_path: Path) -> None:
    """An agent upgraded with a backlog: the old file has no ``kind`` column (nor boot/mono); opening it adds
    the column with each queued message's kind computed from its topic, and the snapshot-first byte bound
    works on those rows as on new ones."""
    path = tmp_path / "q.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
                             qos INTEGER NOT NULL, retain INTEGER NOT NULL, created REAL NOT NULL);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """)
    old = [("maskwatch/hq/camera/door/snapshot/e0", b"j" * 2000), ("maskwatch/hq/camera/door/event", b"e0"),
           ("maskwatch/hq/camera/door/snapshot/e0/1", b"j" * 2000), ("site/a/hq/camera/door/face/e0", b"f"),
           ("maskwatch/hq/agent/pi/available", b"online"), ("not/ours", b"x")]
    db.executemany("INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, 1, 0, ?)",
                   [(t, p, time.time()) for t, p in old])
    db.commit()
    db.close()
    box = Outbox(path, max_bytes=5000)
    kinds = dict(box._db.execute("SELECT topic, kind FROM outbox").fetchall())
    assert kinds == {"maskwatch/hq/camera/door/snapshot/e0": "snapshot", "maskwatch/hq/camera/door/event": "event",
                     "maskwatch/hq/camera/door/snapshot/e0/1": "snapshot", "site/a/hq/camera/door/face/e0": "face",
                     "maskwatch/hq/agent/pi/available": "available", "not/ours": None}
    box.put("maskwatch/hq/camera/door/stats", b"s" * 1000)  # 5,015 bytes: over the bound
    left = [m.topic for m in box.take(100)]
    assert "maskwatch/hq/camera/door/snapshot/e0" not in left  # the oldest picture went first
    assert "maskwatch/hq/camera/door/event" in left and "maskwatch/hq/camera/door/stats" in left
    assert box._db.execute("SELECT kind FROM outbox WHERE topic LIKE '%/stats'").fetchone() == ("stats",)
    box.close()


def test_a_wall_clock_jump_of_eight_days_drops_nothing(tmp_path: Path) -> None:
    """A Pi without an RTC boots with a stale clock; NTP then jumps it: ages are monotonic, not wall-clock."""
    mono, wall = Clock(), Clock()
    wall.t = 1_700_000_000.0
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, max_age_s=24 * 3600, clock=mono, wall_clock=wall, boot="boot-1")
    box.put("t", b"queued a minute before the jump")
    mono.t += 60
    wall.t += 8 * 24 * 3600  # NTP
    assert box.purge_expired() == 0
    box.close()
    again = Outbox(path, max_age_s=24 * 3600, clock=mono, wall_clock=wall, boot="boot-1")  # restart, same boot
    assert again.pending() == 1 and again.counter("dropped_age") == 0
    mono.t += 24 * 3600  # a real day later it does expire
    assert again.purge_expired() == 1


def test_rows_of_an_earlier_boot_are_aged_by_the_wall_clock_once(tmp_path: Path) -> None:
    mono, wall = Clock(), Clock()
    wall.t = 1_700_000_000.0
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, max_age_s=3600, clock=mono, wall_clock=wall, boot="boot-1")
    box.put("t", b"old")
    wall.t += 1800
    box.put("t", b"newer")
    box.close()
    mono.t = 5.0  # rebooted: the monotonic clock starts again
    wall.t += 1000  # "old" is 2800 s old, "newer" 1000 s
    again = Outbox(path, max_age_s=3600, clock=mono, wall_clock=wall, boot="boot-2")
    assert again.pending() == 2
    mono.t += 900  # "old" passes an hour
    assert again.purge_expired() == 1 and [m.payload for m in again.take(5)] == [b"newer"]


def test_a_clock_set_back_after_a_reboot_keeps_the_rows(tmp_path: Path) -> None:
    mono, wall = Clock(), Clock()
    wall.t = 1_700_000_000.0
    path = tmp_path / "q.sqlite3"
    Outbox(path, max_age_s=3600, clock=mono, wall_clock=wall, boot="boot-1").put("t", b"x")
    wall.t -= 30 * 24 * 3600  # booted with a stale clock
    again = Outbox(path, max_age_s=3600, clock=mono, wall_clock=wall, boot="boot-2")
    assert again.pending() == 1 and again.purge_expired() == 0


def test_dead_letters_are_kept_counted_and_requeued(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "q.sqlite3")
    for i in range(3):
        box.put("t/e", str(i).encode())
    for i, msg in enumerate(box.take(3)):
        box.mark_sent(msg.id, 100 + i)
    assert box.dead_letter(100, "Not authorized") and box.dead_letter(101, "Quota exceeded")
    assert not box.dead_letter(999, "Not authorized")  # an id we do not track
    assert box.ack(102)
    s = box.stats()
    assert (s.pending, s.acked, s.dead_letters, s.dead_lettered) == (0, 1, 2, 2)
    assert box.dead_letter_reasons() == {"Not authorized": 1, "Quota exceeded": 1}
    assert box.requeue_dead_letters() == 2
    assert [m.payload for m in box.take(5)] == [b"0", b"1"] and box.dead_letters() == 0
    assert box.stats().dead_lettered == 2  # the counter survives the requeue


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, timeout=10, check=False).returncode == 0


def test_a_full_disk_keeps_messages_in_memory_and_writes_them_when_space_returns(tmp_path: Path) -> None:
    """A real full file system (a 1 MiB tmpfs): nothing lost, counted, order kept, the alarm raised and cleared."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN)")
    try:
        box = Outbox(disk / "q.sqlite3")
        box.put("t/e", b"before")
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill the disk
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        for i in range(50):
            box.put("t/e", f"during-{i}".encode() * 50)
        s = box.stats()
        assert s.disk_full and s.memory_buffered > 0 and box.pending() == 51
        in_memory = s.memory_buffered
        filler.unlink()  # space returns
        assert box.write_buffered()
        s = box.stats()
        assert not s.disk_full and s.memory_buffered == 0 and s.dropped_disk_full == 0
        assert [m.payload for m in box.take(100)] == [b"before", *[f"during-{i}".encode() * 50 for i in range(50)]]
        assert box.counter("disk_full_buffered") == in_memory  # counted durably once space returned
        box.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=10, check=False)


def test_a_damaged_outbox_is_salvaged_row_by_row_and_its_counters_survive(tmp_path: Path) -> None:
    """8 KiB of damage in a 300-message queue: every readable row is kept, the rest counted as lost."""
    path = tmp_path / "q.sqlite3"
    box = Outbox(path, max_messages=300)
    for i in range(301):  # one over the bound: dropped_full = 1, a counter that must survive the damage
        box.put("t/e", json_payload(i))
    box.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    mid = len(data) // 2 // 4096 * 4096
    data[mid:mid + 8192] = os.urandom(8192)
    path.write_bytes(bytes(data))
    again = Outbox(path, max_messages=300)
    kept = [m.payload for m in again.take(400)]
    lost = again.counter("lost_corrupt")
    assert 0 < len(kept) < 300 and len(kept) + lost >= 290, (len(kept), lost)
    assert len(kept) >= 250, "only the damaged pages' rows may be lost"
    assert again.counter("dropped_full") == 1, "counters survive the damage"
    assert again.counter("salvaged_corrupt") == len(kept)
    assert all(p in {json_payload(i) for i in range(301)} for p in kept)


def test_damaged_copies_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    for _ in range(5):
        path.write_bytes(b"this is not a database" * 100)
        Outbox(path).close()
    assert len(list(tmp_path.glob("q.sqlite3.corrupt-*[0-9]"))) == 3


def json_payload(i: int) -> bytes:
    return (f'{{"event_id": "{i:06d}", "pad": "' + "x" * 900 + '"}').encode()


def test_take_with_resume_reads_skipped_rows_once_and_still_finds_new_ones(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "q.sqlite3")
    for i in range(5):
        outbox.put("m/s/camera/c/event", b"e%d" % i)
    outbox.put("m/s/camera/c/status", b"s0")
    seen: list[str] = []

    def skip(topic: str) -> bool:
        seen.append(topic)
        return topic.endswith("/event")

    assert [m.payload for m in outbox.take(10, skip=skip, resume=True)] == [b"s0"]
    assert len(seen) == 6
    seen.clear()
    outbox.put("m/s/camera/c/status", b"s1")
    assert [m.payload for m in outbox.take(10, skip=skip, resume=True)] == [b"s0", b"s1"]  # s0 not sent yet
    assert len(seen) == 2, "the five events passed over before are not read again"
    assert [m.payload for m in outbox.take(1, skip=lambda t: not t.endswith("/event"))] == [b"e0"]
