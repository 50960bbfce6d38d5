"""The premium dashboards through the test client: the cooperative's (Spanish), the jeweller's
earnings, the monthly statements, the transparency page and its JSON API."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from marketplace import templating
from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.ledger.services import money_account, post_transaction
from marketplace.orders import aftersale
from marketplace.orders.models import Order
from marketplace.payments.gateways import SandboxGateway
from marketplace.provenance.models import Cooperative
from marketplace.provenance.services import transfer_to_jeweller
from marketplace.statements.services import csv_totals
from tests import factories

# --- data -------------------------------------------------------------------------------------

SHOPPER = {
    "name": "Zoila Privadísima",
    "email": "zoila.privada@example.org",
    "address_line1": "Av. Secreta 4321",
    "city": "Villaoculta",
    "phone": "+51 999 111 222",
}


def _coop(slug: str) -> Cooperative:
    coop = db.session.scalar(sa.select(Cooperative).where(Cooperative.slug == slug))
    assert coop is not None
    return coop


def _workshop(slug: str) -> Jeweller:
    found = db.session.scalar(sa.select(Jeweller).where(Jeweller.slug == slug))
    assert found is not None
    return found


def _piece(coop: Cooperative, jeweller: Jeweller, *, stock: int = 20, gross_mg: int = 4_000,
           price_minor: int = 150_000) -> Piece:
    """An active piece of ``jeweller`` made of gold of a new lot of ``coop``."""
    lot = factories.lot(coop=coop)
    piece = factories.piece(jeweller, {}, stock=0, gross_mg=gross_mg, price_minor=price_minor)
    transfer_to_jeweller(lot, jeweller, piece.fine_mg * stock, invoice_ref="T", actor="test")
    back_piece(piece, {lot.id: piece.fine_mg}, actor="test")
    set_stock(piece, stock, actor="test")
    publish(piece)
    return piece


def _sell(piece: Piece, units: int = 1) -> Order:
    return factories.paid_order({piece: units}, **SHOPPER)


def _complete(order: Order) -> None:
    for shipment in order.shipments:
        aftersale.mark_shipped(order, shipment.jeweller_id, "Olva", "OLV1", "jeweller")
        aftersale.mark_delivered(order, shipment.jeweller_id, "jeweller")
    assert aftersale.complete_order(
        order, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="t"
    )


def _refund_all(order: Order) -> None:
    aftersale.refund(
        order, {line.id: line.quantity for line in order.lines}, SandboxGateway(), actor="admin"
    )


def _date(order: Order, when: datetime, *, memo: str | None = None) -> None:
    """Move the order's ledger transactions (or those whose memo contains ``memo``) to ``when``."""
    stmt = sa.update(LedgerTransaction).values(created_at=when)
    if memo is None:
        stmt = stmt.where(LedgerTransaction.memo.contains(order.number))
    else:
        stmt = stmt.where(LedgerTransaction.memo.contains(memo))
    db.session.execute(stmt.execution_options(synchronize_session=False))


