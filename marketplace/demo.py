"""Demo data: the Central and its member cooperatives, certified lots, jewellers and pieces.

The cooperatives' names and public facts come from the sources in DOMAIN.md and say so; every
lot, weight, certificate number, jeweller and amount is invented and flagged ``is_demo``, and
the pages label it. Everything goes through the same services the shop uses, so the gold books
of the demo balance exactly like real ones.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from marketplace.accounts.models import Role
from marketplace.accounts.services import create_user, find_user
from marketplace.catalog.models import FairtradeStatus, Jeweller, JewellerStatus, Piece, PiecePhoto
from marketplace.catalog.services import back_piece, create_piece, publish, set_stock
from marketplace.core.gold import fineness_for_karat, piece_fine_mg
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.media.services import open_image, store_bytes, store_photo
from marketplace.orders.models import ShippingRate
from marketplace.premium.models import FxRate, PremiumPolicy
from marketplace.provenance.models import (
    Cooperative,
    CooperativeCertification,
    CustodyEventKind,
    GoldLot,
    LotEvidence,
    MembershipReport,
    TraceabilityModel,
)
from marketplace.provenance.services import (
    LotRegistration,
    append_custody_event,
    register_lot,
    transfer_to_jeweller,
)

CENTRAL_SLUG = "cecomsap"
ACTOR = "Central (demo seed)"

PSG = "Perú Support Group, 'Fair trade mining bucks the trend'"
FTMH = "Fairtrade Max Havelaar (Switzerland), producer page"
FTNET = "fairtrade.net news"


@dataclass(frozen=True)
class MemberFacts:
    """Public facts about one member cooperative (None where no source gives them)."""

    slug: str
    name: str
    short_name: str
    flo_id: str | None
    area_ha: int | None
    certified_year: int | None
    miners: int | None
    source: str


MEMBERS = [
    MemberFacts(
        "santiago-de-ananea",
        "Cooperativa Minera Santiago de Ananea",
        "Santiago de Ananea",
        "38522",
        111,
        2019,
        102,
        FTMH,
    ),
    MemberFacts(
        "san-antonio-de-ananea",
        "Cooperativa Minera San Antonio de Ananea",
        "San Antonio de Ananea",
        "38883",
        25,
        2018,
        44,
        FTMH,
    ),
    MemberFacts(
        "estrella-de-oro",
        "Cooperativa Minera Estrella de Oro",
        "Estrella de Oro",
        None,
        None,
        2015,
        None,
        FTNET,
    ),
    MemberFacts(
        "senor-de-ananea",
        "Cooperativa Minera Señor de Ananea",
        "Señor de Ananea",
        None,
        None,
        None,
        None,
        FTNET,
    ),
    MemberFacts(
        "san-juan-de-dios-de-pampa-blanca",
        "Cooperativa Minera San Juan de Dios de Pampa Blanca",
        "San Juan de Dios de Pampa Blanca",
        None,
        None,
        None,
        None,
        FTNET,
    ),
    MemberFacts(
        "halcon-de-oro",
        "Cooperativa Minera Halcón de Oro",
        "Halcón de Oro",
        None,
        None,
        None,
        None,
        FTNET,
    ),
    MemberFacts(
        "municipal-de-ananea",
        "Cooperativa Minera Municipal de Ananea",
        "Municipal de Ananea",
        None,
        None,
        None,
        None,
        FTNET,
    ),
]

JEWELLERS = [
    # slug, name, city, region, status, pledge %, story
    (
        "taller-qori",
        "Taller Qori (demo)",
        "Lima",
        "Lima",
        FairtradeStatus.LICENSEE,
        Decimal("1"),
        "A family workshop in Barranco that has worked only certified gold since 2016. "
        "Demo jeweller: the name and story are invented.",
    ),
    (
        "orfebreria-killa",
        "Orfebrería Killa (demo)",
        "Cusco",
        "Cusco",
        FairtradeStatus.REGISTERED_GOLDSMITH,
        Decimal("0"),
        "Two goldsmiths near San Blas making chains and earrings by hand in small runs. "
        "Demo jeweller: the name and story are invented.",
    ),
    (
        "joyeria-wayra",
        "Joyería Wayra (demo)",
        "Arequipa",
        "Arequipa",
        FairtradeStatus.LICENSEE,
        Decimal("2"),
        "Bracelets and pendants from sillar-white Arequipa. "
        "Demo jeweller: the name and story are invented.",
    ),
]

# category: (title stem, gross mg range, labour in soles)
CATEGORY_SPECS: dict[str, tuple[list[str], tuple[int, int], int]] = {
    "ring": (
        ["Inti band", "Qocha ring", "Ananea signet", "Wayna band", "Puna solitaire", "Chaska ring"],
        (3_000, 7_500),
        650,
    ),
    "chain": (
        [
            "Rope chain",
            "Curb chain",
            "Qhapaq chain",
            "Fine box chain",
            "Wheat chain",
            "Ch'aska chain",
        ],
        (2_000, 5_000),
        520,
    ),
    "earrings": (
        [
            "Killa studs",
            "Small hoops",
            "Drop earrings",
            "Tika studs",
            "Lliklla hoops",
            "Quri studs",
        ],
        (1_000, 3_000),
        480,
    ),
    "bracelet": (
        ["Bangle", "Link bracelet", "Tupu bracelet", "Cuff", "Fine bracelet", "Chakana bracelet"],
        (5_000, 14_000),
        780,
    ),
    "pendant": (
        [
            "Chakana pendant",
            "Sun disc",
            "Drop pendant",
            "Condor pendant",
            "Illa pendant",
            "Moon pendant",
        ],
        (1_500, 4_500),
        560,
    ),
}
KARATS = (14, 18, 22)
SOLES_PER_FINE_GRAM = 420  # demo metal cost used to set demo prices


def ruc_with_check(first10: str) -> str:
    """A RUC with its check digit (the SUNAT modulus-11 rule), for demo jewellers."""
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    check = (11 - sum(w * int(d) for w, d in zip(weights, first10, strict=True)) % 11) % 10
    return first10 + str(check)


def _at(day: date, hour: int = 10) -> datetime:
    """A UTC timestamp on a day (Peru is UTC-5; 10:00 UTC is 05:00 in Ananea)."""
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def demo_present() -> bool:
    """Whether the demo has been seeded already."""
    return (
        db.session.scalar(sa.select(Cooperative.id).where(Cooperative.slug == CENTRAL_SLUG))
        is not None
    )


def seed_cooperatives() -> tuple[Cooperative, list[Cooperative]]:
    """The Central and the members named in public sources, with their reported facts."""
    central = Cooperative(
        slug=CENTRAL_SLUG,
        name="Central de Cooperativas Mineras San Antonio de Poto",
        short_name="CECOMSAP",
        altitude_m=4800,
        area_ha=1240,
        founded_on=date(1990, 10, 2),
        description=(
            "Ten member cooperatives mining about 1,240 ha whose surface belongs to the "
            "Comunidad Campesina de Ananea, north-east of Juliaca at about 4,800 m. Formalised "
            "as small-scale miners in 2008. Mercury is recycled in sealed areas and several "
            "members moved to mercury-free gravimetric tables paid for by premium money; water "
            "comes from glacier streams and is recycled. Seven members are named in public "
            "sources and listed here."
        ),
        sources=(
            f"{PSG}; Diario Sin Fronteras, 2 October 2017; fairever.gold blog 'cecomsap-peru'"
        ),
    )
    db.session.add(central)
    db.session.flush()
    db.session.add_all(
        [
            MembershipReport(
                cooperative_id=central.id,
                members=346,
                workers=1200,
                reported_on=date(2019, 9, 1),
                source=PSG,
            ),
            MembershipReport(
                cooperative_id=central.id,
                members=None,
                workers=450,
                reported_on=date(2022, 6, 1),
                source="a gold dealer's report (about 450 employees)",
            ),
        ]
    )
    members = []
    for facts in MEMBERS:
        coop = Cooperative(
            slug=facts.slug,
            name=facts.name,
            short_name=facts.short_name,
            parent_id=central.id,
            flo_id=facts.flo_id,
            area_ha=facts.area_ha,
            altitude_m=4800,
            sources=facts.source,
            payout_bank="Banco de la Nación (demo account)",
            payout_account_holder=f"{facts.name} (demo)",
            payout_cci=f"0180{len(MEMBERS):02d}{MEMBERS.index(facts):02d}0000000000{MEMBERS.index(facts):02d}",
        )
        db.session.add(coop)
        db.session.flush()
        if facts.miners is not None:
            db.session.add(
                MembershipReport(
                    cooperative_id=coop.id,
                    members=facts.miners,
                    reported_on=date(2020, 1, 1),
                    source=facts.source,
                )
            )
        first = facts.certified_year or 2019
        db.session.add(
            CooperativeCertification(
                cooperative_id=coop.id,
                scheme="Fairtrade Gold",
                body="FLOCERT",
                certificate_number=f"DEMO-FLO-{facts.flo_id or coop.id:0>5}",
                first_certified_year=facts.certified_year,
                valid_from=date(2024, 3, 1),
                valid_until=date(2027, 2, 28),
                source=(
                    f"First certified {first} ({facts.source}); the current certificate's "
                    "number and validity are demo values."
                    if facts.certified_year
                    else "Demo certificate: no public source gives this member's dates."
                ),
                is_demo=True,
            )
        )
        members.append(coop)
    db.session.flush()
    return central, members


def seed_rates() -> None:
    """The premium policy (USD 2,000 per fine kg since 2013-08-01) and demo exchange rates."""
    db.session.add(
        PremiumPolicy(
            effective_from=date(2013, 8, 1),
            usd_per_fine_kg=Decimal("2000"),
            note=(
                "The figure of the Fairtrade gold premium since 1 August 2013, adopted as the "
                "marketplace's own community premium (not the Fairtrade Premium, which the "
                "first buyer of the gold pays)."
            ),
        )
    )
    db.session.add_all(
        [
            FxRate(
                base="USD",
                quote="PEN",
                rate=Decimal("3.75"),
                effective_on=date(2024, 1, 1),
                source="Demo rate",
            ),
            FxRate(
                base="USD",
                quote="PEN",
                rate=Decimal("3.72"),
                effective_on=date(2025, 7, 1),
                source="Demo rate",
            ),
        ]
    )


def seed_shipping_rates() -> None:
    """Flat shipping per jeweller's parcel: within Peru, and abroad (demo figures)."""
    db.session.add_all(
        [
            ShippingRate(
                zone="domestic",
                currency="PEN",
                amount_minor=1500,
                label="Courier within Peru (demo rate)",
            ),
            ShippingRate(
                zone="international",
                currency="PEN",
                amount_minor=12000,
                label="Insured international post (demo rate)",
            ),
        ]
    )


