"""Building an :class:`~latentrec.data.interactions.Interactions` from rows or cells.

Every constructor of ``Interactions`` ends here: :func:`assemble` checks each row of a
table (ids, values, timestamps, duplicates, unknown ids), then raises on the first kind of
fault or leaves the bad rows out and reports them; :func:`from_cells` does the same for
the observed cells of a matrix.  Both return ``cls(...)``, the class that called them,
so this module needs no import of it.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .columns import clean_ids, numeric_values
from .report import DataError, LoadReport, Places, Rejection, case_hint, labels_text
from .vocabulary import UnknownIdError, Vocabulary

DUPLICATE_POLICIES = ("last", "mean", "sum", "error")
T = TypeVar("T")  # the class that asked for the table (Interactions)

ON_BAD_ROWS = ("error", "skip")


def check_options(duplicates, on_bad_rows, rating_scale=None) -> None:
    """Raise a DataError unless both policies are known, and ``duplicates="sum"`` comes
    without a ``rating_scale`` (two 3-star ratings summed are a 6 on a 1-5 scale).

    Example:
        >>> check_options("last", "error", (1, 5))
        >>> check_options("sum", "error", (1, 5))
        Traceback (most recent call last):
        ...
        latentrec.data.report.DataError: duplicates='sum' adds repeated ratings, which can ...
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise DataError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    if on_bad_rows not in ON_BAD_ROWS:
        raise DataError(f"on_bad_rows must be one of {ON_BAD_ROWS}, got {on_bad_rows!r}")
    if duplicates == "sum" and rating_scale is not None:
        raise DataError(sum_on_a_scale(rating_scale))


def default_duplicates(duplicates, rating, implicit=None) -> str:
    """The policy for repeated (user, item) pairs: ``duplicates`` when given, else
    ``"sum"`` for events (no rating column, unless ``implicit=False``) and ``"last"`` for
    ratings.  Each row of an event file is one play or click, so three rows of one pair
    are three plays, as the ratings store adds them (``latentrec store import`` and
    ``POST /ratings`` add events); a rating given again replaces the earlier one.

    Example:
        >>> default_duplicates(None, None), default_duplicates(None, "rating")
        ('sum', 'last')
        >>> default_duplicates("last", None), default_duplicates(None, None, implicit=False)
        ('last', 'last')
    """
    if duplicates is not None:
        return duplicates
    return "sum" if rating is None and implicit is not False else "last"


def sum_on_a_scale(rating_scale) -> str:
    """The refusal of ``duplicates="sum"`` with a rating scale.

    Example:
        >>> sum_on_a_scale((1, 5)).startswith("duplicates='sum' adds repeated ratings")
        True
    """
    return (
        f"duplicates='sum' adds repeated ratings, which can leave the rating scale "
        f"{tuple(rating_scale)} (two 3s make a 6): use 'last', 'mean' or 'error' for "
        "ratings on a scale, or give no rating scale for counts"
    )


def check_names(names) -> None:
    """Raise a DataError if one column is named for two roles (user, item, rating, time).

    Reading one column as both the user and the item id (or as an id and the rating)
    would build nonsense and merge most rows as duplicates without a word.

    Example:
        >>> check_names(("user_id", "item_id", "rating", None))
        >>> try:
        ...     check_names(("user_id", "user_id", "rating", None))
        ... except DataError as err:
        ...     print(err)
        column 'user_id' is named as both the user and the item column
    """
    roles = ("user", "item", "rating", "timestamp")
    seen: dict = {}
    for role, name in zip(roles, names, strict=True):
        if name is None:
            continue
        try:
            first = seen.setdefault(name, role)
        except TypeError:  # an unhashable name: frame_columns reports it as missing
            continue
        if first != role:
            raise DataError(
                f"column {name!r} is named as both the {first} and the {role} column",
                column=name,
            )


def keys(names) -> dict:
    """Internal column keys ("u", "i", "r", "t") -> the caller's column names.

    Example:
        >>> keys(("user", "item", None, None))
        {'u': 'user', 'i': 'item'}
    """
    return {k: c for k, c in zip("uirt", names, strict=True) if c is not None}


