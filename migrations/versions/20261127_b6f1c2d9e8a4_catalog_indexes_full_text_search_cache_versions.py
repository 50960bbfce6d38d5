"""catalog indexes, full-text search, cache versions

Indexes for every filter and sort of the catalog, the lot registry, custody chains, the gold
ledger per lot and the order lists; the full-text index of pieces (SQLite FTS5 external-content
table over a view, PostgreSQL tsvector table with a GIN index, both kept in step by triggers;
see marketplace/catalog/search.py); the cache version row of the public figures.

Revision ID: b6f1c2d9e8a4
Revises: d3f048977086
Create Date: 2026-11-27 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import marketplace.db


# revision identifiers, used by Alembic.
revision = 'b6f1c2d9e8a4'
down_revision = 'd3f048977086'
branch_labels = None
depends_on = None


# --- indexes ----------------------------------------------------------------------------------

#: (table, name, columns) created by this revision.
NEW_INDEXES = [
    ("piece", "ix_piece_status_fine", ["status", "fine_mg", "id"]),
    ("gold_lot", "ix_gold_lot_registry_order", ["extraction_start", "code"]),
    ("custody_event", "ix_custody_event_lot_kind", ["lot_id", "kind"]),
    ("custody_event", "ix_custody_event_lot_jeweller", ["lot_id", "jeweller_id"]),
    ("ledger_account", "ix_ledger_account_lot_kind", ["lot_id", "kind"]),
    ("shop_order", "ix_shop_order_placed", ["placed_at", "id"]),
    ("shop_order", "ix_shop_order_user_placed", ["user_id", "placed_at"]),
]
#: (table, name, columns before, columns after): sorts that now end with the id tie-breaker.
WIDENED_INDEXES = [
    ("piece", "ix_piece_status_created", ["status", "created_at"], ["status", "created_at", "id"]),
    ("piece", "ix_piece_status_price", ["status", "price_minor"], ["status", "price_minor", "id"]),
    # category and karat together: the count of a filtered catalog reads the index only
    ("piece", "ix_piece_status_category", ["status", "category"], ["status", "category", "karat"]),
]


# --- SQLite: FTS5 over a view -----------------------------------------------------------------

SQLITE_VIEW = """
CREATE VIEW piece_search_source AS
SELECT p.id AS piece_id,
       p.title AS title,
       p.description AS description,
       coalesce((SELECT j.business_name FROM jeweller AS j WHERE j.id = p.jeweller_id), '')
           AS jeweller,
       coalesce((SELECT group_concat(names.label, ' ') FROM (
                    SELECT DISTINCT c.name || ' ' || c.short_name AS label
                    FROM piece_gold AS g
                    JOIN gold_lot AS l ON l.id = g.lot_id
                    JOIN cooperative AS c ON c.id = l.cooperative_id
                    WHERE g.piece_id = p.id
                    ORDER BY label) AS names), '')
           AS cooperatives
