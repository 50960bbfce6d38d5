"""HTTP caching and compression: what browsers and proxies may keep, and for how long.

- **Public pages** (home, catalog, piece, jeweller, lots, lot, cooperative, transparency) carry a
  strong ``ETag`` computed from the body and answer ``304 Not Modified`` to a matching
  ``If-None-Match``, so a browser on a slow connection downloads a page again only when it
  changed. The header of every page shows the sign-in state, the cart and the language, so the
  ETag (of the whole body) differs for each visitor's version, and the page says
  ``Cache-Control: no-cache`` (ask before reusing), ``private`` as soon as the visitor sends a
  cookie or the page sets one (a shared cache never stores a personalised page), ``public``
  only for a visitor without cookies, and ``Vary: Cookie, Accept-Language``.
- **Static files** get a content hash in their URL (``/static/css/site.css?v=<hash>``, added by
  ``url_for`` itself, so templates need no change) and, requested with the current hash,
  ``Cache-Control: public, max-age=31536000, immutable``: a new version is a new URL.
- **Anonymous pages are kept whole** on the server (``PAGE_CACHE``, on by default): a public
  page asked for by a visitor who is not signed in and has an empty cart is stored under its
  address, its language and the day, with its versions (``marketplace.caching``): ``public_pages``
  and, for a piece's or a lot's page, that piece's or lot's own version, for the catalog and a
  jeweller's page ``catalog_pages``, for every other page ``listing_pages``. Writes replace
  them in the same transaction; a sale replaces only the pages it changes (the pages that add
  up sales, the pieces sold and the lots of their gold, and the catalog only when a piece sold
  out or came back). The next such
  visitor gets the page reading only those versions (one query); a form token in it (the
  piece page's "add to cart") is replaced by the visitor's own. Signed-in visitors, carts and
  flashed messages always get a page rendered afresh. Pages are kept gzipped
  (``marketplace.gzip_parts``: in parts around the form token, which is filled in without
  compressing the page again), a few KB each, at most
  ``CACHE_THRESHOLD`` of them in each process (or in Redis, shared, with ``CACHE_REDIS_URL``).
  A visitor who accepts gzip gets the kept bytes as they are: a page is compressed and hashed
  once per version, not once per request. One entry is kept per page (address, language, day):
  the newest version replaces the last. When a write has replaced a page's version, the first
  request to ask for it renders it again, and while it does (at most ``RENDER_LOCK_SECONDS``)
  the others get the page as it was kept before, instead of all rendering it at once after
  every sale (stale-while-revalidate, with a lock per page in the cache).
  ``X-Page-Cache: hit``, ``stale`` or ``miss`` tells which.
- **Compression** (Flask-Compress): brotli or gzip, as the browser accepts, for HTML, CSS,
  JavaScript, SVG and JSON. A compressed answer's strong ETag gets the coding appended
  (``"abc:br"``), so a validator always names the bytes it stands for; both forms are honoured
  by the conditional checks here and in the API.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, request, session
from flask_babel import get_locale
from flask_compress import Compress
from flask_wtf.csrf import generate_csrf
from werkzeug.security import safe_join

from marketplace.caching import (
    CATALOG_PAGES,
    LISTING_PAGES,
    PUBLIC_PAGES,
    cache,
    lot_version,
    piece_version,
    tokens,
)
from marketplace.db import utcnow
from marketplace.gzip_parts import GzipParts, fill, pack, unpack

#: Pages anyone can see; their bodies vary only with the visitor's cookies and language.
PUBLIC_ENDPOINTS = frozenset(
    {
        "site.home",
        "site.transparency",
        "catalog.index",
        "catalog.piece",
        "catalog.jeweller",
        "provenance.lots",
        "provenance.lot",
        "provenance.cooperative",
    }
)
#: The pages that list pieces as cards, kept under ``catalog_pages`` (which a sale replaces
#: only when a piece sells out or comes back).
CATALOG_ENDPOINTS = frozenset({"catalog.index", "catalog.jeweller"})
#: Pages kept under a version of their own (besides ``public_pages``), which a sale replaces
#: only when it sells that piece or that lot's gold: endpoint → (the URL part naming the piece
#: or lot, the name of its version). Every other public page is kept under ``listing_pages``
#: or ``catalog_pages``.
OWN_VERSIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "catalog.piece": ("slug", piece_version),
    "provenance.lot": ("code", lot_version),
}
#: A year: how long a fingerprinted static file may be kept.
IMMUTABLE_MAX_AGE = 31_536_000
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/ld+json",
    "image/svg+xml",
]

#: Session keys that do not change what a public page shows: the secret behind form tokens,
#: and the flag Flask-Login's session protection leaves in a session without a user.
NEUTRAL_SESSION_KEYS = frozenset({"csrf_token", "_permanent", "_fresh"})
#: Stands for the visitor's form token in a kept page.
FORM_TOKEN_PLACEHOLDER = b"\x00form-token\x00"
#: How long one request may hold the right to render a page again after its version changed;
#: meanwhile the others get the page as it was kept. A request that fails lets go at once.
RENDER_LOCK_SECONDS = 10

compress = Compress()
P = ParamSpec("P")
R = TypeVar("R")

_digests: dict[str, tuple[float, int, str]] = {}


def static_digest(filename: str) -> str | None:
    """A short hash of a static file's bytes (None if there is no such file)."""
    folder = current_app.static_folder
    path = safe_join(folder, filename) if folder else None
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    known = _digests.get(path)
    if known and known[0] == stat.st_mtime and known[1] == stat.st_size:
        return known[2]
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    _digests[path] = (stat.st_mtime, stat.st_size, digest)
    return digest