def as_series(values, name: str, ids: bool) -> pd.Series:
    """A one-dimensional input as a Series with a 0..n-1 index (ids keep Python values).

    Example:
        >>> as_series([3, 1], "users", ids=True).tolist()
        [3, 1]
    """
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, (pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.Series(values).reset_index(drop=True)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise DataError(f"{name} must be a one-dimensional array, got {type(values).__name__}")
    arr = values if isinstance(values, np.ndarray) else None
    if arr is None:
        try:
            # Ids keep their Python values: inferring a dtype would turn [2**60 + 1, None]
            # into floats and change the id.
            return pd.Series(list(values), dtype=object if ids or not len(values) else None)
        except (TypeError, ValueError) as err:
            raise DataError(f"{name} cannot be read as a column: {err}") from None
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return pd.Series(arr)


def frame_columns(df: pd.DataFrame, names: tuple, name: str) -> pd.DataFrame:
    """The wanted columns under the keys "u", "i", "r", "t", with a 0..n-1 index.

    Example:
        >>> df = pd.DataFrame({"user": [1], "item": [2], "stars": [5]})
        >>> frame_columns(df, ("user", "item", "stars", None), "table").columns.tolist()
        ['u', 'i', 'r']
    """
    wanted = [c for c in names if c is not None]
    try:
        missing = [c for c in wanted if c not in df.columns]
    except TypeError:  # an unhashable column name
        missing = wanted
    if missing:
        raise DataError(
            f"missing column(s) {missing}; {name} has columns {list(df.columns)}"
            f"{case_hint(missing, list(df.columns))}",
            column=missing[0],
        )
    for col in dict.fromkeys(wanted):
        hits = 1 if df.columns.is_unique else int(np.sum(df.columns == col))
        if hits > 1:
            raise DataError(f"column {col!r} appears {hits} times in {name}", column=col)
    if len(df) == 0:
        raise DataError(f"{name} is empty: no interactions to build from")
    return pd.DataFrame({k: df[c].reset_index(drop=True) for k, c in keys(names).items()})


class _Check:
    """One kind of fault found in some rows, with the message it raises."""

    __slots__ = ("column", "mask", "message", "reason", "unknown")

    def __init__(self, reason, column, mask, message, unknown=None):
        self.reason = reason
        self.column = column
        self.mask = mask
        self.message = message
        self.unknown = unknown


def assemble(
    cls: type[T],
    frame: pd.DataFrame,
    names: tuple,
    places: Places,
    *,
    source: str,
    duplicates: str = "last",
    rating_scale=None,
    implicit=None,
    strip_ids: bool = True,
    on_bad_rows: str = "error",
    item_features=None,
    user_features=None,
    users: Vocabulary | None = None,
    items: Vocabulary | None = None,
    from_text: bool = False,
    bad_fields: dict | None = None,
    encoding: str | None = None,
    separator: str | None = None,
    notes: tuple = (),
) -> T:
    """Check every row, then raise on the first kind of fault or leave the bad rows out.

    ``frame`` holds the caller's columns ``names`` (user, item, rating, timestamp);
    ``places`` says how to name a row in messages (file lines or frame rows).  Returns
    ``cls(...)`` with its ``load_report``.

    Example:
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"u": ["a", "b"], "i": [1, 1], "r": [4.0, 5.0]})
        >>> names, places = ("u", "i", "r", None), Places.rows(df.index)
        >>> assemble(Interactions, df, names, places, source="df").nnz
        2
    """
    user, item, rating, timestamp = names
    check_options(duplicates, on_bad_rows, rating_scale if rating is not None else None)
    n = len(frame)
    if n == 0:
        raise DataError(f"{source} has no rows: no interactions to build from", source=source)
    if rating_scale is not None:
        try:
            lo, hi = (float(x) for x in rating_scale)
        except (TypeError, ValueError):
            raise DataError(f"rating_scale must be (low, high), got {rating_scale!r}") from None
        if not lo < hi:
            raise DataError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")

    checks: list[_Check] = []
    for reason, mask in (bad_fields or {}).items():
        pos = np.flatnonzero(mask)
        verb = "has" if pos.size == 1 else "have"
        checks.append(_Check(reason, None, mask, f"{places.text(pos)} {verb} {reason}"))

    id_cols = {}
    notes = tuple(notes)
    for key, col, what in (("u", user, "user"), ("i", item, "item")):
        ids = clean_ids(frame[key], strip=strip_ids, from_text=from_text)
        id_cols[key] = ids
        if ids.text_from is not None:
            # Ids are labels, so one odd id is legal; but it turns the whole column to
            # text (7 and "7" then differ from a model's integer ids), which is said.
            pos, value = ids.text_from
            notes += (f"{what} ids read as text: {places.text([pos])} has {value!r}",)
        for reason, (mask, example) in ids.problems.items():
            where = places.text(np.flatnonzero(mask))
            shown = "" if reason in ("missing ids", "empty ids") else f" (e.g. {example!r})"
            msg = f"column {col!r} has {reason}{shown} at {where}"
            checks.append(_Check(reason, col, mask, msg))

    if rating is None:
        vals = np.ones(n, dtype=np.float64)
    else:
        vals = _value_checks(frame["r"], rating, "rating", places, checks)
        if rating_scale is not None:
            with np.errstate(invalid="ignore"):
                out = (vals < lo) | (vals > hi)
            if out.any():
                pos = np.flatnonzero(out)
                msg = (
                    f"{pos.size} rating(s) outside the scale [{lo:g}, {hi:g}] "
                    f"(e.g. {vals[pos[0]]:g}) at {places.text(pos)}"
                )
                checks.append(
                    _Check(f"ratings outside the scale [{lo:g}, {hi:g}]", rating, out, msg)
                )
    ts = None
    if timestamp is not None:
        ts = _timestamp_checks(frame["t"], timestamp, places, checks)

    item_features = _stripped_index(item_features, "item", strip_ids)
    user_features = _stripped_index(user_features, "user", strip_ids)
    lookups = {}
    for key, col, vocab, what in (("u", user, users, "user"), ("i", item, items, "item")):
        if vocab is None:
            continue
        ids = id_cols[key]
        idx = np.full(n, -1, dtype=np.int32)
        ok = ~ids.bad
        idx[ok] = vocab.lookup(ids.values[ok]) if ok.any() else idx[ok]
        lookups[key] = idx
        unknown = ok & (idx < 0)
        if unknown.any():
            shown = pd.unique(ids.values[unknown]).tolist()
            checks.append(
                _Check(
                    f"unknown {what} ids",
                    col,
                    unknown,
                    None,
                    unknown=(
                        what,
                        shown,
                        f"column {col!r}, {places.text(np.flatnonzero(unknown))}",
                    ),
                )
            )

    rejections = []
    taken = np.zeros(n, dtype=bool)
    for check in checks:
        if not check.mask.any():
            continue
        if on_bad_rows == "error":
            pos = np.flatnonzero(check.mask)
            if check.unknown is not None:
                what, shown, where = check.unknown
                raise UnknownIdError(what, shown, where=where)
            raise DataError(
                check.message,
                source=places.source,
                column=check.column,
                where=places.labels(pos),
                unit=places.unit,
            )
        mask = check.mask & ~taken
        if mask.any():
            taken |= mask
            rejections.append(
                Rejection(check.reason, check.column, tuple(places.labels(np.flatnonzero(mask))))
            )
    keep = ~taken
    if not keep.any():
        texts = LoadReport(source, places.unit, n, 0, 0, tuple(rejections)).rejection_texts()
        raise DataError(
            f"no rows left to load from {source}: all {n} rows are bad ({'; '.join(texts)})",
            source=places.source,
        )
    kept_pos = np.flatnonzero(keep)

    item_extra = _feature_ids(item_features, "item", item)
    user_extra = _feature_ids(user_features, "user", user)
    # Matched as the rows give the ids, before a vocabulary of both sides' ids would
    # make 1 and 'a' alike text.
    notes += _features_matched(user_features, id_cols["u"].values[keep], "user")
    notes += _features_matched(item_features, id_cols["i"].values[keep], "item")
    built = {"user": users is None, "item": items is None}
    u_idx, users = _encode(
        id_cols["u"].values[keep], users, "user", user_extra, lookups.get("u"), keep
    )
    i_idx, items = _encode(
        id_cols["i"].values[keep], items, "item", item_extra, lookups.get("i"), keep
    )
    vals = vals[keep]
    ts = None if ts is None else ts[keep]
    row_u, row_i = u_idx, i_idx
    u_idx, i_idx, vals, ts = _resolve_duplicates(
        u_idx, i_idx, vals, ts, duplicates, kept_pos, places, (user, item), users, items
    )
    with np.errstate(over="ignore"):
        overflow = ~np.isfinite(vals.astype(np.float32))
    if overflow.any():
        pu, pi = u_idx[overflow][0], i_idx[overflow][0]
        rows = kept_pos[(row_u == pu) & (row_i == pi)]
        pair = (users.ids[[pu]].tolist()[0], items.ids[[pi]].tolist()[0])
        raise DataError(
            f"column {rating!r}: merging the repeated pair {pair} with "
            f"duplicates={duplicates!r} gives a value too large for float32, at "
            f"{places.text(rows)}",
            source=places.source,
            column=rating,
            where=places.labels(rows),
            unit=places.unit,
        )
    # _resolve_duplicates returns cells sorted by (user, item) already.
    csr, ts = csr_from_cells(u_idx, i_idx, vals, ts, (len(users), len(items)), presorted=True)
    stripped = int((id_cols["u"].stripped & keep).sum() + (id_cols["i"].stripped & keep).sum())
    for what, vocab, counts in (
        ("user", users, np.diff(csr.indptr)),
        ("item", items, np.bincount(csr.indices, minlength=len(items))),
    ):
        # Ids of the side table without rows join the vocabulary (cold start): said.
        added = np.flatnonzero(counts == 0) if built[what] else np.empty(0, np.int64)
        if added.size:
            shown = ", ".join(repr(x) for x in vocab.ids[added[:5]].tolist())
            more = f" and {added.size - 5} more" if added.size > 5 else ""
            notes += (
                f"{added.size} {what} id(s) of {what}_features without rows added "
                f"(cold start): {shown}{more}",
            )
    report = LoadReport(
        source=source,
        unit=places.unit,
        rows_read=n,
        loaded=int(csr.nnz),
        merged=int(kept_pos.size - csr.nnz),
        rejections=tuple(rejections),
        ids_stripped=stripped,
        duplicates=duplicates,
        encoding=encoding,
        separator=separator,
        notes=tuple(notes),
    )
    return cls(
        users,
        items,
        csr,
        ts,
        rating_scale=rating_scale,
        implicit=(rating is None) if implicit is None else bool(implicit),
        item_features=_align_features(item_features, items),
        user_features=_align_features(user_features, users),
        load_report=report,
    )


def _value_checks(
    raw: pd.Series, col, what: str, places: Places, checks: list, parsed=None
) -> np.ndarray:
    # ``parsed``: numeric_values(raw) when the caller has it already.
    nums, not_numeric = numeric_values(raw) if parsed is None else parsed
    if not_numeric.any():
        pos = np.flatnonzero(not_numeric)
        first = raw.iloc[pos[0]]
        first = first.item() if isinstance(first, np.generic) else first
        checks.append(
            _Check(
                f"non-numeric {what}s",
                col,
                not_numeric,
                f"column {col!r} has non-numeric {what}s (e.g. {first!r}) at {places.text(pos)}"
                + _decimal_comma_hint(first),
            )
        )
    with np.errstate(invalid="ignore"):
        nan_or_inf = ~np.isfinite(nums) & ~not_numeric
    if nan_or_inf.any():
        pos = np.flatnonzero(nan_or_inf)
        checks.append(
            _Check(
                f"missing (NaN) or infinite {what}s",
                col,
                nan_or_inf,
                f"column {col!r} has missing (NaN) or infinite {what}s at {places.text(pos)}",
            )
        )
    if what == "rating":
        with np.errstate(invalid="ignore"):
            finite, size = np.isfinite(nums), np.abs(nums)
            # Outside float32's range a rating would be stored as inf, or as 0, without a word.
            misfits = (
                ("large", finite & (size > _FLOAT32_MAX), "too large", ""),
                (
                    "small",
                    finite & (nums != 0) & (size < _FLOAT32_TINY),
                    "too close to 0",
                    ", which would be 0",
                ),
            )
        for kind, bad, problem, aside in misfits:
            if bad.any():
                pos = np.flatnonzero(bad)
                checks.append(
                    _Check(
                        f"ratings too {kind} for float32",
                        col,
                        bad,
                        f"column {col!r} has ratings {problem} to store as float32 "
                        f"(e.g. {nums[pos[0]]:g}{aside}) at {places.text(pos)}",
                    )
                )
    return nums


def _decimal_comma_hint(cell) -> str:
    """The advice for a number written with a decimal comma (``4,5``), else ``""``.

    Example:
        >>> _decimal_comma_hint(" 4,5"), _decimal_comma_hint("five")
        ('; write decimals with a point (4.5)', '')
    """
    if isinstance(cell, str) and re.fullmatch(r"[+-]?[0-9]*,[0-9]+", cell.strip()):
        return f"; write decimals with a point ({cell.strip().replace(',', '.')})"
    return ""


def _check_missing_times(missing: np.ndarray, col, places: Places, checks: list) -> None:
    """Add the check that names the rows of ``col`` without a time, if there are any."""
    if missing.any():
        pos = np.flatnonzero(missing)
        message = f"column {col!r} has missing timestamps at {places.text(pos)}"
        checks.append(_Check("missing timestamps", col, missing, message))


def _timestamp_checks(raw: pd.Series, col, places: Places, checks: list) -> np.ndarray:
    raw = _plain_times(raw)
    if pd.api.types.is_timedelta64_dtype(raw.dtype):
        raise DataError(
            f"column {col!r} holds durations (timedelta64), not points in time; add them to "
            "a start date (start + column) or give seconds since 1970"
        )
    objects = _date_objects(raw)
    if objects is not None:
        secs, missing = objects
        _check_missing_times(missing, col, places, checks)
        return np.where(missing, 0.0, secs)
    if pd.api.types.is_datetime64_any_dtype(raw):
        missing = raw.isna().to_numpy()
        _check_missing_times(missing, col, places, checks)
        # Aware times become naive UTC: subtracting the naive epoch from aware ones fails.
        as_utc = raw.dt.tz_convert("UTC").dt.tz_localize(None) if raw.dt.tz is not None else raw
        secs = (as_utc - pd.Timestamp(0)).dt.total_seconds().to_numpy(np.float64, na_value=np.nan)
        return np.where(missing, 0.0, secs)
    dates = _iso_dates(raw)
    if dates is not None:
        secs, missing, not_dates = dates
        for mask, reason, what in (
            (missing, "missing timestamps", "missing timestamps"),
            (not_dates, "dates that do not exist", "dates that do not exist"),
        ):
            if mask.any():
                pos = np.flatnonzero(mask)
                shown = "" if reason == "missing timestamps" else f" (e.g. {raw.iloc[pos[0]]!r})"
                checks.append(
                    _Check(
                        reason, col, mask, f"column {col!r} has {what}{shown} at {places.text(pos)}"
                    )
                )
        return np.where(missing | not_dates, 0.0, secs)
    parsed = numeric_values(raw)
    # Dates leave cells that are no number: only then is the column looked at for dates
    # (a regex over every cell, half again the load time of a large column).
    mixed = _dates_and_numbers(raw, col, places, checks, parsed) if parsed[1].any() else None
    nums = _value_checks(raw, col, "timestamp", places, checks, parsed) if mixed is None else mixed
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(nums) & ((nums < TIME_MIN) | (nums > TIME_MAX))
    if outside.any():
        pos = np.flatnonzero(outside)
        checks.append(
            _Check(
                "timestamps outside the years 1-9999",
                col,
                outside,
                f"column {col!r} has timestamps outside the years 1-9999 (seconds since "
                f"1970: e.g. {nums[pos[0]]:g}) at {places.text(pos)}",
            )
        )
    return nums


def _dates_and_numbers(raw: pd.Series, col, places: Places, checks: list, parsed):
    """Seconds since 1970 of a text column holding ISO dates among cells that are no
    number, with its bad rows added to ``checks``; ``None`` when no cell is a date (the
    caller then reads the column as numbers).  ``parsed`` is ``numeric_values(raw)``.

    What the column is follows from its cells: one with more dates than numbers is a
    column of dates, else one of numbers (so the dates on a tie).  Cells written the other
    way are bad rows, named beside a cell of this way: either way is a time, but a column
    written both ways is one mistake or another (two exports pasted together).  Cells of
    neither way are bad rows of their own: one typo in a column of dates ('1998-03-3l')
    is that row's fault, where reading the column as numbers blamed every date in it
    ("non-numeric timestamps (e.g. '1997-09-20')" at every line, the typo unnamed).

    Example:
        >>> checks, cells = [], pd.Series(["1970-01-02", "1970-01-3l", "1970-01-04"])
        >>> secs = _dates_and_numbers(cells, "t", Places.rows(range(3)), checks,
        ...                           numeric_values(cells))
        >>> secs.tolist()
        [86400.0, 0.0, 259200.0]
        >>> print(checks[0].message[:74])
        column 't' has timestamps that are not dates (e.g. '1970-01-3l') at rows 1
    """
    if not (raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)):
        return None
    missing = raw.isna().to_numpy(dtype=bool)
    present = raw.astype(object).where(~missing, "")
    if not all(isinstance(v, str) for v in present[~missing]):
        return None
    text = present.str.strip()
    is_date = text.str.fullmatch(_ISO_DATE).to_numpy(dtype=bool) & ~missing
    if not is_date.any():
        return None
    nums, not_numeric = parsed
    is_number = np.isfinite(nums) & ~is_date & ~missing
    if is_date.sum() <= is_number.sum():
        # A column of numbers: its dates are the rarer way, anything else is no number.
        _mixed_check(raw, col, places, checks, is_date, is_date, is_number)
        found = (np.where(is_date, 0.0, nums), not_numeric & ~is_date)
        return _value_checks(raw, col, "timestamp", places, checks, found)
    if is_number.any():
        _mixed_check(raw, col, places, checks, is_number, is_date, is_number)
    neither = ~missing & ~is_date & ~is_number
    if neither.any():
        pos = np.flatnonzero(neither)
        like = raw.iloc[int(np.flatnonzero(is_date)[0])]
        checks.append(
            _Check(
                "timestamps that are not dates",
                col,
                neither,
                f"column {col!r} has timestamps that are not dates (e.g. "
                f"{raw.iloc[pos[0]]!r}) at {places.text(pos)}, in a column of ISO dates "
                f"(like {like!r})",
            )
        )
    codes, uniques = pd.factorize(text[is_date])
    parsed_dates = np.array([_iso_seconds(t) for t in uniques], dtype=np.float64)[codes]
    not_dates = np.zeros(len(raw), dtype=bool)
    not_dates[is_date] = np.isnan(parsed_dates)
    if not_dates.any():
        pos = np.flatnonzero(not_dates)
        checks.append(
            _Check(
                "dates that do not exist",
                col,
                not_dates,
                f"column {col!r} has dates that do not exist (e.g. "
                f"{raw.iloc[pos[0]]!r}) at {places.text(pos)}",
            )
        )
    secs = np.zeros(len(raw), dtype=np.float64)
    secs[is_date] = np.where(np.isnan(parsed_dates), 0.0, parsed_dates)
    _check_missing_times(missing, col, places, checks)
    return secs


