"""Every kind of page, for everyone: no serious accessibility violation (axe-core) in English
or Spanish, nothing wrong in the browser console, usable on a phone and with the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, Browsing, Session, Shop
from tests.e2e.steps import pieces_in_stock
from tests.e2e.walk import walk_every_kind_of_page

SERIOUS = ("serious", "critical")
axe = Axe()


def serious_violations(results: dict) -> list[str]:
    """axe-core's serious and critical violations, each with the first elements it names."""
    found = []
    for violation in results["violations"]:
        if violation["impact"] in SERIOUS:
            nodes = "; ".join(
                f"{node['target']} {node['html'][:120]}" for node in violation["nodes"][:3]
            )
            what = f"{violation['id']} ({violation['impact']}): {violation['help']}"
            found.append(f"{what} — {nodes}")
    return found


PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
#: What every page has around its own content (templates/base.html).
PAGE_FRAME = {"exclude": [["header.top"], [".demo-banner"], ["footer.foot"]]}


@dataclass
class Seen:
    """What one page showed: axe's serious findings, console problems, its width on a phone."""

    kind: str
    url: str
    language: str
    html_lang: str | None
    violations: list[str]
    problems: list[str]
    phone_width: int


@dataclass
class Walk:
    """Every kind of page in one language, and every request they made."""

    language: str
    pages: list[Seen]
    requests: set[str]
    remote: set[str]


@pytest.fixture(scope="module", params=["en", "es"], ids=["english", "spanish"])
def walk(
    request: pytest.FixtureRequest,
    browser: Browser,
    shop: Shop,
    signed_in_states: dict[str, dict[str, Any]],
) -> Iterator[Walk]:
    """Open every kind of page once per language and look at each (axe-core at desktop width,
    then the width of the page at phone width). A page with a finding leaves a screenshot."""
    language = str(request.param)
    browsing = Browsing(browser, shop, signed_in_states)
    result = Walk(language=language, pages=[], requests=set(), remote=set())
    framed: set[int] = set()
    try:
        for visit in walk_every_kind_of_page(shop, browsing.open, language, viewport=DESKTOP):
            page = visit.page
            # The header, the demo banner and the footer are the same on every page of a
            # session (one role, one language): checked on its first page only.
            scope = None if id(visit.session) not in framed else PAGE_FRAME
            framed.add(id(visit.session))
            violations = serious_violations(axe.run(page, context=scope).response)
            page.set_viewport_size(PHONE)
            width = int(page.evaluate("document.documentElement.scrollWidth"))
            if width > PHONE["width"]:
                _screenshot(page, f"{language}-{visit.kind}-phone")
            page.set_viewport_size(DESKTOP)
            seen = Seen(
                kind=visit.kind,
                url=page.url,
                language=language,
                html_lang=page.locator("html").get_attribute("lang"),
                violations=violations,
                problems=visit.session.watch.take_problems(),
                phone_width=width,
            )
            if seen.violations or seen.problems:
                _screenshot(page, f"{language}-{visit.kind}")
            result.pages.append(seen)
            result.requests.update(visit.session.watch.requests)
            result.remote.update(visit.session.watch.remote_requests())
    except Exception:
        browsing.screenshot(f"walk-{language}")
        raise
    else:
        yield result
    finally:
        browsing.close()


def _screenshot(page: Page, name: str) -> None:
    """A full-page screenshot of a page with a finding, into ``tests/e2e/artifacts``."""
    ARTIFACTS.mkdir(exist_ok=True)
    file_name = re.sub(r"[^\w.-]+", "_", name) + ".png"
    page.screenshot(path=str(ARTIFACTS / file_name), full_page=True)


def test_no_page_has_a_serious_accessibility_violation(walk: Walk) -> None:
    assert len(walk.pages) >= 45, [seen.kind for seen in walk.pages]
    found = [f"{s.kind} ({s.url}): {v}" for s in walk.pages for v in s.violations]
    assert found == [], "\n".join(found)


def test_no_page_logs_a_console_error_or_a_csp_violation(walk: Walk) -> None:
    found = [f"{s.kind}: {problem}" for s in walk.pages for problem in s.problems]
    assert found == [], "\n".join(found)


def test_every_page_declares_the_language_it_is_in(walk: Walk) -> None:
    wrong = [f"{s.kind}: lang={s.html_lang!r}" for s in walk.pages if s.html_lang != s.language]
    assert wrong == []


def test_no_page_scrolls_sideways_at_phone_width(walk: Walk) -> None:
    too_wide = [
        f"{s.kind} ({s.url}): {s.phone_width}px wide"
        for s in walk.pages
        if s.phone_width > PHONE["width"]
    ]
    assert too_wide == [], "\n".join(too_wide)


def test_no_page_asks_another_machine_for_anything(walk: Walk) -> None:
    assert any(urlsplit(url).path.endswith(".css") for url in walk.requests)
    assert walk.remote == set()


FOCUS_SHOWN = """el => {
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  const box = el.getBoundingClientRect();
  const inView = box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth;
  return Boolean((outline || shadow) && inView);
}"""


def tab_to(page: Page, role: str, name: str, most: int = 60) -> list[str]:
    """Press Tab until the control ``role`` named ``name`` has the focus; what had it on the way.

    Every control that gets the focus must show it (an outline or a shadow, on screen).
    """
    target = page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
    passed: list[str] = []
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.locator(":focus")
        if focused.count() == 0:
            continue
        label = focused.evaluate("el => el.tagName + ' ' + (el.innerText || el.value || '')")
        assert focused.evaluate(FOCUS_SHOWN), f"no visible focus on {label.strip()[:60]}"
        passed.append(label)
        if target.evaluate("el => el === document.activeElement"):
            return passed
    raise AssertionError(f"{role} {name!r} not reached in {most} Tabs: {passed}")


def test_a_keyboard_user_adds_a_piece_to_the_cart_and_reaches_checkout_seeing_the_focus(
    shop: Shop, session: Session, page: Page
) -> None:
    page.goto(f"/products/{pieces_in_stock(shop)[0]}")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.evaluate(FOCUS_SHOWN), "the skip link does not show when focused"
    page.keyboard.press("Enter")

    passed = tab_to(page, "button", "Add to cart")
    assert len(passed) < 15, f"the skip link should lead past the header: {passed}"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_role("status").filter(has_text="is in your cart")).to_be_visible()

    tab_to(page, "link", "Checkout")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    tab_to(page, "textbox", "Email")
    page.keyboard.type("rosa.quispe@example.org")
    expect(page.get_by_label("Email")).to_have_value("rosa.quispe@example.org")
    assert session.watch.take_problems() == []
