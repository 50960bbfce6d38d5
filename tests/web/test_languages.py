"""Spanish and English: which language a page speaks, the switch, and the catalog's health."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from marketplace import ROOT
from marketplace.i18n import TRANSLATIONS

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"


def _catalog():
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


def test_a_browser_asking_for_spanish_gets_spanish(client):
    html = client.get("/", headers={"Accept-Language": "es-PE,es;q=0.9,en;q=0.5"}).text
    assert '<html lang="es">' in html
    assert "Lotes de oro" in html and "Gold lots" not in html


def test_a_browser_asking_for_english_or_nothing_gets_english(client):
    for headers in ({"Accept-Language": "en-GB,en;q=0.8"}, {}):
        html = client.get("/", headers=headers).text
        assert '<html lang="en">' in html
        assert "Gold lots" in html and "Lotes de oro" not in html


def test_the_switch_sticks_and_returns_to_the_page(client):
    response = client.get("/language/es?next=/products?category=ring")
    assert response.status_code == 303
    assert response.headers["Location"] == "/products?category=ring"
    assert "lang=es" in response.headers["Set-Cookie"]
    # The choice beats the browser's language on every later page.
    html = client.get("/lots", headers={"Accept-Language": "en"}).text
    assert '<html lang="es">' in html


def test_the_switch_never_sends_the_visitor_elsewhere(client):
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)", ""):
        response = client.get("/language/en", query_string={"next": target})
        assert response.headers["Location"] == "/"


def test_an_unknown_language_changes_nothing(client):
    response = client.get("/language/xx?next=/lots")
    assert response.headers["Location"] == "/lots"
    assert "Set-Cookie" not in response.headers


def test_every_page_links_to_both_languages_marking_the_current_one(client):
    html = client.get("/products", headers={"Accept-Language": "es"}).text
    assert 'href="/language/en?next=/products"' in html
    assert 'hreflang="es" aria-current="true"' in html


def test_workspaces_default_to_spanish_until_the_user_chooses(client, as_user):
    as_user("jeweller@demo.test")
    html = client.get("/jeweller/", headers={"Accept-Language": "en"}).text
    assert '<html lang="es">' in html
    client.get("/language/en")
    html = client.get("/jeweller/", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in html


def test_public_pages_beside_the_workspaces_follow_the_browser(client):
    html = client.get("/cooperatives/cecomsap", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in html


def test_figures_are_written_for_the_language(client):
    english = client.get("/lots", headers={"Accept-Language": "en"}).text
    spanish = client.get("/lots", headers={"Accept-Language": "es"}).text
    # Dates differ by language; soles are written the Peruvian way in both.
    assert english != spanish
    assert "S/" in client.get("/products", headers={"Accept-Language": "en"}).text
    assert "S/" in client.get("/products", headers={"Accept-Language": "es"}).text


def test_every_message_has_a_spanish_translation():
    untranslated = [
        m.id for m in _catalog() if m.id and (not m.string or "fuzzy" in m.flags)
        or (isinstance(m.string, tuple) and not all(m.string))
    ]
    assert untranslated == []


def test_translations_keep_their_placeholders():
    problems = [(m.id, errors) for m, errors in _catalog().check() if errors]
    assert problems == []


def test_the_catalog_holds_every_string_of_the_code(tmp_path: Path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    have = {m.id for m in _catalog() if m.id}
    assert sorted(map(str, wanted - have)) == []
