"""Monthly statements (CSV and PDF) for cooperatives and jewellers, and the jeweller's earnings.

- ``/cooperative/statements/`` and ``/cooperative/statements/<YYYY-MM>.csv|pdf``: the officer's
  own cooperative, in the officer's language (Spanish unless they chose English). A month in
  which nothing moved in its accounts (or that is not a month) is a 404, so asking for a month
  of another cooperative shows nothing.
- ``/jeweller/earnings``, ``/jeweller/earnings/statements/`` and
  ``/jeweller/earnings/statements/<YYYY-MM>.csv|pdf``: the signed-in jeweller's own workshop,
  in the jeweller's language (Spanish unless they chose English).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template
from flask_babel import gettext as _
from flask_babel import ngettext

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.catalog.models import Jeweller
from marketplace.cooperative.views import _my_cooperative
from marketplace.extensions import db
from marketplace.i18n import language
from marketplace.ledger.reports import COOPERATIVE, JEWELLER, Side
from marketplace.statements import services
from marketplace.statements.svg import bar_chart

bp = Blueprint("statements", __name__)


def _currency() -> str:
    return str(current_app.config["PLATFORM_CURRENCY"])


def _my_workshop() -> Jeweller:
    """The signed-in jeweller's workshop (403 for a jeweller login without one)."""
    user = signed_in_user()
    jeweller = db.session.get(Jeweller, user.jeweller_id) if user.jeweller_id else None
    if jeweller is None:
        abort(403)
    return jeweller


def _download(
    side: Side, owner_id: int, payee: str, period: str, fmt: str, lang: str, stem: str
) -> Response:
    """A statement file, or 404."""
    statement = services.build_statement(side, owner_id, payee, period, _currency(), lang)
    if statement is None:
        abort(404)
    filename = f"{stem}-{period}.{fmt}"
    if fmt == "csv":
        body: bytes = ("\ufeff" + services.statement_csv(statement)).encode("utf-8")
        mimetype = "text/csv; charset=utf-8"
    else:
        from marketplace.statements.pdf import statement_pdf  # fpdf is large: load it on use

        body = statement_pdf(statement)
        mimetype = "application/pdf"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- the cooperative's statements ---------------------------------------------------------------


@bp.get("/cooperative/statements/")
@role_required(Role.OFFICER)
def cooperative_statements() -> str:
    """Every month with a movement in the cooperative's premium accounts."""
    coop = _my_cooperative()
    figures = services.payee_figures(COOPERATIVE, coop.id, _currency())
    return render_template(
        "statements/cooperative_list.html", coop=coop, figures=figures, s=services
    )


@bp.get("/cooperative/statements/<period>.csv")
@role_required(Role.OFFICER)
def cooperative_statement_csv(period: str) -> Response:
    """The month's statement as CSV."""
    coop = _my_cooperative()
    return _download(
        COOPERATIVE, coop.id, coop.name, period, "csv", language(), f"prima-{coop.slug}"
    )


@bp.get("/cooperative/statements/<period>.pdf")
@role_required(Role.OFFICER)
def cooperative_statement_pdf(period: str) -> Response:
    """The month's statement as PDF."""
    coop = _my_cooperative()
    return _download(
        COOPERATIVE, coop.id, coop.name, period, "pdf", language(), f"prima-{coop.slug}"
    )


# --- the jeweller's earnings ----------------------------------------------------------------------


@bp.get("/jeweller/earnings")
@role_required(Role.JEWELLER)
def jeweller_earnings() -> str:
    """Pending, available, paid and owed back; month by month; per piece and order line."""
    jeweller = _my_workshop()
    currency = _currency()
    earnings = services.jeweller_earnings(jeweller.id, currency)
    lang = language()
    chart = bar_chart(
        [(p.month, p.net) for p in earnings.figures.chart],
        chart_id="earnings-chart",
        title=_("Earnings booked per month"),
        description=ngettext(
            "Bars: what your sales booked each month, net of refunds, for the last %(num)d "
            "month with sales. The same figures are in the table below.",
            "Bars: what your sales booked each month, net of refunds, for the last %(num)d "
            "months with sales. The same figures are in the table below.",
            len(earnings.figures.chart),
        ),
        label=lambda m: services.month_label(m, lang, "short"),
        value=lambda v: services.money_text(v, currency),
    )
    return render_template(
        "statements/earnings.html",
        jeweller=jeweller,
        e=earnings,
        chart=chart,
        currency=currency,
        s=services,
    )


@bp.get("/jeweller/earnings/statements/")
@role_required(Role.JEWELLER)
def jeweller_statements() -> str:
    """Every month with a movement in the jeweller's accounts."""
    jeweller = _my_workshop()
    figures = services.payee_figures(JEWELLER, jeweller.id, _currency())
    return render_template(
        "statements/jeweller_list.html", jeweller=jeweller, figures=figures, s=services
    )


@bp.get("/jeweller/earnings/statements/<period>.csv")
@role_required(Role.JEWELLER)
def jeweller_statement_csv(period: str) -> Response:
    """The month's earnings statement as CSV."""
    j = _my_workshop()
    return _download(
        JEWELLER, j.id, j.business_name, period, "csv", language(), f"earnings-{j.slug}"
    )


@bp.get("/jeweller/earnings/statements/<period>.pdf")
@role_required(Role.JEWELLER)
def jeweller_statement_pdf(period: str) -> Response:
    """The month's earnings statement as PDF."""
    j = _my_workshop()
    return _download(
        JEWELLER, j.id, j.business_name, period, "pdf", language(), f"earnings-{j.slug}"
    )
