"""Imports every feature's models so the metadata (and Alembic) sees all tables."""

from marketplace.accounts.models import PasswordReset, User
from marketplace.admin.models import AuditRecord
from marketplace.caching import CacheVersion
from marketplace.catalog.models import Jeweller, Piece, PieceGold, PiecePhoto
from marketplace.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.media.models import MediaFile
from marketplace.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    PremiumLine,
    Shipment,
    ShippingRate,
)
from marketplace.payments.models import Payment, Refund, WebhookEvent
from marketplace.payouts.models import Payout
from marketplace.premium.models import FxRate, PremiumPolicy
from marketplace.provenance.models import (
    Certificate,
    Cooperative,
    CooperativeCertification,
    CustodyEvent,
    GoldLot,
    LotEvidence,
    MembershipReport,
    SigningKey,
)

__all__ = [
    "CacheVersion",
    "Certificate",
    "SigningKey",
    "AuditRecord",
    "PasswordReset",
    "User",
    "Cooperative",
    "CooperativeCertification",
    "CustodyEvent",
    "FxRate",
    "GoldLot",
    "Jeweller",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "LotEvidence",
    "MediaFile",
    "MembershipReport",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Payment",
    "Payout",
    "PremiumLine",
    "Refund",
    "Shipment",
    "ShippingRate",
    "WebhookEvent",
    "Piece",
    "PieceGold",
    "PiecePhoto",
    "PremiumPolicy",
]
