"""Provenance certificates: a W3C Verifiable Credential 2.0, signed with Ed25519.

A certificate is issued for each line of a paid order. What is signed is the canonical JSON of
the credential without its proof (sorted keys, no spaces, UTF-8; ``core.custody``): the piece,
its fine gold, each lot with its cooperative and the head of its custody chain, the premium
routed to each cooperative, and the date. No buyer data. Anyone can check it offline with the
published public keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _

from marketplace.core.custody import canonical_json, iso_utc
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderLine
from marketplace.provenance import signing
from marketplace.provenance.models import Certificate, CustodyEvent, GoldLot
from marketplace.provenance.services import chain_fault, verify_lot_chain

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
PROOF_TYPE = "Ed25519Signature"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_short_id() -> str:
    """A short, unambiguous certificate id, e.g. ``C7K2M9QXPR``."""
    return "".join(secrets.choice(_ALPHABET) for _n in range(10))


def _issuer() -> dict[str, str]:
    base = current_app.config.get("PUBLIC_BASE_URL") or "https://oro-de-poto.example"
    return {"id": base.rstrip("/"), "name": "Oro de Poto marketplace"}


def build_credential(line: OrderLine, order: Order, short_id: str) -> dict[str, Any]:
    """The credential for one order line (not yet signed)."""
    piece = line.piece
    lots: list[dict[str, Any]] = []
    heads = dict(
        db.session.execute(
            sa.select(CustodyEvent.lot_id, sa.func.max(CustodyEvent.seq))
            .where(CustodyEvent.lot_id.in_([p.lot_id for p in line.premium_lines]))
            .group_by(CustodyEvent.lot_id)
        ).all()
    )
    for p in line.premium_lines:
        lot: GoldLot = p.lot
        head = db.session.scalar(
            sa.select(CustodyEvent.hash).where(
                CustodyEvent.lot_id == lot.id, CustodyEvent.seq == heads.get(lot.id, 0)
            )
        )
        lots.append(
            {
                "code": lot.code,
                "cooperative": {"name": p.cooperative.name, "floId": p.cooperative.flo_id},
                "traceabilityModel": lot.traceability_model,
                "fineMgPerUnit": p.fine_mg // line.quantity,
                "assayedFineness": str(lot.assayed_fineness),
                "certificate": {
                    "number": lot.certificate_number,
                    "body": lot.certificate_body,
                },
                "chainHead": {"seq": heads.get(lot.id, 0), "hash": head},
            }
        )
    return {
        "@context": [VC_CONTEXT],
        "type": ["VerifiableCredential", "GoldProvenanceCredential"],
        "id": f"urn:oro-de-poto:certificate:{short_id}",
        "issuer": _issuer(),
        "validFrom": iso_utc(order.paid_at or utcnow()),
        "credentialSubject": {
            "piece": {
                "slug": piece.slug,
                "title": line.title,
                "karat": line.karat,
                "finenessPerMille": piece.fineness,
                "grossMg": piece.gross_mg,
                "fineMgPerUnit": line.fine_mg_per_unit,
                "units": line.quantity,
                "jeweller": line.jeweller.business_name,
            },
            "fineGoldMg": line.fine_mg_per_unit * line.quantity,
            "lots": lots,
            "premiumRouted": [
                {
                    "cooperative": p.cooperative.name,
                    "lot": p.lot.code,
                    "amountMinor": p.amount_minor,
                    "currency": order.currency,
                    "usdPerFineKg": str(p.usd_per_fine_kg),
                    "fxRate": str(p.fx_rate),
                }
                for p in line.premium_lines
            ],
            "saleDate": (order.paid_at or utcnow()).date().isoformat(),
        },
    }


def issue_for_order(order: Order) -> list[Certificate]:
    """Sign a certificate for each line of a paid order (once per line)."""
    issued = []
    existing = set(
        db.session.scalars(
            sa.select(Certificate.order_line_id).where(
                Certificate.order_line_id.in_([line.id for line in order.lines])
            )
        )
    )
    for line in order.lines:
        if line.id in existing:
            continue
        short_id = new_short_id()
        credential = build_credential(line, order, short_id)
        kid, signature = signing.sign(canonical_json(credential))
        cert = Certificate(
            short_id=short_id,
            order_line_id=line.id,
            piece_id=line.piece_id,
            kid=kid,
            signature=signature,
            credential=credential,
        )
        db.session.add(cert)
        issued.append(cert)
    db.session.flush()
    return issued


def document(cert: Certificate) -> dict[str, Any]:
    """The certificate as it is downloaded: the credential with its proof."""
    return {
        **cert.credential,
        "proof": {
            "type": PROOF_TYPE,
            "verificationMethod": cert.kid,
            "created": iso_utc(cert.issued_at),
            "proofPurpose": "assertionMethod",
            "proofValue": cert.signature,
        },
    }


@dataclass
class CheckResult:
    """Whether a certificate is valid, and why (or why not)."""

    valid: bool
    reasons: list[str] = field(default_factory=list)


def check_document(doc: Any, keys: dict[str, str]) -> CheckResult:
    """Check a certificate document against public keys (no database needed)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("proof"), dict):
        return CheckResult(False, [_("This is not a certificate: it has no proof.")])
    proof = doc["proof"]
    kid = proof.get("verificationMethod")
    signature = proof.get("proofValue")
    if proof.get("type") != PROOF_TYPE or not isinstance(signature, str):
        return CheckResult(False, [_("The proof is not an Ed25519 signature.")])
    if kid not in keys:
        unknown = _("The key %(kid)s is not one of the published keys.", kid=repr(kid))
        return CheckResult(False, [unknown])
    credential = {k: v for k, v in doc.items() if k != "proof"}
    try:
        data = canonical_json(credential)
    except Exception:  # noqa: BLE001 - any encoding failure means it was altered
        return CheckResult(False, [_("The certificate's contents cannot be read as signed.")])
    if not signing.verify_signature(keys[kid], signature, data):
        return CheckResult(
            False, [_("The signature does not match the contents: the certificate was altered.")]
        )
    return CheckResult(True, [_("Signed by the marketplace with key %(kid)s.", kid=kid)])