def _fingerprint_static_urls(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for('static', filename=...)`` gains ``v=<hash of the file>``."""
    if endpoint == "static" and "filename" in values and "v" not in values:
        digest = static_digest(str(values["filename"]))
        if digest:
            values["v"] = digest


def _matching_etag(etag: str) -> str | None:
    """The validator the client sent for this body: the ETag itself or a compressed form of it
    (``"<etag>:br"``), or None."""
    sent = request.if_none_match
    if not sent:
        return None
    if sent.contains(etag) or sent.star_tag:
        return etag
    for tag in sent.as_set():
        if tag.startswith(f"{etag}:"):
            return tag
    return None


def _shareable_session() -> bool:
    """Whether the visitor's session holds nothing a public page shows (no sign-in, cart or
    flashed message; at most the secret behind form tokens)."""
    return set(session.keys()) <= NEUTRAL_SESSION_KEYS


def _page_cache_key() -> tuple[str, str] | None:
    """Where the page this request asks for is kept, and the version it must have, if it is
    one that can be shared: a public page, for a visitor not signed in, with no cart and nothing
    flashed; None otherwise.

    The key holds the language, the address and the day (pages say which certificates and
    premium rates are valid today); the version is made of the tokens of the page's versions."""
    if (
        not current_app.config.get("PAGE_CACHE", True)
        or request.method not in ("GET", "HEAD")
        or request.endpoint not in PUBLIC_ENDPOINTS
        or request.authorization is not None
        or current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
        or not _shareable_session()
    ):
        return None
    token = tokens(PUBLIC_PAGES, _page_version(str(request.endpoint)))
    if token is None:
        return None
    today = utcnow().date().isoformat()
    return f"page:{today}:{get_locale()}:{request.host}:{request.full_path}", token


def _page_version(endpoint: str) -> str:
    """The version a public page is kept under besides ``public_pages``: its piece's or lot's
    own, ``catalog_pages`` for the pages of cards, ``listing_pages`` for the rest."""
    own = OWN_VERSIONS.get(endpoint)
    if own is not None:
        argument, name = own
        return name(str((request.view_args or {}).get(argument, "")))
    return CATALOG_PAGES if endpoint in CATALOG_ENDPOINTS else LISTING_PAGES