def _mixed_check(raw: pd.Series, col, places: Places, checks: list, bad, is_date, is_number):
    """Add the check that refuses the ``bad`` cells of a column mixing ISO dates and
    numbers, naming one cell of each way.

    Example:
        >>> checks, cells = [], pd.Series(["1970-01-02", "60", "120"])
        >>> date, number = np.array([True, False, False]), np.array([False, True, True])
        >>> _mixed_check(cells, "t", Places.rows(range(3)), checks, date, date, number)
        >>> print(checks[0].message[:80])
        column 't' mixes dates and numbers: row 0 has the date '1970-01-02', row 1 the n
    """
    date_at, number_at = int(np.flatnonzero(is_date)[0]), int(np.flatnonzero(is_number)[0])
    # One place each, so "row 0", not the "rows 0" of Places.text; the source said once.
    word = "line" if places.unit == "line" else "row"
    source = f" of {places.source}" if places.source else ""
    date_place, number_place = (
        f"{word} {labels_text(places.labels([at]))}" for at in (date_at, number_at)
    )
    message = (
        f"column {col!r} mixes dates and numbers: {date_place}{source} has the date "
        f"{raw.iloc[date_at]!r}, {number_place} the number "
        f"{raw.iloc[number_at]!r}; write every timestamp one way (ISO dates or seconds "
        "since 1970)"
    )
    checks.append(_Check("timestamps mixing dates and numbers", col, bad, message))