def seed_lots(members: list[Cooperative], rng: random.Random) -> list[GoldLot]:
    """Fourteen invented lots over the members, each assayed and certified."""
    lots = []
    for i in range(14):
        coop = members[i % len(members)]
        start = date(2024, 6, 1) + timedelta(days=40 * i)
        end = start + timedelta(days=29)
        refined = i % 4 == 3
        fineness = (
            Decimal(f"{rng.randint(9950, 9995)}") / 10
            if refined
            else Decimal(f"{rng.randint(8800, 9350)}") / 10
        )
        mercury_free = i % 3 != 0
        used = 0 if mercury_free else rng.randint(40, 160)
        data = LotRegistration(
            code=f"DEMO-{start.year}-{i + 1:02d}",
            cooperative_id=coop.id,
            traceability_model=(
                TraceabilityModel.MASS_BALANCE.value
                if i % 5 == 4
                else TraceabilityModel.SEGREGATED.value
            ),
            extraction_start=start,
            extraction_end=end,
            gross_mg=rng.randint(900, 2400) * 1000 + rng.randint(0, 999),
            assayed_fineness=fineness,
            assay_lab="Laboratorio de Ensayos Andino (demo), Juliaca",
            assay_report_number=f"DEMO-ENS-{4100 + i}",
            assayed_on=end + timedelta(days=6),
            refiner="Refinería del Sur (demo), Lima" if refined else None,
            bar_serial=f"DEMO-RS-{70210 + i}" if refined else None,
            bar_year=end.year if refined else None,
            certificate_number=f"DEMO-FT-GOLD-{2400 + i}",
            certificate_body="FLOCERT",
            certificate_valid_from=end + timedelta(days=10),
            certificate_valid_until=end + timedelta(days=10 + 3 * 365),
            mercury_used_g=used,
            mercury_recovered_g=used - rng.randint(0, max(1, used // 20)) if used else 0,
            water_recycled_percent=rng.randint(70, 95),
            notes="Demo lot: every figure is invented.",
            registered_at=_at(end + timedelta(days=2)),
            is_demo=True,
        )
        lot = register_lot(data, actor=ACTOR)
        append_custody_event(
            lot,
            CustodyEventKind.ASSAYED,
            actor=data.assay_lab or ACTOR,
            occurred_at=_at(end + timedelta(days=6)),
            details={
                "fineness": str(fineness),
                "report": data.assay_report_number,
                "lab": data.assay_lab,
            },
        )
        append_custody_event(
            lot,
            CustodyEventKind.CERTIFIED,
            actor="FLOCERT (demo)",
            occurred_at=_at(end + timedelta(days=10)),
            details={
                "certificate": data.certificate_number,
                "body": "FLOCERT",
                "valid_until": (end + timedelta(days=10 + 3 * 365)).isoformat(),
            },
        )
        for title, level, issuer in (
            ("Production and mercury log", "evidenced", coop.name),
            ("Assay report", "verified", data.assay_lab or ""),
            ("Certificate of conformity", "verified", "FLOCERT"),
        ):
            text = f"DEMO DOCUMENT\n{title}\nLot {lot.code}\nIssuer: {issuer}\n".encode()
            media = store_bytes(text, "text/plain", original_name=f"{lot.code}-{title}.txt")
            db.session.add(
                LotEvidence(
                    lot_id=lot.id,
                    title=title,
                    level=level,
                    issuer=issuer,
                    sha256=media.sha256,
                    media_file_id=media.id,
                )
            )
        lots.append(lot)
    db.session.flush()
    return lots


def seed_jewellers() -> list[Jeweller]:
    """Three approved demo workshops."""
    jewellers = []
    for n, (slug, name, city, region, status, pledge, story) in enumerate(JEWELLERS):
        jeweller = Jeweller(
            slug=slug,
            business_name=name,
            city=city,
            region=region,
            story=story,
            ruc=ruc_with_check(f"20{60000000 + 1234 * (n + 1):08d}"),
            fairtrade_status=status.value,
            fairtrade_number=f"DEMO-FT-L-{300 + n}" if status else None,
            pledge_percent=pledge,
            status=JewellerStatus.APPROVED.value,
            is_demo=True,
            payout_bank="Banco de Crédito del Perú (demo account)",
            payout_account_holder=f"{name}",
            payout_cci=f"00219{n:03d}000000000{n:03d}",
        )
        db.session.add(jeweller)
        jewellers.append(jeweller)
    db.session.flush()
    return jewellers


def seed_pieces(
    jewellers: list[Jeweller],
    lots: list[GoldLot],
    rng: random.Random,
    photos: bool,
    progress: Callable[[str], None],
) -> list[Piece]:
    """Thirty pieces over five categories and three karats, each backed lot by lot."""
    from marketplace.catalog.demo_art import render_piece_photo

    # Each jeweller buys gold from five lots; lots are shared so the registry shows it.
    holdings: dict[int, list[GoldLot]] = {}
    for j, jeweller in enumerate(jewellers):
        chosen = [lots[(j * 4 + k) % len(lots)] for k in range(5)]
        holdings[jeweller.id] = chosen
        for k, lot in enumerate(chosen):
            transfer_to_jeweller(
                lot,
                jeweller,
                min(lot.fine_mg // 3, 180_000),
                invoice_ref=f"DEMO-F001-{1000 + j * 10 + k}",
                actor=ACTOR,
                occurred_at=lot.registered_at + timedelta(days=20 + k),
            )
    pieces = []
    n = 0
    for c, (category, (titles, (low, high), labour)) in enumerate(CATEGORY_SPECS.items()):
        for t, stem in enumerate(titles):
            jeweller = jewellers[(n + t) % len(jewellers)]
            karat = KARATS[(c + t) % len(KARATS)]
            gross = rng.randint(low // 50, high // 50) * 50
            fine = piece_fine_mg(gross, fineness_for_karat(karat))
            price = (fine * SOLES_PER_FINE_GRAM // 1000 + labour) // 10 * 10 - 10
            piece = create_piece(
                jeweller,
                title=f"{stem} {karat}k",
                category=category,
                karat=karat,
                gross_mg=gross,
                price_minor=price * 100 + 90,
                description=(
                    f"{stem}, {karat}k gold made by {jeweller.business_name}. Demo piece: the "
                    "design, weight and price are invented."
                ),
                is_demo=True,
            )
            piece.created_at = utcnow() - timedelta(hours=7 * (30 - n))
            held = holdings[jeweller.id]
            first = held[(t + n) % len(held)]
            if t % 2 == 0:
                second = held[(t + n + 1) % len(held)]
                part = fine * rng.randint(30, 70) // 100
                allocation = {first.id: fine - part, second.id: part}
            else:
                allocation = {first.id: fine}
            back_piece(piece, allocation, actor=jeweller.business_name)
            set_stock(piece, rng.randint(1, 4), actor=jeweller.business_name)
            publish(piece)
            if photos:
                for position in range(2):
                    image = render_piece_photo(category, karat, seed=n * 7 + position)
                    buffer = io.BytesIO()
                    image.save(buffer, "PNG")
                    full, thumb = store_photo(open_image(buffer.getvalue()))
                    db.session.add(
                        PiecePhoto(
                            piece_id=piece.id,
                            position=position,
                            image_id=full.id,
                            thumb_id=thumb.id,
                            alt=(
                                f"{piece.title}: {category} in {karat}k gold"
                                + (", seen from the side" if position else "")
                            ),
                        )
                    )
            pieces.append(piece)
            n += 1
        progress(f"  {category}: {len(titles)} pieces")
    db.session.flush()
    return pieces


DEMO_PASSWORD = "demo-password"  # noqa: S105  # nosec B105  # published demo logins (DESIGN §8)
DEMO_LOGINS = [
    # email, role, workshop slug, cooperative slug
    ("admin@demo.test", Role.ADMIN, None, None),
    ("jeweller@demo.test", Role.JEWELLER, "taller-qori", None),
    ("jeweller2@demo.test", Role.JEWELLER, "orfebreria-killa", None),
    ("coop@demo.test", Role.OFFICER, None, "santiago-de-ananea"),
    ("buyer@demo.test", Role.SHOPPER, None, None),
]


def ensure_demo_logins() -> list[str]:
    """Create the demo logins that do not exist yet (each tied to its demo body)."""
    created = []
    for email, role, jeweller_slug, coop_slug in DEMO_LOGINS:
        if find_user(email) is not None:
            continue
        jeweller_id = (
            db.session.scalar(sa.select(Jeweller.id).where(Jeweller.slug == jeweller_slug))
            if jeweller_slug
            else None
        )
        coop_id = (
            db.session.scalar(sa.select(Cooperative.id).where(Cooperative.slug == coop_slug))
            if coop_slug
            else None
        )
        if (jeweller_slug and jeweller_id is None) or (coop_slug and coop_id is None):
            continue  # the demo bodies are not there (a real deployment)
        create_user(
            email,
            DEMO_PASSWORD,
            name=email.split("@")[0].capitalize() + " (demo)",
            role=role,
            jeweller_id=jeweller_id,
            cooperative_id=coop_id,
        )
        created.append(email)
    return created


def seed(*, photos: bool = True, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Seed the demo once. Returns False (and changes nothing) if it is already there."""
    if demo_present():
        return False
    rng = random.Random(20251127)  # nosec B311  # seeded on purpose: the same demo every run
    progress("Cooperatives and rates")
    _, members = seed_cooperatives()
    seed_rates()
    seed_shipping_rates()
    progress("Certified lots with assay, certificate and custody events")
    lots = seed_lots(members, rng)
    progress("Jewellers")
    jewellers = seed_jewellers()
    progress("Pieces, backed through the gold ledger" + (" (drawing photos)" if photos else ""))
    seed_pieces(jewellers, lots, rng, photos, progress)
    db.session.flush()
    return True
