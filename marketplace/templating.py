"""Template filters and globals: money, gold and dates written the way the reader expects."""

from __future__ import annotations

import time
from datetime import date, datetime

import sqlalchemy as sa
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Flask, url_for

from marketplace.core.gold import format_grams
from marketplace.core.gold import grams as grams_exact
from marketplace.core.money import Money, format_money
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.orders.cart import cart_count
from marketplace.provenance.services import chain_fault

_demo_cache: dict[str, float | bool] = {"at": 0.0, "value": False}


def demo_present() -> bool:
    """Whether demo data is in the database (checked at most once a minute per process)."""
    now = time.monotonic()
    if now - float(_demo_cache["at"]) > 60:
        from marketplace.provenance.models import GoldLot

        try:
            _demo_cache["value"] = bool(
                db.session.scalar(sa.select(sa.exists().where(GoldLot.is_demo.is_(True))))
            )
        except sa.exc.SQLAlchemyError:
            db.session.rollback()  # an error page must still render when the database is down
            return False
        _demo_cache["at"] = now
    return bool(_demo_cache["value"])


def money(amount: int | None, currency: str = "PEN") -> str:
    """Minor units as a price: 123450 → "S/ 1,234.50"."""
    return format_money(Money(int(amount or 0), currency), format_locale())


def grams(mg: int | None) -> str:
    """Milligrams as grams: 3750 → "3.75 g"."""
    return format_grams(int(mg or 0), format_locale())


def number(value: int | None) -> str:
    """A whole number with thousands separators: 1200 → "1,200"."""
    return format_decimal(int(value or 0), locale=format_locale())


def grams_column(mg: int | None) -> str:
    """Grams with three decimals, so columns of figures line up: 180000 → "180.000 g"."""
    figure = format_decimal(grams_exact(int(mg or 0)), format="#,##0.000", locale=format_locale())
    return figure + "\xa0g"


def country_name(code: str | None) -> str:
    """An ISO country code as its name: "PE" → "Peru"."""
    if not code:
        return ""
    return str(Locale.parse(format_locale()).territories.get(code, code))


def day(value: date | datetime | None, fmt: str = "medium") -> str:
    """A date as "Mar 12, 2025" in English, "12 mar 2025" in Spanish ("" for none)."""
    if value is None:
        return ""
    return format_date(value, format=fmt, locale=format_locale())


def media_url(media: object) -> str:
    """The URL of a stored file."""
    sha = getattr(media, "sha256")  # noqa: B009 - duck-typed MediaFile
    ext = getattr(media, "extension")  # noqa: B009
    return url_for("media.file", sha256=sha, ext=ext)


def register(app: Flask) -> None:
    """Install the filters and globals."""
    app.add_template_filter(money)
    app.add_template_filter(grams)
    app.add_template_filter(day)
    app.add_template_filter(number)
    app.add_template_filter(country_name)
    app.add_template_filter(grams_column)
    app.add_template_filter(chain_fault)
    app.add_template_global(media_url)
    app.add_template_global(demo_present)
    app.add_template_global(cart_count)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