def check_certificate(cert: Certificate) -> CheckResult:
    """Check a stored certificate: its signature, and that each lot's chain still verifies
    and still contains the head the certificate names."""
    result = check_document(document(cert), signing.public_keys())
    if not result.valid:
        return result
    for lot_entry in cert.credential["credentialSubject"]["lots"]:
        lot = db.session.scalar(sa.select(GoldLot).where(GoldLot.code == lot_entry["code"]))
        if lot is None:
            gone = _("Lot %(code)s is no longer in the registry.", code=lot_entry["code"])
            return CheckResult(False, [gone])
        chain = verify_lot_chain(lot)
        if not chain.ok:
            return CheckResult(
                False,
                [
                    _(
                        "The custody chain of lot %(code)s no longer verifies: event %(seq)s "
                        "(%(reason)s).",
                        code=lot.code,
                        seq=chain.first_bad,
                        reason=chain_fault(chain.reason),
                    )
                ],
            )
        head = lot_entry["chainHead"]
        stored = db.session.scalar(
            sa.select(CustodyEvent.hash).where(
                CustodyEvent.lot_id == lot.id, CustodyEvent.seq == head["seq"]
            )
        )
        if stored != head["hash"]:
            return CheckResult(
                False,
                [
                    _(
                        "Lot %(code)s's chain no longer holds the event this certificate names.",
                        code=lot.code,
                    )
                ],
            )
        result.reasons.append(
            _(
                "Lot %(code)s: custody chain verifies up to event #%(seq)s.",
                code=lot.code,
                seq=head["seq"],
            )
        )
    return result


def verify_url(cert: Certificate) -> str:
    """The public address that checks this certificate (for QR codes)."""
    return url_for("certificates.verify", short_id=cert.short_id, _external=True)
