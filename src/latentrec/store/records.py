"""What the store reads and writes: `Rating`, `Item`, `WriteResult`, `StoreError`, and the
row checks that turn caller input into validated, column-ready values.

Every check names the row (its 0-based position in the batch) and the field at fault, and
runs over the whole batch before anything is written, so a bad row writes nothing.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from urllib.parse import quote

from ..data.build import TIME_MAX, TIME_MIN

KINDS = ("explicit", "event")

# PostgreSQL's B-tree index refuses entries over ~2,700 bytes, and a rating's key holds
# both ids, so each id is capped well below half of that (in UTF-8 bytes).
MAX_ID_BYTES = 1000

# Names an item feature may not take: they are the side table's own columns.
RESERVED_FEATURES = ("title", "genres")

# Genres are handed to training joined by this (MovieLens' convention, which
# `FeatureEncoder` reads as a multi-label column), so a genre cannot contain it.
GENRE_SEP = "|"


class StoreError(ValueError):
    """Bad input to the store, or a store that cannot be used; the message says which.

    A ``ValueError``, so callers that already catch bad input (the command line, the
    service) report it without special handling.

    Example:
        >>> print(StoreError("row 3: field 'value' is NaN"))
        row 3: field 'value' is NaN
    """


@dataclass(frozen=True)
class Rating:
    """One rating (``kind="explicit"``, e.g. stars) or implicit event (``kind="event"``).

    ``timestamp`` is Unix seconds; ``None`` means the store's clock at the write.  For an
    event, ``value`` is the weight added to the stored one (1 for one play or click).

    Example:
        >>> Rating("ann", "42", 4.5, timestamp=1_700_000_000)
        Rating(user_id='ann', item_id='42', value=4.5, timestamp=1700000000, kind='explicit')
    """

    user_id: str
    item_id: str
    value: float = 1.0
    timestamp: float | None = None
    kind: str = "explicit"


@dataclass(frozen=True)
class Item:
    """A catalogue entry: title, genres and numeric features, keyed by ``item_id``.

    ``added_at`` is Unix seconds; ``None`` on a write means the store's clock (an update
    keeps the first one).

    Example:
        >>> Item("50", "Star Wars", ("Action", "Sci-Fi"), {"year": 1977.0}).genres
        ('Action', 'Sci-Fi')
    """

    item_id: str
    title: str | None = None
    genres: tuple[str, ...] = ()
    features: dict[str, float] | None = None
    added_at: float | None = None


@dataclass(frozen=True)
class WriteResult:
    """What a committed :meth:`~latentrec.store.RatingsStore.add_ratings` did.

    ``n_written`` counts the rows of the batch now stored (an event always is: its
    weight adds); ``n_superseded`` the explicit ratings that were not, being older than
    the rating of their user and item already stored (or given before them in the
    batch), which stays: latest wins.  The two add up to the rows given.  ``versions``
    maps every user in the batch to its new version.

    Example:
        >>> WriteResult(2, {"ann": 7}).versions["ann"], WriteResult(1, {}, 1).n_superseded
        (7, 1)
    """

    n_written: int
    versions: dict[str, int]
    n_superseded: int = 0


@dataclass(frozen=True)
class ImportResult:
    """What a committed :meth:`~latentrec.store.RatingsStore.import_interactions` did:
    ``n_written`` cells now stored, ``n_superseded`` explicit ratings not stored because
    the store already held a newer rating of their user and item (latest wins).

    Example:
        >>> ImportResult(4, 1).n_superseded
        1
    """

    n_written: int
    n_superseded: int = 0


RATING_FIELDS = tuple(f.name for f in fields(Rating))
ITEM_FIELDS = tuple(f.name for f in fields(Item))


def check_id(value, what: str) -> str:
    """An id as the text the store keeps; ``StoreError`` saying what is wrong otherwise.

    Integers are accepted and stored as their decimal text; ids are otherwise opaque
    (kept exactly, whitespace included).

    Example:
        >>> check_id(42, "user_id"), check_id(" a'b ", "user_id")
        ('42', " a'b ")
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise StoreError(f"{what} must be text (or an integer), got {type(value).__name__}")
    text = str(value)
    if not text:
        raise StoreError(f"{what} is empty")
    if "\x00" in text:
        raise StoreError(f"{what} contains a NUL character")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise StoreError(f"{what} is not valid unicode (a lone surrogate)") from None
    if size > MAX_ID_BYTES:
        raise StoreError(f"{what} is {size} bytes long; ids are at most {MAX_ID_BYTES} bytes")
    return text


