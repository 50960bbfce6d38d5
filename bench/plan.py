"""The bench seed's plan: which lots, workshops and pieces exist, who buys what and when, so
that each lot holds the gold its pieces need and each piece is made in the numbers it sells."""

from __future__ import annotations

import argparse
import bisect
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.bulk import Ids
from marketplace.catalog.services import slugify
from marketplace.core.gold import fineness_for_karat, lot_fine_mg, piece_fine_mg
from marketplace.db import ExactDecimal
from marketplace.demo import CATEGORY_SPECS, KARATS, SOLES_PER_FINE_GRAM

BENCH_LOT_PREFIX = "BENCH-"
ORDER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ORDER_ACTOR = "Oro de Poto marketplace"
CENTRAL_ACTOR = "Central (bench seed)"
FLUSH_ROWS = 50_000

#: Words that make titles differ; "chakana" (a stem word) is what the benchmark searches for.
FINISHES = [
    "Hammered",
    "Braided",
    "Polished",
    "Twisted",
    "Filigree",
    "Satin",
    "Engraved",
    "Openwork",
    "Granulated",
    "Matte",
    "Woven",
    "Sculpted",
]
WORKSHOP_WORDS = [
    "Sumaq",
    "Inti",
    "Killa",
    "Wayra",
    "Qori",
    "Ch'aska",
    "Illari",
    "Pacha",
    "Yaku",
    "Rumi",
    "Sami",
    "Tika",
]
CITIES = [
    ("Lima", "Lima Metropolitana"),
    ("Cusco", "Cusco"),
    ("Arequipa", "Arequipa"),
    ("Puno", "Puno"),
    ("Juliaca", "Puno"),
    ("Trujillo", "La Libertad"),
    ("Ayacucho", "Ayacucho"),
]
ABROAD = ["US", "ES", "DE", "FR", "GB", "CA", "CH", "NL"]


@dataclass
class LotPlan:
    """A lot to register."""

    id: int
    code: str
    cooperative_id: int
    registered_at: datetime
    fineness: Decimal
    refined: bool
    mass_balance: bool
    demand_mg: int = 0
    fine_mg: int = 0
    gross_mg: int = 0


@dataclass
class JewellerPlan:
    """A workshop and the lots it buys gold from."""

    id: int
    slug: str
    name: str
    pledge: Decimal
    lots: list[int]
    ns: Any = None


@dataclass
class PiecePlan:
    """A piece to list: what it is, its gold per lot, and how many units are made and sold."""

    id: int
    jeweller: int
    title: str
    slug: str
    category: str
    karat: int
    fineness: int
    gross_mg: int
    fine_mg: int
    price_minor: int
    created_at: datetime
    gold: dict[int, int]
    left: int = 0
    sold: int = 0
    ns: Any = None


@dataclass
class OrderPlan:
    """An order to place and pay."""

    placed_at: datetime
    paid_at: datetime
    cart: dict[int, int]
    n: int
    country: str = "PE"


@dataclass
class Plan:
    """Everything the seed will write."""

    lots: list[LotPlan] = field(default_factory=list)
    jewellers: list[JewellerPlan] = field(default_factory=list)
    pieces: list[PiecePlan] = field(default_factory=list)
    orders: list[OrderPlan] = field(default_factory=list)
    transfers: dict[tuple[int, int], int] = field(default_factory=dict)
    transfer_at: dict[tuple[int, int], datetime] = field(default_factory=dict)


