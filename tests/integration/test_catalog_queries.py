"""Search, filters, sort and pagination of the catalog."""

from __future__ import annotations

import pytest

from marketplace.catalog.queries import parse_filters, search_pieces
from tests import factories


def _titles(**args: str) -> list[str]:
    return [p.title for p in search_pieces(parse_filters(args), per_page=100).pieces]


def test_search_finds_pieces_by_title_description_jeweller_and_cooperative(app):
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, title="Zzyzx signet")
    coop = piece.gold[0].lot.cooperative
    assert _titles(q="zzyzx") == ["Zzyzx signet"]
    assert "Zzyzx signet" in _titles(q=jeweller.business_name)
    assert "Zzyzx signet" in _titles(q=coop.short_name)
    assert _titles(q="zzyzx nothing-like-this") == []


def test_search_treats_wildcards_literally(app):
    factories.piece(factories.jeweller(), title="Ring 100% gold")
    assert _titles(q="100%") == ["Ring 100% gold"]
    assert _titles(q="%") == ["Ring 100% gold"]
    assert _titles(q="_") == []


def test_filters_by_category_karat_cooperative_and_price(app):
    everything = search_pieces(parse_filters({}), per_page=100).pieces
    rings_18k = search_pieces(parse_filters({"category": "ring", "karat": "18"}), 100).pieces
    assert rings_18k and all(p.category == "ring" and p.karat == 18 for p in rings_18k)
    cheap = search_pieces(parse_filters({"max_price": "2000"}), 100).pieces
    assert cheap and all(p.price_minor <= 200_000 for p in cheap)
    assert len(cheap) < len(everything)
    coop = everything[0].gold[0].lot.cooperative
    from_coop = search_pieces(parse_filters({"cooperative": coop.slug}), 100).pieces
    assert from_coop and all(
        any(g.lot.cooperative_id == coop.id for g in p.gold) for p in from_coop
    )


def test_sorts_by_price_both_ways(app):
    up = [p.price_minor for p in search_pieces(parse_filters({"sort": "price_asc"}), 100).pieces]
    down = [p.price_minor for p in search_pieces(parse_filters({"sort": "price_desc"}), 100).pieces]
    assert up == sorted(up) and down == sorted(down, reverse=True) and len(up) >= 24


def test_pages_cover_every_piece_once(app):
    total = search_pieces(parse_filters({}), per_page=7)
    seen = []
    for page in range(1, total.pages + 1):
        seen += [p.id for p in search_pieces(parse_filters({"page": str(page)}), 7).pieces]
    assert len(seen) == len(set(seen)) == total.total


def test_drafts_and_archived_pieces_are_not_listed(app):
    piece = factories.piece(factories.jeweller(), title="Hidden draft ring")
    piece.status = "draft"
    assert _titles(q="Hidden draft") == []
    piece.status = "archived"
    assert _titles(q="Hidden draft") == []


@pytest.mark.parametrize(
    ("args", "note"),
    [
        ({"karat": "abc"}, "Ignored karat"),
        ({"karat": "19"}, "Ignored karat"),
        ({"category": "spaceship"}, "Ignored category"),
        ({"min_price": "1e999"}, "Ignored minimum price"),
        ({"max_price": "-5"}, "Ignored maximum price"),
        ({"min_price": "NaN"}, "Ignored minimum price"),
        ({"min_price": "900", "max_price": "100"}, "Swapped"),
    ],
)
def test_nonsense_filters_are_dropped_with_a_note(args, note):
    filters = parse_filters(args)
    assert any(note in n for n in filters.notes)


def test_page_numbers_are_bounded():
    assert parse_filters({"page": "-1"}).page == 1
    assert parse_filters({"page": "0"}).page == 1
    assert parse_filters({"page": "abc"}).page == 1
    assert parse_filters({"page": "99999999999999999999"}).page == 1000