def check_number(value, what: str, *, optional: bool = False) -> float | None:
    """A finite float; ``None`` passes when ``optional``.

    Example:
        >>> check_number("4.5", "value"), check_number(None, "timestamp", optional=True)
        (4.5, None)
    """
    if value is None and optional:
        return None
    if isinstance(value, bool):
        raise StoreError(f"{what} must be a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StoreError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise StoreError(f"{what} must be finite, got {number}")
    return number


def as_record(row, cls, names: tuple[str, ...], position: int):
    """A dataclass instance from one input row (an instance or a mapping of its fields).

    Example:
        >>> as_record({"user_id": "a", "item_id": "b"}, Rating, RATING_FIELDS, 0).value
        1.0
    """
    if isinstance(row, cls):
        return row
    if isinstance(row, Mapping):
        unknown = sorted(str(k) for k in row if k not in names)
        if unknown:
            raise StoreError(
                f"row {position}: unknown field(s) {unknown}; a {cls.__name__} has {list(names)}"
            )
        try:
            return cls(**row)
        except TypeError as err:
            raise StoreError(f"row {position}: {err}") from None
    raise StoreError(
        f"row {position}: expected a {cls.__name__} or a mapping, got {type(row).__name__}"
    )


#: How far past the store's clock a timestamp may lie (clocks of writers drift a little).
#: A rating dated later stays ahead of every later rating of its pair, since the latest
#: timestamp wins: the user's next rating (stamped with the store's clock) would be
#: acknowledged and then lose to it until that date.
FUTURE_SLACK_S = 86_400.0


def when(seconds: float) -> str:
    """Unix seconds as a UTC minute, for messages.

    Example:
        >>> when(0.0)
        '1970-01-01 00:00 UTC'
    """
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def check_timestamp(ts: float, now: float | None) -> None:
    """Refuse a timestamp no reader can take (outside the years 1-9999) or one more than
    :data:`FUTURE_SLACK_S` after ``now`` (the store's clock; ``None``: no such check).

    Example:
        >>> check_timestamp(1_700_000_000.0, now=1_700_000_000.0)
        >>> try:
        ...     check_timestamp(1_700_000_000_000.0, now=1_700_000_000.0)
        ... except StoreError as err:
        ...     print(err)
        is 1.7e+12, not a time in the years 1-9999 (timestamps are Unix seconds; milliseconds?)
    """
    if not TIME_MIN <= ts <= TIME_MAX:
        raise StoreError(
            f"is {ts:g}, not a time in the years 1-9999 (timestamps are Unix seconds; "
            "milliseconds?)"
        )
    if now is not None and ts > now + FUTURE_SLACK_S:
        raise StoreError(
            f"is {when(ts)}, more than a day after the store's clock ({when(now)}): a "
            "rating dated in the future would win over every later rating of its user "
            "and item until then (a writer's clock set wrong?)"
        )


def check_ratings(
    rows: Iterable, now: float | None = None
) -> list[tuple[str, str, str, float, float | None]]:
    """``(user_id, item_id, kind, value, timestamp)`` per row, in order; every row checked.

    ``now`` is the store's clock: a timestamp more than a day after it is refused (see
    :func:`check_timestamp`).

    Example:
        >>> check_ratings([{"user_id": "a", "item_id": 1, "value": 5}])
        [('a', '1', 'explicit', 5.0, None)]
        >>> try:
        ...     check_ratings([Rating("a", "b"), Rating("a", "b", float("nan"))])
        ... except StoreError as err:
        ...     print(err)
        row 1: field 'value' must be finite, got nan
        >>> try:
        ...     check_ratings([Rating("a", "b", 4.0, timestamp=2e9)], now=1.7e9)
        ... except StoreError as err:
        ...     print(str(err).split(" after")[0])
        row 0: field 'timestamp' is 2033-05-18 03:33 UTC, more than a day
    """
    if isinstance(rows, (str, bytes, Mapping, Rating)):
        raise StoreError("add_ratings takes an iterable of ratings (a list), not one rating")
    out = []
    for position, row in enumerate(rows):
        rating = as_record(row, Rating, RATING_FIELDS, position)
        field = "kind"
        try:
            if rating.kind not in KINDS:
                raise StoreError(f"must be one of {list(KINDS)}, got {rating.kind!r}")
            field = "user_id"
            user = check_id(rating.user_id, "it")
            field = "item_id"
            item = check_id(rating.item_id, "it")
            field = "value"
            value = check_number(rating.value, "it")
            field = "timestamp"
            ts = check_number(rating.timestamp, "it", optional=True)
            if ts is not None:
                check_timestamp(ts, now)
        except StoreError as err:
            reason = str(err).removeprefix("it ")
            raise StoreError(f"row {position}: field {field!r} {reason}") from None
        out.append((user, item, rating.kind, value, ts))
    return out


def check_items(rows: Iterable) -> list[Item]:
    """Items with checked ids, titles, genres and features (as new ``Item`` values).

    Example:
        >>> check_items([{"item_id": 7, "title": "Heat", "genres": ["Crime"]}])[0]
        Item(item_id='7', title='Heat', genres=('Crime',), features=None, added_at=None)
    """
    if isinstance(rows, (str, bytes, Mapping, Item)):
        raise StoreError("add_items takes an iterable of items (a list), not one item")
    out = []
    for position, row in enumerate(rows):
        item = as_record(row, Item, ITEM_FIELDS, position)
        field = "item_id"
        try:
            item_id = check_id(item.item_id, "it")
            field = "title"
            title = item.title
            if title is not None and not isinstance(title, str):
                raise StoreError(f"must be text, got {type(title).__name__}")
            if title is not None and "\x00" in title:
                raise StoreError("contains a NUL character")
            field = "genres"
            genres = check_genres(item.genres)
            field = "features"
            features = check_features(item.features)
            field = "added_at"
            added = check_number(item.added_at, "it", optional=True)
        except StoreError as err:
            reason = str(err).removeprefix("it ")
            raise StoreError(f"row {position}: field {field!r} {reason}") from None
        out.append(Item(item_id, title, genres, features, added))
    return out


def genre_spelling(genre: str) -> str:
    """The form a genre name is stored in: stripped, in Unicode's composed form (NFC), so
    that an ``É`` typed as one character and one typed as ``E`` plus an accent are one
    spelling.

    Example:
        >>> genre_spelling(" E\u0301be\u0300ne") == "\u00c9b\u00e8ne"
        True
    """
    return unicodedata.normalize("NFC", genre.strip())


def genre_key(genre: str) -> str:
    """What makes two genre names one genre: Unicode's canonical caseless match of the
    stripped names (decomposed, casefolded, composed again), done in Python, the same on
    every database: SQLite's ``lower()`` folds ASCII only, and neither database treats a
    composed ``É`` and ``E`` plus an accent as one text.

    Example:
        >>> genre_key(" Sci-Fi"), genre_key("STRASSE") == genre_key("Straße")
        ('sci-fi', True)
        >>> genre_key("\u00c9b\u00e8ne") == genre_key("e\u0301be\u0300ne")
        True
    """
    # Decomposed first, as Unicode's definition has it: folding a composed text can
    # differ from folding its decomposed form (Greek with U+0345 before another accent).
    folded = unicodedata.normalize("NFD", genre.strip()).casefold()
    return unicodedata.normalize("NFC", folded)


# The accents search ignores: Unicode's blocks of combining diacritical marks (their
# main block, its Extended and Supplement, and the half marks), those of Latin, Greek
# and Cyrillic letters.  Marks of other scripts (a Devanagari vowel sign, the Japanese
# voicing mark) make another letter or syllable, and are kept.
ACCENTS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0xFE20, 0xFE2F))
WITHOUT_ACCENTS = {c: None for low, high in ACCENTS for c in range(low, high + 1)}

