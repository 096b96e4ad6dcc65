"""Notification text (single event, digest, test; the title is the e-mail subject) in a channel's language.

The ingest process sends notifications outside any request, so Flask-Babel's request locale does not apply:
:func:`translations` loads a gettext catalogue from the same .po files, compiled the same way as the pages'
(:func:`dashboard.i18n.compiled_dir`), and dates and numbers are formatted with Babel for that language.
Times are in the site's zone (:class:`dashboard.zones.SiteZones`), written with the zone's name. Label names
are the core vocabulary's display names (``edge_agent.core.labels.DISPLAY_NAMES``), translated in the same
catalogue as on the pages.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from edge_agent.core.labels import DISPLAY_NAMES


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue for ``lang`` (English, the source language, has none: the msgids are the text)."""
    # imported here: dashboard.i18n -> db_session -> store -> notify -> this module
    from dashboard.i18n import LANGUAGES, compiled_dir

    if lang not in LANGUAGES:
        raise ValueError(f"notification language {lang!r}; allowed: {', '.join(LANGUAGES)}")
    return Translations.load(str(compiled_dir()), [lang], domain="messages")


class Text:
    """Messages in one language; each method returns ``(title, body)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.t = translations(lang)

    def when(self, t: datetime, tz: str) -> str:
        """``t`` in zone ``tz``, localised, followed by the zone's name."""
        return f"{format_datetime(t.astimezone(ZoneInfo(tz)), 'medium', locale=self.lang)} ({tz})"

    def label(self, verdict: str) -> str:
        name = DISPLAY_NAMES.get(verdict)
        return self.t.gettext(name) if name else verdict.replace("_", " ")

    def event(self, verdict: str, site: str, camera: str, t: datetime, tz: str, confidence: float,
              link: str | None) -> tuple[str, str]:
        args = {"verdict": self.label(verdict), "site": site, "camera": camera}
        title = self.t.gettext("MaskWatch: %(verdict)s at %(site)s/%(camera)s") % args
        body = self.t.gettext("Person with %(verdict)s at camera %(camera)s (%(site)s) at %(time)s, "
                              "confidence %(confidence)s.") % {
            **args, "time": self.when(t, tz), "confidence": format_decimal(confidence, "0.00", locale=self.lang)}
        return title, body + (f"\n{link}" if link else "")

    def digest(self, count: int, site: str, camera: str, since: datetime, minutes: int, tz: str,
               link: str | None) -> tuple[str, str]:
        args = {"num": count, "site": site, "camera": camera}
        title = self.t.ngettext("MaskWatch: %(num)d violation at %(site)s/%(camera)s",
                                "MaskWatch: %(num)d violations at %(site)s/%(camera)s", count) % args
        body = self.t.ngettext(
            "%(num)d more violation at camera %(camera)s (%(site)s) in the last %(minutes)d min, since %(time)s.",
            "%(num)d more violations at camera %(camera)s (%(site)s) in the last %(minutes)d min, since %(time)s.",
            count) % {**args, "minutes": minutes, "time": self.when(since, tz)}
        return title, body + (f"\n{link}" if link else "")

    def test(self, who: str, channel: str, t: datetime, tz: str) -> tuple[str, str]:
        title = self.t.gettext("MaskWatch test notification")
        body = self.t.gettext("Test message requested by %(who)s at %(time)s. If you read this, the channel "
                              "%(channel)s works.") % {"who": who, "time": self.when(t, tz), "channel": repr(channel)}
        return title, body


@cache
def text(lang: str) -> Text:
    return Text(lang)