@pytest.fixture
def sales(app):  # type: ignore[no-untyped-def]
    """Sales of Santiago de Ananea's gold by Taller Qori over three months (one completed, one
    pending, one refunded in full, one completed then partly refunded after a payout), and one
    sale of San Antonio de Ananea's gold by Orfebrería Killa."""
    santiago = _coop("santiago-de-ananea")
    other = _coop("san-antonio-de-ananea")
    qori = _workshop("taller-qori")
    killa = _workshop("orfebreria-killa")
    ring = _piece(santiago, qori)
    chain = _piece(santiago, qori, gross_mg=6_000, price_minor=210_000)
    theirs = _piece(other, killa, gross_mg=23_000, price_minor=777_700)

    completed = _sell(ring)
    _complete(completed)
    pending = _sell(chain, 2)
    refunded = _sell(ring)
    _refund_all(refunded)
    later = _sell(chain)
    _complete(later)
    other_order = _sell(theirs)

    march, april, may = (
        datetime(2025, m, d, 12, tzinfo=UTC) for m, d in ((3, 10), (4, 5), (5, 20))
    )
    _date(completed, march)
    _date(pending, april)
    _date(refunded, april)
    _date(later, april)
    _date(other_order, april)
    # the cooperative is paid what is available, then one unit of ``later`` is refunded
    available = db.session.scalar(
        sa.select(sa.func.sum(LedgerAccount.balance)).where(
            LedgerAccount.kind == AccountKind.COOP_PREMIUM_AVAILABLE.value,
            LedgerAccount.cooperative_id == santiago.id,
        )
    )
    postings = []
    for account in db.session.scalars(
        sa.select(LedgerAccount).where(
            LedgerAccount.kind == AccountKind.COOP_PREMIUM_AVAILABLE.value,
            LedgerAccount.cooperative_id == santiago.id,
            LedgerAccount.balance > 0,
        )
    ):
        postings += [
            (money_account(AccountKind.COOP_PREMIUM_AVAILABLE, "PEN",
                           cooperative_id=santiago.id, lot_id=account.lot_id), -account.balance),
            (money_account(AccountKind.COOP_PREMIUM_PAID, "PEN",
                           cooperative_id=santiago.id, lot_id=account.lot_id), account.balance),
        ]
    post_transaction("payout_paid", "Payout 2025-04 paid, ref BCP-778899", postings)
    _date(later, may, memo="BCP-778899")
    _refund_all(later)
    _date(later, may, memo=f"Refund on order {later.number}")
    db.session.flush()
    db.session.expire_all()
    return {
        "santiago": santiago,
        "other": other,
        "qori": qori,
        "killa": killa,
        "orders": [completed, pending, refunded, later],
        "cancelled": refunded,
        "other_order": other_order,
        "their_lot": theirs.gold[0].lot,
        "paid_out": int(available or 0),
    }


def _text(response) -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("\xa0", " ").split())


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}S/ {abs(minor) / 100:,.2f}"


def _ledger(kinds: tuple[AccountKind, ...], owner: str, owner_id: int,
            start: datetime | None = None, end: datetime | None = None) -> int:
    """Sum of the ledger entries on the payee's accounts of ``kinds`` in [start, end)."""
    stmt = (
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind.in_([k.value for k in kinds]),
            getattr(LedgerAccount, owner) == owner_id,
        )
    )
    if start is not None:
        stmt = stmt.where(LedgerTransaction.created_at >= start)
    if end is not None:
        stmt = stmt.where(LedgerTransaction.created_at < end)
    return int(db.session.scalar(stmt))


COOP = (
    AccountKind.COOP_PREMIUM_PENDING,
    AccountKind.COOP_PREMIUM_AVAILABLE,
    AccountKind.COOP_PREMIUM_PAYING,
    AccountKind.COOP_PREMIUM_PAID,
)
JEWELLER = (
    AccountKind.JEWELLER_PENDING,
    AccountKind.JEWELLER_AVAILABLE,
    AccountKind.JEWELLER_PAYING,
    AccountKind.JEWELLER_PAID,
)


# --- the cooperative's dashboard ----------------------------------------------------------------


