"""Full-text search of the catalog: the same results in meaning on SQLite and PostgreSQL, and an
index that stays in step with every write (it is kept by triggers)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.catalog.models import Piece
from marketplace.catalog.queries import parse_filters, search_pieces
from marketplace.catalog.search import fold, matches, query_words
from marketplace.catalog.services import back_piece, publish, set_stock
from marketplace.extensions import db
from marketplace.provenance.models import Cooperative
from marketplace.provenance.services import transfer_to_jeweller
from tests import factories


def _titles(q: str, **args: str) -> list[str]:
    return [p.title for p in search_pieces(parse_filters({"q": q, **args}), 100).pieces]


def _index_is_in_step() -> None:
    """The search index holds exactly what the pieces, jewellers and cooperatives say."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        before = dict(
            connection.exec_driver_sql("SELECT piece_id, document::text FROM piece_search").all()
        )
        connection.exec_driver_sql("SELECT piece_search_refresh(ARRAY(SELECT id FROM piece))")
        after = dict(
            connection.exec_driver_sql("SELECT piece_id, document::text FROM piece_search").all()
        )
        assert after == before
        assert set(after) == set(connection.exec_driver_sql("SELECT id FROM piece").scalars())
    else:
        # FTS5 compares the index with the content view, token by token (raises if they differ).
        connection.exec_driver_sql(
            "INSERT INTO piece_fts(piece_fts, rank) VALUES ('integrity-check', 1)"
        )


def test_query_words_are_letters_and_digits_folded():
    assert query_words("  Anillo  de ORO 18k!! ") == ["anillo", "de", "oro", "18k"]
    assert query_words("Orfebrería Ñusta") == ["orfebreria", "nusta"]
    assert query_words("100% _ %") == ["100"]
    assert len(query_words("a b c d e f g h")) == 6
    assert fold("ÀÉÎÕÜ ç") == "aeiou c"


def test_accents_and_case_do_not_matter_either_way(app):
    jeweller = factories.jeweller()
    factories.piece(jeweller, title="Pumapunkú Ñusta pendant")
    factories.piece(jeweller, title="Zentraxian wave bangle")
    assert _titles("pumapunku nusta") == ["Pumapunkú Ñusta pendant"]
    assert _titles("PUMAPUNKÚ") == ["Pumapunkú Ñusta pendant"]
    assert _titles("zéntraxian wáve") == ["Zentraxian wave bangle"]


def test_every_word_must_match_and_the_last_may_be_the_start_of_a_word(app):
    jeweller = factories.jeweller()
    factories.piece(jeweller, title="Xylophonic filigree pendant")
    factories.piece(jeweller, title="Xylophonic hammered cuff")
    assert sorted(_titles("xylophonic")) == ["Xylophonic filigree pendant",
                                             "Xylophonic hammered cuff"]
    assert _titles("xylophonic filig") == ["Xylophonic filigree pendant"]
    assert _titles("xyloph") != []  # typing: the last word is a prefix
    assert _titles("xyloph filigree") == []  # an earlier word is a whole word
    assert _titles("xylophonic nothing-of-the-kind") == []


def test_words_match_by_their_stem(app):
    factories.piece(factories.jeweller(), title="Quenching ring with twisted wires")
    assert _titles("quenching rings") == ["Quenching ring with twisted wires"]
    assert _titles("quenching twist wire") == ["Quenching ring with twisted wires"]


def test_title_matches_rank_above_jeweller_and_description_matches(app):
    jeweller = factories.jeweller()
    jeweller.business_name = "Taller Yawarquispe"
    in_description = factories.piece(jeweller, title="Plain chain", price_minor=500_00)
    in_description.description = "Made for the yawarquispe festival."
    in_title = factories.piece(factories.jeweller(), title="Yawarquispe medallion",
                               price_minor=900_00)
    db.session.flush()
    ranked = _titles("yawarquispe")
    assert ranked[0] == in_title.title and set(ranked) == {in_title.title, in_description.title}
    assert _titles("yawarquispe", sort="price_asc") == ["Plain chain", "Yawarquispe medallion"]


