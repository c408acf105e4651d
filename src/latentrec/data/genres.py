"""Genre cells of a side table, read one way everywhere: ``"A|B"`` text or a list of names.

A side table's ``genres`` column (or any multi-label column) may hold ``sep``-joined text,
as MovieLens writes it, or a list, tuple, set or array of names, as a Parquet file or a
JSON body gives it. Every reader (:func:`genre_matrix`, which the pipeline and the
beyond-accuracy metrics build on, a ``Rules`` cap, the hybrid model's feature encoder,
the factor report, the taste map) goes through
:func:`genre_labels`, so ``["Drama", "War"]`` and ``"Drama|War"`` are the same two genres
and never the label ``"['Drama', 'War']"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "genre_label_lists",
    "genre_label_pairs",
    "genre_labels",
    "genre_matrix",
    "is_list_cell",
]


# Cell shapes that hold several genres as elements rather than as ``sep``-joined text.
_LISTS = (list, tuple, set, frozenset, np.ndarray, pd.Series)


def is_list_cell(cell) -> bool:
    """Whether a cell holds names as elements (a list, tuple, set, array or Series) rather
    than as one value or ``sep``-joined text.

    Example:
        >>> is_list_cell(["Drama"]), is_list_cell(("A", "B")), is_list_cell("Drama|War")
        (True, True, False)
    """
    return isinstance(cell, _LISTS)


def genre_labels(cell, sep: str = "|") -> list[str]:
    """The genres one side-table cell names, in order, each once: ``"A|B"`` text split on
    ``sep``, or a list (tuple, set, array) of names, each of which may be ``sep``-joined.

    Names are stripped of surrounding spaces; a missing cell (None, NaN, ``pd.NA``), a
    missing element, and a blank or separator-only cell or element name none. A cell or
    element of another kind (a dict, a list inside a list) raises ``TypeError``; numbers
    are read as their text.

    Example:
        >>> genre_labels("Drama| War"), genre_labels(["Drama", "War|Drama", None])
        (['Drama', 'War'], ['Drama', 'War'])
        >>> genre_labels(" | "), genre_labels(None), genre_labels([])
        ([], [], [])
    """
    nested = isinstance(cell, _LISTS)
    out: dict[str, None] = {}  # ordered, each name once
    for part in list(cell) if nested else [cell]:
        if isinstance(part, (*_LISTS, dict)):
            kind = "a dict" if isinstance(part, dict) else "a list"
            raise TypeError(f"{kind} inside a list" if nested else kind)
        if part is None or (pd.api.types.is_scalar(part) and pd.isna(part)):
            continue  # None, NaN of any float type, pd.NA, NaT
        for name in str(part).split(sep):
            if name.strip():
                out[name.strip()] = None
    return list(out)


def genre_label_lists(cells: pd.Series, sep: str = "|", *, what: str = "item") -> list[list[str]]:
    """:func:`genre_labels` of each cell of a side-table column; a cell it cannot read
    raises a ``ValueError`` naming the column and the row's index (the id of the ``what``:
    an item, a user, or a row of a table that is neither).

    Example:
        >>> import pandas as pd
        >>> genre_label_lists(pd.Series(["A|B", ["C"], None], name="genres"))
        [['A', 'B'], ['C'], []]
        >>> genre_label_lists(pd.Series([{"A": 1}], index=[7], name="genres"))
        Traceback (most recent call last):
        ValueError: 'genres' of item 7 is a dict; give genres as 'A|B' text or a list of names
    """
    out = []
    for key, cell in cells.items():
        try:
            out.append(genre_labels(cell, sep))
        except TypeError as err:
            raise ValueError(
                f"{cells.name!r} of {what} {key!r} is {err}; give genres as "
                f"'A{sep}B' text or a list of names"
            ) from None
    return out


def genre_label_pairs(
    cells: pd.Series, sep: str = "|", *, what: str = "item"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`genre_label_lists` flattened: each (row position, label) pair, as two arrays,
    in row order.  A column of text (no list cells) is split by pandas in one pass rather
    than cell by cell, which is what a 10^5-row side table needs.

    Example:
        >>> import pandas as pd
        >>> rows, labels = genre_label_pairs(pd.Series(["A| B|A", None, ["C"]], name="g"))
        >>> rows.tolist(), labels.tolist()
        ([0, 0, 2], ['A', 'B', 'C'])
    """
    if cells.dtype == object and any(isinstance(v, (*_LISTS, dict)) for v in cells):
        lists = genre_label_lists(cells, sep, what=what)
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        labels = np.fromiter(
            (label for row in lists for label in row), dtype=object, count=int(counts.sum())
        )
        return np.repeat(np.arange(len(lists)), counts), labels
    present = cells.notna().to_numpy()
    split = cells[present].astype(str).str.split(sep, regex=False)
    counts = split.str.len().to_numpy(dtype=np.int64)
    labels = split.explode().str.strip().to_numpy(dtype=object)
    rows = np.repeat(np.flatnonzero(present), counts)
    keep = labels != ""
    rows, labels = rows[keep], labels[keep]
    once = ~pd.DataFrame({"row": rows, "label": labels}).duplicated().to_numpy()
    return rows[once], labels[once]


def genre_matrix(item_features, n_items: int, column: str = "genres", sep: str = "|"):
    """``(items x labels binary CSR, label names)`` from a multi-label column, or
    ``(None, None)`` when the table or column is missing.

    Each cell is read by :func:`genre_labels`: ``sep``-joined text or a list of names;
    a missing, blank or separator-only cell has no label. Names are sorted.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"genres": ["A|B", None, ["B"], "|"]})
        >>> m, names = genre_matrix(table, 4)
        >>> m.toarray().tolist(), names.tolist()
        ([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]], ['A', 'B'])
    """
    if item_features is None or column not in item_features.columns:
        return None, None
    cells = item_features[column]
    if len(cells) != n_items:
        raise ValueError(f"item_features has {len(cells)} rows for {n_items} items")
    labels = genre_label_lists(cells.rename(column), sep)
    names = sorted({name for row in labels for name in row})
    column_of = {name: j for j, name in enumerate(names)}
    counts = np.fromiter((len(row) for row in labels), dtype=np.int64, count=len(labels))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.fromiter(
        (column_of[name] for row in labels for name in row), dtype=np.int32, count=indptr[-1]
    )
    matrix = sp.csr_matrix(
        (np.ones(indices.size), indices, indptr), shape=(len(labels), len(names))
    )
    matrix.sort_indices()
    return matrix, np.asarray(names, dtype=str)
