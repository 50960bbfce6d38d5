"""Browser tests: Playwright driving Debian's Chromium against the shop served for real.

The shop runs in a thread of the test process (werkzeug's server) on a free local port, on a
database of its own, migrated from empty and seeded with the demo (photos included). Unlike the
rest of the suite nothing is rolled back: every request commits, as in production, so the tests
of this folder buy from one shared shop and each picks pieces that are still in stock. With
``TEST_DATABASE_URL=postgresql://...`` the shop uses a schema of its own (``e2e``) in that
database, so CI's PostgreSQL run drives the browser too; by default a SQLite file.

Chromium is Debian's (``/usr/bin/chromium``, ``apt-get install chromium``); Playwright's own
browser downloads are never used. Without it the tests are skipped, saying so.

A failing test leaves a full-page screenshot of every page it had open in
``tests/e2e/artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from marketplace import create_app
from marketplace.extensions import db
from tests.schemas import fresh_schema, postgres_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: The PostgreSQL schema the shop of these tests lives in (never the suite's ``public``).
SCHEMA = "e2e"
PASSWORD = "demo-password"
#: The demo logins, by the role they play in the tests.
LOGINS = {
    "admin": "admin@demo.test",
    "jeweller": "jeweller@demo.test",
    "officer": "coop@demo.test",
    "buyer": "buyer@demo.test",
}
#: How long an action or an assertion waits for the page, in milliseconds.
TIMEOUT_MS = 10_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Shop:
    """The running shop: its app (for looking things up in its database) and its address."""

    app: Flask
    url: str

    def scalar(self, statement: Any) -> Any:
        """Run one query against the shop's database, in a fresh app context."""
        with self.app.app_context():
            try:
                return db.session.scalar(statement)
            finally:
                db.session.remove()

    def scalars(self, statement: Any) -> list[Any]:
        """All values of one query, in a fresh app context."""
        with self.app.app_context():
            try:
                return list(db.session.scalars(statement))
            finally:
                db.session.remove()


