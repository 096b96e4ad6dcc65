"""Translations: every string the code and templates mark is in the Indonesian catalogue and translated (with the
same placeholders); no template shows text that is not marked; the catalogue compiles; pages follow the
browser's language, then the user's choice; dates and numbers are localised."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages import checkers
from babel.messages.pofile import read_po
from dashboard_support import REPO, csrf_from, login, raw, stats, topic

from dashboard import i18n
from dashboard.ingest import Ingester, Received

PKG = REPO / "dashboard"
PO = PKG / "translations" / "id" / "LC_MESSAGES" / "messages.po"
TEMPLATES = sorted((PKG / "templates").glob("**/*.html"))
NOT_TEXT = {"MaskWatch"}  # the product's name is the same in every language


def catalogue(path: Path = PO):  # noqa: ANN201
    with path.open("rb") as f:
        return read_po(f, locale="id")


def extracted(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()", "-q", "extract",
                    "-F", str(PKG / "babel.cfg"), "-k", "_l", "-o", str(pot), str(PKG)], check=True, cwd=REPO)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(pot) if m.id}


def test_extraction_finds_no_string_missing_from_the_catalogue(tmp_path) -> None:
    found = extracted(tmp_path)
    have = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue() if m.id}
    assert len(found) > 100
    missing = sorted(found - have)
    assert not missing, (f"{len(missing)} strings are not in {PO.relative_to(REPO)}: {missing[:20]} - run the "
                         "pybabel extract/update commands in dashboard/i18n.py and translate them")
    assert not sorted(have - found), "strings in the catalogue that the code no longer uses (run pybabel update)"


def test_every_indonesian_string_is_translated_with_the_same_placeholders() -> None:
    cat = catalogue()
    untranslated, fuzzy, bad = [], [], []
    for m in cat:
        if not m.id:
            continue
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        if not all(strings):
            untranslated.append(m.id)
        if m.fuzzy:
            fuzzy.append(m.id)
        try:
            checkers.python_format(cat, m)
        except Exception as err:  # noqa: BLE001 - babel raises TranslationError
            bad.append(f"{m.id}: {err}")
    assert not untranslated, f"untranslated in id: {untranslated}"
    assert not fuzzy, f"fuzzy (needs a look) in id: {fuzzy}"
    assert not bad, bad


def test_the_catalogue_compiles_and_the_compiled_copy_follows_the_po(tmp_path) -> None:
    src = tmp_path / "translations"
    (src / "id" / "LC_MESSAGES").mkdir(parents=True)
    po = src / "id" / "LC_MESSAGES" / "messages.po"
    po.write_bytes(PO.read_bytes())
    first = i18n.compiled_dir(src)
    assert (first / "id" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
    po.write_bytes(PO.read_bytes().replace(b'msgstr "Ringkasan"', b'msgstr "Ikhtisar"'))
    assert i18n.compiled_dir(src) != first, "a changed .po must not be served from a stale .mo"


class _Text(HTMLParser):
    """Collect visible text and human-readable attributes of a template with its Jinja parts blanked out."""

    ATTRS = {"alt", "title", "placeholder", "aria-label"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
        if tag in ("script", "style", "code"):
            self.skip += 1
        for name, value in attrs:
            if name in self.ATTRS and value and re.search(r"[A-Za-z]{2,}", value):
                self.found.append(f'{name}="{value}"')

    def handle_endtag(self, tag):  # noqa: ANN001, ANN201
        if tag in ("script", "style", "code") and self.skip:
            self.skip -= 1

    def handle_data(self, data):  # noqa: ANN001, ANN201
        text = data.strip()
        for word in NOT_TEXT:
            text = text.replace(word, "")
        if not self.skip and re.search(r"[A-Za-z]{2,}", text):
            self.found.append(text)


def unmarked_text(source: str) -> list[str]:
    blank = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", source, flags=re.S)
    p = _Text()
    p.feed(blank)
    return p.found


def test_unmarked_text_is_found_by_the_checker() -> None:
    assert unmarked_text('<p>Hello {{ _("x") }}</p><img alt="a photo">') == ["Hello", 'alt="a photo"']
    assert unmarked_text('<p>{{ _("Hello") }}</p><code>maskwatch run</code><b>MaskWatch</b>') == []


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_template_shows_text_that_is_not_marked_for_translation(template: Path) -> None:
    found = unmarked_text(template.read_text(encoding="utf-8"))
    assert not found, f"{template.name}: wrap in {{{{ _('...') }}}} and translate: {found}"


def seed_people(app, tmp_path) -> None:  # noqa: ANN001
    ing = Ingester(app.extensions["maskwatch"]["engine"], tmp_path / "snapshots", "maskwatch", name="i18n")
    ing.process([Received(topic("stats"), raw(stats(people={"with_mask": 1234, "without_mask": 0,
                                                             "mask_incorrect": 0})))])


pytestmark = pytest.mark.app(seed=seed_people)


def test_the_browser_language_then_the_users_choice(app) -> None:
    c = app.test_client()
    assert "Masuk" in c.get("/login", headers={"Accept-Language": "id-ID,id;q=0.9"}).get_data(as_text=True)
    assert "Log in" in c.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert login(c).status_code == 302
    en = c.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Overview" in en and "1,234" in en and 'lang="en"' in en
    r = c.post("/language", data={"lang": "id", "next": "/", "csrf_token": csrf_from(en)})
    assert r.status_code == 302
    c2 = app.test_client()  # a new session of the same user: the choice is the user's, not the browser's
    login(c2)
    page = c2.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="id"' in page and "Ringkasan" in page and "1.234" in page, "Indonesian text and number format"
    assert '"without_mask": "tanpa masker"' in page, "the JS catalogue follows the language"


def test_a_language_change_needs_a_csrf_token(app) -> None:
    c = app.test_client()
    assert c.post("/language", data={"lang": "id"}).status_code == 400
