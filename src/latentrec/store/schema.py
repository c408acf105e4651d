"""The store's tables (SQLAlchemy Core) and the versioned schema: created and migrated on
open, under a lock, so two processes opening one database at once do it once.

The version lives in the one-row table ``lr_schema``; ``MIGRATIONS[v]`` takes a database
at version ``v - 1`` to ``v`` inside the same transaction that records ``v``.  Table names
carry an ``lr_`` prefix so the store can share a PostgreSQL database with other tables.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from .records import StoreError, genre_key, genre_spelling, search_key

SCHEMA_VERSION = 4

# Any constant works: PostgreSQL's advisory locks are keyed by one bigint per database.
# (The bytes spell "latentrc".)
MIGRATION_LOCK_KEY = 0x6C6174656E747263

metadata = sa.MetaData()

schema_table = sa.Table(
    "lr_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
)

# Row "writes": the global write sequence.  Every write transaction increments it
# first, which holds its row lock until commit, so sequence numbers follow commit order
# (a reader that saw number n has seen every write numbered below n) and writers never
# deadlock on the rows they touch after it.  Row "catalogue" (from the first catalogue
# write on): raised by every catalogue write, so that caches of the catalogue can tell.
counters = sa.Table(
    "lr_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# The current value per (user, item, kind): the latest explicit rating, or the summed
# weight of the events.
ratings = sa.Table(
    "lr_ratings",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
)

# A user's version: the write sequence number of the last write or delete that touched
# them.  The row outlives the user's ratings (delete_user keeps the id and version only),
# so a worker's cache learns of the erasure.  ``erased`` (version 2): the sequence number
# of the user's last erasure (delete_user), NULL if never erased.  It stays when they rate
# again: a user with no ratings left was erased only if it is set (deleting one's last
# rating is no erasure), and an erased user's training row is never used again.
users = sa.Table(
    "lr_users",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False, index=True),
    sa.Column("erased", sa.BigInteger, nullable=True),
)

# The catalogue.  ``title_key`` / ``id_key`` are the title and id that search matches
# against (records.search_key: ignoring case, how an accent was typed and the accent,
# with ø as o, æ as ae and the like; casefolded only before version 3, those letters
# as they were before version 4), the same way on every database.  Genres and
# features are JSON text.
items = sa.Table(
    "lr_items",
    metadata,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("title_key", sa.Text, nullable=True),
    sa.Column("id_key", sa.Text, nullable=False),
    sa.Column("genres", sa.Text, nullable=False),
    sa.Column("features", sa.Text, nullable=True),
    sa.Column("added_at", sa.Double, nullable=False),
)

item_genres = sa.Table(
    "lr_item_genres",
    metadata,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("genre", sa.Text, primary_key=True, index=True),
)


def create_v1(conn: sa.Connection) -> None:
    """Version 1: the tables above as they were then (``lr_users`` without ``erased``),
    and the write sequence at 0.  Frozen: later versions change the schema in their own
    steps, so that a new store and a migrated one end up the same."""
    v1 = sa.MetaData()
    for table in (schema_table, counters, ratings, items, item_genres):
        table.to_metadata(v1)
    sa.Table(
        users.name,
        v1,
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False, index=True),
    )
    v1.create_all(conn)
    conn.execute(sa.insert(counters).values(name="writes", value=0))


def add_erased_v2(conn: sa.Connection) -> None:
    """Version 2: ``lr_users.erased``.  A version-1 store cannot tell an erased user from
    one who deleted their last rating; both were served as erased, so a user with a row
    and no ratings is marked erased at their version (no erased training row comes back
    through the upgrade).  A user who rated again after an erasure cannot be told from
    one never erased and stays unmarked, as version 1 served them."""
    conn.execute(sa.text(f"ALTER TABLE {users.name} ADD COLUMN erased BIGINT"))
    rated = sa.select(ratings.c.user_id).where(ratings.c.user_id == users.c.user_id)
    conn.execute(sa.update(users).where(~rated.exists()).values(erased=users.c.version))


def stored_genres(item_id: str, text: str) -> list[str]:
    """An item's ``genres`` column read back: a JSON list of names; :class:`StoreError`
    naming the item when it is anything else (a store edited by hand).

    Example:
        >>> stored_genres("7", '["Crime", "Action"]')
        ['Crime', 'Action']
        >>> try:
        ...     stored_genres("7", "Crime|Action")
        ... except StoreError as err:
        ...     print(err)
        item '7': its stored genres 'Crime|Action' are not a JSON list of names
    """
    try:
        names = json.loads(text)
    except (TypeError, ValueError):
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise StoreError(
            f"item {item_id!r}: its stored genres {text!r} are not a JSON list of names"
        )
    return names


def one_spelling_per_genre_v3(conn: sa.Connection) -> int:
    """Version 3: each genre in one spelling.  A store written before genres were one
    genre whatever their case and Unicode form may hold ``Sci-Fi`` beside ``sci-fi``, or a
    composed ``Ébène`` beside a decomposed one, which training (``interactions()``),
    calibration and anything else reading items' genres counted as two genres.

    Every genre is rewritten in one spelling, stored form (stripped, NFC): the one most
    items have; on a tie, the one of the earliest added item, then code-point order.  An
    item naming one genre in two spellings keeps it once, where it first stood.  Items'
    ``genres`` and their genre rows are both rewritten, and the catalogue's change
    counter rises when anything changed, so that workers' copies of the catalogue are
    read again.  On a store already in one spelling it changes nothing.  Returns how
    many items it rewrote.

    Example:
        >>> from latentrec.store import Item, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", genres=("Sci-Fi",)), Item("2")])
        >>> with store.db.write() as conn:  # as an earlier version let it be written
        ...     two = items.c.item_id == "2"
        ...     _ = conn.execute(sa.update(items).where(two).values(genres='["sci-fi"]'))
        ...     _ = conn.execute(sa.insert(item_genres).values(item_id="2", genre="sci-fi"))
        ...     one_spelling_per_genre_v3(conn)
        1
        >>> store.get_item("2").genres  # one item each, added together: code-point order
        ('Sci-Fi',)
    """
    if conn.dialect.name == "postgresql":
        # Writers of an earlier version take no catalogue lock: keep the two tables
        # still until commit (readers go on), so no spelling is written meanwhile.
        conn.execute(sa.text(f"LOCK TABLE {items.name}, {item_genres.name} IN EXCLUSIVE MODE"))
    stmt = sa.select(items.c.item_id, items.c.genres, items.c.added_at).order_by(items.c.item_id)
    held = [(i, stored_genres(i, genres), float(added)) for i, genres, added in conn.execute(stmt)]
    tally: dict[str, dict[str, list]] = {}  # key -> spelling -> [items, earliest added_at]
    for _, names, added in held:
        for spelling in {genre_spelling(name) for name in names}:
            seen = tally.setdefault(genre_key(spelling), {}).setdefault(spelling, [0, added])
            seen[0] += 1
            seen[1] = min(seen[1], added)
    chosen = {
        key: min(found, key=lambda s, found=found: (-found[s][0], found[s][1], s))
        for key, found in tally.items()
    }
    rows: dict[str, set[str]] = {}
    for item_id, genre in conn.execute(sa.select(item_genres.c.item_id, item_genres.c.genre)):
        rows.setdefault(item_id, set()).add(genre)
    relisted, regenred = [], {}
    for item_id, names, _ in held:
        wanted = list(dict.fromkeys(chosen[genre_key(name)] for name in names))
        if wanted != names:
            relisted.append({"b_id": item_id, "b_genres": json.dumps(wanted, ensure_ascii=False)})
        if rows.get(item_id, set()) != set(wanted):
            regenred[item_id] = wanted
    relist = (
        sa.update(items)
        .where(items.c.item_id == sa.bindparam("b_id"))
        .values(genres=sa.bindparam("b_genres"))
    )
    for start in range(0, len(relisted), 5_000):
        conn.execute(relist, relisted[start : start + 5_000])
    ids = sorted(regenred)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id.in_(chunk)))
    new_rows = [{"item_id": i, "genre": g} for i in ids for g in regenred[i]]
    for start in range(0, len(new_rows), 5_000):
        conn.execute(sa.insert(item_genres), new_rows[start : start + 5_000])
    if relisted or regenred:
        # The counter writes.bump_catalogue raises (not imported: writes imports this).
        name = counters.c.name == "catalogue"
        raised = conn.execute(sa.update(counters).where(name).values(value=counters.c.value + 1))
        if not raised.rowcount:
            conn.execute(sa.insert(counters).values(name="catalogue", value=1))
    return len({row["b_id"] for row in relisted} | set(regenred))


def remake_search_keys(conn: sa.Connection) -> int:
    """Each item's search keys (``title_key``, ``id_key``) made again by
    :func:`~.records.search_key`, for an upgrade after which the keys are made otherwise.
    Titles and ids themselves are left as they are (a rating refers to an id).  Only the
    rows whose keys differ are written; the number written is returned.  The catalogue's
    change counter stays: no copy of the catalogue a worker keeps holds the keys (search
    reads the table).

    Example:
        >>> from latentrec.store import Item, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", "Bj\u00f8rk"), Item("2", "Heat")])
        >>> with store.db.write() as conn:  # as version 3 wrote it
        ...     one = items.c.item_id == "1"
        ...     _ = conn.execute(sa.update(items).where(one).values(title_key="bj\u00f8rk"))
        ...     remake_search_keys(conn)
        1
        >>> [i.item_id for i in store.search_items("bjork")]
        ['1']
    """
    if conn.dialect.name == "postgresql":
        # As in one_spelling_per_genre_v3 (a no-op when it already holds the lock): a
        # writer of an earlier version would write a key made its way meanwhile.
        conn.execute(sa.text(f"LOCK TABLE {items.name}, {item_genres.name} IN EXCLUSIVE MODE"))
    stmt = sa.select(items.c.item_id, items.c.title, items.c.title_key, items.c.id_key)
    rekeyed = []
    for item_id, title, title_key, id_key in conn.execute(stmt.order_by(items.c.item_id)):
        want = (None if title is None else search_key(title), search_key(item_id))
        if (title_key, id_key) != want:
            rekeyed.append({"b_id": item_id, "b_title_key": want[0], "b_id_key": want[1]})
    rekey = (
        sa.update(items)
        .where(items.c.item_id == sa.bindparam("b_id"))
        .values(title_key=sa.bindparam("b_title_key"), id_key=sa.bindparam("b_id_key"))
    )
    for start in range(0, len(rekeyed), 5_000):
        conn.execute(rekey, rekeyed[start : start + 5_000])
    return len(rekeyed)


def search_keys_v3(conn: sa.Connection) -> int:
    """Version 3 too: each item's search keys made again (:func:`remake_search_keys`).
    Before, they were the casefolded title and id as given, so a title stored with a
    composed ``é`` was not found by a search typed with ``e`` plus an accent (a macOS
    keyboard, some web forms), nor the other way round, nor by ``amelie``.  Returns the
    number of items whose keys were written.

    Example:
        >>> from latentrec.store import Item, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", "Am\u00e9lie"), Item("2", "Heat")])
        >>> with store.db.write() as conn:  # as an earlier version wrote it
        ...     one = items.c.item_id == "1"
        ...     _ = conn.execute(sa.update(items).where(one).values(title_key="am\u00e9lie"))
        ...     search_keys_v3(conn)
        1
        >>> [i.item_id for i in store.search_items("Ame\u0301lie")]
        ['1']
    """
    return remake_search_keys(conn)


def upgrade_v3(conn: sa.Connection) -> str:
    """Version 3: each genre in one spelling (:func:`one_spelling_per_genre_v3`) and
    search keys that ignore how an accent was typed (:func:`search_keys_v3`), in the
    one transaction that records the version.  Returns what it changed, in words.

    Example:
        >>> from latentrec.store import Item, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", "Am\u00e9lie", ("Drama",))])
        >>> with store.db.write() as conn:
        ...     upgrade_v3(conn)  # a store this version made: nothing to change
        "0 items' genres put in one spelling, 0 items' search keys made again"
        >>> item = store.search_items("amelie")[0]
        >>> item.title, item.genres
        ('Amélie', ('Drama',))
    """
    respelled = one_spelling_per_genre_v3(conn)
    rekeyed = search_keys_v3(conn)
    return f"{respelled} items' genres put in one spelling, {rekeyed} items' search keys made again"


def upgrade_v4(conn: sa.Connection) -> str:
    """Version 4: search keys that spell the Latin letters Unicode does not decompose as
    a user types them (``ø`` as ``o``, ``ł`` as ``l``, ``æ`` as ``ae``, ``þ`` as ``th``;
    :data:`~.records.FOLDED_LETTERS`), made again by :func:`remake_search_keys`.
    Version 3's keys dropped accents but kept those letters, so ``bjork`` did not find
    ``Bjørk`` nor ``lodz`` ``Łódź``.  Returns what it changed, in words.

    Example:
        >>> from latentrec.store import Item, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", "\u0141\u00f3d\u017a")])
        >>> with store.db.write() as conn:
        ...     upgrade_v4(conn)  # a store at version 4 already: nothing to change
        "0 items' search keys made again"
        >>> [i.title for i in store.search_items("lodz")]
        ['Łódź']
    """
    return f"{remake_search_keys(conn)} items' search keys made again"


MIGRATIONS = {1: create_v1, 2: add_erased_v2, 3: upgrade_v3, 4: upgrade_v4}


def stored_version(conn: sa.Connection) -> int:
    """The schema version a database holds; 0 when it has no store yet.

    Example:
        >>> engine = sa.create_engine("sqlite://")
        >>> with engine.begin() as conn:
        ...     before = stored_version(conn)
        ...     after = migrate(conn, "sqlite")
        >>> before, after, SCHEMA_VERSION
        (0, 4, 4)
    """
    if not sa.inspect(conn).has_table(schema_table.name):
        return 0
    version = conn.execute(sa.select(schema_table.c.version)).scalar()
    return int(version or 0)


def check_version(current: int) -> int:
    """``current`` (a stored schema version), unless it is newer than this code reads:
    then :class:`StoreError`, so that such a store is refused rather than touched.

    Example:
        >>> check_version(SCHEMA_VERSION) == SCHEMA_VERSION
        True
        >>> try:
        ...     check_version(SCHEMA_VERSION + 1)
        ... except StoreError as err:
        ...     print(err)  # doctest: +ELLIPSIS
        the store's schema is version 5, newer than this latentrec understands (version 4); ...
    """
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the store's schema is version {current}, newer than this latentrec understands "
            f"(version {SCHEMA_VERSION}); upgrade latentrec"
        )
    return current


def migrate(conn: sa.Connection, dialect: str, done: list[str] | None = None) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` inside the caller's write transaction.

    On SQLite the caller's ``BEGIN IMMEDIATE`` already holds the database's write lock;
    on PostgreSQL a transaction-level advisory lock serialises concurrent openers.  A
    database newer than this code is refused rather than touched.  ``done`` (when
    given) gets one line per version an existing store was upgraded to, saying what
    changed (an upgrade rewrites data, and whoever opened the store should be told).

    Example:
        >>> engine = sa.create_engine("sqlite://")
        >>> done = []
        >>> with engine.begin() as conn:
        ...     migrate(conn, "sqlite", done)
        4
        >>> done  # a new store: nothing upgraded
        []
    """
    if dialect == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
    current = check_version(stored_version(conn))
    for version in range(current + 1, SCHEMA_VERSION + 1):
        changed = MIGRATIONS[version](conn)
        if current and done is not None:
            line = f"schema version {version - 1} to {version}"
            done.append(f"{line}: {changed}" if isinstance(changed, str) else line)
    if current == 0:
        conn.execute(sa.insert(schema_table).values(id=1, version=SCHEMA_VERSION))
    elif current < SCHEMA_VERSION:
        conn.execute(sa.update(schema_table).values(version=SCHEMA_VERSION))
    return SCHEMA_VERSION
