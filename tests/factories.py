"""Small builders for test data, going through the same services as the shop."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import back_piece, create_piece, publish, set_stock
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative, GoldLot
from marketplace.provenance.services import LotRegistration, register_lot, transfer_to_jeweller

_seq = itertools.count(1)


def cooperative() -> Cooperative:
    """A member cooperative of the seeded Central."""
    from sqlalchemy import select

    coop = db.session.scalar(
        select(Cooperative).where(Cooperative.parent_id.is_not(None)).order_by(Cooperative.id)
    )
    assert coop is not None
    return coop


def lot(
    gross_mg: int = 1_000_000, fineness: str = "900.0", coop: Cooperative | None = None
) -> GoldLot:
    """A registered lot (fine gold = gross × fineness, rounded down)."""
    n = next(_seq)
    return register_lot(
        LotRegistration(
            code=f"TEST-{n:05d}",
            cooperative_id=(coop or cooperative()).id,
            traceability_model="segregated",
            extraction_start=date(2025, 1, 1),
            extraction_end=date(2025, 1, 31),
            gross_mg=gross_mg,
            assayed_fineness=Decimal(fineness),
            certificate_number=f"CERT-{n}",
            certificate_body="FLOCERT",
        ),
        actor="test",
    )


def jeweller(approved: bool = True) -> Jeweller:
    """A workshop."""
    n = next(_seq)
    j = Jeweller(
        slug=f"test-jeweller-{n}",
        business_name=f"Test Jeweller {n}",
        city="Lima",
        status="approved" if approved else "pending",
    )
    db.session.add(j)
    db.session.flush()
    return j


def piece(
    j: Jeweller,
    lots: dict[GoldLot, int] | None = None,
    *,
    stock: int = 1,
    karat: int = 18,
    gross_mg: int = 4_000,
    title: str | None = None,
    category: str = "ring",
    price_minor: int = 150_000,
) -> Piece:
    """An active piece backed by ``lots`` ({lot: fine mg per unit}) with ``stock`` units."""
    p = create_piece(
        j,
        title=title or f"Test piece {next(_seq)}",
        category=category,
        karat=karat,
        gross_mg=gross_mg,
        price_minor=price_minor,
    )
    if lots == {}:
        return p  # a draft the caller backs itself
    if lots is None:
        source = lot()
        transfer_to_jeweller(
            source, j, p.fine_mg * max(stock, 1) * 2, invoice_ref="T-1", actor="test"
        )
        lots = {source: p.fine_mg}
    back_piece(p, {lot_.id: mg for lot_, mg in lots.items()}, actor="test")
    set_stock(p, stock, actor="test")
    publish(p)
    return p


#: A Peruvian delivery address, as the checkout form posts it.
ADDRESS_FORM = {
    "email": "ana@example.org",
    "name": "Ana Quispe",
    "country": "PE",
    "region": "Puno",
    "city": "Juliaca",
    "address_line1": "Jr. Lima 123",
}


def address(**changes: str):  # type: ignore[no-untyped-def]
    """A Peruvian delivery address."""
    from marketplace.orders.services import Address

    return Address(**{**ADDRESS_FORM, **changes})


def order(items: dict[Piece, int], **address_changes: str):  # type: ignore[no-untyped-def]
    """A placed (unpaid) order of {piece: quantity}."""
    from marketplace.orders.services import place_order

    return place_order(
        {p.id: q for p, q in items.items()},
        address(**address_changes),
        user_id=None,
        currency="PEN",
        fee_percent=Decimal("8"),
    )


def paid_order(items: dict[Piece, int], **address_changes: str):  # type: ignore[no-untyped-def]
    """A placed order paid with the sandbox's good card."""
    from marketplace.payments.gateways import SandboxGateway
    from marketplace.payments.services import pay

    placed = order(items, **address_changes)
    assert pay(placed, SandboxGateway(), GOOD_CARD, actor="test")
    return placed


GOOD_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"}