class _QuietHandler(WSGIRequestHandler):
    """Serve without logging every request to the test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing."""


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database the shop may commit to: a schema of its own on PostgreSQL, else SQLite."""
    url = postgres_url()
    if url:
        return fresh_schema(url, SCHEMA)
    return f"sqlite:///{Path(tmp_path_factory.mktemp('e2e-db')) / 'shop.db'}"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium (``/usr/bin/chromium``, else ``chromium`` on the PATH), or a skip
    that says how to get it."""
    found = CHROMIUM if CHROMIUM.is_file() else Path(shutil.which("chromium") or CHROMIUM)
    if not (found.is_file() and os.access(found, os.X_OK)):
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium"
        )
    return found


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[Shop]:
    """The shop, seeded with the demo, served on a free local port for the whole session."""
    app = create_app(
        {
            "DATABASE_URL": _database_url(tmp_path_factory),
            "SECRET_KEY": "e2e-secret",
            "SIGNING_KEY_DIR": str(tmp_path_factory.mktemp("e2e-keys")),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        upgrade()
        from marketplace.demo import ensure_demo_logins, seed

        seed(photos=True)
        ensure_demo_logins()
        db.session.commit()
        db.session.remove()
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="e2e-shop", daemon=True)
    thread.start()
    try:
        yield Shop(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def playwright_driver(chromium_path: Path) -> Iterator[Playwright]:
    """Playwright's driver for the session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright, chromium_path: Path) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    chromium = playwright_driver.chromium.launch(
        executable_path=str(chromium_path), args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


_FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status")


@dataclass
class Watch:
    """What the pages of one browser context said and fetched.

    ``problems`` are console errors, uncaught script errors and Content-Security-Policy
    violations; a document answered with an error status on purpose (a 404 page, a declined
    card's 402) is not a problem, anything else that fails to load is.
    """

    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _error_documents: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        """Listen to ``page``."""
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught error: {error}"))

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type == "document" and response.status >= 400:
            self._error_documents.add(response.url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        if _FAILED_RESOURCE.match(message.text) and where in self._error_documents:
            return
        self.problems.append(f"console error on {where}: {message.text}")

    def take_problems(self) -> list[str]:
        """The problems seen since the last call (and forget them)."""
        problems, self.problems = self.problems, []
        return problems

    def remote_requests(self) -> list[str]:
        """Every requested URL that would leave this machine."""
        remote = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if parts.hostname not in LOCAL_HOSTS:
                remote.append(url)
        return remote


@dataclass
class Session:
    """One browser context and what it saw."""

    context: BrowserContext
    watch: Watch
    base_url: str

    def new_page(self) -> Page:
        """A new tab of this context."""
        return self.context.new_page()

    def set_language(self, code: str) -> None:
        """Choose the shop's language the way a visitor does (the switch's cookie)."""
        self.context.add_cookies([{"name": "lang", "value": code, "url": self.base_url}])


OpenSession = Callable[..., Session]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so fixtures can tell whether it failed."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


class Browsing:
    """Browser contexts opened for one test (or one module), closed together at its end.

    ``open(role=None, language="en", **context_options)`` opens a fresh context: ``role``
    ("admin", "jeweller", "officer", "buyer") starts it signed in as that demo login (signed
    in through the form once per test session, its cookies reused); ``language`` sets the
    ``lang`` cookie (the workspaces would otherwise speak Spanish), None leaves it unset.
    """

    def __init__(
        self, browser: Browser, shop: Shop, signed_in_states: dict[str, dict[str, Any]]
    ) -> None:
        """Nothing open yet."""
        self.browser = browser
        self.shop = shop
        self.states = signed_in_states
        self.contexts: list[BrowserContext] = []

    def open(self, role: str | None = None, language: str | None = "en", **options: Any
             ) -> Session:
        """A fresh browser context (see the class)."""
        if role is not None and role not in self.states:
            self.states[role] = _sign_in_state(self.browser, self.shop, LOGINS[role])
        if role is not None:
            options["storage_state"] = self.states[role]
        context = self.browser.new_context(base_url=self.shop.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        watch = Watch()
        context.on("page", watch.attach)
        session = Session(context=context, watch=watch, base_url=self.shop.url)
        if language is not None:
            session.set_language(language)
        return session

    def screenshot(self, name: str) -> None:
        """A full-page screenshot of every open page, into ``tests/e2e/artifacts``."""
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", name)
        shots = 0
        for context in self.contexts:
            for page in context.pages:
                shots += 1
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{shots}.png"), full_page=True)
                except Exception as error:  # a crashed page must not hide the test's failure
                    print(f"no screenshot of {page.url}: {error}")

    def close(self) -> None:
        """Close every context."""
        for context in self.contexts:
            context.close()
        self.contexts = []


@pytest.fixture(scope="session")
def signed_in_states() -> dict[str, dict[str, Any]]:
    """Cookies of a signed-in session per role, each signed in once through the real form."""
    return {}


@pytest.fixture
def open_session(
    request: pytest.FixtureRequest,
    browser: Browser,
    shop: Shop,
    signed_in_states: dict[str, dict[str, Any]],
) -> Iterator[OpenSession]:
    """``open_session(role=None, language="en", **context_options)``: a fresh browser context
    (see ``Browsing.open``); a failed test leaves screenshots of its pages."""
    browsing = Browsing(browser, shop, signed_in_states)
    yield browsing.open
    report = getattr(request.node, "e2e_report_call", None)
    if report is not None and report.failed:
        browsing.screenshot(request.node.name)
    browsing.close()


def _sign_in_state(browser: Browser, shop: Shop, email: str) -> dict[str, Any]:
    """Sign in as ``email`` through the sign-in form; the context's cookies afterwards."""
    context = browser.new_context(base_url=shop.url)
    try:
        context.add_cookies([{"name": "lang", "value": "en", "url": shop.url}])
        page = context.new_page()
        sign_in(page, email)
        return dict(context.storage_state())
    finally:
        context.close()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/account/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/account/login" not in url)


@pytest.fixture
def session(open_session: OpenSession) -> Session:
    """An anonymous English browser context."""
    return open_session()


@pytest.fixture
def page(session: Session) -> Page:
    """A tab of an anonymous English browser context."""
    return session.new_page()