FROM piece AS p
"""

SQLITE_TABLE = """
CREATE VIRTUAL TABLE piece_fts USING fts5(
    title, description, jeweller, cooperatives,
    content='piece_search_source', content_rowid='piece_id',
    tokenize='porter unicode61 remove_diacritics 2'
)
"""

_COLUMNS = "title, description, jeweller, cooperatives"


def _forget(where):
    """Take the documents of the pieces ``where`` out of the index (with their current text,
    as an external-content table needs)."""
    return (
        f"INSERT INTO piece_fts(piece_fts, rowid, {_COLUMNS}) "
        f"SELECT 'delete', piece_id, {_COLUMNS} FROM piece_search_source WHERE piece_id {where};"
    )


def _index(where):
    """Put the documents of the pieces ``where`` into the index."""
    return (
        f"INSERT INTO piece_fts(rowid, {_COLUMNS}) "
        f"SELECT piece_id, {_COLUMNS} FROM piece_search_source WHERE piece_id {where};"
    )


_OF_COOPERATIVE = (
    "IN (SELECT g.piece_id FROM piece_gold AS g JOIN gold_lot AS l ON l.id = g.lot_id "
    "WHERE l.cooperative_id = {row}.id)"
)

#: (name, timing and event, body): each change is taken out of the index before it happens and
#: put back after, so the index always holds exactly what the view says.
SQLITE_TRIGGERS = [
    ("piece_fts_piece_ai", "AFTER INSERT ON piece", _index("= new.id")),
    ("piece_fts_piece_bu", "BEFORE UPDATE OF title, description, jeweller_id ON piece",
     _forget("= old.id")),
    ("piece_fts_piece_au", "AFTER UPDATE OF title, description, jeweller_id ON piece",
     _index("= new.id")),
    ("piece_fts_piece_bd", "BEFORE DELETE ON piece", _forget("= old.id")),
    ("piece_fts_gold_bi", "BEFORE INSERT ON piece_gold", _forget("= new.piece_id")),
    ("piece_fts_gold_ai", "AFTER INSERT ON piece_gold", _index("= new.piece_id")),
    ("piece_fts_gold_bu", "BEFORE UPDATE OF piece_id, lot_id ON piece_gold",
     _forget("IN (old.piece_id, new.piece_id)")),
    ("piece_fts_gold_au", "AFTER UPDATE OF piece_id, lot_id ON piece_gold",
     _index("IN (old.piece_id, new.piece_id)")),
    ("piece_fts_gold_bd", "BEFORE DELETE ON piece_gold", _forget("= old.piece_id")),
    ("piece_fts_gold_ad", "AFTER DELETE ON piece_gold", _index("= old.piece_id")),
    ("piece_fts_jeweller_bu", "BEFORE UPDATE OF business_name ON jeweller",
     _forget("IN (SELECT id FROM piece WHERE jeweller_id = old.id)")),
    ("piece_fts_jeweller_au", "AFTER UPDATE OF business_name ON jeweller",
     _index("IN (SELECT id FROM piece WHERE jeweller_id = new.id)")),
    ("piece_fts_cooperative_bu", "BEFORE UPDATE OF name, short_name ON cooperative",
     _forget(_OF_COOPERATIVE.format(row="old"))),
    ("piece_fts_cooperative_au", "AFTER UPDATE OF name, short_name ON cooperative",
     _index(_OF_COOPERATIVE.format(row="new"))),
    ("piece_fts_lot_bu", "BEFORE UPDATE OF cooperative_id ON gold_lot",
     _forget("IN (SELECT piece_id FROM piece_gold WHERE lot_id = old.id)")),
    ("piece_fts_lot_au", "AFTER UPDATE OF cooperative_id ON gold_lot",
     _index("IN (SELECT piece_id FROM piece_gold WHERE lot_id = new.id)")),
]


def _sqlite_upgrade():
    op.execute(SQLITE_VIEW)
    op.execute(SQLITE_TABLE)
    for name, when, body in SQLITE_TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    op.execute("INSERT INTO piece_fts(piece_fts) VALUES ('rebuild')")


def _sqlite_downgrade():
    for name, _when, _body in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS piece_fts")
    op.execute("DROP VIEW IF EXISTS piece_search_source")


# --- PostgreSQL: a tsvector per piece ---------------------------------------------------------


#: Combining marks (what ``unicodedata.combining`` finds in Latin text): taken off after NFKD.
COMBINING_MARKS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"


def _postgres_statements():
    cooperatives_of_piece = (
        "(SELECT string_agg(DISTINCT c.name || ' ' || c.short_name, ' ') "
        "FROM piece_gold AS g JOIN gold_lot AS l ON l.id = g.lot_id "
        "JOIN cooperative AS c ON c.id = l.cooperative_id WHERE g.piece_id = p.id)"
    )
    return [
        # Lower case without accents, as Python's NFKD folding and SQLite's remove_diacritics do.
        f"""
        CREATE FUNCTION piece_search_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT lower(regexp_replace(normalize(coalesce(value, ''), NFKD),
                                          '{COMBINING_MARKS}', '', 'g')) $$
        """,
        """
        CREATE FUNCTION piece_search_vector(value text, weight "char") RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT setweight(
                 to_tsvector('simple'::regconfig, folded.text)
                 || to_tsvector('spanish'::regconfig, folded.text)
                 || to_tsvector('english'::regconfig, folded.text),
                 weight)
              FROM (SELECT piece_search_fold(value) AS text) AS folded $$
        """,
        """
        CREATE TABLE piece_search (
            piece_id integer NOT NULL,
            document tsvector NOT NULL,
            CONSTRAINT pk_piece_search PRIMARY KEY (piece_id),
            CONSTRAINT fk_piece_search_piece_id_piece FOREIGN KEY (piece_id)
                REFERENCES piece (id) ON DELETE CASCADE
        )
        """,
        "CREATE INDEX ix_piece_search_document ON piece_search USING gin (document)",
        f"""
        CREATE FUNCTION piece_search_refresh(piece_ids integer[]) RETURNS void
        LANGUAGE sql
        AS $$
            INSERT INTO piece_search (piece_id, document)
            SELECT p.id,
                   piece_search_vector(p.title, 'A')
                   || piece_search_vector(coalesce(j.business_name, ''), 'B')
                   || piece_search_vector(coalesce({cooperatives_of_piece}, ''), 'B')
                   || piece_search_vector(p.description, 'C')
            FROM (SELECT DISTINCT unnest(piece_ids) AS id) AS wanted
            JOIN piece AS p ON p.id = wanted.id
            LEFT JOIN jeweller AS j ON j.id = p.jeweller_id
            ON CONFLICT (piece_id) DO UPDATE SET document = EXCLUDED.document
        $$
        """,
        # New pieces and new or removed gold: once per statement, so bulk loads stay fast.
        """
        CREATE FUNCTION piece_search_new_pieces() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(SELECT id FROM new_rows));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_piece_insert AFTER INSERT ON piece
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION piece_search_new_pieces()
        """,
        """
        CREATE FUNCTION piece_search_piece_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY[NEW.id]);
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_piece_update
        AFTER UPDATE OF title, description, jeweller_id ON piece FOR EACH ROW
        WHEN (OLD.title IS DISTINCT FROM NEW.title
              OR OLD.description IS DISTINCT FROM NEW.description
              OR OLD.jeweller_id IS DISTINCT FROM NEW.jeweller_id)
        EXECUTE FUNCTION piece_search_piece_changed()
        """,
        """
        CREATE FUNCTION piece_search_gold_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(SELECT DISTINCT piece_id FROM new_rows));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_gold_insert AFTER INSERT ON piece_gold
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION piece_search_gold_added()
        """,
        """
        CREATE FUNCTION piece_search_gold_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(SELECT DISTINCT piece_id FROM old_rows));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_gold_delete AFTER DELETE ON piece_gold
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION piece_search_gold_removed()
        """,
        """
        CREATE FUNCTION piece_search_gold_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY[OLD.piece_id, NEW.piece_id]);
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_gold_update
        AFTER UPDATE OF piece_id, lot_id ON piece_gold FOR EACH ROW
        WHEN (OLD.piece_id IS DISTINCT FROM NEW.piece_id OR OLD.lot_id IS DISTINCT FROM NEW.lot_id)
        EXECUTE FUNCTION piece_search_gold_moved()
        """,
        """
        CREATE FUNCTION piece_search_jeweller_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(SELECT id FROM piece WHERE jeweller_id = NEW.id));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_jeweller_update
        AFTER UPDATE OF business_name ON jeweller FOR EACH ROW
        WHEN (OLD.business_name IS DISTINCT FROM NEW.business_name)
        EXECUTE FUNCTION piece_search_jeweller_renamed()
        """,
        """
        CREATE FUNCTION piece_search_cooperative_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(
                SELECT DISTINCT g.piece_id FROM piece_gold AS g
                JOIN gold_lot AS l ON l.id = g.lot_id WHERE l.cooperative_id = NEW.id));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_cooperative_update
        AFTER UPDATE OF name, short_name ON cooperative FOR EACH ROW
        WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.short_name IS DISTINCT FROM NEW.short_name)
        EXECUTE FUNCTION piece_search_cooperative_renamed()
        """,
        """
        CREATE FUNCTION piece_search_lot_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM piece_search_refresh(ARRAY(
                SELECT DISTINCT piece_id FROM piece_gold WHERE lot_id = NEW.id));
            RETURN NULL;
        END $$
        """,
        """
        CREATE TRIGGER piece_search_lot_update
        AFTER UPDATE OF cooperative_id ON gold_lot FOR EACH ROW
        WHEN (OLD.cooperative_id IS DISTINCT FROM NEW.cooperative_id)
        EXECUTE FUNCTION piece_search_lot_moved()
        """,
        "SELECT piece_search_refresh(ARRAY(SELECT id FROM piece))",
    ]


POSTGRES_TRIGGERS = [
    ("piece_search_piece_insert", "piece"),
    ("piece_search_piece_update", "piece"),
    ("piece_search_gold_insert", "piece_gold"),
    ("piece_search_gold_delete", "piece_gold"),
    ("piece_search_gold_update", "piece_gold"),
    ("piece_search_jeweller_update", "jeweller"),
    ("piece_search_cooperative_update", "cooperative"),
    ("piece_search_lot_update", "gold_lot"),
]
POSTGRES_FUNCTIONS = [
    "piece_search_new_pieces()",
    "piece_search_piece_changed()",
    "piece_search_gold_added()",
    "piece_search_gold_removed()",
    "piece_search_gold_moved()",
    "piece_search_jeweller_renamed()",
    "piece_search_cooperative_renamed()",
    "piece_search_lot_moved()",
    "piece_search_refresh(integer[])",
    "piece_search_vector(text, \"char\")",
    "piece_search_fold(text)",
]


def _postgres_upgrade():
    for statement in _postgres_statements():
        op.execute(statement)


def _postgres_downgrade():
    for trigger, table in POSTGRES_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute("DROP TABLE IF EXISTS piece_search")
    for function in POSTGRES_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")


# --- the revision -----------------------------------------------------------------------------


def upgrade():
    for table, name, before, after in WIDENED_INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)
    for table, name, columns in NEW_INDEXES:
        op.create_index(name, table, columns, unique=False)

    op.create_table(
        'cache_version',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_version')),
    )
    op.execute(
        "INSERT INTO cache_version (name, token) "
        "VALUES ('public_figures', 'initial'), ('public_pages', 'initial')"
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
    elif dialect == "postgresql":
        _postgres_upgrade()


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_downgrade()
    elif dialect == "postgresql":
        _postgres_downgrade()

    op.drop_table('cache_version')
    for table, name, _columns in reversed(NEW_INDEXES):
        op.drop_index(name, table_name=table)
    for table, name, before, after in WIDENED_INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