# Latin letters Unicode gives no canonical decomposition, so that dropping accents left
# them as they were ("bjork" did not find "Bjørk"), folded to the letters a user types
# for them.  Applied after casefolding, so small letters only (casefolding already makes
# ß ss, ſ s and ﬁ fi).  Which letters, by their Unicode names (Unicode 14.0's: tests/
# store/test_search_key_letters.py derives the same table from unicodedata's names).
# Fixed here, not derived at run time: the keys are stored, so a newer Python's Unicode
# must not change them unseen (a new letter needs a schema version that remakes them).
# - a basic letter WITH a STROKE or BAR across it, of any slant or length (ø "O WITH
#   STROKE", ł, đ, ħ, ŧ, ƚ "L WITH BAR", ʉ "U BAR", ɵ "BARRED O"): that letter.  The
#   overlays exist as combining marks (U+0335 to U+0338, in the block above) but Unicode
#   never decomposes a letter into them: ø is no o plus an accent;
# - DOTLESS I and J (ı, ȷ; ɟ, with a stroke too): i and j (İ's dot is dropped already);
# - a letter named as two basic letters (æ "AE", œ "LIGATURE OE", medieval ꜳ "AA"), or
#   whose compatibility decomposition is basic letters and accents (ĳ, ǉ, ǆ; ŀ, l and a
#   middle dot): those letters;
# - ETH and THORN: d and th, as Icelandic is written without them (Guðrún as Gudrun,
#   Þór as Thor), and as CLDR's Latin-ASCII transform and Lucene's ASCIIFoldingFilter
#   fold them.
# Letters with a hook, tail, curl or top bar and turned, reversed or small-capital ones
# stay: they are letters of their own (Hausa's ɓ is not b) or phonetic symbols.  So do
# the letters of other scripts.
FOLDED_LETTERS = {
    ord(letter): spelled
    for spelled, letters in (
        # with a stroke or bar
        ("a", "\u2c65"),  # ⱥ
        ("b", "\u0180"),  # ƀ
        ("c", "\u023c\ua793"),  # ȼ ꞓ
        ("d", "\u0111\ua7c8"),  # đ ꟈ
        ("e", "\u0247\uab33"),  # ɇ ꬳ
        ("f", "\ua799"),  # ꞙ
        ("g", "\u01e5\ua7a1"),  # ǥ ꞡ
        ("h", "\u0127"),  # ħ
        ("i", "\u0268"),  # ɨ
        ("j", "\u0249"),  # ɉ
        ("k", "\ua741\ua743\ua745\ua7a3"),  # ꝁ ꝃ ꝅ ꞣ
        ("l", "\u0142\u019a\u2c61\ua749"),  # ł ƚ ⱡ ꝉ
        ("n", "\ua7a5"),  # ꞥ
        ("o", "\u00f8\u0275\ua74b"),  # ø ɵ ꝋ
        ("p", "\u1d7d\ua751"),  # ᵽ ꝑ
        ("q", "\ua757\ua759"),  # ꝗ ꝙ
        ("r", "\u024d\ua7a7"),  # ɍ ꞧ
        ("s", "\ua7a9\ua7ca"),  # ꞩ ꟊ
        ("t", "\u0167\u2c66"),  # ŧ ⱦ
        ("u", "\u0289\ua7b9"),  # ʉ ꞹ
        ("v", "\ua75f"),  # ꝟ
        ("y", "\u024f"),  # ɏ
        ("z", "\u01b6"),  # ƶ
        # dotless
        ("i", "\u0131"),  # ı
        ("j", "\u0237\u025f"),  # ȷ ɟ
        # two letters in one; l with a middle dot
        ("ae", "\u00e6"),  # æ
        ("oe", "\u0153"),  # œ
        ("ij", "\u0133"),  # ĳ
        ("lj", "\u01c9"),  # ǉ
        ("nj", "\u01cc"),  # ǌ
        ("dz", "\u01c6\u01f3"),  # ǆ ǳ
        ("aa", "\ua733"),  # ꜳ
        ("ao", "\ua735"),  # ꜵ
        ("au", "\ua737"),  # ꜷ
        ("av", "\ua739\ua73b"),  # ꜹ ꜻ
        ("ay", "\ua73d"),  # ꜽ
        ("et", "\ua76b"),  # ꝫ
        ("hv", "\u0195"),  # ƕ
        ("is", "\ua76d"),  # ꝭ
        ("oi", "\u01a3"),  # ƣ
        ("oo", "\ua74f"),  # ꝏ
        ("ou", "\u0223"),  # ȣ
        ("tz", "\ua729"),  # ꜩ
        ("ue", "\u1d6b"),  # ᵫ
        ("ui", "\uab50"),  # ꭐ
        ("um", "\ua778"),  # ꝸ
        ("uo", "\uab63"),  # ꭣ
        ("vy", "\ua761"),  # ꝡ
        ("l", "\u0140"),  # ŀ
        # eth and thorn
        ("d", "\u00f0"),  # ð
        ("th", "\u00fe"),  # þ
    )
    for letter in letters
}

