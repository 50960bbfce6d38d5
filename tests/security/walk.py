"""The shop as the security tests walk it: every rule of ``app.url_map`` with real values for its
arguments, signed-in clients per role, the forms of a page, and a snapshot of every table.

A rule with an argument this module cannot fill fails the walk that meets it (add a value to
``World`` / ``ARGUMENTS``), so no new route slips past the CSRF, XSS and header checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from marketplace.extensions import db
from tests.conftest import login

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Who may use the pages under each prefix (the longest prefix wins; anything else: a shopper).
LOGINS = {
    "admin": "admin@demo.test",
    "jeweller": "jeweller@demo.test",
    "officer": "coop@demo.test",
    "shopper": "buyer@demo.test",
}
PREFIX_ROLES = {
    "/admin": "admin",
    "/jeweller": "jeweller",
    "/jeweller/apply": "shopper",
    "/cooperative": "officer",
}
#: Pages no signed-in client should open in a walk: they end the session or answer no HTML.
NOT_WALKED = ("/account/logout", "/static/", "/media/", "/api/", "/.well-known/", "/language/")
NOT_HTML_SUFFIXES = (".csv", ".pdf", ".json")


def role_for(path: str) -> str:
    """The role whose pages ``path`` belongs to."""
    matches = [p for p in PREFIX_ROLES if path == p or path.startswith(p + "/")]
    return PREFIX_ROLES[max(matches, key=len)] if matches else "shopper"


class Client(FlaskClient):
    """A test client whose every request makes its own CSRF token.

    The tests share one app context across requests, so ``g`` outlives a request; Flask-WTF
    keeps the token it made in ``g`` and would hand one client's token to the next client's
    pages without putting it in that client's session."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


def signed_in(app: Flask, role: str | None) -> FlaskClient:
    """A fresh client, signed in as the demo login of ``role`` (None: anonymous)."""
    client = Client(app, app.response_class, use_cookies=True)
    if role is not None:
        response = login(client, LOGINS[role])
        assert response.status_code == 302, (role, response.get_data(as_text=True)[:300])
    return client


@dataclass
class World:
    """Real values for every kind of URL argument, keyed by what they name."""

    values: dict[str, Any]

    def arguments(self, rule: Rule) -> dict[str, Any]:
        """Values for each argument of ``rule`` (slugs and codes by the kind of page)."""
        found: dict[str, Any] = {}
        for name in sorted(rule.arguments):
            prefixes = [p for n, p in ARGUMENTS if n == name and rule.rule.startswith(p)]
            key = ARGUMENTS[(name, max(prefixes, key=len))] if prefixes else name
            assert key in self.values, (
                f"{rule.rule}: give <{name}> a value in tests/security/conftest.py (world)"
            )
            found[name] = self.values[key]
        return found

    def url(self, rule: Rule) -> str:
        """The path of ``rule`` filled with this world's values."""
        built = rule.build(self.arguments(rule), append_unknown=False)
        assert built is not None, rule.rule
        return built[1]


#: (argument, start of the rule) -> the world's key, where one name means different things
#: (the longest matching start wins).
ARGUMENTS = {
    ("slug", "/jewellers/"): "jeweller_slug",
    ("slug", "/cooperatives/"): "coop_slug",
    ("slug", "/products/"): "piece_slug",
    ("slug", "/api/"): "piece_slug",
    ("code", "/language/"): "language",
    ("coop_id", "/admin/cooperatives/<int:coop_id>/certifications/<int:cert_id>"): "cert_coop_id",
}


def rules(app: Flask) -> list[Rule]:
    """Every rule, in a stable order."""
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def html_pages(app: Flask, world: World, role: str | None) -> Iterator[str]:
    """The GET pages answering HTML that ``role`` works on, plus every public page."""
    for rule in rules(app):
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(NOT_WALKED):
            continue
        if rule.rule.endswith(NOT_HTML_SUFFIXES):
            continue
        if not _walked_by(rule.rule, role):
            continue
        yield world.url(rule)


#: Pages under /account/ that need no account.
PUBLIC_ACCOUNT_PAGES = ("/account/login", "/account/register", "/account/reset")


def _walked_by(path: str, role: str | None) -> bool:
    """Whether ``role`` (None: anonymous) opens ``path`` in a walk of its pages."""
    if path.startswith(("/admin", "/jeweller", "/cooperative")):
        return role_for(path) == role
    if path.startswith("/account"):
        return role is not None or path.startswith(PUBLIC_ACCOUNT_PAGES)
    return True


# --- The database -------------------------------------------------------------------------------


def database_state() -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows: equal before and after means unchanged."""
    db.session.flush()
    state = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(sa.select(table).order_by(*order)).all()
        digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        state[table.name] = (len(rows), digest)
    return state


# --- HTML -----------------------------------------------------------------------------------------


@dataclass
class Control:
    """One control of a form: an input, a textarea or a select."""

    tag: str
    name: str
    kind: str  # the input's type ("text" when absent), "textarea" or "select"
    value: str
    attrs: dict[str, str]
    options: list[str] = field(default_factory=list)
    checked: bool = False


@dataclass
class Form:
    """A ``<form method="post">`` of a page."""

    action: str
    enctype: str
    controls: list[Control] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of submits


class Page(HTMLParser):
    """Parses a page: its POST forms, every start tag with its attributes, and its text."""

    def __init__(self, html: str, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.script_bodies: list[str] = []
        self._form: Form | None = None
        self._textarea: Control | None = None
        self._select: Control | None = None
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if tag == "script":
            self._in_script = True
        if tag == "form":
            if values.get("method", "get").lower() == "post":
                action = urljoin(self.url, values.get("action") or self.url)
                self._form = Form(action, values.get("enctype", ""))
                self.forms.append(self._form)
            else:
                self._form = None
            return
        if self._form is None:
            return
        name = values.get("name", "")
        if tag == "input" and name:
            kind = values.get("type", "text").lower()
            if kind == "submit":
                self._form.buttons.append((name, values.get("value", "")))
                return
            self._form.controls.append(
                Control(tag, name, kind, values.get("value", ""), values,
                        checked="checked" in values)
            )
        elif tag == "button" and name and values.get("type", "submit") == "submit":
            self._form.buttons.append((name, values.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = Control(tag, name, "textarea", "", values)
            self._form.controls.append(self._textarea)
        elif tag == "select" and name:
            self._select = Control(tag, name, "select", "", values)
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            value = values.get("value", "")
            self._select.options.append(value)
            if "selected" in values or not self._select.value:
                if "selected" in values or len(self._select.options) == 1:
                    self._select.value = value

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)
            return
        self.texts.append(data)
        if self._textarea is not None:
            self._textarea.value += data

    def strings(self) -> list[str]:
        """Every text node and attribute value, as the browser reads them."""
        return self.texts + [v for _, attrs in self.tags for v in attrs.values()]


def path_of(url: str) -> str:
    """The path and query of an absolute or relative URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