def test_the_dashboard_shows_the_ledger_totals_in_spanish(client, as_user, sales):
    as_user("coop@demo.test")
    response = client.get("/cooperative/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = _text(response)
    assert '<html lang="es">' in html
    coop_id = sales["santiago"].id
    pending = _ledger((AccountKind.COOP_PREMIUM_PENDING,), "cooperative_id", coop_id)
    available = _ledger((AccountKind.COOP_PREMIUM_AVAILABLE,), "cooperative_id", coop_id)
    paid = _ledger((AccountKind.COOP_PREMIUM_PAID,), "cooperative_id", coop_id)
    assert pending > 0 and paid == sales["paid_out"] > 0
    assert available < 0  # refunded after the payout: owed back
    assert f"{_money(pending)} Pendiente" in text
    assert f"{_money(0)} Disponible" in text
    assert f"{_money(paid)} Pagado" in text
    assert f"{_money(-available)} Por devolver" in text
    assert "Suman lo mismo que el libro contable" in text
    for order in sales["orders"]:
        if order is sales["cancelled"]:  # refunded in full before shipping: nothing to show
            assert order.number not in text
        else:
            assert f"{order.number} · 1" in text


def test_an_officer_never_sees_another_cooperatives_figures(client, as_user, sales):
    as_user("coop@demo.test")
    theirs = sales["other_order"]
    their_premium = theirs.lines[0].premium_minor
    pages = [client.get("/cooperative/"), client.get("/cooperative/statements/")]
    pages += [client.get(f"/cooperative/statements/2025-0{m}.csv") for m in (3, 4, 5)]
    for response in pages:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert theirs.number not in text
        assert sales["their_lot"].code not in text
        assert _money(their_premium) not in _text(response)
        assert f"{their_premium / 100:.2f}" not in text


def test_an_officer_asking_for_a_month_of_another_cooperative_gets_not_found(
    client, as_user, sales
):
    from marketplace.accounts.models import Role
    from marketplace.accounts.services import create_user

    other = sales["other"]
    create_user("officer.b@example.org", "demo-password", role=Role.OFFICER,
                cooperative_id=other.id)
    as_user("officer.b@example.org")
    # San Antonio de Ananea sold in April only; March and May are Santiago de Ananea's months
    for url in ("/cooperative/statements/2025-03.csv", "/cooperative/statements/2025-03.pdf",
                "/cooperative/statements/2025-05.csv", "/cooperative/statements/2025-05.pdf"):
        assert client.get(url).status_code == 404, url
    own = client.get("/cooperative/statements/2025-04.csv").get_data(as_text=True)
    assert sales["other_order"].number in own
    dashboard = _text(client.get("/cooperative/"))
    assert sales["other_order"].number in dashboard
    for order in sales["orders"]:
        assert order.number not in own and order.number not in dashboard


@pytest.mark.parametrize(
    "period", ["2025-13", "2025-00", "25-04", "2025-4", "abcd-ef", "1999-12", "2031-01"]
)
def test_a_bad_or_empty_period_is_not_found(client, as_user, sales, period):
    as_user("coop@demo.test")
    assert client.get(f"/cooperative/statements/{period}.csv").status_code == 404
    assert client.get(f"/cooperative/statements/{period}.pdf").status_code == 404
    client.post("/account/logout")
    as_user("jeweller@demo.test")
    assert client.get(f"/jeweller/earnings/statements/{period}.csv").status_code == 404


def test_the_dashboard_stays_under_60_kb(client, as_user, sales):
    santiago, qori = sales["santiago"], sales["qori"]
    pieces = [_piece(santiago, qori, stock=3, price_minor=100_000 + i) for i in range(30)]
    for piece in pieces:
        _sell(piece, 2)
    as_user("coop@demo.test")
    html = client.get("/cooperative/").get_data()
    assert len(html) < 60 * 1024, len(html)
    assert b"Se muestran las 25 primeras" in html  # the breakdown by piece was cut


def test_the_chart_has_one_bar_per_month_with_data_and_the_same_figures_in_a_table(
    client, as_user, sales
):
    as_user("coop@demo.test")
    html = client.get("/cooperative/").get_data(as_text=True)
    svg = re.search(r'<svg id="premium-chart".*?</svg>', html, re.S)
    assert svg is not None
    chart = svg.group(0)
    assert 'role="img"' in chart and "<title" in chart
    assert 'aria-labelledby="premium-chart-title premium-chart-desc"' in chart
    assert chart.count('<rect class="bar"') == 3  # March, April, May
    assert "<script" not in html
    table = _text(client.get("/cooperative/"))
    for month in ("marzo de 2025", "abril de 2025", "mayo de 2025"):
        assert month in table
    coop_id = sales["santiago"].id
    for month, (start, end) in _months().items():
        net = _ledger(COOP, "cooperative_id", coop_id, start, end)
        assert _money(net).replace(" ", "\xa0") in chart, month


def _months() -> dict[str, tuple[datetime, datetime]]:
    return {
        "2025-03": (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
        "2025-04": (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC)),
        "2025-05": (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)),
    }