# What search_key drops or spells otherwise, in one table.
SEARCH_FOLD = {**WITHOUT_ACCENTS, **FOLDED_LETTERS}


def search_key(text: str) -> str:
    """What catalogue search compares (and orders titles by): ``text`` ignoring case,
    how an accent was typed and the accent itself, done in Python so that it is the
    same on every database.  Unicode's canonical caseless match (decomposed, casefolded,
    decomposed again), with the accents of :data:`ACCENTS` left out and the Latin
    letters Unicode does not decompose spelled as a user types them
    (:data:`FOLDED_LETTERS`: ``ø`` as ``o``, ``ł`` as ``l``, ``æ`` as ``ae``, ``þ`` as
    ``th``), composed again.

    ``Amélie`` typed with a composed ``é``, one typed as ``e`` plus an accent,
    ``AMELIE`` and ``amelie`` all have the key ``amelie``; ``Bjørk`` and ``BJORK`` have
    the key ``bjork``.

    Example:
        >>> search_key("Am\u00e9lie"), search_key("AME\u0301LIE"), search_key("Straße")
        ('amelie', 'amelie', 'strasse')
        >>> search_key("Bj\u00f8rk"), search_key("\u0141\u00f3d\u017a"), search_key("\u00de\u00f3r")
        ('bjork', 'lodz', 'thor')
        >>> search_key("\u304c") == "\u304c"  # a voiced kana keeps its mark
        True
    """
    if text.isascii():  # most titles: nothing to decompose, nor an accent
        return text.lower()
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).casefold())
    return unicodedata.normalize("NFC", folded.translate(SEARCH_FOLD))