#: Timestamps are seconds since 1970 (UTC); beyond the years 1-9999 no clock or calendar
#: (Python's datetime, the service's ISO times) can show one, so such a number is no time.
TIME_MIN = -62135596800.0  # 0001-01-01T00:00:00Z
TIME_MAX = 253402300799.0  # 9999-12-31T23:59:59Z
_ISO_DATE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _plain_times(raw: pd.Series) -> pd.Series:
    """A categorical timestamp column as its values (dates, numbers or texts), read then
    as such a column is.

    Example:
        >>> _plain_times(pd.Series([1577836800, 60], dtype="category")).dtype
        dtype('int64')
    """
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(raw.cat.categories.dtype)
    return raw


def _date_objects(raw: pd.Series):
    """``(seconds, missing)`` for a column of periods (``2020-01``: its start) or of Python
    date and time objects (``datetime.date``, ``datetime.datetime``, ``pandas.Timestamp``,
    ``numpy.datetime64``; aware ones in any zones, naive ones taken as UTC), else
    ``None``.  A period's number is its count of periods since 1970 (600 for January
    2020 by the month), no time in seconds; and pandas leaves date objects (dates, or
    times in several zones) as objects, where the datetime64 path does not see them.

    Example:
        >>> cells = pd.Series([_dt.date(1970, 1, 2), None], dtype=object)
        >>> secs, missing = _date_objects(cells)
        >>> float(secs[0]), missing.tolist()
        (86400.0, [False, True])
        >>> periods = pd.Series(pd.period_range("1970-01", periods=2, freq="M"))
        >>> _date_objects(periods)[0].tolist()  # the starts of January and February 1970
        [0.0, 2678400.0]
    """
    if isinstance(raw.dtype, pd.PeriodDtype):
        missing = raw.isna().to_numpy(dtype=bool)
        # A period in seconds counts seconds since 1970: exact, in every year 1-9999.
        secs = raw.dt.asfreq("s", how="start").array.asi8.astype(np.float64)
        return np.where(missing, 0.0, secs), missing
    if raw.dtype != object:
        return None
    missing = raw.isna().to_numpy(dtype=bool)
    present = raw[~missing]
    if present.empty or not all(isinstance(v, (_dt.date, np.datetime64)) for v in present):
        return None
    secs = np.zeros(len(raw), dtype=np.float64)
    secs[np.flatnonzero(~missing)] = [_object_seconds(v) for v in present]
    return secs, missing