def plan(
    args: argparse.Namespace,
    rng: random.Random,
    ids: Ids,
    members: list[tuple[int, str, str | None]],
    taken_slugs: set[str],
    now: datetime,
) -> Plan:
    """Decide every lot, workshop, piece and order before writing anything, so each lot holds
    the gold its pieces need and each piece was made in the numbers it sells."""
    p = Plan()
    span = timedelta(days=400)
    first = now - timedelta(days=900)
    for i in range(args.lots):
        registered = first + span * i / max(1, args.lots) + timedelta(hours=rng.randint(0, 20))
        refined = i % 4 == 3
        fineness = (
            Decimal(rng.randint(9950, 9995)) / 10
            if refined
            else Decimal(rng.randint(8800, 9350)) / 10
        )
        p.lots.append(
            LotPlan(
                id=ids.take("gold_lot"),
                code=f"{BENCH_LOT_PREFIX}{registered.year}-{i + 1:04d}",
                cooperative_id=members[i % len(members)][0],
                registered_at=registered.replace(microsecond=0),
                fineness=_exact(fineness),
                refined=refined,
                mass_balance=i % 5 == 4,
            )
        )
    per_jeweller = min(args.lots_per_jeweller, len(p.lots))
    for j in range(args.jewellers):
        word = WORKSHOP_WORDS[j % len(WORKSHOP_WORDS)]
        name = f"Taller {word} {j + 1:03d} (bench)"
        p.jewellers.append(
            JewellerPlan(
                id=ids.take("jeweller"),
                slug=f"bench-{slugify(word)}-{j + 1:03d}",
                name=name,
                pledge=Decimal(rng.choice([0, 0, 1, 2])),
                lots=sorted(rng.sample(range(len(p.lots)), per_jeweller)),
            )
        )

    categories = list(CATEGORY_SPECS.items())
    slug_count: dict[str, int] = defaultdict(int)
    start = now - timedelta(days=460)
    for n in range(args.pieces):
        category, (stems, (low, high), labour) = categories[n % len(categories)]
        stem = stems[rng.randrange(len(stems))]
        karat = KARATS[rng.randrange(len(KARATS))]
        gross = rng.randint(low // 50, high // 50) * 50
        per_mille = fineness_for_karat(karat)
        fine = piece_fine_mg(gross, per_mille)
        price = (fine * SOLES_PER_FINE_GRAM // 1000 + labour) // 10 * 10 - 10
        title = f"{rng.choice(FINISHES)} {stem[0].lower() + stem[1:]} {karat}k"
        base = slugify(title)[:100]
        slug = base
        while slug in taken_slugs:
            slug_count[base] = max(slug_count[base], 1) + 1
            slug = f"{base}-{slug_count[base]}"
        taken_slugs.add(slug)
        j = rng.randrange(len(p.jewellers))
        held = p.jewellers[j].lots
        lot_a = held[rng.randrange(len(held))]
        if n % 2 == 0 and len(held) > 1:
            lot_b = held[(held.index(lot_a) + 1) % len(held)]
            part = fine * rng.randint(30, 70) // 100
            gold = {lot_a: fine - part, lot_b: part}
        else:
            gold = {lot_a: fine}
        gold = {k: v for k, v in sorted(gold.items()) if v}
        for lot in gold:  # the workshop buys the gold some weeks after the lot came in
            p.transfer_at.setdefault(
                (j, lot),
                p.lots[lot].registered_at + timedelta(days=20, hours=rng.randint(0, 200)),
            )
        made_at = (start + (now - timedelta(days=1) - start) * rng.random()).replace(microsecond=0)
        made_at = max([made_at] + [p.transfer_at[(j, lot)] + timedelta(hours=1) for lot in gold])
        p.pieces.append(
            PiecePlan(
                id=ids.take("piece"),
                jeweller=j,
                title=title,
                slug=slug,
                category=category,
                karat=karat,
                fineness=per_mille,
                gross_mg=gross,
                fine_mg=fine,
                price_minor=price * 100 + 90,
                created_at=made_at,
                gold=gold,
                left=0 if rng.random() < 0.1 else rng.randint(1, 5),
            )
        )

    by_age = sorted(range(len(p.pieces)), key=lambda k: p.pieces[k].created_at)
    created = [p.pieces[k].created_at for k in by_age]
    order_start = now - timedelta(days=365)
    for n in range(args.orders):
        placed = (order_start + (now - timedelta(minutes=20) - order_start) * rng.random()).replace(
            microsecond=0
        )
        made = bisect.bisect_left(created, placed - timedelta(hours=1))
        if made == 0:
            continue
        cart: dict[int, int] = {}
        for _ in range(2 if rng.random() < 0.1 else 1):
            piece = p.pieces[by_age[rng.randrange(made)]]
            cart[piece.id] = rng.choices((1, 2, 3), weights=(85, 12, 3))[0]
        for piece_id, quantity in cart.items():
            p.pieces[piece_id - p.pieces[0].id].sold += quantity
        p.orders.append(
            OrderPlan(
                placed_at=placed,
                paid_at=placed + timedelta(seconds=rng.randint(40, 900)),
                cart=cart,
                n=n,
                country="PE" if rng.random() < 0.8 else rng.choice(ABROAD),
            )
        )
    p.orders.sort(key=lambda o: o.placed_at)

    for piece in p.pieces:
        units = piece.left + piece.sold
        for lot, mg in piece.gold.items():
            key = (piece.jeweller, lot)
            p.transfers[key] = p.transfers.get(key, 0) + mg * units
    for (j, lot), needed in list(p.transfers.items()):
        # Workshops buy more than they use: some gold stays held, not yet in a piece.
        p.transfers[(j, lot)] = needed + max(5_000, needed * rng.randint(5, 30) // 100)
    for (_, lot), mg in p.transfers.items():
        p.lots[lot].demand_mg += mg
    for registered in p.lots:
        # The Central keeps some of every lot unallocated.
        wanted = registered.demand_mg + rng.randint(50_000, 400_000)
        tenths = int(registered.fineness * 10)
        registered.gross_mg = -(-wanted * 10_000 // tenths) + rng.randint(0, 999)
        registered.fine_mg = lot_fine_mg(registered.gross_mg, registered.fineness)
        assert registered.fine_mg >= registered.demand_mg
    return p


def _exact(value: Decimal) -> Decimal:
    """A Decimal as ``ExactDecimal`` reads it back (``995.0`` → ``995``)."""
    result = ExactDecimal().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
