"""The services replayed in memory for the bench seed: the books (``post_transaction``), the
custody chains (``append_custody_event``), and each use case from registering a lot to paying an
order, writing the rows each would have written."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from bench.bulk import Ids, Writer
from bench.plan import CITIES, JewellerPlan, LotPlan, OrderPlan, PiecePlan
from marketplace.core.custody import GENESIS_HASH, canonical_json, event_hash, iso_utc
from marketplace.core.ledger import Posting, check_balanced, net_postings, sorted_for_locking
from marketplace.core.peru import PERU_REGIONS
from marketplace.ledger.models import AccountKind
from marketplace.ledger.services import gold_account, money_account
from marketplace.orders.pricing import price_cart
from marketplace.payments.gateways import SandboxGateway
from marketplace.provenance.certificates import VC_CONTEXT, _issuer
from marketplace.provenance.models import CustodyEvent
from marketplace.provenance.signing import b64url

ORDER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ORDER_ACTOR = "Oro de Poto marketplace"
CENTRAL_ACTOR = "Central (bench seed)"


@dataclass
class Account:
    """A ledger account as the seed knows it."""

    id: int
    balance: int
    may_go_negative: bool


class Books:
    """``ledger.services.post_transaction`` in memory: same keys, same rules, same netting."""

    def __init__(self, conn: sa.Connection, writer: Writer, ids: Ids) -> None:
        """Start from the accounts already in the database (the demo's)."""
        self.writer = writer
        self.ids = ids
        self.accounts: dict[str, Account] = {}
        self.moved: set[str] = set()
        for row in conn.execute(
            sa.text("SELECT id, key, balance, may_go_negative FROM ledger_account")
        ):
            self.accounts[row.key] = Account(
                int(row.id), int(row.balance), bool(row.may_go_negative)
            )

    def open(self, ref: Any, key: str) -> Account:
        """``open_account``: the account of ``ref`` (whose key is ``key``), opened on first use."""
        found = self.accounts.get(key)
        if found is not None:
            return found
        account = Account(self.ids.take("ledger_account"), 0, ref.may_go_negative)
        self.accounts[key] = account
        self.writer.add(
            "ledger_account",
            {
                "id": account.id,
                "key": key,
                "kind": ref.kind.value,
                "unit": ref.unit,
                "lot_id": ref.lot_id,
                "jeweller_id": ref.jeweller_id,
                "piece_id": ref.piece_id,
                "cooperative_id": ref.cooperative_id,
                "balance": 0,
                "may_go_negative": ref.may_go_negative,
            },
        )
        return account

    def post(
        self,
        kind: str,
        memo: str,
        postings: list[tuple[Any, int]],
        at: datetime,
        idempotency_key: str | None = None,
    ) -> None:
        """Record one balanced movement; refuse (as the database would) a balance below zero."""
        keyed = [(ref, ref.key, amount) for ref, amount in postings]
        rule = [Posting(key, ref.unit, amount) for ref, key, amount in keyed]
        check_balanced(rule)
        merged = sorted_for_locking(net_postings(rule))
        accounts = {key: self.open(ref, key) for ref, key, _ in keyed}
        txn_id = self.ids.take("ledger_transaction")
        self.writer.add(
            "ledger_transaction",
            {
                "id": txn_id,
                "kind": kind,
                "memo": memo[:300],
                "idempotency_key": idempotency_key,
                "created_at": at,
            },
        )
        for posting in merged:
            account = accounts[str(posting.account)]
            balance = account.balance + posting.amount
            if balance < 0 and not account.may_go_negative:
                raise RuntimeError(f"seed bug: {posting.account} would go to {balance}")
            account.balance = balance
            self.moved.add(str(posting.account))
            self.writer.add(
                "ledger_entry",
                {
                    "id": self.ids.take("ledger_entry"),
                    "transaction_id": txn_id,
                    "account_id": account.id,
                    "unit": posting.unit,
                    "amount": posting.amount,
                },
            )

    def final_balances(self) -> dict[int, int]:
        """Balances of every account a posting moved, by account id."""
        return {self.accounts[key].id: self.accounts[key].balance for key in self.moved}


class Chains:
    """``provenance.services.append_custody_event`` in memory: one hash chain per lot."""

    def __init__(self, writer: Writer, ids: Ids) -> None:
        """No chain known yet (bench lots are new)."""
        self.writer = writer
        self.ids = ids
        self.head: dict[int, tuple[int, str]] = {}
        self.codes: dict[int, str] = {}

    def append(
        self,
        lot_id: int,
        kind: str,
        *,
        actor: str,
        occurred_at: datetime,
        jeweller_id: int | None = None,
        piece_id: int | None = None,
        fine_mg: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an event to the lot's chain, hashed from ``CustodyEvent.payload``."""
        seq, prev_hash = self.head.get(lot_id, (0, GENESIS_HASH))
        values = {
            "lot_id": lot_id,
            "seq": seq + 1,
            "kind": kind,
            "occurred_at": occurred_at.replace(microsecond=0),
            "actor": actor[:200],
            "jeweller_id": jeweller_id,
            "piece_id": piece_id,
            "fine_mg": fine_mg,
            "details": details or {},
            "prev_hash": prev_hash,
        }
        # CustodyEvent.payload decides what is hashed; it only reads the event's columns.
        payload = CustodyEvent.payload(SimpleNamespace(**values), self.codes[lot_id])  # type: ignore[arg-type]
        digest = event_hash(payload, prev_hash)
        self.head[lot_id] = (seq + 1, digest)
        self.writer.add(
            "custody_event", {"id": self.ids.take("custody_event"), **values, "hash": digest}
        )


class Seeder:
    """Replays the services over the plan, in time order, writing rows as it goes."""

    def __init__(self, conn: sa.Connection, writer: Writer, ids: Ids, rng: random.Random) -> None:
        """Set up the books, chains and caches."""
        from flask import current_app

        from marketplace.orders.services import shipping_rates
        from marketplace.provenance import signing

        self.conn = conn
        self.writer = writer
        self.ids = ids
        self.rng = rng
        self.books = Books(conn, writer, ids)
        self.chains = Chains(writer, ids)
        self.currency = current_app.config["PLATFORM_CURRENCY"]
        self.fee_percent = Decimal(current_app.config["PLATFORM_FEE_PERCENT"])
        self.shipping = shipping_rates(self.currency)
        self.kid, self.key = signing.current_key()
        self.rates: dict[date, Any] = {}
        self.lot_ns: dict[int, Any] = {}
        self.numbers: set[str] = set(
            conn.execute(sa.text("SELECT number FROM shop_order")).scalars()
        )
        self.short_ids: set[str] = set(
            conn.execute(sa.text("SELECT short_id FROM certificate")).scalars()
        )
        self.paid = 0

    # provenance.services.register_lot, then the demo's assay, certification and evidence
    def register_lot(self, lot: LotPlan, coops: Mapping[int, tuple[str, str | None]]) -> None:
        """Register a lot: its row, its gold booked once, its chain opened."""
        end = (lot.registered_at - timedelta(days=2)).date()
        start = end - timedelta(days=29)
        used = 0 if lot.id % 3 else self.rng.randint(40, 160)
        lab = "Laboratorio de Ensayos Andino (demo), Juliaca"
        n = lot.code.rsplit("-", 1)[-1]
        row: dict[str, Any] = {
            "id": lot.id,
            "code": lot.code,
            "cooperative_id": lot.cooperative_id,
            "traceability_model": "mass_balance" if lot.mass_balance else "segregated",
            "extraction_start": start,
            "extraction_end": end,
            "gross_mg": lot.gross_mg,
            "assayed_fineness": lot.fineness,
            "fine_mg": lot.fine_mg,
            "assay_lab": lab,
            "assay_report_number": f"BENCH-ENS-{n}",
            "assayed_on": end + timedelta(days=6),
            "refiner": "Refinería del Sur (demo), Lima" if lot.refined else None,
            "bar_serial": f"BENCH-RS-{n}" if lot.refined else None,
            "bar_year": end.year if lot.refined else None,
            "certificate_number": f"BENCH-FT-GOLD-{n}",
            "certificate_body": "FLOCERT",
            "certificate_valid_from": end + timedelta(days=10),
            "certificate_valid_until": end + timedelta(days=10 + 3 * 365),
            "mercury_used_g": used,
            "mercury_recovered_g": used - self.rng.randint(0, max(1, used // 20)) if used else 0,
            "water_recycled_percent": self.rng.randint(70, 95),
            "notes": "Bench lot: every figure is invented.",
            "registered_at": lot.registered_at,
            "is_demo": True,
        }
        self.writer.add("gold_lot", row)
        self.chains.codes[lot.id] = lot.code
        coop_name, flo_id = coops[lot.cooperative_id]
        self.lot_ns[lot.id] = SimpleNamespace(
            code=lot.code,
            cooperative=SimpleNamespace(id=lot.cooperative_id, name=coop_name, flo_id=flo_id),
            traceability_model=row["traceability_model"],
            assayed_fineness=lot.fineness,
            certificate_number=row["certificate_number"],
            certificate_body="FLOCERT",
        )
        self.books.post(
            "lot_registered",
            f"Lot {lot.code} registered: {lot.fine_mg} mg fine gold",
            [
                (gold_account(AccountKind.LOT_REGISTERED, lot.id), -lot.fine_mg),
                (gold_account(AccountKind.LOT_UNALLOCATED, lot.id), lot.fine_mg),
            ],
            lot.registered_at,
            idempotency_key=f"lot:{lot.id}:registered",
        )
        self.chains.append(
            lot.id,
            "registered",
            actor=CENTRAL_ACTOR,
            occurred_at=lot.registered_at,
            fine_mg=lot.fine_mg,
            details={
                "gross_mg": lot.gross_mg,
                "traceability_model": row["traceability_model"],
                "extraction_start": start.isoformat(),
                "extraction_end": end.isoformat(),
            },
        )
        self.chains.append(
            lot.id,
            "assayed",
            actor=lab,
            occurred_at=lot.registered_at + timedelta(days=4),
            details={
                "fineness": str(lot.fineness),
                "report": row["assay_report_number"],
                "lab": lab,
            },
        )
        self.chains.append(
            lot.id,
            "certified",
            actor="FLOCERT (demo)",
            occurred_at=lot.registered_at + timedelta(days=8),
            details={
                "certificate": row["certificate_number"],
                "body": "FLOCERT",
                "valid_until": row["certificate_valid_until"].isoformat(),
            },
        )
        for title, level, issuer in (
            ("Production and mercury log", "evidenced", coop_name),
            ("Assay report", "verified", lab),
            ("Certificate of conformity", "verified", "FLOCERT"),
        ):
            text = f"DEMO DOCUMENT\n{title}\nLot {lot.code}\nIssuer: {issuer}\n".encode()
            media_id = self.ids.take("media_file")
            digest = hashlib.sha256(text).hexdigest()
            self.writer.add(
                "media_file",
                {
                    "id": media_id,
                    "sha256": digest,
                    "content_type": "text/plain",
                    "size_bytes": len(text),
                    "width": None,
                    "height": None,
                    "original_name": f"{lot.code}-{title}.txt",
                    "data": text,
                    "created_at": lot.registered_at,
                },
            )
            self.writer.add(
                "lot_evidence",
                {
                    "id": self.ids.take("lot_evidence"),
                    "lot_id": lot.id,
                    "title": title,
                    "level": level,
                    "issuer": issuer,
                    "sha256": digest,
                    "media_file_id": media_id,
                },
            )

    # provenance.services.transfer_to_jeweller
    def transfer(self, jeweller: JewellerPlan, lot: LotPlan, mg: int, at: datetime, n: int) -> None:
        """Sell ``mg`` of a lot's fine gold to a workshop."""
        invoice = f"BENCH-F001-{n:06d}"
        self.books.post(
            "gold_transfer",
            f"{mg} mg of lot {lot.code} to {jeweller.name} ({invoice})",
            [
                (gold_account(AccountKind.LOT_UNALLOCATED, lot.id), -mg),
                (gold_account(AccountKind.JEWELLER_HELD, lot.id, jeweller_id=jeweller.id), mg),
            ],
            at,
        )
        self.chains.append(
            lot.id,
            "transferred",
            actor=CENTRAL_ACTOR,
            occurred_at=at,
            jeweller_id=jeweller.id,
            fine_mg=mg,
            details={"invoice": invoice, "to": jeweller.name},
        )

    # catalog.services.create_piece, back_piece, set_stock (its gold committed), publish
    def list_piece(self, piece: PiecePlan, jeweller: JewellerPlan, lots: list[LotPlan]) -> None:
        """A piece made in ``left + sold`` units, backed lot by lot, on the shelf."""
        units = piece.left + piece.sold
        self.writer.add(
            "piece",
            {
                "id": piece.id,
                "slug": piece.slug,
                "jeweller_id": jeweller.id,
                "title": piece.title,
                "description": (
                    f"{piece.title}, gold made by {jeweller.name}. Bench piece: the design, "
                    "weight and price are invented."
                ),
                "category": piece.category,
                "karat": piece.karat,
                "fineness": piece.fineness,
                "gross_mg": piece.gross_mg,
                "fine_mg": piece.fine_mg,
                "price_minor": piece.price_minor,
                "currency": self.currency,
                # The rows are written as they stand after every order below was placed.
                "stock": piece.left,
                "status": "active",
                "created_at": piece.created_at,
                "is_demo": True,
            },
        )
        gold_rows = []
        for lot_index, mg in piece.gold.items():
            lot = lots[lot_index]
            self.writer.add(
                "piece_gold",
                {
                    "id": self.ids.take("piece_gold"),
                    "piece_id": piece.id,
                    "lot_id": lot.id,
                    "fine_mg_per_unit": mg,
                },
            )
            gold_rows.append(
                SimpleNamespace(lot_id=lot.id, fine_mg_per_unit=mg, lot=self.lot_ns[lot.id])
            )
        piece.ns = SimpleNamespace(
            id=piece.id,
            slug=piece.slug,
            title=piece.title,
            karat=piece.karat,
            fineness=piece.fineness,
            gross_mg=piece.gross_mg,
            fine_mg=piece.fine_mg,
            price_minor=piece.price_minor,
            jeweller_id=jeweller.id,
            jeweller=jeweller.ns,
            gold=gold_rows,
        )
        if not units:
            return
        postings = []
        for g in gold_rows:
            mg = g.fine_mg_per_unit * units
            postings += [
                (gold_account(AccountKind.JEWELLER_HELD, g.lot_id, jeweller_id=jeweller.id), -mg),
                (gold_account(AccountKind.PIECE_COMMITTED, g.lot_id, piece_id=piece.id), mg),
            ]
        self.books.post(
            "stock_commit", f"{units} × {piece.title}: gold committed", postings, piece.created_at
        )
        for g in gold_rows:
            self.chains.append(
                g.lot_id,
                "crafted",
                actor=jeweller.name,
                occurred_at=piece.created_at,
                jeweller_id=jeweller.id,
                piece_id=piece.id,
                fine_mg=g.fine_mg_per_unit * units,
                details={"piece": piece.slug, "units": units},
            )

    def _number(self, alphabet: str, prefix: str, size: int, taken: set[str]) -> str:
        """A new unique random code (order number, certificate id)."""
        while True:
            code = prefix + "".join(self.rng.choice(alphabet) for _ in range(size))
            if code not in taken:
                taken.add(code)
                return code

    def _rates(self, day: date) -> Any:
        """``rates_on`` for a day, read once."""
        from marketplace.premium.services import rates_on

        if day not in self.rates:
            self.rates[day] = rates_on(day, self.currency)
        return self.rates[day]

    # orders.services.place_order, payments.services.pay, orders.services.mark_paid
    def sell(self, order: OrderPlan, pieces: Mapping[int, PiecePlan]) -> None:
        """Place, pay and book one order."""
        items = [(pieces[k].ns, q) for k, q in sorted(order.cart.items())]
        rates = self._rates(order.placed_at.date())
        priced = price_cart(
            items,
            country=order.country,
            rates=rates,
            fee_percent=self.fee_percent,
            shipping_rates=self.shipping,
        )
        number = self._number(ORDER_ALPHABET, "OP-", 8, self.numbers)
        order_id = self.ids.take("shop_order")
        email = f"shopper{order.n}@example.com"
        domestic = order.country == "PE"
        city, region = CITIES[order.n % len(CITIES)] if domestic else ("Springfield", "")
        if domestic and region not in PERU_REGIONS:
            region = PERU_REGIONS[0]
        self.writer.add(
            "shop_order",
            {
                "id": order_id,
                "number": number,
                "user_id": None,
                "email": email,
                "name": f"Shopper {order.n}",
                "phone": "",
                "country": order.country,
                "region": region,
                "city": city,
                "address_line1": f"Calle {order.n % 900 + 1} #{order.n % 97 + 1}",
                "address_line2": "",
                "postal_code": "",
                "currency": priced.currency,
                "subtotal_minor": priced.subtotal,
                "shipping_minor": priced.shipping,
                "total_minor": priced.total,
                "tax_included_minor": priced.tax_included,
                "platform_fee_percent": self.fee_percent,
                "status": "paid",
                "payment_status": "paid",
                "placed_at": order.placed_at,
                "expires_at": order.placed_at + timedelta(minutes=30),
                "paid_at": order.paid_at,
                "completed_at": None,
                "refunded_minor": 0,
            },
        )
        lines = []
        reserve: list[tuple[Any, int]] = []
        for line in priced.lines:
            piece = line.piece
            line_id = self.ids.take("order_line")
            self.writer.add(
                "order_line",
                {
                    "id": line_id,
                    "order_id": order_id,
                    "piece_id": piece.id,
                    "jeweller_id": piece.jeweller_id,
                    "title": piece.title,
                    "karat": piece.karat,
                    "fine_mg_per_unit": piece.fine_mg,
                    "unit_price_minor": piece.price_minor,
                    "quantity": line.quantity,
                    "line_total_minor": line.line_total,
                    "premium_minor": line.premium,
                    "platform_fee_minor": line.platform_fee,
                    "jeweller_minor": line.jeweller_share,
                    "refunded_quantity": 0,
                    "refunded_minor": 0,
                },
            )
            for part in line.premium_parts:
                self.writer.add(
                    "premium_line",
                    {
                        "id": self.ids.take("premium_line"),
                        "order_line_id": line_id,
                        "cooperative_id": part.cooperative_id,
                        "lot_id": part.lot_id,
                        "fine_mg": part.fine_mg,
                        "usd_per_fine_kg": rates.usd_per_fine_kg,
                        "fx_rate": rates.fx,
                        "amount_minor": part.amount,
                        "refunded_minor": 0,
                    },
                )
            lines.append((line_id, line))
            for g in piece.gold:
                mg = g.fine_mg_per_unit * line.quantity
                reserve += [
                    (gold_account(AccountKind.PIECE_COMMITTED, g.lot_id, piece_id=piece.id), -mg),
                    (gold_account(AccountKind.PIECE_RESERVED, g.lot_id, piece_id=piece.id), mg),
                ]
        for jeweller_id, amount in priced.shipping_by_jeweller.items():
            self.writer.add(
                "shipment",
                {
                    "id": self.ids.take("shipment"),
                    "order_id": order_id,
                    "jeweller_id": jeweller_id,
                    "shipping_minor": amount,
                    "status": "unfulfilled",
                },
            )
        self.books.post(
            "order_reserved",
            f"Order {number}: gold reserved",
            reserve,
            order.placed_at,
            idempotency_key=f"order:{order_id}:reserved",
        )
        self._event(order_id, order.placed_at, email, "status", None, "pending_payment", "placed")

        # pay(): the sandbox charges card 4242 and reports its processor fee
        charge = SandboxGateway().charge(
            SimpleNamespace(amount_minor=priced.total),  # type: ignore[arg-type]
            {"card_number": "4242424242424242", "expiry": "12/49", "cvc": "123"},
        )
        assert charge.succeeded
        fee = charge.processor_fee
        self.writer.add(
            "payment",
            {
                "id": self.ids.take("payment"),
                "order_id": order_id,
                "gateway": "sandbox",
                "provider_ref": f"sbx_ch_{self.rng.getrandbits(64):016x}",
                "amount_minor": priced.total,
                "currency": priced.currency,
                "status": "succeeded",
                "processor_fee_minor": fee,
                "failure_message": None,
                "created_at": order.paid_at - timedelta(seconds=2),
                "settled_at": order.paid_at,
            },
        )

        # mark_paid(): the money split, reserved gold sold, custody events, certificates
        cur = priced.currency
        money: list[tuple[Any, int]] = [
            (money_account(AccountKind.GATEWAY_CLEARING, cur), -priced.total)
        ]
        fees = 0
        for _, line in lines:
            fees += line.platform_fee
            money.append(
                (
                    money_account(
                        AccountKind.JEWELLER_PENDING, cur, jeweller_id=line.piece.jeweller_id
                    ),
                    line.jeweller_share,
                )
            )
            for part in line.premium_parts:
                if part.amount:
                    money.append(
                        (
                            money_account(
                                AccountKind.COOP_PREMIUM_PENDING,
                                cur,
                                cooperative_id=part.cooperative_id,
                                lot_id=part.lot_id,
                            ),
                            part.amount,
                        )
                    )
        for jeweller_id, amount in priced.shipping_by_jeweller.items():
            if amount:
                money.append(
                    (
                        money_account(AccountKind.JEWELLER_PENDING, cur, jeweller_id=jeweller_id),
                        amount,
                    )
                )
        if fees - fee:
            money.append((money_account(AccountKind.PLATFORM_FEES, cur), fees - fee))
        if fee:
            money.append((money_account(AccountKind.PROCESSOR_FEES, cur), fee))
        self.books.post(
            "order_paid",
            f"Order {number} paid",
            money,
            order.paid_at,
            idempotency_key=f"order:{order_id}:paid",
        )
        sold: list[tuple[Any, int]] = []
        for _, line in lines:
            for part in line.premium_parts:
                mg = part.fine_mg // line.quantity * line.quantity
                sold += [
                    (
                        gold_account(
                            AccountKind.PIECE_RESERVED, part.lot_id, piece_id=line.piece.id
                        ),
                        -mg,
                    ),
                    (gold_account(AccountKind.LOT_SOLD, part.lot_id, piece_id=line.piece.id), mg),
                ]
        self.books.post(
            "order_sold",
            f"Order {number}: gold sold",
            sold,
            order.paid_at,
            idempotency_key=f"order:{order_id}:sold",
        )
        for _, line in lines:
            for part in line.premium_parts:
                self.chains.append(
                    part.lot_id,
                    "sold",
                    actor=ORDER_ACTOR,
                    occurred_at=order.paid_at,
                    jeweller_id=line.piece.jeweller_id,
                    piece_id=line.piece.id,
                    fine_mg=part.fine_mg,
                    details={"order": number, "piece": line.piece.slug, "units": line.quantity},
                )
        for line_id, line in lines:
            self._certificate(line_id, line, order.paid_at, rates, cur)
        self._event(order_id, order.paid_at, email, "status", "pending_payment", "paid")
        self._event(order_id, order.paid_at, email, "payment", "unpaid", "paid")
        self.paid += 1

    # provenance.certificates.issue_for_order, with build_credential's credential
    def _certificate(
        self, line_id: int, line: Any, paid_at: datetime, rates: Any, cur: str
    ) -> None:
        """Sign the provenance certificate of one sold order line."""
        short_id = self._number(ORDER_ALPHABET, "", 10, self.short_ids)
        piece = line.piece
        credential = {
            "@context": [VC_CONTEXT],
            "type": ["VerifiableCredential", "GoldProvenanceCredential"],
            "id": f"urn:oro-de-poto:certificate:{short_id}",
            "issuer": _issuer(),
            "validFrom": iso_utc(paid_at),
            "credentialSubject": {
                "piece": {
                    "slug": piece.slug,
                    "title": piece.title,
                    "karat": piece.karat,
                    "finenessPerMille": piece.fineness,
                    "grossMg": piece.gross_mg,
                    "fineMgPerUnit": piece.fine_mg,
                    "units": line.quantity,
                    "jeweller": piece.jeweller.business_name,
                },
                "fineGoldMg": piece.fine_mg * line.quantity,
                "lots": [
                    {
                        "code": self.lot_ns[part.lot_id].code,
                        "cooperative": {
                            "name": self.lot_ns[part.lot_id].cooperative.name,
                            "floId": self.lot_ns[part.lot_id].cooperative.flo_id,
                        },
                        "traceabilityModel": self.lot_ns[part.lot_id].traceability_model,
                        "fineMgPerUnit": part.fine_mg // line.quantity,
                        "assayedFineness": str(self.lot_ns[part.lot_id].assayed_fineness),
                        "certificate": {
                            "number": self.lot_ns[part.lot_id].certificate_number,
                            "body": self.lot_ns[part.lot_id].certificate_body,
                        },
                        "chainHead": {
                            "seq": self.chains.head[part.lot_id][0],
                            "hash": self.chains.head[part.lot_id][1],
                        },
                    }
                    for part in line.premium_parts
                ],
                "premiumRouted": [
                    {
                        "cooperative": part.cooperative_name,
                        "lot": self.lot_ns[part.lot_id].code,
                        "amountMinor": part.amount,
                        "currency": cur,
                        "usdPerFineKg": str(rates.usd_per_fine_kg),
                        "fxRate": str(rates.fx),
                    }
                    for part in line.premium_parts
                ],
                "saleDate": paid_at.date().isoformat(),
            },
        }
        self.writer.add(
            "certificate",
            {
                "id": self.ids.take("certificate"),
                "short_id": short_id,
                "order_line_id": line_id,
                "piece_id": piece.id,
                "kid": self.kid,
                "signature": b64url(self.key.sign(canonical_json(credential))),
                "credential": credential,
                "issued_at": paid_at,
            },
        )

    def _event(
        self,
        order_id: int,
        at: datetime,
        actor: str,
        field_name: str,
        from_value: str | None,
        to_value: str,
        note: str = "",
    ) -> None:
        """``record_event``: who changed which field of an order, from what to what."""
        self.writer.add(
            "order_event",
            {
                "id": self.ids.take("order_event"),
                "order_id": order_id,
                "at": at,
                "actor": actor[:254],
                "field": field_name,
                "from_value": from_value,
                "to_value": to_value,
                "note": note,
            },
        )