def _object_seconds(value) -> float:
    """Seconds since 1970 of one date or time object (UTC unless it carries a zone)."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if not isinstance(value, _dt.datetime):
        value = _dt.datetime.combine(value, _dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return (value - _EPOCH).total_seconds()


# A date and time with _ISO_DATE's optional fraction and zone, taken apart to be
# spelled as datetime.isoformat writes them (see _as_isoformat).
_ISO_TIME_PARTS = re.compile(
    r"(?P<head>[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)"
    r"(?:\.(?P<frac>[0-9]+))?(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _as_isoformat(text: str) -> str:
    """``text`` spelled as ``datetime.isoformat`` writes it (six fraction digits, a zone
    ``+HH:MM``), which Python 3.10's ``fromisoformat`` reads too; 3.11 reads ``Z``, ``+0530``
    and any number of fraction digits (past six cut off) and means the same by them.
    pandas reads them all, so on 3.10 a time ending in ``Z`` was a date in the years where
    pandas parses and "not a date" before 1685 or after 2255, where Python has the word.

    Example:
        >>> _as_isoformat("2020-01-31T10:00:00.5Z"), _as_isoformat("2020-01-31 10:00+0530")
        ('2020-01-31T10:00:00.500000+00:00', '2020-01-31 10:00+05:30')
    """
    parts = _ISO_TIME_PARTS.fullmatch(text)
    if parts is None:
        return text
    out, frac, zone = parts["head"], parts["frac"], parts["zone"]
    if frac is not None:
        out += "." + (frac + "00000")[:6]
    if zone is not None:
        out += "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
    return out


def _iso_seconds(text: str) -> float:
    """Seconds since 1970 of one ISO 8601 text (UTC unless it says), NaN if no date; the
    same on every Python this package runs on (:func:`_as_isoformat`)."""
    try:
        when = _dt.datetime.fromisoformat(_as_isoformat(text))
    except ValueError:
        return np.nan
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return (when - _EPOCH).total_seconds()


# Microseconds a float64 holds exactly (about 1685 to 2255): inside them pandas' parse,
# floored to the microsecond as Python's parser truncates, gives Python's seconds.
_EXACT_US = 2**53


def _iso_seconds_many(texts: np.ndarray) -> np.ndarray:
    """:func:`_iso_seconds` of each text of ``texts`` (stripped ISO 8601 spellings).

    pandas parses them all at once; the texts it refuses or places outside the span where a
    float holds every microsecond go through Python's parser, which has the last word
    (pandas' nanosecond times end in 2262, and its refusals are not always Python's).

    Example:
        >>> _iso_seconds_many(np.array(["1970-01-02", "0001-01-01", "1970-13-01"], dtype=object))
        array([ 8.64000000e+04, -6.21355968e+10,             nan])
    """
    when = pd.to_datetime(
        pd.Series(texts, dtype=object), format="ISO8601", utc=True, errors="coerce"
    )
    parsed = ~when.isna().to_numpy(dtype=bool)
    # pandas 2 parses to nanoseconds, later ones may pick a coarser unit.
    ticks = when.array.asi8
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[when.dt.unit]
    if per_second > 10**6:
        micros = ticks // (per_second // 10**6)
    else:
        micros = ticks * (10**6 // per_second)
    fast = parsed & (np.abs(micros) < _EXACT_US)
    secs = np.full(len(texts), np.nan)
    secs[fast] = micros[fast] / 1e6
    for i in np.flatnonzero(~fast):
        secs[i] = _iso_seconds(texts[i])
    return secs


def _iso_dates(raw: pd.Series):
    """``(seconds, missing, not_dates)`` when every present cell of a text column is an
    ISO 8601 date or date and time (``2020-01-31``, ``2020-01-31T10:00:00+02:00``;
    without an offset, UTC), else ``None`` (then :func:`_dates_and_numbers` sorts the
    cells by kind).  ``not_dates`` marks cells written as dates that name none (month 13).

    Example:
        >>> secs, missing, bad = _iso_dates(pd.Series(["1970-01-02", None, "1970-13-01"]))
        >>> float(secs[0]), missing.tolist(), bad.tolist()
        (86400.0, [False, True, False], [False, False, True])
    """
    if not (raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype)):
        return None
    missing = raw.isna().to_numpy(dtype=bool)
    present = raw[~missing].astype(object)
    if present.empty:
        return None
    # Every check and parse runs once per distinct cell: a column of days repeats few.
    codes, uniques = pd.factorize(present)
    if pd.api.types.infer_dtype(uniques, skipna=False) != "string":
        return None
    text = pd.Series(uniques, dtype=object).str.strip()
    if not text.str.fullmatch(_ISO_DATE).all():
        return None
    parsed = _iso_seconds_many(text.to_numpy(dtype=object))[codes]
    secs = np.zeros(len(raw), dtype=np.float64)
    not_dates = np.zeros(len(raw), dtype=bool)
    where = np.flatnonzero(~missing)
    not_dates[where] = np.isnan(parsed)
    secs[where] = np.where(np.isnan(parsed), 0.0, parsed)
    return secs, missing, not_dates


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)


def from_cells(
    cls: type[T], rows, cols, vals, shape, *, source, rating_scale, user_ids, item_ids, notes=()
) -> T:
    """``cls`` from observed matrix cells (dense or sparse input), checked; repeated
    cells are summed and counted.

    Example:
        >>> from latentrec import Interactions
        >>> rows, cols = np.array([0, 1]), np.array([1, 0])
        >>> kw = dict(source="matrix", rating_scale=None, user_ids=None, item_ids=None)
        >>> from_cells(Interactions, rows, cols, [5.0, 3.0], (2, 2), **kw).nnz
        2
    """
    vals = np.asarray(vals, dtype=np.float64)
    bad = ~np.isfinite(vals)
    if bad.any():
        where = np.stack([rows[bad], cols[bad]], axis=1)[:5].tolist()
        raise DataError(f"matrix has NaN or infinite ratings at (row, column) {where}")
    _refuse_float32_misfits(vals, rows, cols, "matrix has ratings")
    if rows.size == 0:
        raise DataError("matrix has no observed cells")
    try:
        users = Vocabulary(np.arange(shape[0]) if user_ids is None else user_ids, "user")
        items = Vocabulary(np.arange(shape[1]) if item_ids is None else item_ids, "item")
    except (TypeError, ValueError) as err:
        raise DataError(f"bad user_ids / item_ids: {err}") from None
    if len(users) != shape[0] or len(items) != shape[1]:
        raise DataError("user_ids / item_ids lengths must match the matrix shape")
    _check_scale(
        vals,
        rating_scale,
        lambda pos: [(int(r), int(c)) for r, c in zip(rows[pos], cols[pos], strict=True)],
    )
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    same = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
    merged = int(same.sum())
    if merged and rating_scale is not None:
        # The rule of from_arrays / from_frame: duplicates="sum" is refused with a scale,
        # since 5 + 3 = 8 is no rating on 1-5; a COO matrix's repeats are summed by
        # scipy's rule, so they are refused here the same way, by cell.
        where = np.stack([rows[1:][same], cols[1:][same]], axis=1)[:5].tolist()
        raise DataError(
            f"{source} stores cells (row, column) {where} more than once, and adding "
            f"them up (scipy's rule for repeated cells) can leave the rating scale "
            f"{tuple(rating_scale)} (two 3s make a 6): keep one value per cell (e.g. "
            "Interactions.from_arrays(m.row, m.col, m.data, duplicates='last' or 'mean')), "
            "or give no rating scale for counts"
        )
    if merged:
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        vals = np.add.reduceat(vals, starts)
        rows, cols = rows[starts], cols[starts]
        _refuse_float32_misfits(vals, rows, cols, "adding up repeated cells gives ratings")
    csr, _ = csr_from_cells(rows, cols, vals, None, shape, presorted=True)
    report = LoadReport(
        source=source,
        unit="cell",
        rows_read=int(rows.size + merged),
        loaded=int(csr.nnz),
        merged=merged,
        duplicates="sum" if merged else None,
        notes=tuple(notes),
    )
    return cls(users, items, csr, None, rating_scale=rating_scale, load_report=report)


def _refuse_float32_misfits(vals, rows, cols, what: str) -> None:
    """Refuse ratings float32 cannot hold, naming their cells: above its largest value,
    or nonzero below its smallest (stored, they would become 0 without a word; the frame
    and CSV readers refuse them too).

    Example:
        >>> try:
        ...     _refuse_float32_misfits(np.array([4.0, 1e-50]), np.array([0, 2]),
        ...                             np.array([1, 3]), "matrix has ratings")
        ... except DataError as err:
        ...     print(str(err)[-43:])
        which would be 0) at (row, column) [[2, 3]]
    """
    size = np.abs(vals)
    huge = size > _FLOAT32_MAX
    if huge.any():
        where = np.stack([rows[huge], cols[huge]], axis=1)[:5].tolist()
        raise DataError(f"{what} too large for float32 at (row, column) {where}")
    tiny = (vals != 0) & (size < _FLOAT32_TINY)
    if tiny.any():
        where = np.stack([rows[tiny], cols[tiny]], axis=1)[:5].tolist()
        raise DataError(
            f"{what} too close to 0 to store as float32 (e.g. {vals[tiny][0]:g}, which "
            f"would be 0) at (row, column) {where}"
        )


# ---------------------------------------------------------------------- helpers
def is_nan(x) -> bool:
    """Whether ``x`` is a float NaN (False for anything NaN does not apply to).

    Example:
        >>> is_nan(float("nan")), is_nan("nan")
        (True, False)
    """
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _check_scale(vals: np.ndarray, scale, where) -> None:
    if scale is None:
        return
    lo, hi = scale
    if not lo < hi:
        raise DataError(f"rating_scale must be (low, high) with low < high, got {scale}")
    out = (vals < lo) | (vals > hi)
    if out.any():
        pos = np.flatnonzero(out)
        raise DataError(
            f"{pos.size} rating(s) outside the scale [{lo:g}, {hi:g}] "
            f"(e.g. {vals[pos[0]]:g}) at rows {labels_text(where(pos))}"
        )


def _stripped_index(table, what: str, strip: bool):
    """The side table with surrounding whitespace stripped from text ids, as the data's."""
    if not strip or not isinstance(table, pd.DataFrame):
        return table
    index = table.index
    if not (index.dtype == object or pd.api.types.is_string_dtype(index.dtype)):
        return table
    stripped = [v.strip() if isinstance(v, str) else v for v in index]
    if stripped == list(index):
        return table
    out = table.copy()
    out.index = pd.Index(stripped, name=index.name)
    return out


