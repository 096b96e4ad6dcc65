"""ClockWatch: a wall-clock jump against the monotonic clock is seen once; drift is not a jump. The agent
process's view (healthz, stats, metrics, one log line) is tests/agent/test_agent_alerts.py."""

from __future__ import annotations

import pytest

from edge_agent.clock_watch import ClockWatch


class Clocks:
    def __init__(self) -> None:
        self.wall, self.mono = 1_800_000_000.0, 500.0

    def tick(self, s: float, wall_extra: float = 0.0) -> None:
        self.mono += s
        self.wall += s + wall_extra


def test_jumps_forward_and_back_are_counted_once_each(caplog: pytest.LogCaptureFixture) -> None:
    c = Clocks()
    w = ClockWatch(threshold_s=2.0, wall=lambda: c.wall, mono=lambda: c.mono)
    for _ in range(100):  # NTP slewing: 1 ms per 0.25 s tick, 0.1 s in all
        c.tick(0.25, 0.001)
        assert w.check() is None
    c.tick(0.25, 8 * 86400)
    assert w.check() == pytest.approx(8 * 86400)
    assert w.check() is None, "the same jump is not seen twice"
    c.tick(0.25, -3600)
    assert w.check() == pytest.approx(-3600)
    s = w.state()
    assert s.jumps == 2 and s.last_jump_s == pytest.approx(-3600)
    assert s.total_s == pytest.approx(8 * 86400 - 3600 + 0.1, abs=0.01)
    lines = [r.getMessage() for r in caplog.records if "wall clock jumped" in r.getMessage()]
    assert len(lines) == 2 and "+8 d" in lines[0] and "-1 h" in lines[1], lines


def test_a_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold_s"):
        ClockWatch(threshold_s=0)
