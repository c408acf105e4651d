"""The item catalogue in the store: writing items and their genre rows, reading them back,
the search statement, and the conversions to and from an ``Interactions`` side table.

Search matches copies of the title and id folded by :func:`~.records.search_key`
(``title_key``, ``id_key``: ignoring case, how an accent was typed and the accent
itself, so ``amelie`` and an ``Amélie`` typed either way find ``Amélie``, and with the
Latin letters Unicode does not decompose spelled as typed, so ``bjork`` finds ``Bjørk``
and ``aeon`` ``Æon``) with LIKE
patterns whose wildcards are escaped, so it behaves the same on SQLite and PostgreSQL
and ``%`` or ``_`` in the search text are ordinary characters.  A search of accents
alone (nothing left once they are ignored) finds nothing; a search over
:data:`MAX_SEARCH` characters is refused, on both databases (SQLite's LIKE takes no
longer pattern).  Titles and ids are
stored as given; only the keys are folded.  Titles that start with the search text come
first, then those with a word that starts with it, then the other matches.

A genre is one genre whatever its case or Unicode form: a name differing from one the
catalogue has only in case, surrounding blanks or composed and decomposed accents
(``É`` as one character or as ``E`` plus an accent; names are stored composed, NFC) is
written in the catalogue's spelling, and the list of genres names each once (see
:func:`catalogue_spellings`).  A store written before kept every spelling it was given;
opening it rewrites them in one (schema version 3, ``schema.one_spelling_per_genre_v3``),
and the filter still finds every spelling the genre rows hold, however they got there.
The match (:func:`~.records.genre_key`) is done in Python, so it is the same on SQLite
and PostgreSQL, and the filter still uses the index on the genre column (an ``IN`` over
the spellings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..data import Interactions
from ..data.genres import genre_label_lists
from .records import (
    GENRE_SEP,
    RESERVED_FEATURES,
    Item,
    StoreError,
    check_id,
    check_items,
    genre_key,
    genre_spelling,
    search_key,
)
from .schema import item_genres, items
from .writes import CATALOGUE_COUNTER, CHUNK, IN_CHUNK, bump_catalogue, insert, read_counter

# The most rows one search returns.
MAX_LIMIT = 10_000

# The longest search text, in characters: SQLite refuses a LIKE pattern over 50,000
# bytes ("pattern too complex", which read as the store failing), and a character's
# search key, escaped, takes at most 12 bytes.  PostgreSQL has no such limit; the same
# one holds on both so that a search behaves alike.
MAX_SEARCH = 4_000

# What may stand before a word of a title, for search's "a word starts with it".
WORD_STARTS = (" ", "(", "-", "/", '"')

REPLACED = ("title", "title_key", "id_key", "genres", "features")

# PostgreSQL's transaction-level advisory lock that serialises catalogue writers, so that
# two writers giving a new genre in two spellings at once do not both add theirs.  (The
# bytes spell "lrgenres"; SQLite's writers are serialised already.)
CATALOGUE_LOCK_KEY = 0x6C7267656E726573


def item_params(item: Item, now: float) -> dict:
    """The column values of one checked item: its title and id as given, and their
    search keys (:func:`~.records.search_key`).

    Example:
        >>> params = item_params(Item("7", "Am\u00e9lie", ("Drama",)), now=1.0)
        >>> params["title"], params["title_key"]
        ('Amélie', 'amelie')
    """
    return {
        "item_id": item.item_id,
        "title": item.title,
        "title_key": None if item.title is None else search_key(item.title),
        "id_key": search_key(item.item_id),
        "genres": json.dumps(list(item.genres), ensure_ascii=False),
        "features": None
        if item.features is None
        else json.dumps(item.features, ensure_ascii=False, sort_keys=True),
        "added_at": now if item.added_at is None else item.added_at,
    }


def pick_spelling(counts: dict[str, int]) -> str:
    """The spelling a genre is shown and written in, of those a catalogue holds (with how
    many items have each): the most used, then the first in code-point order.

    Example:
        >>> pick_spelling({"sci-fi": 1, "Sci-Fi": 40}), pick_spelling({"b": 2, "B": 2})
        ('Sci-Fi', 'B')
    """
    return min(counts, key=lambda name: (-counts[name], name))


def one_spelling_each(genre_lists: Iterable[Iterable[str]]) -> list[list[str]]:
    """Items' genre names (one list per item) with each genre in one spelling, as the
    catalogue shows it (:func:`catalogue_spellings`: the one most of these items have,
    then code-point order), each once per item, in the order first named.

    For what reads every item's genres (training's side table, calibration's genre
    matrix): version 3 leaves a store in one spelling per genre, but a writer of an
    earlier version still running, or a program writing the table past the store, can
    add another (``sci-fi`` beside ``Sci-Fi``), which would be counted as a genre of
    its own.

    Example:
        >>> one_spelling_each([["Sci-Fi", "Drama"], ["sci-fi"], ["SCI-FI ", "Sci-Fi"]])
        [['Sci-Fi', 'Drama'], ['Sci-Fi'], ['Sci-Fi']]
    """
    lists = [list(names) for names in genre_lists]
    seen: dict[str, tuple[str, str]] = {}  # name as held -> (key, stored spelling)
    counts: dict[str, dict[str, int]] = {}
    for names in lists:
        for name in names:
            if name not in seen:
                seen[name] = (genre_key(name), genre_spelling(name))
        for key, spelling in {seen[name] for name in names}:
            held = counts.setdefault(key, {})
            held[spelling] = held.get(spelling, 0) + 1
    chosen = {key: pick_spelling(held) for key, held in counts.items()}
    return [list(dict.fromkeys(chosen[seen[name][0]] for name in names)) for names in lists]


def catalogue_spellings(conn: sa.Connection) -> dict[str, str]:
    """Each genre of the catalogue by its :func:`~.records.genre_key`: the one spelling
    it is shown and written in (:func:`pick_spelling`).

    Since genres are matched ignoring case each has one spelling (an older store's are
    made one on upgrade), but rows written past the store's writers may hold several
    (``Sci-Fi`` and ``sci-fi``).  Names are
    counted in their stored form (:func:`~.records.genre_spelling`), so an ``É`` held
    decomposed counts as, and is shown as, the composed one.

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", genres=("Sci-Fi",))])
        >>> with store.db.read() as conn:
        ...     catalogue_spellings(conn)
        {'sci-fi': 'Sci-Fi'}
    """
    stmt = sa.select(item_genres.c.genre, sa.func.count()).group_by(item_genres.c.genre)
    by_key: dict[str, dict[str, int]] = {}
    for name, count in conn.execute(stmt):
        held = by_key.setdefault(genre_key(name), {})
        spelling = genre_spelling(name)
        held[spelling] = held.get(spelling, 0) + int(count)
    return {key: pick_spelling(counts) for key, counts in by_key.items()}


def genre_spellings(conn: sa.Connection, genre: str) -> list[str]:
    """Every spelling of ``genre`` (ignoring case) the catalogue holds, sorted; empty
    when it has no such genre.

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("1", genres=("Sci-Fi",))])
        >>> with store.db.read() as conn:
        ...     genre_spellings(conn, "SCI-FI "), genre_spellings(conn, "Drama")
        (['Sci-Fi'], [])
    """
    key = genre_key(genre)
    names = conn.execute(sa.select(item_genres.c.genre).distinct()).scalars()
    return sorted(name for name in names if genre_key(name) == key)


def spelled(checked: Iterable[Item], spellings: dict[str, str]) -> list[Item]:
    """``checked`` with each genre in the catalogue's spelling (``spellings``, by key,
    from :func:`catalogue_spellings`); a genre new to the catalogue takes its first
    spelling in the batch, which ``spellings`` then holds.  An item naming one genre in
    two spellings has it once.

    Example:
        >>> spellings = {"sci-fi": "Sci-Fi"}
        >>> items = spelled([Item("1", genres=("sci-fi", "war")), Item("2", genres=("WAR",))],
        ...                 spellings)
        >>> [i.genres for i in items], spellings["war"]
        ([('Sci-Fi', 'war'), ('war',)], 'war')
    """
    out = []
    for item in checked:
        names = [spellings.setdefault(genre_key(g), g) for g in item.genres]
        genres = tuple(dict.fromkeys(names))
        out.append(item if genres == item.genres else replace(item, genres=genres))
    return out


def last_of_each(checked: Iterable[Item]) -> list[Item]:
    """The last item of each id, in the order of their last places in ``checked`` (the
    order in which their genres' spellings are taken).

    Example:
        >>> [i.title for i in last_of_each([Item("1", "a"), Item("2", "b"), Item("1", "c")])]
        ['b', 'c']
    """
    latest: dict[str, Item] = {}
    for item in checked:
        latest.pop(item.item_id, None)
        latest[item.item_id] = item
    return list(latest.values())


def lock_catalogue(conn: sa.Connection, dialect: str) -> None:
    """Serialise catalogue writers (on PostgreSQL; SQLite's are already) until commit, so
    that the spellings a writer reads are those every earlier writer left."""
    if dialect == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CATALOGUE_LOCK_KEY)))


# The fields an edit may keep (RatingsStore.add_items' ``keep``), and their columns.
KEEPABLE = {
    "title": ("title", "title_key"),
    "genres": ("genres",),
    "features": ("features",),
}


def check_kept(keep) -> tuple[str, ...]:
    """``keep`` of :meth:`~latentrec.store.RatingsStore.add_items` as a tuple of field
    names; ``StoreError`` naming an unknown one.

    Example:
        >>> check_kept(["genres", "title"])
        ('genres', 'title')
        >>> try:
        ...     check_kept(["year"])
        ... except StoreError as err:
        ...     print(err)
        keep names unknown field 'year'; it takes title, genres, features
    """
    if isinstance(keep, str):
        keep = (keep,)
    keep = tuple(keep)
    for name in keep:
        if name not in KEEPABLE:
            raise StoreError(f"keep names unknown field {name!r}; it takes {', '.join(KEEPABLE)}")
    return keep


def write_items(
    conn: sa.Connection, dialect: str, checked: list[Item], now: float, keep=()
) -> None:
    """Upsert checked items (the last of repeated ids wins) and replace their genre rows.

    A replaced item keeps its ``added_at`` unless the new one gives it, and the fields
    named in ``keep`` (:data:`KEEPABLE`): the upsert does not set their columns, and
    with ``"genres"`` kept the genre rows of the items already stored stay (those
    stored are read under the catalogue's lock, which every catalogue writer takes, so
    none is added meanwhile).  Genres are written in the catalogue's spelling
    (:func:`spelled`).  The catalogue's change counter rises (see
    ``writes.bump_catalogue``).
    """
    lock_catalogue(conn, dialect)
    latest = last_of_each(checked)
    held: set[str] = set()
    if "genres" in keep:
        for start in range(0, len(latest), IN_CHUNK):
            chunk = [item.item_id for item in latest[start : start + IN_CHUNK]]
            stmt = sa.select(items.c.item_id).where(items.c.item_id.in_(chunk))
            held.update(conn.execute(stmt).scalars())
        # The kept genres take no part in choosing a new genre's spelling.
        latest = [replace(item, genres=()) if item.item_id in held else item for item in latest]
    latest = spelled(latest, catalogue_spellings(conn))
    latest = {item.item_id: item for item in latest}
    ids = sorted(latest)
    kept_columns = {c for name in keep for c in KEEPABLE[name]}
    ins = insert(dialect, items)
    for given in (False, True):
        kept = tuple(c for c in REPLACED if c not in kept_columns)
        kept += ("added_at",) if given else ()
        # id_key is in REPLACED, so there is always a column to set (DO UPDATE, not
        # DO NOTHING, whose RETURNING and row counts differ).
        stmt = ins.on_conflict_do_update(
            index_elements=[items.c.item_id], set_={c: ins.excluded[c] for c in kept}
        )
        params = [
            item_params(latest[i], now) for i in ids if (latest[i].added_at is not None) is given
        ]
        for start in range(0, len(params), CHUNK):
            conn.execute(stmt, params[start : start + CHUNK])
    rewritten = [i for i in ids if i not in held]
    for start in range(0, len(rewritten), IN_CHUNK):
        chunk = rewritten[start : start + IN_CHUNK]
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id.in_(chunk)))
    genre_rows = [{"item_id": i, "genre": g} for i in rewritten for g in latest[i].genres]
    for start in range(0, len(genre_rows), CHUNK):
        conn.execute(sa.insert(item_genres), genre_rows[start : start + CHUNK])
    bump_catalogue(conn, dialect)


def insert_missing_items(
    conn: sa.Connection, dialect: str, checked: list[Item], now: float
) -> list[str]:
    """Insert the checked items whose ids the catalogue lacks, with their genre rows;
    the ids inserted (sorted).  An entry already there is left as it is, whoever wrote
    it and whenever: the database decides (``ON CONFLICT DO NOTHING``), so writers doing
    this at once insert each id once between them and never overwrite one another.  The
    catalogue's change counter rises only when something was inserted.  Genres are
    written in the catalogue's spelling (:func:`spelled`).
    """
    lock_catalogue(conn, dialect)
    given = last_of_each(checked)
    held: set[str] = set()
    for start in range(0, len(given), IN_CHUNK):
        chunk = [item.item_id for item in given[start : start + IN_CHUNK]]
        held.update(
            conn.execute(sa.select(items.c.item_id).where(items.c.item_id.in_(chunk))).scalars()
        )
    # Only the entries written take part in choosing a new genre's spelling.
    fresh = spelled([item for item in given if item.item_id not in held], catalogue_spellings(conn))
    latest = {item.item_id: item for item in fresh}
    ids = sorted(latest)
    stmt = (
        insert(dialect, items)
        .on_conflict_do_nothing(index_elements=[items.c.item_id])
        .returning(items.c.item_id)
    )
    inserted: list[str] = []
    for start in range(0, len(ids), CHUNK):
        params = [item_params(latest[i], now) for i in ids[start : start + CHUNK]]
        inserted.extend(conn.execute(stmt, params).scalars())
    inserted.sort()
    genre_rows = [{"item_id": i, "genre": g} for i in inserted for g in latest[i].genres]
    for start in range(0, len(genre_rows), CHUNK):
        conn.execute(sa.insert(item_genres), genre_rows[start : start + CHUNK])
    if inserted:
        bump_catalogue(conn, dialect)
    return inserted


def item_from_row(row) -> Item:
    """An :class:`Item` from a row of the items table."""
    features = None if row.features is None else json.loads(row.features)
    return Item(
        row.item_id, row.title, tuple(json.loads(row.genres)), features, float(row.added_at)
    )


# The columns :func:`item_from_row` reads (not the search keys).
ITEM_COLUMNS = (
    items.c.item_id,
    items.c.title,
    items.c.genres,
    items.c.features,
    items.c.added_at,
)


def catalogue_page(conn: sa.Connection, after: str | None, limit: int) -> list:
    """Up to ``limit`` rows of the items table (the columns :func:`item_from_row` reads)
    whose ids follow ``after`` (from the first when ``None``), in id order: one step of
    a walk over the whole catalogue by its primary key.

    Each step is a range of the primary key's index, however far the walk has gone (an
    ``OFFSET`` reads and skips every row before it), and no title is met twice or
    skipped, whatever titles are added or renamed between steps.

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("b", "Up"), Item("a", "Heat"), Item("c", "Ran")])
        >>> with store.db.read() as conn:
        ...     [row.item_id for row in catalogue_page(conn, "a", 5)]
        ['b', 'c']
    """
    stmt = sa.select(*ITEM_COLUMNS).order_by(items.c.item_id).limit(int(limit))
    if after is not None:
        stmt = stmt.where(items.c.item_id > after)
    return conn.execute(stmt).all()


def genre_column(
    conn: sa.Connection, since: int | None = None
) -> tuple[int, list[tuple[str, str]] | None]:
    """The catalogue's change counter and every entry's ``(item_id, genres)``, the
    genres as stored (JSON text, as :func:`item_from_row` reads them), in id order;
    ``None`` for the entries when the counter still stands at ``since``.

    For a copy of every item's genres kept up to date: the counter is read first, so
    entries written after it leave it behind the next read's, and one statement reads
    two columns (no titles, features or search keys, no :class:`Item` made per row).
    Call it in a snapshot read (``db.read(snapshot=True)``) for the counter and the
    entries to be of one state on PostgreSQL.

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_items([Item("2", "Up", ("Drama",)), Item("1", "Heat")])
        >>> with store.db.read() as conn:
        ...     genre_column(conn), genre_column(conn, since=1)
        ((1, [('1', '[]'), ('2', '["Drama"]')]), (1, None))
    """
    version = read_counter(conn, CATALOGUE_COUNTER)
    if since is not None and version == since:
        return version, None
    stmt = sa.select(items.c.item_id, items.c.genres).order_by(items.c.item_id)
    return version, [(item_id, genres) for item_id, genres in conn.execute(stmt)]


def check_page(limit, offset) -> None:
    """``StoreError`` unless ``0 <= limit <= MAX_LIMIT`` and ``offset >= 0`` (integers).

    Example:
        >>> try:
        ...     check_page(50, -1)
        ... except StoreError as err:
        ...     print(err)
        offset must be >= 0, got -1
    """
    for name, value, high in (("limit", limit, MAX_LIMIT), ("offset", offset, None)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise StoreError(f"{name} must be an integer, got {value!r}")
        if value < 0 or (high is not None and value > high):
            bound = f"between 0 and {high}" if high is not None else ">= 0"
            raise StoreError(f"{name} must be {bound}, got {value}")


def search_statement(
    dialect: str, search, genre, limit, offset, *, whole: bool = False
) -> sa.Select | None:
    """The SELECT of one search page; ``None`` when nothing can match (a NUL
    character, which no stored text holds, or a search of accents alone, which search
    ignores: nothing is left to look for).  ``genre``: one genre name, matched exactly,
    or a list of names (the spellings of one genre, :func:`genre_spellings`), any of
    which matches.

    ``search`` matches ignoring case, how an accent was typed and the accent itself
    (:func:`~.records.search_key` of the text, the title and the id); one longer than
    :data:`MAX_SEARCH` characters is a :class:`StoreError`.  Without it the
    order is by title then id (the title's key: ``Émile`` among the E's).  With it,
    titles (ids, for an entry without one) that start with it come first, then those
    with a word starting with it, then any other match (in the title or the id), each
    group by title then id.
    ``whole``: every match, not one page, with its group (0, 1, 2) as the column
    ``match_group`` (for a caller that orders each group otherwise).

    Example:
        >>> stmt = search_statement("sqlite", "50%", None, 10, 0)
        >>> stmt.compile().params["title_key_1"]
        '50/%'
        >>> search_statement("sqlite", "\u0301", None, 10, 0) is None  # an accent alone
        True
    """
    check_page(limit, offset)
    if genre is not None and not isinstance(genre, str):
        genre = list(genre)
        if not genre or not all(isinstance(name, str) for name in genre):
            raise StoreError(f"genre must be text or a non-empty list of names, got {genre!r}")
        names = genre
        genre = None
    else:
        names = None if genre is None else [genre]
    for name, value in (("search", search), ("genre", genre)):
        if value is not None and not isinstance(value, str):
            raise StoreError(f"{name} must be text, got {type(value).__name__}")
        if value is not None and "\x00" in value:
            return None
    if search is not None and len(search) > MAX_SEARCH:
        raise StoreError(f"search is {len(search)} characters long; the limit is {MAX_SEARCH}")
    title_order = sa.func.coalesce(items.c.title_key, items.c.id_key)
    id_order = items.c.item_id
    if dialect == "postgresql":
        # Code-point order, as on SQLite, whatever the server's locale.
        title_order, id_order = title_order.collate("C"), id_order.collate("C")
    order = [title_order, id_order]
    if search:
        key = search_key(search)
        if not key:
            # Only accents (which search ignores): no text left to find.  Every title
            # contains the empty key, and a whole catalogue offered as its matches
            # (read in full to rank it) would answer a stray keystroke.
            return None
        # For a search box: "Star Wars" before "Evening Star" before "Bastard Out of
        # Carolina" for "star".  Within a group the store orders by title: counting each
        # match's ratings would scan lr_ratings (no index by item), so a caller that
        # knows the counts (the service: its model's) reorders the whole result.
        name = sa.func.coalesce(items.c.title_key, items.c.id_key)
        word = sa.or_(*(name.contains(c + key, autoescape=True) for c in WORD_STARTS))
        group = sa.case((name.startswith(key, autoescape=True), 0), (word, 1), else_=2)
        order.insert(0, group)
    else:
        group = sa.literal(0)
    if whole:
        stmt = sa.select(items, group.label("match_group")).order_by(*order)
    else:
        stmt = sa.select(items).order_by(*order).limit(int(limit)).offset(int(offset))
    if search:
        stmt = stmt.where(
            sa.or_(
                items.c.title_key.contains(key, autoescape=True),
                items.c.id_key.contains(key, autoescape=True),
            )
        )
    if names is not None:
        having = sa.select(item_genres.c.item_id).where(item_genres.c.genre.in_(names))
        stmt = stmt.where(items.c.item_id.in_(having))
    return stmt


def side_table(catalogue) -> pd.DataFrame | None:
    """The item side table of stored items: title, ``|``-joined genres (each genre in
    one spelling, :func:`one_spelling_each`), one column per numeric feature (NaN where
    an item lacks it); ``None`` for an empty catalogue.

    ``catalogue`` holds ``(item_id, title, genres JSON, features JSON)`` rows.

    Example:
        >>> side_table([("7", "Heat", '["Crime", "Action"]', '{"year": 1995.0}')]).values.tolist()
        [['Heat', 'Crime|Action', 1995.0]]
    """
    if not catalogue:
        return None
    ids, titles, genres, features = zip(*catalogue, strict=True)
    # One spelling per genre, so that none is learned twice (see one_spelling_each).
    names = one_spelling_each(json.loads(g) for g in genres)
    table = pd.DataFrame(
        {
            "title": np.array(titles, dtype=object),
            # No genres is a missing value (no feature), not an empty label.
            "genres": [GENRE_SEP.join(n) or None for n in names],
        },
        index=pd.Index(ids, dtype=object, name="item_id"),
    )
    numeric = pd.DataFrame(
        [json.loads(f) if f else {} for f in features], index=table.index, dtype=np.float64
    )
    if len(numeric.columns):
        table = table.join(numeric)
    return table


def catalogue_items(data: Interactions, item_text: list[str]) -> list[Item]:
    """The items of an Interactions' side table as store items: ``title``, ``genres``
    (``|``-separated text or a list of names, read by
    :func:`latentrec.data.genres.genre_labels`) and every other numeric column as a
    feature (missing values left out).  ``item_text`` is the text of each vocabulary id.

    Example:
        >>> import pandas as pd
        >>> side = pd.DataFrame({"title": ["Heat"], "genres": ["Crime|Action"],
        ...                      "year": [1995]}, index=[7])
        >>> data = Interactions.from_arrays([1], [7], [4.0], item_features=side)
        >>> (item,) = catalogue_items(data, ["7"])
        >>> item.title, item.genres, item.features
        ('Heat', ('Crime', 'Action'), {'year': 1995.0})
    """
    table = data.item_features
    if table is None or not len(table):
        return []
    by_id = dict(zip(data.items.ids.tolist(), item_text, strict=True))
    titles = table["title"] if "title" in table.columns else None
    # Read as the models and the pipeline read them, so the catalogue the service shows
    # names the genres they learned from.
    genres = genre_label_lists(table["genres"], GENRE_SEP) if "genres" in table.columns else None
    numeric = [
        c
        for c in table.columns
        if c not in RESERVED_FEATURES
        and pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]
    values = table[numeric].to_numpy(dtype=np.float64, na_value=np.nan) if numeric else None
    out = []
    for row, raw_id in enumerate(table.index.tolist()):
        item_id = by_id.get(raw_id) or check_id(raw_id, "item_id")
        title = None if titles is None or pd.isna(titles.iloc[row]) else str(titles.iloc[row])
        names = () if genres is None else tuple(genres[row])
        features = None
        if values is not None:
            found = zip(numeric, values[row], strict=True)
            features = {str(c): float(v) for c, v in found if np.isfinite(v)} or None
        out.append(Item(item_id, title, names, features))
    return check_items(out)