def _statement(client, url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.mimetype == "text/csv"
    return csv_totals(response.get_data(as_text=True))


def test_statements_equal_the_ledger_month_by_month(client, as_user, sales):
    as_user("coop@demo.test")
    coop_id = sales["santiago"].id
    owed = (AccountKind.COOP_PREMIUM_PENDING, AccountKind.COOP_PREMIUM_AVAILABLE)
    out = (AccountKind.COOP_PREMIUM_PAYING, AccountKind.COOP_PREMIUM_PAID)
    for period, (start, end) in _months().items():
        totals = _statement(client, f"/cooperative/statements/{period}.csv")
        assert totals["Periodo"] == period
        assert totals["Cooperativa"] == sales["santiago"].name
        opening = _ledger(owed, "cooperative_id", coop_id, end=start)
        closing = _ledger(owed, "cooperative_id", coop_id, end=end)
        net = _ledger(COOP, "cooperative_id", coop_id, start, end)
        payouts = _ledger(out, "cooperative_id", coop_id, start, end)
        booked = int(
            db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .where(
                    LedgerAccount.kind == AccountKind.COOP_PREMIUM_PENDING.value,
                    LedgerAccount.cooperative_id == coop_id,
                    LedgerTransaction.kind == "order_paid",
                    LedgerTransaction.created_at >= start,
                    LedgerTransaction.created_at < end,
                )
            )
        )
        cents = {k: round(float(v) * 100) for k, v in totals.items() if _is_amount(v)}
        assert cents["Saldo inicial"] == opening, period
        assert cents["Saldo final"] == closing, period
        assert cents["Prima registrada"] == booked, period
        assert cents["Prima registrada"] - cents["Reembolsos"] == net, period
        assert cents["Abonos"] == payouts, period
        assert opening + booked - cents["Reembolsos"] - payouts == closing
    # the sale lines of a month add up to what it booked
    rows = list(csv.reader(io.StringIO(
        client.get("/cooperative/statements/2025-04.csv").get_data(as_text=True).lstrip("\ufeff")
    )))
    header = rows.index(next(r for r in rows if r and r[0] == "sección"))
    sales_rows = [r for r in rows[header + 1:] if r[0] == "venta"]
    totals = _statement(client, "/cooperative/statements/2025-04.csv")
    assert round(sum(float(r[8]) for r in sales_rows) * 100) == round(
        float(totals["Prima registrada"]) * 100
    )
    assert {r[2] for r in sales_rows} == {o.number for o in sales["orders"][1:]}


def _is_amount(value: str) -> bool:
    return re.fullmatch(r"-?\d+\.\d{2}", value) is not None


