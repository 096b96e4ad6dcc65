"""Login throttle that a stranger cannot use to lock a user out; kept in the dashboard database.

Modelled on Home Assistant's IP ban: failures are counted per source address, and per (address, user
name). Too many from one address for one name and that pair waits; too many from one address for any names
and the address is banned. A user's correct password from an address that is not itself throttled always
works, so nobody elsewhere can lock ``admin`` out. Rows older than the window are deleted (by age, never
by count), so a spray of junk names cannot flush anyone's record; every web process shares the table and a
restart forgets nothing.

The client address is ``request.remote_addr``: the peer, or the client named by ``X-Forwarded-For`` only
when the peer is one of ``dashboard.security.trusted_proxies`` (see :func:`trusted_proxy_middleware`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.models import LoginFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    retry_after_s: float  # 0: may try now
    reason: str  # "" | "address" | "address and user"


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    per_pair: int = 5
    per_address: int = 20
    window_s: float = 900.0

    def _since(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.window_s)

    def check(self, db: Session, ip: str, account: str, now: datetime | None = None) -> Verdict:
        """Whether ``ip`` may try to log in as ``account`` now (reads only)."""
        now = now or datetime.now(UTC)
        since = self._since(now)
        recent = select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.ip == ip[:64],
                                                                        LoginFailure.at > since)
        n_ip, first_ip = db.execute(recent).one()
        if n_ip >= self.per_address:
            return Verdict(self._wait(first_ip, now), "address")
        n_pair, first_pair = db.execute(recent.where(LoginFailure.account == _norm(account))).one()
        if n_pair >= self.per_pair:
            return Verdict(self._wait(first_pair, now), "address and user")
        return Verdict(0.0, "")

    def _wait(self, first: datetime, now: datetime) -> float:
        return max(1.0, self.window_s - (now - first).total_seconds())

    def failed(self, db: Session, ip: str, account: str, now: datetime | None = None) -> None:
        """Record a failure and delete the rows that left the window (best effort: never fails the login)."""
        now = now or datetime.now(UTC)
        try:
            db.add(LoginFailure(at=now, ip=ip[:64], account=_norm(account)))
            db.execute(delete(LoginFailure).where(LoginFailure.at <= self._since(now)))
            db.commit()
        except Exception:  # a locked or read-only database must not turn a wrong password into a 500
            db.rollback()
            log.warning("could not record a failed login from %s", ip, exc_info=True)

    def succeeded(self, db: Session, ip: str, account: str) -> None:
        """Forget this pair's failures (the address's failures for other names stay)."""
        try:
            db.execute(delete(LoginFailure).where(LoginFailure.ip == ip[:64],
                                                  LoginFailure.account == _norm(account)))
            db.commit()
        except Exception:
            db.rollback()
            log.warning("could not clear failed logins of %s", ip, exc_info=True)


def _norm(account: str) -> str:
    return account.strip().lower()[:64]


# ------------------------------------------------------------------ reverse proxies
def trusted_proxy_middleware(wsgi_app: Callable[..., Any], proxies: Iterable[str]) -> Callable[..., Any]:
    """Apply werkzeug's ProxyFix (one hop of X-Forwarded-For/-Proto/-Host) only to requests whose peer is a
    configured proxy; anyone else's forwarded headers are ignored, so they cannot pick their address."""
    networks = [ipaddress.ip_network(p, strict=False) for p in proxies]
    if not networks:
        return wsgi_app
    fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            peer = None
        if peer is not None and any(peer in n for n in networks):
            return fixed(environ, start_response)
        return wsgi_app(environ, start_response)

    return app
