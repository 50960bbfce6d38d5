"""Fixtures of the security tests: a world with one real object behind every URL argument."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.accounts.services import start_password_reset
from marketplace.catalog.models import Jeweller, Piece, PieceGold, PiecePhoto
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.orders import aftersale
from marketplace.orders.services import Address, place_order
from marketplace.payments.gateways import SandboxGateway
from marketplace.payments.services import pay
from marketplace.payouts.models import Payout
from marketplace.payouts.services import last_month, run_payouts
from marketplace.provenance.models import (
    Certificate,
    Cooperative,
    CooperativeCertification,
    GoldLot,
)
from tests import factories
from tests.security.walk import World


def _bank_payout_waiting_for_its_reference() -> Payout:
    """Last month's payout of a jeweller with a completed sale, sent by bank transfer."""
    sold = factories.piece(factories.jeweller(), gross_mg=20_000)
    completed = factories.paid_order({sold: 1})
    aftersale.mark_shipped(completed, sold.jeweller_id, "Olva", "OLV-9", "jeweller")
    aftersale.mark_delivered(completed, sold.jeweller_id, "jeweller")
    assert aftersale.complete_order(
        completed, now=utcnow() + timedelta(days=30), window=timedelta(days=14), actor="test"
    )
    db.session.commit()  # a savepoint: the test's transaction is still rolled back
    run_payouts(last_month(), actor="test", commit=db.session.commit)
    return _one(sa.select(Payout).where(Payout.payee_key == f"jeweller:{sold.jeweller_id}"))


def _one(stmt):  # type: ignore[no-untyped-def]
    found = db.session.scalar(stmt)
    assert found is not None, stmt
    return found


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    """The demo's Taller Qori, Cooperativa Santiago de Ananea and buyer, with a paid order of
    the buyer's (so a certificate), a payout and a reset token."""
    qori = _one(sa.select(Jeweller).where(Jeweller.slug == "taller-qori"))
    santiago = _one(sa.select(Cooperative).where(Cooperative.slug == "santiago-de-ananea"))
    buyer = _one(sa.select(User).where(User.email == "buyer@demo.test"))
    piece = _one(
        sa.select(Piece)
        .where(Piece.jeweller_id == qori.id, Piece.stock > 1)
        .where(sa.exists().where(PiecePhoto.piece_id == Piece.id))
        .order_by(Piece.id)
    )
    photo = _one(sa.select(PiecePhoto).where(PiecePhoto.piece_id == piece.id))
    lot = _one(
        sa.select(GoldLot)
        .join(PieceGold, PieceGold.lot_id == GoldLot.id)
        .where(PieceGold.piece_id == piece.id)
        .order_by(GoldLot.id)
    )
    order = place_order(
        {piece.id: 1},
        Address(
            email=buyer.email,
            name="Ana Quispe",
            country="PE",
            region="Puno",
            city="Juliaca",
            address_line1="Jr. Lima 123",
        ),
        user_id=buyer.id,
        currency="PEN",
        fee_percent=Decimal("8"),
    )
    assert pay(
        order,
        SandboxGateway(),
        {"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"},
        actor="test",
    )
    payout = _bank_payout_waiting_for_its_reference()
    reset = start_password_reset("buyer@demo.test")
    assert reset is not None
    db.session.flush()
    certificate = _one(
        sa.select(Certificate).where(Certificate.piece_id == piece.id).order_by(Certificate.id)
    )
    return World(
        {
            "piece_id": piece.id,
            "piece_slug": piece.slug,
            "photo_id": photo.id,
            "sha256": photo.image.sha256,
            "ext": photo.image.extension,
            "number": order.number,
            "code": lot.code,
            "coop_id": santiago.id,
            "coop_slug": santiago.slug,
            "cert_id": _one(
                sa.select(CooperativeCertification.id).where(
                    CooperativeCertification.cooperative_id == santiago.id
                )
            ),
            "cert_coop_id": santiago.id,
            "jeweller_id": qori.id,
            "jeweller_slug": qori.slug,
            "user_id": buyer.id,
            "payout_id": payout.id,
            "period": utcnow().strftime("%Y-%m"),
            "short_id": certificate.short_id,
            "token": reset[1],
            "filename": "css/site.css",
            "language": "es",
        }
    )