def test_the_pdf_statement_is_a_pdf_with_the_same_totals(client, as_user, sales):
    as_user("coop@demo.test")
    totals = _statement(client, "/cooperative/statements/2025-05.csv")
    response = client.get("/cooperative/statements/2025-05.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    text = _pdf_text(body)
    assert sales["santiago"].name in text and "2025-05" in text
    for label in ("Saldo inicial", "Prima registrada", "Reembolsos", "Abonos", "Saldo final"):
        amount = _money(round(float(totals[label]) * 100))
        assert label in text and amount in text, (label, amount)


def _pdf_text(body: bytes) -> str:
    """The text of a PDF: with pypdf when installed, else read from fpdf2's uncompressed
    content streams (strings drawn with Tj)."""
    try:
        from pypdf import PdfReader
    except ImportError:
        drawn = re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body)
        return " ".join(
            re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in drawn
        ).replace("\xa0", " ")
    reader = PdfReader(io.BytesIO(body))
    return " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def test_dashboard_statements_and_transparency_agree(client, as_user, sales):
    coop = sales["santiago"]
    coop_id = coop.id
    api = client.get("/api/v1/transparency").get_json()
    mine = next(c for c in api["cooperatives"] if c["slug"] == coop.slug)
    assert [m["month"] for m in mine["months"]] == ["2025-03", "2025-04", "2025-05"]
    totals = mine["totals"]
    assert totals["pending"] == _ledger((AccountKind.COOP_PREMIUM_PENDING,), "cooperative_id",
                                        coop_id)
    assert totals["available"] == _ledger((AccountKind.COOP_PREMIUM_AVAILABLE,),
                                          "cooperative_id", coop_id)
    assert totals["paid"] == _ledger((AccountKind.COOP_PREMIUM_PAID,), "cooperative_id", coop_id)
    assert totals["booked"] == _ledger(COOP, "cooperative_id", coop_id)
    assert totals["booked"] == sum(m["booked"] for m in mine["months"])

    as_user("coop@demo.test")
    dashboard = _text(client.get("/cooperative/"))
    assert f"{_money(totals['pending'])} Pendiente" in dashboard
    assert f"{_money(totals['paid'])} Pagado" in dashboard
    assert f"{_money(-totals['available'])} Por devolver" in dashboard
    for month in mine["months"]:
        statement = _statement(client, f"/cooperative/statements/{month['month']}.csv")
        cents = {k: round(float(v) * 100) for k, v in statement.items() if _is_amount(v)}
        # the month's net booking, and the balances at its end
        assert cents["Prima registrada"] - cents["Reembolsos"] == month["booked"]
        assert cents["Saldo final"] == month["pending"] + month["available"]
        assert cents["de ello pendiente"] == month["pending"]
        assert cents["de ello disponible"] == month["available"]
        assert _money(month["booked"]) in dashboard

    page = _text(client.get("/transparency"))
    assert "No premium has been booked yet" not in page
    assert coop.name in page
    for key in ("booked", "pending", "paid"):
        assert _money(totals[key]) in page, key


def test_the_officers_dashboard_reads_a_fixed_number_of_statements(
    client, as_user, count_queries
):
    santiago, qori = _coop("santiago-de-ananea"), _workshop("taller-qori")
    piece = _piece(santiago, qori, stock=30)
    as_user("coop@demo.test")
    _sell(piece)
    one = _statement_count(client, count_queries, "/cooperative/")
    for _ in range(9):
        _complete(_sell(_piece(santiago, qori, stock=2)))
    ten = _statement_count(client, count_queries, "/cooperative/")
    assert one == ten, (one, ten)


def test_the_dashboard_is_kept_until_a_sale_and_shows_the_sale_at_once(
    client, as_user, count_queries
):
    santiago, qori = _coop("santiago-de-ananea"), _workshop("taller-qori")
    piece_id = _piece(santiago, qori, stock=5).id
    db.session.commit()
    as_user("coop@demo.test")
    computed = _statement_count(client, count_queries, "/cooperative/")
    kept = _statement_count(client, count_queries, "/cooperative/")
    assert kept < computed  # the sums over the ledger came from the cache
    order = _sell(db.session.get(Piece, piece_id))
    number = order.number
    db.session.commit()
    assert f"{number} · 1" in _text(client.get("/cooperative/"))


def test_the_jewellers_earnings_page_reads_a_fixed_number_of_statements(
    client, as_user, count_queries
):
    santiago, qori = _coop("santiago-de-ananea"), _workshop("taller-qori")
    piece = _piece(santiago, qori, stock=30)
    as_user("jeweller@demo.test")
    _refund_all(_sell(piece))
    one = _statement_count(client, count_queries, "/jeweller/earnings")
    for _ in range(9):
        order = _sell(piece, 2)
        aftersale.refund(order, {order.lines[0].id: 1}, SandboxGateway(), actor="a")
    ten = _statement_count(client, count_queries, "/jeweller/earnings")
    assert one == ten, (one, ten)


