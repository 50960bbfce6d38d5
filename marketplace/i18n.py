"""Two languages, Spanish and English, with Flask-Babel.

Which language a page speaks, in order: the visitor's own choice (the switch in the header sets
the ``lang`` cookie), then Spanish in the jeweller and cooperative workspaces, then the best
match of the browser's ``Accept-Language``, then English.

Numbers, money and weights are written the Peruvian way in Spanish (``es_PE``: "1,234.50") and
the English way otherwise; dates follow the language ("27 nov 2026" / "Nov 27, 2026").

The catalogs live in ``marketplace/translations``; ``setup.py`` compiles them when the package
is installed, and the app compiles any catalog whose ``.mo`` is missing or older than its ``.po``
when it starts (so a checkout without an install, or an edited ``.po``, still speaks Spanish).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, has_request_context, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale

#: The languages of the UI, each named in itself (for the switch).
LANGUAGES: dict[str, str] = {"es": "Español", "en": "English"}
DEFAULT_LANGUAGE = "en"
#: Paths whose pages are Spanish unless the visitor chose otherwise.
SPANISH_FIRST = ("/jeweller", "/cooperative")
#: The cookie that keeps the visitor's choice (a year).
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
#: Babel locale used to format numbers, money and dates for each language.
FORMAT_LOCALES: dict[str, str] = {"es": "es_PE", "en": "en"}

TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The language of this request (see the module's docstring for the order)."""
    if not has_request_context():  # a CLI command, a job, a service called from a test
        return DEFAULT_LANGUAGE
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    if any(request.path == p or request.path.startswith(p + "/") for p in SPANISH_FIRST):
        return "es"
    return request.accept_languages.best_match(list(LANGUAGES), DEFAULT_LANGUAGE) or "en"


def language() -> str:
    """The current language code ("es" or "en"), also outside a request (then the default)."""
    try:
        code = str(get_locale() or DEFAULT_LANGUAGE)
    except (RuntimeError, AttributeError):  # no app or request context
        code = DEFAULT_LANGUAGE
    code = code.split("_")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def format_locale() -> str:
    """The Babel locale to format figures with in the current language."""
    return FORMAT_LOCALES[language()]


def _safe_next(target: str | None) -> str:
    """A local path to return to after switching ("/" for anything else)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/language/<code>")
def switch(code: str) -> ResponseReturnValue:
    """Remember the visitor's language and go back to the page they were on."""
    response = redirect(_safe_next(request.args.get("next")), code=303)
    if code in LANGUAGES:
        response.set_cookie(
            COOKIE,
            code,
            max_age=COOKIE_MAX_AGE,
            samesite="Lax",
            httponly=True,
            secure=bool(current_app.config.get("PRODUCTION")),
        )
    return response


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``.po`` under ``directory`` whose ``.mo`` is missing or older; return those."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = []
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parent.parent.name)
        try:
            with mo.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)
        except OSError:  # a read-only install: the .mo built by the install is used
            continue
        compiled.append(mo)
    return compiled


def init_app(app: Flask) -> None:
    """Bind Flask-Babel and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    compile_catalogs()
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"LANGUAGES": LANGUAGES, "current_language": language()}
