"""The time zone of a site, in one place: ``dashboard.site_timezones``, else ``dashboard.timezone``.

Pages (``dashboard.views.site_tz``), notifications (``dashboard.notify``) and Home Assistant's "today" sensors
(``dashboard.homeassistant``) all ask a :class:`SiteZones`; the ingest process, which has no Flask app, builds
one from the config with :meth:`SiteZones.from_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class SiteZones:
    default: str = "UTC"
    sites: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def of(self, site: str | None) -> str:
        """The IANA zone of ``site`` (the default zone for a site not listed, or for no site)."""
        return (self.sites.get(site) if site else None) or self.default

    @classmethod
    def from_config(cls, dashboard: Any) -> SiteZones:
        """From a ``DashboardConfig`` (``dashboard`` section)."""
        return cls(dashboard.timezone, MappingProxyType(dict(dashboard.site_timezones)))

    @classmethod
    def of_any(cls, zones: SiteZones | str | None) -> SiteZones:
        """``zones`` itself, or one zone for every site (a plain string, as older callers pass)."""
        return zones if isinstance(zones, SiteZones) else cls(zones or "UTC")