def _statement_count(client, count_queries, url: str) -> int:  # type: ignore[no-untyped-def]
    db.session.expunge_all()
    templating._demo_cache["at"] = time.monotonic()
    count_queries.clear()
    response = client.get(url)
    assert response.status_code == 200, url
    return len(count_queries)


# --- the jeweller's earnings ------------------------------------------------------------------


def test_the_jewellers_earnings_match_the_ledger(client, as_user, sales):
    qori = sales["qori"]
    as_user("jeweller@demo.test")
    client.set_cookie("lang", "en")  # the workspace speaks Spanish unless asked otherwise
    response = client.get("/jeweller/earnings")
    assert response.status_code == 200
    text = _text(response)
    pending = _ledger((AccountKind.JEWELLER_PENDING,), "jeweller_id", qori.id)
    available = _ledger((AccountKind.JEWELLER_AVAILABLE,), "jeweller_id", qori.id)
    earned = _ledger(JEWELLER, "jeweller_id", qori.id)
    assert pending > 0 and available > 0
    assert f"{_money(pending)} Pending" in text
    assert f"{_money(available)} Available" in text
    assert f"They add up to the ledger ({_money(earned)})" in text
    for order in sales["orders"]:
        assert f"{order.number} · 1" in text
    assert sales["other_order"].number not in text
    chart = re.search(r'<svg id="earnings-chart".*?</svg>', response.get_data(as_text=True), re.S)
    assert chart is not None and chart.group(0).count('<rect class="bar"') == 3

    for period, (start, end) in _months().items():
        totals = _statement(client, f"/jeweller/earnings/statements/{period}.csv")
        cents = {k: round(float(v) * 100) for k, v in totals.items() if _is_amount(v)}
        net = _ledger(JEWELLER, "jeweller_id", qori.id, start, end)
        assert cents["Earnings booked"] - cents["Refunds"] == net
        assert cents["Closing balance"] == _ledger(
            (AccountKind.JEWELLER_PENDING, AccountKind.JEWELLER_AVAILABLE), "jeweller_id",
            qori.id, end=end,
        )
        pdf = client.get(f"/jeweller/earnings/statements/{period}.pdf").get_data()
        assert pdf.startswith(b"%PDF-")
        assert _money(cents["Closing balance"]) in _pdf_text(pdf)


def test_another_workshop_sees_none_of_these_earnings(client, as_user, sales):
    as_user("jeweller2@demo.test")
    text = _text(client.get("/jeweller/earnings"))
    for order in sales["orders"]:
        assert order.number not in text
    assert sales["other_order"].number in text
    assert client.get("/jeweller/earnings/statements/2025-03.csv").status_code == 404


def test_only_jewellers_open_the_earnings_page(client, as_user):
    assert client.get("/jeweller/earnings").status_code == 302
    as_user("coop@demo.test")
    assert client.get("/jeweller/earnings").status_code == 403
    assert client.get("/jeweller/earnings/statements/").status_code == 403


def test_only_officers_open_the_cooperative_statements(client, as_user):
    assert client.get("/cooperative/statements/").status_code == 302
    as_user("jeweller@demo.test")
    assert client.get("/cooperative/statements/2025-04.csv").status_code == 403


# --- no shopper data ----------------------------------------------------------------------------


