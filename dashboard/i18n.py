"""Indonesian and English (Flask-Babel): the browser's language by default, a per-user choice, localised
dates and numbers, and the strings JavaScript shows, rendered as a JSON catalogue (no CDN, no extra request).

Translations live in ``dashboard/translations/<lang>/LC_MESSAGES/messages.po``. They are compiled at start
into a cache folder keyed by the .po files' content, so a compiled catalogue is never stale and nothing is
written into the installed package. Update them after changing text::

    pybabel extract -F dashboard/babel.cfg -k _l -o /tmp/messages.pot dashboard
    pybabel update -i /tmp/messages.pot -d dashboard/translations --no-fuzzy-matching

``tests/dashboard/test_i18n.py`` fails when a string is missing from a .po file or left untranslated.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, current_app, redirect, request, session
from flask_babel import Babel, format_date, format_datetime, format_decimal, format_percent, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from dashboard.db_session import get_db
from edge_agent.core.labels import DISPLAY_NAMES

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
bp = Blueprint("i18n", __name__)

# What app.js and stats.js show: translated on the server, handed to the page as JSON (window catalogue).
# (Label names come with the core's vocabulary, translated per request: see init_app and extract_label_names.)
JS_STRINGS = {
    "no_violations_yet": _l("No violations yet."),
    "people": _l("people"),
    "pct_with_mask": _l("% of people with a mask"),
    "site": _l("site"),
    "previous_period": _l("previous period"),
    "dark": _l("Dark"),
    "light": _l("Light"),
}


def extract_label_names(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Any:
    """Babel extractor (dashboard/babel.cfg, for vocabulary.py): the core's label display names as msgids, so
    they are translated in the catalogue without being written a second time."""
    for name in DISPLAY_NAMES.values():
        yield 1, "gettext", name, ["label display name, edge_agent/core/labels.py DISPLAY_NAMES"]


def compiled_dir(source: Path = TRANSLATIONS) -> Path:
    """Compile every .po under ``source`` into a cache folder named after their content; returns the folder.
    (A folder another user made and this one cannot write: compiled into a private temp folder instead.)"""
    pos = sorted(source.glob("*/LC_MESSAGES/*.po"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in pos)).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"maskwatch-translations-{digest}"
    try:
        _compile(source, pos, out, digest)
    except OSError:
        out = Path(tempfile.mkdtemp(prefix="maskwatch-translations-"))
        _compile(source, pos, out, digest)
    return out


def _compile(source: Path, pos: list[Path], out: Path, digest: str) -> None:
    for po in pos:
        mo = out / po.relative_to(source).with_suffix(".mo")
        if mo.exists():
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".{digest}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)  # atomic: several processes may start at once


def select_locale() -> str:
    user_choice = getattr(current_user, "locale", None) if current_user and current_user.is_authenticated else None
    choice = user_choice or session.get("lang")
    if choice in LANGUAGES:
        return str(choice)
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled_dir())
    Babel(app, locale_selector=select_locale)
    # the core's label display names (dashboard/vocabulary.py), translated when a page renders them
    vocab = dict(app.jinja_env.globals.get("vocab") or {})
    if vocab:
        vocab["names"] = {label: _l(name) for label, name in DISPLAY_NAMES.items()}
        app.jinja_env.globals["vocab"] = vocab
    app.jinja_env.add_extension("jinja2.ext.i18n")  # {% trans %} blocks (Flask-Babel installs the callables)
    app.add_template_filter(when, "when")
    app.add_template_filter(number, "number")
    app.add_template_filter(pct, "pct")
    app.add_template_filter(day, "day")
    app.context_processor(_context)


def _context() -> dict[str, Any]:
    locale = get_locale()
    return {"languages": LANGUAGES, "lang": str(locale or "en"), "now_utc": datetime.now(UTC),
            "weekday_names": get_day_names("abbreviated", locale=locale),
            "js_strings": {k: str(v) for k, v in JS_STRINGS.items()}}


def when(t: datetime | None, tz: str | None = None, fmt: str = "medium") -> str:
    """A UTC datetime shown in ``tz`` (default: the dashboard's zone) in the page's language."""
    if t is None:
        return ""
    zone = ZoneInfo(tz or str(current_app.config["TIMEZONE"]))
    return format_datetime(t.astimezone(zone), fmt, rebase=False)


def day(d: date, fmt: str = "medium") -> str:
    """A calendar date in the page's language."""
    return format_date(d, fmt)


def number(x: float | int | None) -> str:
    return "–" if x is None else format_decimal(x)


def pct(x: float | None) -> str:
    return "–" if x is None else format_percent(x, "#,##0%")


@bp.route("/language", methods=["POST"])
def set_language() -> Any:
    """Remember the chosen language: in the user's profile when logged in, in the session otherwise."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
            get_db().commit()
    target = request.form.get("next") or "/"
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