def page_cached(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Decorate a public page's view: answer from the kept page when there is one for this
    request (after every ``before_request`` hook, rate limits included, has run). A kept page
    that had a form token gets this visitor's own token. A page kept under an older version is
    rendered again by one request; the others meanwhile get it as kept."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        found = _page_cache_key()
        if found is not None:
            key, token = found
            kept = cache.get(key)
            if (
                isinstance(kept, tuple)
                and len(kept) == 3
                and isinstance(kept[2], GzipParts)
            ):
                kept_token, etag, packed = kept
                if kept_token == token:
                    return _kept_response(etag, packed, "hit")
                lock = f"rendering:{key}"
                if not _take_render_lock(lock):
                    return _kept_response(etag, packed, "stale")  # another request renders it
                g.page_render_lock = lock
            g.page_cache_key = found
        return view(*args, **kwargs)

    return wrapper


def _take_render_lock(lock: str) -> bool:
    """Whether this request may render the page again: nobody holds its lock, or the holder's
    time ran out (a process that died holding it, whatever the cache did with the expiry)."""
    deadline = time.time() + RENDER_LOCK_SECONDS
    if cache.add(lock, deadline, timeout=RENDER_LOCK_SECONDS):
        return True
    held_until = cache.get(lock)
    if isinstance(held_until, float) and held_until > time.time():
        return False
    cache.set(lock, deadline, timeout=RENDER_LOCK_SECONDS)
    return True


def _release_render_lock(_error: BaseException | None) -> None:
    """After the request (and after its page was kept): let others render the page again."""
    lock = g.pop("page_render_lock", None)
    if lock is not None:
        cache.delete(lock)


def _kept_response(etag: str, packed: GzipParts, how: str) -> Response:
    """A kept page as this visitor gets it, with their own form token if it has a form: to a
    visitor who accepts gzip, as it was gzipped when kept (nothing compressed again);
    otherwise unpacked."""
    token = generate_csrf().encode() if packed.hole else b""
    if request.accept_encodings["gzip"] and len(token) == packed.hole:
        response = Response(fill(packed, token), mimetype="text/html")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(unpack(packed, token), mimetype="text/html")
    g.kept_page_etag = _etag_with(etag, token)
    response.headers["X-Page-Cache"] = how
    return response


def _etag_of(body: bytes) -> str:
    """The strong ETag of a page's body."""
    return hashlib.sha256(body).hexdigest()[:32]


def _etag_with(etag: str, token: bytes) -> str:
    """The ETag of a kept page as one visitor gets it: the page's, or with a form token in it,
    one that names that token too (each visitor's page has its own bytes)."""
    return _etag_of(f"{etag}:".encode() + token) if token else etag


def _keep_page(response: Response) -> str | None:
    """After the view: keep the page if nothing in it belongs to this visitor (a form token is
    kept as a hole, filled in for each visitor); the ETag it is kept under."""
    found = g.pop("page_cache_key", None)
    if (
        found is None
        or request.method != "GET"
        or "Set-Cookie" in response.headers  # a cookie other than the session's
        or not _shareable_session()
    ):
        return None
    body = response.get_data()
    form_token = str(g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")) or "")
    if form_token:
        body = body.replace(form_token.encode(), FORM_TOKEN_PLACEHOLDER)
    level = int(current_app.config.get("COMPRESS_LEVEL", 6))
    packed = pack(body, FORM_TOKEN_PLACEHOLDER, len(form_token), level)
    etag = _etag_of(body)
    key, token = found
    cache.set(key, (token, etag, packed))
    response.headers["X-Page-Cache"] = "miss"
    return _etag_with(etag, form_token.encode() if packed.hole else b"")


def _public_page_caching(response: Response) -> Response:
    """ETag, conditional answer, Cache-Control and Vary for the public pages."""
    if (
        request.method not in ("GET", "HEAD")
        or request.endpoint not in PUBLIC_ENDPOINTS
        or response.status_code != 200
        or response.mimetype != "text/html"
        or response.direct_passthrough
        or response.is_streamed
    ):
        return response
    kept_etag = g.pop("kept_page_etag", None) or _keep_page(response)
    personal = bool(request.cookies) or session.modified or "Set-Cookie" in response.headers
    response.cache_control.no_cache = True
    if personal:
        response.cache_control.private = True
    else:
        response.cache_control.public = True
    response.vary.update(("Cookie", "Accept-Language"))
    etag = kept_etag or _etag_of(response.get_data())
    matched = _matching_etag(etag)
    if response.headers.get("Content-Encoding") == "gzip":  # a kept page sent as kept
        response.vary.add("Accept-Encoding")
        response.set_etag(matched or f"{etag}:gzip")
    else:
        response.set_etag(matched or etag)
    if matched is not None:
        # Answer before compressing: the body is not sent, so there is nothing to compress.
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Length", None)
        response.headers.pop("Content-Type", None)
        response.headers.pop("Content-Encoding", None)
    return response


def _static_caching(response: Response) -> Response:
    """A static file asked for by its current hash may be kept for a year, unchanged."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    version = request.args.get("v")
    filename = (request.view_args or {}).get("filename")
    if version and filename and version == static_digest(str(filename)):
        response.cache_control.public = True
        response.cache_control.max_age = IMMUTABLE_MAX_AGE
        response.cache_control.immutable = True
        response.expires = None
    return response


def init_app(app: Flask) -> None:
    """Compression, then the caching headers (which run before it: Flask calls ``after_request``
    functions last registered first, so a 304 is decided on the plain body and never
    compressed)."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.config.setdefault("PAGE_CACHE", True)
    compress.init_app(app)
    app.url_defaults(_fingerprint_static_urls)
    app.after_request(_static_caching)
    app.after_request(_public_page_caching)
    app.teardown_request(_release_render_lock)