def _feature_ids(table: pd.DataFrame | None, what: str, column=None) -> np.ndarray | None:
    if table is None:
        return None
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{what}_features must be a DataFrame indexed by {what} id")
    named = [c for c in dict.fromkeys((column, f"{what}_id")) if c is not None and c in table]
    if named and isinstance(table.index, pd.RangeIndex):
        # Its row numbers would be read as ids: every real id would get no features and
        # 0..n-1 would join the data as new ids, without a word.
        raise DataError(
            f"{what}_features is indexed by row numbers 0..{len(table) - 1} but has the "
            f"column {named[0]!r}; index it by the {what} id: "
            f"{what}_features.set_index({named[0]!r})"
        )
    if not table.index.is_unique:
        dup = table.index[table.index.duplicated()].unique()[:5].tolist()
        raise DataError(f"{what}_features has repeated {what} ids: {dup}")
    return table.index.to_numpy()


def _features_matched(table, ids: np.ndarray, what: str) -> tuple:
    """The note saying which rated ids have no row in the side table (their features are
    missing), or a DataError when none has one and the two hold ids of different kinds
    (integers against text that no integer reads as): then the table describes none of
    the data's ids, and every rated id would get missing features while the table's ids
    joined as new ones. Ids match as :func:`_align_features` matches them, so the
    integer 10 and the text ``"10"`` are one id.

    Example:
        >>> table = pd.DataFrame({"genres": ["A", "B"]}, index=[1, 2])
        >>> _features_matched(table, np.array([1, 2, 3, 1]), "item")
        ('1 of 3 rated item id(s) have no row in item_features (their features are missing): 3',)
    """
    if table is None or len(table) == 0:
        return ()
    rated = pd.unique(ids)
    # The same rule as _align_features (ids matched as Vocabulary matches them, so 10 and
    # "10" are one id): the check and the alignment must never disagree.
    missing = Vocabulary(table.index.to_numpy(), what).lookup(rated) < 0
    if not missing.any():
        return ()

    def shown(values) -> str:
        return ", ".join(repr(x) for x in pd.Index(values)[:3].tolist())

    # Refused only where the ids are of two kinds: a catalogue of other titles than the
    # rated ones (a store's events on titles it has no entry for) is data, not a mistake.
    if missing.all() and _id_kind(rated) != _id_kind(table.index):
        raise DataError(
            f"{what}_features matches none of the {rated.size} rated {what} ids (the data has "
            f"{shown(rated)}, ..., the table {shown(table.index)}, ...): the data's {what} "
            f"ids are {_id_kind(rated)} and the table's {_id_kind(table.index)}, and none is "
            f"the same id written another way (as '1' is 1); check that it is indexed by "
            f"the {what} ids of the data"
        )
    more = f" and {int(missing.sum()) - 3} more" if missing.sum() > 3 else ""
    return (
        f"{int(missing.sum())} of {rated.size} rated {what} id(s) have no row in "
        f"{what}_features (their features are missing): {shown(rated[missing])}{more}",
    )


