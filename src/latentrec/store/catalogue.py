"""The item catalogue in the store: writing items and their genre rows, reading them back,
the search statement, and the conversions to and from an ``Interactions`` side table.

Search matches casefolded copies of the title and id (``title_key``, ``id_key``) with
LIKE patterns whose wildcards are escaped, so it behaves the same on SQLite and
PostgreSQL and ``%`` or ``_`` in the search text are ordinary characters.  Titles that
start with the search text come first, then those with a word that starts with it, then
the other matches.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..data import Interactions
from ..data.genres import genre_label_lists
from .records import GENRE_SEP, RESERVED_FEATURES, Item, StoreError, check_id, check_items
from .schema import item_genres, items
from .writes import CHUNK, IN_CHUNK, bump_catalogue, insert

# The most rows one search returns.
MAX_LIMIT = 10_000

# What may stand before a word of a title, for search's "a word starts with it".
WORD_STARTS = (" ", "(", "-", "/", '"')

REPLACED = ("title", "title_key", "id_key", "genres", "features")


def item_params(item: Item, now: float) -> dict:
    """The column values of one checked item.

    Example:
        >>> item_params(Item("7", "Heat", ("Crime",)), now=1.0)["title_key"]
        'heat'
    """
    return {
        "item_id": item.item_id,
        "title": item.title,
        "title_key": None if item.title is None else item.title.casefold(),
        "id_key": item.item_id.casefold(),
        "genres": json.dumps(list(item.genres), ensure_ascii=False),
        "features": None
        if item.features is None
        else json.dumps(item.features, ensure_ascii=False, sort_keys=True),
        "added_at": now if item.added_at is None else item.added_at,
    }


def write_items(conn: sa.Connection, dialect: str, checked: list[Item], now: float) -> None:
    """Upsert checked items (the last of repeated ids wins) and replace their genre rows.

    A replaced item keeps its ``added_at`` unless the new one gives it.  The catalogue's
    change counter rises (see ``writes.bump_catalogue``).
    """
    latest = {item.item_id: item for item in checked}
    ids = sorted(latest)
    ins = insert(dialect, items)
    for given in (False, True):
        kept = REPLACED + (("added_at",) if given else ())
        stmt = ins.on_conflict_do_update(
            index_elements=[items.c.item_id], set_={c: ins.excluded[c] for c in kept}
        )
        params = [
            item_params(latest[i], now) for i in ids if (latest[i].added_at is not None) is given
        ]
        for start in range(0, len(params), CHUNK):
            conn.execute(stmt, params[start : start + CHUNK])
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id.in_(chunk)))
    genre_rows = [{"item_id": i, "genre": g} for i in ids for g in latest[i].genres]
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
    catalogue's change counter rises only when something was inserted.
    """
    latest = {item.item_id: item for item in checked}
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
    character, which no stored text holds).

    Without ``search`` the order is by title then id.  With it, titles (ids, for an
    entry without one) that start with it come first, then those with a word starting
    with it, then any other match (in the title or the id), each group by title then id.
    ``whole``: every match, not one page, with its group (0, 1, 2) as the column
    ``match_group`` (for a caller that orders each group otherwise).

    Example:
        >>> stmt = search_statement("sqlite", "50%", None, 10, 0)
        >>> stmt.compile().params["title_key_1"]
        '50/%'
    """
    check_page(limit, offset)
    for name, value in (("search", search), ("genre", genre)):
        if value is not None and not isinstance(value, str):
            raise StoreError(f"{name} must be text, got {type(value).__name__}")
        if value is not None and "\x00" in value:
            return None
    title_order = sa.func.coalesce(items.c.title_key, items.c.id_key)
    id_order = items.c.item_id
    if dialect == "postgresql":
        # Code-point order, as on SQLite, whatever the server's locale.
        title_order, id_order = title_order.collate("C"), id_order.collate("C")
    order = [title_order, id_order]
    if search:
        key = search.casefold()
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
    if genre is not None:
        having = sa.select(item_genres.c.item_id).where(item_genres.c.genre == genre)
        stmt = stmt.where(items.c.item_id.in_(having))
    return stmt


def side_table(catalogue) -> pd.DataFrame | None:
    """The item side table of stored items: title, ``|``-joined genres, one column per
    numeric feature (NaN where an item lacks it); ``None`` for an empty catalogue.

    ``catalogue`` holds ``(item_id, title, genres JSON, features JSON)`` rows.

    Example:
        >>> side_table([("7", "Heat", '["Crime", "Action"]', '{"year": 1995.0}')]).values.tolist()
        [['Heat', 'Crime|Action', 1995.0]]
    """
    if not catalogue:
        return None
    ids, titles, genres, features = zip(*catalogue, strict=True)
    table = pd.DataFrame(
        {
            "title": np.array(titles, dtype=object),
            # No genres is a missing value (no feature), not an empty label.
            "genres": [GENRE_SEP.join(json.loads(g)) or None for g in genres],
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