def check_genres(genres) -> tuple[str, ...]:
    """Genres as a tuple of distinct non-empty names without ``|``, in the order given,
    each in its stored form (:func:`genre_spelling`); names that are one genre
    (:func:`genre_key`) are kept once, in the first spelling given.

    Example:
        >>> check_genres(["Drama", "Crime ", "drama"])
        ('Drama', 'Crime')
    """
    if genres is None:
        return ()
    if isinstance(genres, str):
        raise StoreError("must be a list of genre names, not one string")
    out: dict[str, str] = {}
    for genre in genres:
        if not isinstance(genre, str) or not genre.strip():
            raise StoreError(f"holds {genre!r}; a genre is a non-empty name")
        if GENRE_SEP in genre or "\x00" in genre:
            raise StoreError(f"holds {genre!r}; a genre name cannot contain {GENRE_SEP!r}")
        out.setdefault(genre_key(genre), genre_spelling(genre))
    return tuple(out.values())


def check_features(features) -> dict[str, float] | None:
    """Features as ``{name: finite float}``; names are text and not a side-table column.

    Example:
        >>> check_features({"year": 1995})
        {'year': 1995.0}
    """
    if features is None:
        return None
    if not isinstance(features, Mapping):
        raise StoreError(f"must be a mapping of name to number, got {type(features).__name__}")
    out = {}
    for name, value in features.items():
        if not isinstance(name, str) or not name or name in RESERVED_FEATURES:
            raise StoreError(
                f"has the name {name!r}; a feature name is non-empty text other than "
                f"{list(RESERVED_FEATURES)}"
            )
        try:
            out[name] = check_number(value, "it")
        except StoreError:
            raise StoreError(
                f"has {name!r} = {value!r}; a feature value is a finite number"
            ) from None
    return out


def rating_route(user_id: str, item_id: str) -> str:
    """The route that deletes one stored rating, with these ids, each percent-encoded
    as one path segment as the routes read it (``a/b`` is ``a%2Fb``): for messages
    that tell a user to delete a rating.

    Example:
        >>> rating_route("a/b", "7 up")
        'DELETE /users/a%2Fb/ratings/7%20up'
    """
    return f"DELETE /users/{quote(user_id, safe='')}/ratings/{quote(item_id, safe='')}"