def _id_kind(ids) -> str:
    """``"integers"``, ``"text"`` or the mixture, in words, of a list of ids."""
    kinds = {"text" if isinstance(x, str) else "integers" for x in list(ids)[:1000]}
    if kinds == {"integers"} and pd.api.types.is_float_dtype(pd.Index(ids).dtype):
        return "floats"
    return " and ".join(sorted(kinds)) if kinds else "empty"


def _encode(ids: np.ndarray, vocab: Vocabulary | None, what: str, extra, idx, keep) -> tuple:
    """Row indices into ``vocab`` (looked up already) or into a new sorted vocabulary."""
    if vocab is not None:
        return idx[keep].astype(np.int32), vocab
    codes, uniques = pd.factorize(ids, sort=True)
    ids = np.asarray(uniques)
    if extra is not None and len(extra):
        tmp = Vocabulary(ids, what)
        extra = np.asarray(extra)
        try:
            new = extra[tmp.lookup(extra) < 0]
        except (TypeError, ValueError) as err:
            raise DataError(f"{what}_features has ids that are not ids: {err}") from None
        if new.size:
            ids = np.concatenate([ids.astype(object), new.astype(object)])
    try:
        return codes.astype(np.int32), Vocabulary(ids, what)
    except (TypeError, ValueError) as err:
        raise DataError(f"{what}_features has ids that do not fit the data's: {err}") from None


def _align_features(table: pd.DataFrame | None, vocab: Vocabulary) -> pd.DataFrame | None:
    if table is None:
        return None
    pos = Vocabulary(table.index.to_numpy(), vocab.name).lookup(vocab.ids)
    return _rows_by_position(table, pos, vocab)


def _rows_by_position(table: pd.DataFrame, pos: np.ndarray, vocab: Vocabulary) -> pd.DataFrame:
    if len(table) == 0:
        # No row to stand in for the missing ones (iloc[0] of nothing was an IndexError
        # out of from_frame): every id's values are missing, the columns kept.
        table = table.reindex(pd.RangeIndex(1)).astype(
            {c: "Int64" for c in table.columns if _plain_integer(table[c])}
        )
    out = table.iloc[np.where(pos >= 0, pos, 0)].copy()
    if (pos < 0).any():
        # Integer columns become nullable so that a missing row does not turn 24 into 24.0.
        for col in out.columns:
            if _plain_integer(out[col]):
                out[col] = out[col].astype("Int64")
        out.iloc[np.flatnonzero(pos < 0)] = pd.NA
    out.index = pd.Index(vocab.ids, name=f"{vocab.name}_id")
    return out