def test_no_shopper_personal_data_on_dashboards_statements_or_transparency(
    client, as_user, sales
):
    urls = {
        "coop@demo.test": [
            "/cooperative/", "/cooperative/statements/",
            *(f"/cooperative/statements/{p}.{f}" for p in _months() for f in ("csv", "pdf")),
        ],
        "jeweller@demo.test": [
            "/jeweller/earnings", "/jeweller/earnings/statements/",
            *(f"/jeweller/earnings/statements/{p}.{f}" for p in _months() for f in ("csv", "pdf")),
        ],
        None: ["/transparency", "/api/v1/transparency"],
    }
    for who, pages in urls.items():
        client.post("/account/logout")
        if who:
            as_user(who)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            body = response.get_data()
            text = body.decode("latin-1") + _pdf_text(body) if url.endswith(".pdf") else (
                body.decode("utf-8")
            )
            for value in SHOPPER.values():
                assert value not in text, (url, value)
            assert "Privad" not in text and "Secreta" not in text, url


# --- transparency -------------------------------------------------------------------------------


def test_the_transparency_api_is_zero_without_sales_and_cacheable(client):
    response = client.get("/api/v1/transparency")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    etag = response.headers["ETag"]
    assert etag
    data = response.get_json()
    assert data["currency"] == "PEN" and data["generated_at"]
    assert data["cooperatives"], "every member cooperative is listed"
    for coop in data["cooperatives"]:
        assert coop["months"] == []
        assert coop["totals"] == {
            "booked": 0, "pending": 0, "available": 0, "in_payment": 0, "paid": 0
        }
    assert client.get(
        "/api/v1/transparency", headers={"If-None-Match": etag}
    ).status_code == 304


def test_the_transparency_api_etag_changes_with_a_sale(client):
    before = client.get("/api/v1/transparency").headers["ETag"]
    _sell(_piece(_coop("santiago-de-ananea"), _workshop("taller-qori")))
    response = client.get("/api/v1/transparency", headers={"If-None-Match": before})
    assert response.status_code == 200
    assert response.headers["ETag"] != before
    month = utcnow().strftime("%Y-%m")
    coop = next(c for c in response.get_json()["cooperatives"] if c["slug"] == "santiago-de-ananea")
    assert [m["month"] for m in coop["months"]] == [month]
    assert coop["months"][0]["booked"] == coop["months"][0]["pending"] > 0


def test_the_transparency_page_shows_each_month(client, sales):
    text = _text(client.get("/transparency"))
    assert "Month by month" in text
    for month in ("March 2025", "April 2025", "May 2025"):
        assert month in text
    assert "/api/v1/transparency" in text


def test_the_cooperative_statements_list_links_every_month(client, as_user, sales):
    as_user("coop@demo.test")
    html = client.get("/cooperative/statements/").get_data(as_text=True)
    for period in _months():
        assert f"/cooperative/statements/{period}.csv" in html
        assert f"/cooperative/statements/{period}.pdf" in html
    assert client.get("/cooperative/statements/2025-04.csv").headers[
        "Content-Disposition"
    ] == 'attachment; filename="prima-santiago-de-ananea-2025-04.csv"'


def test_payouts_are_listed_with_their_reference(client, as_user, sales):
    from marketplace.payouts.models import Payout

    coop = sales["santiago"]
    db.session.add(
        Payout(period="2025-04", payee_key=f"cooperative:{coop.id}", cooperative_id=coop.id,
               amount_minor=sales["paid_out"], currency="PEN", provider="bank_transfer",
               status="paid", reference="BCP-778899", paid_at=datetime(2025, 5, 20, tzinfo=UTC))
    )
    other = sales["other"]
    db.session.add(
        Payout(period="2025-04", payee_key=f"cooperative:{other.id}", cooperative_id=other.id,
               amount_minor=1234, currency="PEN", provider="bank_transfer", status="paid",
               reference="THEIRS-0001")
    )
    db.session.flush()
    as_user("coop@demo.test")
    text = _text(client.get("/cooperative/"))
    assert "BCP-778899" in text and "abril de 2025" in text and "pagado" in text
    assert "THEIRS-0001" not in text
    statement = client.get("/cooperative/statements/2025-04.csv").get_data(as_text=True)
    assert "BCP-778899" in statement and "THEIRS-0001" not in statement