def test_pieces_are_found_by_their_jeweller_and_cooperatives_and_follow_renames(app):
    jeweller = factories.jeweller()
    jeweller.business_name = "Orfebrería Zyntrax"
    piece = factories.piece(jeweller, title="Signet of the sun")
    coop = piece.gold[0].lot.cooperative
    db.session.flush()
    assert _titles("zyntrax") == ["Signet of the sun"]
    assert "Signet of the sun" in _titles(coop.short_name)

    jeweller.business_name = "Orfebrería Wyxlotl"
    db.session.flush()
    assert _titles("zyntrax") == [] and _titles("wyxlotl") == ["Signet of the sun"]

    coop.name = "Cooperativa Minera Zarzamora"
    db.session.flush()
    renamed = search_pieces(parse_filters({"q": "zarzamora"}), 100).pieces
    assert "Signet of the sun" in [p.title for p in renamed]
    assert all(any(g.lot.cooperative_id == coop.id for g in p.gold) for p in renamed)
    piece.title = "Moon signet"
    piece.description = "Cast in a quimbaya mould."
    db.session.flush()
    assert _titles("quimbaya moon") == ["Moon signet"] and _titles("sun signet") == []
    _index_is_in_step()


def test_gold_from_another_cooperative_makes_the_piece_findable_by_it(app):
    central = db.session.scalar(sa.select(Cooperative).where(Cooperative.parent_id.is_(None)))
    other = Cooperative(slug="yuraqmayu", name="Cooperativa Minera Yuraqmayu",
                        short_name="Yuraqmayu", parent_id=central.id)
    db.session.add(other)
    jeweller = factories.jeweller()
    piece = factories.piece(jeweller, {}, stock=0, title="Two-lot bangle")
    first, second = factories.lot(), factories.lot(coop=other)
    for lot in (first, second):
        transfer_to_jeweller(lot, jeweller, 100_000, invoice_ref="T", actor="test")
    back_piece(piece, {first.id: piece.fine_mg}, actor="test")
    set_stock(piece, 1, actor="test")
    publish(piece)
    db.session.flush()
    assert _titles("yuraqmayu") == []
    set_stock(piece, 0, actor="test")
    half = piece.fine_mg // 2
    back_piece(piece, {first.id: half, second.id: piece.fine_mg - half}, actor="test")
    set_stock(piece, 1, actor="test")
    db.session.flush()
    assert _titles("yuraqmayu") == ["Two-lot bangle"]
    _index_is_in_step()


def test_a_deleted_piece_leaves_the_index(app):
    piece = factories.piece(factories.jeweller(), {}, stock=0, title="Ephemeral brooch")
    db.session.flush()
    piece_id = piece.id
    assert matches("ephemeral") is not None
    db.session.delete(piece)
    db.session.flush()
    assert db.session.get(Piece, piece_id) is None
    assert _titles("ephemeral") == []
    _index_is_in_step()


def test_search_combines_with_filters_and_the_api_gives_the_same_pieces(client):
    jeweller = factories.jeweller()
    factories.piece(jeweller, title="Vicuña ring", category="ring", price_minor=300_00)
    factories.piece(jeweller, title="Vicuña chain", category="chain", price_minor=700_00)
    factories.piece(jeweller, title="Vicuña earrings", category="earrings", price_minor=900_00)
    db.session.commit()
    assert _titles("vicuna", category="chain") == ["Vicuña chain"]
    assert _titles("vicuna", max_price="800", sort="price_desc") == ["Vicuña chain",
                                                                     "Vicuña ring"]
    api = client.get("/api/v1/pieces?q=vicu&sort=price_asc").get_json()
    assert [p["title"] for p in api["items"]] == ["Vicuña ring", "Vicuña chain",
                                                  "Vicuña earrings"]
    assert api["filters"]["sort"] == "price_asc"
    page = client.get("/products?q=Vicu%C3%B1a").get_data(as_text=True)
    assert all(t in page for t in ("Vicuña ring", "Vicuña chain", "Vicuña earrings"))


@pytest.mark.parametrize("query", ["\"", "a AND", "NOT ring", "ring*", "-ring", "(ring",
                                   "ring OR chain", "ring:*", "'", "\\", "x" * 300, "ñ" * 50])
def test_query_syntax_is_never_an_error(client, query):
    assert client.get("/products", query_string={"q": query}).status_code == 200
    assert client.get("/api/v1/pieces", query_string={"q": query}).status_code == 200


def test_the_demo_catalog_is_found_by_its_words(app):
    rings = _titles("ring")
    assert rings and all("ring" in t.lower() or "ring" in "".join(
        p.description.lower() for p in db.session.scalars(
            sa.select(Piece).where(Piece.title == t))) for t in rings)
    _index_is_in_step()