def _plain_integer(column: pd.Series) -> bool:
    """Whether ``column`` holds NumPy integers, which have no missing value."""
    return pd.api.types.is_integer_dtype(column) and not isinstance(
        column.dtype, pd.api.extensions.ExtensionDtype
    )


def align_side_table(table, vocab: Vocabulary, side: str) -> pd.DataFrame | None:
    """``table``, a side table indexed by raw ``side`` id, as the table an ``Interactions``
    holds: one row per id of ``vocab``, in its order (row ``i`` describes id ``i``), an id
    without a row getting missing values.

    A table already in that order is returned as it is.  One in another order is put in
    it, matching ids as the readers match them (``10`` and ``"10"`` are one id): its rows
    were taken by position before, so a table sorted otherwise gave other items' titles
    and features without a word.  A row for an id ``vocab`` does not hold, a repeated id
    or something other than a DataFrame is a ``ValueError`` (``TypeError``) naming it:
    nothing is dropped unseen.

    Example:
        >>> vocab = Vocabulary(np.array([10, 20, 30]), "item")
        >>> table = pd.DataFrame({"title": ["Thirty", "Ten"]}, index=[30, 10])
        >>> align_side_table(table, vocab, "item")["title"].tolist()
        ['Ten', nan, 'Thirty']
        >>> other = pd.DataFrame({"title": ["X", "Ten"]}, index=[40, 10])
        >>> align_side_table(other, vocab, "item")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: item_features has a row for 1 item id the data does not hold (40); ...
    """
    if table is None:
        return None
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"{side}_features must be a pandas DataFrame indexed by {side} id, "
            f"got {type(table).__name__}"
        )
    index = table.index
    if len(table) == len(vocab) and index.equals(pd.Index(vocab.ids)):
        return table
    if index.has_duplicates:
        repeated = index[index.duplicated()].unique()[:3].tolist()
        raise ValueError(
            f"{side}_features has more than one row for {side} id(s) "
            f"{', '.join(map(repr, repeated))}"
        )
    try:
        pos = Vocabulary(index.to_numpy(), vocab.name).lookup(vocab.ids)
    except (TypeError, ValueError) as err:
        # Vocabulary's words ("ids contain missing values") did not say which ids.
        raise type(err)(f"{side}_features is indexed by {side} id, and its index: {err}") from None
    used = np.zeros(len(table), dtype=bool)
    used[pos[pos >= 0]] = True
    if len(table) and not used.any():
        raise ValueError(
            f"{side}_features describes none of the data's {side} ids (its index holds "
            f"{', '.join(repr(x) for x in index[:3].tolist())}, ..., the data "
            f"{', '.join(repr(x) for x in vocab.ids[:3].tolist())}, ...): index it by {side} id"
        )
    if not used.all():
        extra = index[~used]
        shown = ", ".join(repr(x) for x in extra[:3].tolist())
        more = f", and {extra.size - 3} more" if extra.size > 3 else ""
        plural = "s" if extra.size > 1 else ""
        raise ValueError(
            f"{side}_features has a row for {extra.size} {side} id{plural} the data does not "
            f"hold ({shown}{more}); keep the data's only: "
            f"table[table.index.isin(data.{side}s.ids)]"
        )
    return _rows_by_position(table, pos, vocab)


def _resolve_duplicates(u, i, vals, ts, policy, positions, places: Places, cols, users, items):
    """Merge repeated (user, item) cells by ``policy``; ``positions`` are the input rows."""
    order = np.arange(u.size)
    keys = (order, ts, i, u) if (ts is not None and policy == "last") else (order, i, u)
    perm = np.lexsort(keys)
    u, i, vals = u[perm], i[perm], vals[perm]
    ts = None if ts is None else ts[perm]
    same_as_next = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    if not same_as_next.any():
        return u, i, vals, ts
    if policy == "error":
        pos = np.flatnonzero(same_as_next)
        pairs = list(
            zip(users.ids[u[pos[:5]]].tolist(), items.ids[i[pos[:5]]].tolist(), strict=True)
        )
        rows = np.unique(positions[perm[np.concatenate([pos, pos + 1])]])
        raise DataError(
            f"{pos.size} repeated ({cols[0]}, {cols[1]}) pair(s), e.g. {pairs}, at "
            # One message for both audiences, as for encodings: the keyword and the flag.
            f"{places.text(rows)}; pass duplicates='last', 'mean' or 'sum' "
            "(--duplicates last, mean or sum)",
            source=places.source,
            column=tuple(cols),
            where=places.labels(rows),
            unit=places.unit,
        )
    starts = np.flatnonzero(np.concatenate([[True], ~same_as_next]))
    ends = np.concatenate([starts[1:], [u.size]]) - 1
    if policy == "last":
        keep_vals = vals[ends]
    else:
        sums = np.add.reduceat(vals, starts)
        keep_vals = sums / (ends - starts + 1) if policy == "mean" else sums
    keep_ts = (
        None if ts is None else (ts[ends] if policy == "last" else np.maximum.reduceat(ts, starts))
    )
    return u[starts], i[starts], keep_vals, keep_ts


def csr_from_cells(rows, cols, vals, ts, shape, presorted: bool = False):
    """The float32 CSR of distinct cells (and their timestamps in the same order).

    Example:
        >>> csr, ts = csr_from_cells([1, 0], [0, 1], [4.0, 5.0], None, (2, 2))
        >>> csr.toarray().tolist(), ts
        ([[0.0, 5.0], [4.0, 0.0]], None)
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int32)
    vals = np.asarray(vals, dtype=np.float32)
    if not presorted:
        perm = np.lexsort((cols, rows))
        rows, cols, vals = rows[perm], cols[perm], vals[perm]
        ts = None if ts is None else np.asarray(ts)[perm]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    csr = sp.csr_matrix((vals, cols, indptr), shape=shape)
    # Cells are unique and sorted by construction; saying so stops scipy from
    # re-sorting (and from summing what it would take for duplicates).
    csr.has_canonical_format = True
    return csr, (None if ts is None else np.asarray(ts, dtype=np.float64))
