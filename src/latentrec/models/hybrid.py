"""Hybrid factors: an entity's vector is its id vector plus the sum of its feature vectors.

:class:`FeatureEncoder` turns a side table (``Interactions.item_features`` /
``user_features``) into a sparse feature matrix; :class:`HybridMF` learns one vector per
id and per feature with a BPR loss (LightFM's model, trained by latentrec's own kernel).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.genres import genre_label_pairs, genre_labels, is_list_cell
from ..data.interactions import Interactions
from ..errors import HyperparameterError
from ..kernels.hybrid import (
    bpr_feature_epoch,
    bpr_item_rows,
    bpr_loss,
    bpr_rows,
    warp_feature_epoch,
)
from ._training import check_epochs, check_float, check_int, check_real, run_epochs
from .factor import FactorModel
from .foldin import fold_in_values

NUMERIC_MODES = ("bucket", "standardize")
SCHEDULES = ("constant", "adagrad")
LOSSES = ("bpr", "warp")
# The side-table column an item's display title comes from (Catalog reads it): one value
# per item, so "auto" features never take it (see FeatureEncoder).
TITLE_COLUMN = "title"
TITLE_SKIPPED = "one title per item: an item id in disguise, not content"
# Positives per WARP kernel call: bounds the candidate table at CHUNK x max_sampled ints.
CHUNK = 1 << 20


class FeatureEncoder:
    """One side table (rows = users or items) → a sparse, weighted feature matrix.

    Column kinds, decided from the data when ``columns="auto"`` (or for each named column):

    * numbers (``year``, ``age``): ``numeric="bucket"`` puts each value in one of
      ``n_buckets`` quantile buckets (one-hot); ``"standardize"`` gives one feature with
      value (x − mean) / std; an infinite number is refused, naming its column and row;
    * text with ``sep`` in it (MovieLens ``genres`` ``"Action|Sci-Fi"``), or cells that
      are lists (tuples, arrays) of names (``["Action", "Sci-Fi"]``): multi-label, each cell
      read by :func:`~latentrec.data.genres.genre_labels` (names stripped, each once; a
      blank or separator-only cell has none; a dict or a list inside a list is refused,
      naming the column and the row); an entity with m labels gets weight 1/m on each, so
      the column adds up to one vector.  Text and lists give the same encoding;
    * other text, categories and booleans (``gender``, ``occupation``): one-hot.  A cell
      given as a list of one name reads as that name.

    With ``"auto"``, a column named ``title`` is skipped whatever its size: it is the
    column an item's display title comes from (the catalogue reads it), one title per
    item, so its one-hot features would be a second item id, not content, and a new
    item's title is never one the encoder saw.  The rule goes by that name, not by
    "values unique per row": a small table's genres or genders can be unique per row
    and still be content.  Text columns with more than ``max_categories`` distinct
    values or labels (free text, identifiers such as ``zip_code``) are skipped too.  A
    column named explicitly is always used, however many values it has (``title``
    included).  A column with no value at all is skipped either way.  Each skipped
    column is kept in ``skipped_``, column -> why.  Missing values give no feature.
    The learned encoding is plain JSON (:meth:`to_dict`, the skipped columns with it),
    so model files can store it.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"genres": ["Action|Sci-Fi", "Drama"], "year": [1977, 1995]})
        >>> enc = FeatureEncoder(n_buckets=2).fit(table)
        >>> enc.names_
        ['genres=Action', 'genres=Drama', 'genres=Sci-Fi', 'year<1986', 'year>=1986']
        >>> films = table.assign(title=["Alien", "Heat"])
        >>> FeatureEncoder(n_buckets=2).fit(films).skipped_["title"][:20]
        'one title per item: '
        >>> enc.transform(table).toarray().tolist()
        [[0.5, 0.0, 0.5, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 1.0]]
    """

    def __init__(
        self,
        columns="auto",
        *,
        numeric: str = "bucket",
        n_buckets: int = 5,
        sep: str = "|",
        max_categories: int = 100,
    ):
        self.columns = columns
        self.numeric = numeric
        self.n_buckets = n_buckets
        self.sep = sep
        self.max_categories = max_categories

    # ------------------------------------------------------------------ learning
    def fit(self, table: pd.DataFrame, *, what: str = "row") -> FeatureEncoder:
        """Decide each column's kind and vocabulary (or bucket edges) from ``table``;
        ``what`` (``"item"``, ``"user"``) names a row in the error for an unreadable cell.

        Example:
            >>> import pandas as pd
            >>> table = pd.DataFrame({"gender": ["F", "M", "F"], "zip": ["a", "b", "c"]})
            >>> enc = FeatureEncoder(max_categories=2).fit(table)
            >>> enc.names_
            ['gender=F', 'gender=M']
            >>> enc.skipped_
            {'zip': '3 distinct values, more than max_categories=2'}
            >>> FeatureEncoder(["gender", "zip"], max_categories=2).fit(table).skipped_
            {}
        """
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"a feature table must be a pandas DataFrame, got {type(table)}")
        if self.numeric not in NUMERIC_MODES:
            raise ValueError(f"numeric must be one of {NUMERIC_MODES}, got {self.numeric!r}")
        check_int("n_buckets", self.n_buckets)
        auto = isinstance(self.columns, str) and self.columns == "auto"
        if auto:
            names = list(table.columns)
        else:
            names = list(self.columns)
            missing = [c for c in names if c not in table.columns]
            if missing:
                raise ValueError(
                    f"feature column(s) {missing} not in the side table; it has "
                    f"{list(table.columns)}"
                )
        specs, skipped = [], {}
        for name in names:
            if auto and str(name) == TITLE_COLUMN:
                skipped[str(name)] = TITLE_SKIPPED
                continue
            spec, reason = self._column_spec(table[name], str(name), not auto, what)
            if spec is None:
                skipped[str(name)] = reason
            else:
                specs.append(spec)
        self.spec_ = {"columns": specs}
        self.skipped_ = skipped
        self.names_ = _feature_names(specs)
        return self

    def _column_spec(self, col: pd.Series, name: str, forced: bool, what: str):
        values = col.dropna()
        if values.empty:
            return None, "no values (every cell is missing)"
        if pd.api.types.is_bool_dtype(col.dtype):
            return {"column": name, "kind": "onehot", "values": ["False", "True"]}, ""
        if pd.api.types.is_numeric_dtype(col.dtype):
            x = values.to_numpy(dtype=np.float64)
            _refuse_infinite(x, values, name, what)
            if self.numeric == "standardize":
                std = float(x.std()) or 1.0
                return {"column": name, "kind": "standard", "mean": float(x.mean()), "std": std}, ""
            qs = np.linspace(0, 1, self.n_buckets + 1)[1:-1]
            edges = np.quantile(x, qs) if qs.size else np.empty(0)
            if np.all(x == np.round(x)):
                # Whole numbers (ages, years) get whole-number edges: "age[23,29)".
                edges = np.ceil(edges)
            edges = np.unique(edges)
            # An edge at the minimum would leave the first bucket empty.
            edges = edges[edges > x.min()]
            return {"column": name, "kind": "bucket", "edges": [float(e) for e in edges]}, ""
        # Cells holding several names (a list, or a dict to refuse) make the column
        # multi-label, like text with the separator in it; both are read by one reader.
        multi = any(is_list_cell(v) or isinstance(v, dict) for v in values)
        if not multi:
            text = values.astype(str)
            multi = bool(text.str.contains(self.sep, regex=False).any())
        if multi:
            _, parts = genre_label_pairs(values.rename(name), self.sep, what=what)
            labels = sorted(set(parts))
        else:
            labels = sorted(set(text.str.strip()) - {""})
        if not forced and len(labels) > self.max_categories:
            noun = "labels" if multi else "values"
            return None, (
                f"{len(labels)} distinct {noun}, more than max_categories={self.max_categories}"
            )
        kind = "multilabel" if multi else "onehot"
        spec = {"column": name, "kind": kind, "values": labels}
        if multi:
            spec["sep"] = self.sep
        return spec, ""

    def fit_transform(self, table: pd.DataFrame, *, what: str = "row") -> sp.csr_matrix:
        """:meth:`fit` then :meth:`transform` on the same table.

        Example:
            >>> import pandas as pd
            >>> FeatureEncoder().fit_transform(pd.DataFrame({"g": ["F", "M"]})).toarray()
            array([[1., 0.],
                   [0., 1.]], dtype=float32)
        """
        return self.fit(table, what=what).transform(table, what=what)

    # ------------------------------------------------------------------ applying
    def transform(self, table, *, what: str = "row") -> sp.csr_matrix:
        """The ``(rows, len(names_))`` float32 CSR feature matrix of ``table``.

        ``table`` may be a DataFrame, or one row as a ``Series`` or ``dict``.  Unknown
        categories and missing values give no feature; a missing column is an error, and
        so is an unreadable cell (named by column and ``what`` with the row's index), an
        infinite number too.

        Example:
            >>> import pandas as pd
            >>> enc = FeatureEncoder().fit(pd.DataFrame({"g": ["F", "M"]}))
            >>> enc.transform({"g": "M"}).toarray().tolist()  # one row as a dict
            [[0.0, 1.0]]
            >>> enc.transform(pd.DataFrame({"g": ["X"]})).nnz  # an unknown category
            0
        """
        if not hasattr(self, "spec_"):
            raise ValueError("this FeatureEncoder is not fitted; call fit(table) first")
        return encode_features(self.spec_, table, what=what)

    def to_dict(self) -> dict:
        """The learned encoding as plain JSON (what a model file stores): the columns used
        and, under ``"skipped"``, the columns left out and why.

        Example:
            >>> import json, pandas as pd
            >>> enc = FeatureEncoder().fit(pd.DataFrame({"g": ["F", "M"]}))
            >>> json.loads(json.dumps(enc.to_dict())) == enc.to_dict()
            True
        """
        return {
            "columns": [dict(c) for c in self.spec_["columns"]],
            "skipped": dict(self.skipped_),
        }

    @classmethod
    def from_dict(cls, spec: dict) -> FeatureEncoder:
        """An encoder that applies a stored encoding (see :meth:`to_dict`).

        Example:
            >>> import pandas as pd
            >>> enc = FeatureEncoder().fit(pd.DataFrame({"g": ["F", "M"]}))
            >>> FeatureEncoder.from_dict(enc.to_dict()).names_
            ['g=F', 'g=M']
        """
        enc = cls()
        enc.spec_ = {"columns": [dict(c) for c in spec["columns"]]}
        # Encodings stored before the skipped columns were kept have none to say.
        enc.skipped_ = dict(spec.get("skipped", {}))
        enc.names_ = _feature_names(enc.spec_["columns"])
        return enc


def _feature_names(specs) -> list[str]:
    names = []
    for s in specs:
        c = s["column"]
        if s["kind"] in ("onehot", "multilabel"):
            names += [f"{c}={v}" for v in s["values"]]
        elif s["kind"] == "standard":
            names.append(c)
        else:
            e = s["edges"]
            if not e:
                names.append(f"{c}:all")
                continue
            names.append(f"{c}<{e[0]:g}")
            names += [f"{c}[{lo:g},{hi:g})" for lo, hi in zip(e[:-1], e[1:], strict=True)]
            names.append(f"{c}>={e[-1]:g}")
    return names


def _as_frame(table) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    if isinstance(table, pd.Series):
        return table.to_frame().T
    if isinstance(table, dict):
        return pd.DataFrame([table])
    raise TypeError(f"features must be a DataFrame, a Series or a dict, got {type(table)}")


def _unseen_values(spec: dict, frame: pd.DataFrame, what: str) -> dict:
    """Per one-hot or multi-label column, the values in ``frame`` that the encoding has
    no feature for (sorted, as text), read as :func:`encode_features` reads them.

    Example:
        >>> spec = {"columns": [{"column": "g", "kind": "onehot", "values": ["F", "M"]}]}
        >>> _unseen_values(spec, pd.DataFrame({"g": ["M", "X", None]}), "user")
        {'g': ['X']}
    """
    out = {}
    for s in spec["columns"]:
        c = s["column"]
        if s["kind"] not in ("onehot", "multilabel") or c not in frame.columns:
            continue
        col = frame[c]
        if s["kind"] == "multilabel":
            _, parts = genre_label_pairs(col.rename(c), s["sep"], what=what)
        else:
            parts = _one_value_each(col, col.notna().to_numpy(), c, what).to_numpy()
        known = set(s["values"])
        new = sorted({str(v) for v in parts if v not in known and str(v) != ""})
        if new:
            out[c] = new
    return out


def _one_value_each(col: pd.Series, present: np.ndarray, name: str, what: str) -> pd.Series:
    """The present cells of a one-hot column as stripped text, as fitting read them; a
    list cell of one name is that name, of none is no value (an empty string matches no
    category), of more an error."""
    cells = col[present]
    if not any(is_list_cell(v) for v in cells):
        return cells.astype(str).str.strip()
    out = []
    for key, cell in cells.items():
        if not is_list_cell(cell):
            out.append(str(cell).strip())
            continue
        names = genre_labels(list(cell), sep="\x00")  # strip and drop blanks, no splitting
        if len(names) > 1:
            raise ValueError(
                f"{name!r} of {what} {key!r} names {len(names)} values {tuple(names)}, but "
                "the encoder was fitted on one value per row"
            )
        out.append(names[0] if names else "")
    return pd.Series(out, index=cells.index, dtype=object)


def _numbers(col: pd.Series, present: np.ndarray, name: str, what: str) -> np.ndarray:
    """A number column's cells as floats (NaN where missing); a present cell that is no
    number (``"seventies"`` for a year) is a ``ValueError`` naming it, not a missing
    value: the entity would silently lose the feature."""
    x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    blank = np.array([isinstance(v, str) and not v.strip() for v in col], dtype=bool)
    bad = present & np.isnan(x) & ~blank
    if bad.any():
        at = np.flatnonzero(bad)[0]
        raise ValueError(
            f"{name!r} of {what} {_label(col.index[at])!r} is {col.iloc[at]!r}, not a number; the "
            "encoder was fitted on numbers (leave the cell empty for no value)"
        )
    _refuse_infinite(x, col, name, what)
    return x


def _label(label):
    """A row's index label as the table shows it, for an error: ``8``, not numpy's
    ``np.int64(8)`` (the repr of an integer index's labels since numpy 2).

    Example:
        >>> _label(np.int64(8)), _label("tt0114709")
        (8, 'tt0114709')
    """
    return label.item() if isinstance(label, np.generic) else label


def _refuse_infinite(x: np.ndarray, cells: pd.Series, name: str, what: str) -> None:
    """A ``ValueError`` naming the first infinite number of ``x`` (the values of
    ``cells``, NaN where missing): no bucket or standard score holds one.  Taken for a
    number, it was dropped without a word (a bucket), or made every value of its
    column NaN and the fit "diverge" (``numeric="standardize"``).

    Example:
        >>> cells = pd.Series([1990.0, float("inf")], index=[7, 8])
        >>> try:
        ...     _refuse_infinite(cells.to_numpy(), cells, "year", "item")
        ... except ValueError as err:
        ...     print(err)
        'year' of item 8 is inf, not a finite number (leave the cell empty for no value)
    """
    infinite = np.flatnonzero(np.isinf(x))
    if infinite.size:
        at = infinite[0]
        raise ValueError(
            f"{name!r} of {what} {_label(cells.index[at])!r} is {float(x[at])!r}, not a "
            "finite number (leave the cell empty for no value)"
        )


def encode_features(spec: dict, table, *, what: str = "row") -> sp.csr_matrix:
    """Apply a stored encoding (:meth:`FeatureEncoder.to_dict`) to a side table.

    A multi-label column reads ``sep``-joined text and lists of names alike; an unreadable
    cell raises a ``ValueError`` naming the column and the ``what`` (item, user, row).

    Example:
        >>> spec = {"columns": [{"column": "g", "kind": "onehot", "values": ["F", "M"]}]}
        >>> encode_features(spec, {"g": "M"}).toarray().tolist()
        [[0.0, 1.0]]
        >>> tags = {"column": "t", "kind": "multilabel", "values": ["A", "B"], "sep": "|"}
        >>> encode_features({"columns": [tags]}, {"t": ["B", "A"]}).toarray().tolist()
        [[0.5, 0.5]]
    """
    frame = _as_frame(table)
    n = len(frame)
    rows, cols, vals = [], [], []
    offset = 0
    for s in spec["columns"]:
        c = s["column"]
        if c not in frame.columns:
            raise ValueError(
                f"feature column {c!r} is missing; the model was trained with "
                f"{[x['column'] for x in spec['columns']]}"
            )
        col = frame[c]
        present = col.notna().to_numpy()
        if s["kind"] in ("onehot", "multilabel"):
            index = pd.Index(s["values"])
            if s["kind"] == "multilabel":
                row_of, parts = genre_label_pairs(col.rename(c), s["sep"], what=what)
                code = index.get_indexer(parts)
                keep = code >= 0
                row_of, code = row_of[keep], code[keep]
                # Known labels only count towards an entity's 1/m weights.
                per_row = np.bincount(row_of, minlength=n)
                weight = 1.0 / per_row[row_of]
            else:
                text = _one_value_each(col, present, c, what)
                pos = np.flatnonzero(present)
                code = index.get_indexer(text.to_numpy())
                keep = code >= 0
                row_of, code = pos[keep], code[keep]
                weight = np.ones(row_of.size)
            rows.append(row_of)
            cols.append(code + offset)
            vals.append(weight)
            offset += len(s["values"])
        elif s["kind"] == "standard":
            x = _numbers(col, present, c, what)
            pos = np.flatnonzero(np.isfinite(x))
            rows.append(pos)
            cols.append(np.full(pos.size, offset))
            vals.append((x[pos] - s["mean"]) / s["std"])
            offset += 1
        elif s["kind"] == "bucket":
            x = _numbers(col, present, c, what)
            pos = np.flatnonzero(np.isfinite(x))
            rows.append(pos)
            cols.append(np.searchsorted(np.asarray(s["edges"]), x[pos], side="right") + offset)
            vals.append(np.ones(pos.size))
            offset += len(s["edges"]) + 1
        else:
            raise ValueError(f"unknown feature kind {s['kind']!r} for column {c!r}")
    if rows:
        r, c_, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r, c_, v = np.empty(0, int), np.empty(0, int), np.empty(0)
    out = sp.csr_matrix((v.astype(np.float32), (r, c_)), shape=(n, offset), dtype=np.float32)
    out.sort_indices()
    return out


@dataclass(frozen=True)
class UnusedFeatures:
    """What of a side-table row (or rows) a model's feature encoding cannot use:
    :meth:`HybridMF.unused_item_features` and :meth:`HybridMF.unused_user_features`.

    ``columns``: the columns with a value that are not features of the model (each adds
    nothing); ``skipped``: of those, the ones its fit left out, with why; ``values``: per
    feature column, the values it never saw (sorted, as text; each adds nothing);
    ``empty_rows``: the index labels of the rows with no value the model knows, whose
    vector is zero (a single row given as a dict is row ``0``).  Everything empty: the
    model uses every value given.

    Example:
        >>> gaps = UnusedFeatures(values={"genres": ["Space"]})
        >>> gaps.values, gaps.columns, gaps.empty_rows
        ({'genres': ['Space']}, (), ())
    """

    columns: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)
    empty_rows: tuple = ()


def _unused_features(spec: dict, frame: pd.DataFrame, x: sp.csr_matrix, what: str):
    """What of ``frame`` (encoded as ``x`` by ``spec``) adds nothing (:class:`UnusedFeatures`)."""
    # A column with no value in it carries nothing to drop: a service's row of every
    # known field, mostly None, says nothing.
    used = [c["column"] for c in spec["columns"]]
    extra = tuple(str(c) for c in frame.columns if c not in used and frame[c].notna().any())
    fitted_without = spec.get("skipped", {})
    return UnusedFeatures(
        columns=extra,
        skipped={c: fitted_without[c] for c in extra if c in fitted_without},
        values=_unseen_values(spec, frame, what),
        empty_rows=tuple(frame.index[np.diff(x.indptr) == 0]),
    )


def _warn_unused(gaps: UnusedFeatures, spec: dict, what: str, single: bool) -> None:
    """Say each part of ``gaps`` in a ``UserWarning`` (from a ``*_vector_from_features``)."""
    # A column the model was not trained on was dropped without a word: a table with
    # a new "director" column gave the vector of its other columns alone.
    if gaps.columns:
        used = [c["column"] for c in spec["columns"]]
        # A column the fit left out says why, so that the user sees how to keep it.
        why = "; ".join(f"{c} ({r})" for c, r in gaps.skipped.items())
        why = f"; left out when it was fitted: {why}" if why else ""
        warnings.warn(
            f"{what} feature column(s) {list(gaps.columns)} are not features of this "
            f"model, which was trained on {used}: they add nothing to the vector{why}",
            UserWarning,
            stacklevel=4,
        )
    # Unseen values and empty rows were dropped without a word: a new genre gave a
    # vector from the other columns alone, an all-missing row the zero vector.
    if gaps.values:
        warnings.warn(
            f"{what} feature values the model never saw add nothing to the vector: "
            + "; ".join(f"{c} {vals}" for c, vals in gaps.values.items()),
            UserWarning,
            stacklevel=4,
        )
    empty = gaps.empty_rows
    if empty:
        shown = [str(v) for v in empty[:5]] if not single else []
        more = f" {', '.join(shown)}" + (" ..." if len(empty) > 5 else "") if shown else ""
        warnings.warn(
            f"{len(empty)} {what} row(s){more} have no feature the model knows (every "
            f"cell missing or never seen): the vector is zero and the bias 0",
            UserWarning,
            stacklevel=4,
        )


class HybridMF(FactorModel):
    """LightFM-style hybrid factors, learned with a ranking loss (BPR by default).

    Each user and item is a sparse row x of *feature rows*: its own id (unless
    ``use_user_ids`` / ``use_item_ids`` is False) and its content features from the side
    tables (see :class:`FeatureEncoder`: MovieLens genres and year buckets for items; age
    bucket, gender and occupation for users; ``title`` and ``zip_code`` are skipped by
    default).  With one vector e_f per feature row and one bias w_f per item
    feature row,

        p_u = Σ_f x_uf e_f,    q_i = Σ_f x_if e_f,    b_i = Σ_f x_if w_f,
        score(u, i) = b_i + p_u · q_i.

    So an item that has never been rated still has a vector (from its genres and year),
    and a user who has never rated anything has one from their demographics.  After
    ``fit`` the composed vectors are stored as ``user_factors_`` / ``item_factors_`` and
    ``item_bias_`` (μ and user biases are 0), so every :class:`FactorModel` operation
    works; the feature rows are kept as ``item_feature_factors_``,
    ``item_feature_bias_`` and ``user_feature_factors_`` and serve
    :meth:`item_vector_from_features` / :meth:`user_vector_from_features` for brand-new
    entities.  Entities in the data without training cells get exactly those vectors.

    **Loss: a ranking loss, not squared rating error.**  Cold start is a ranking problem
    — which of the new items will this user pick, what should a newcomer see — and
    models fitted to rating values rank poorly for top-N compared even with popularity
    (Cremonesi, Koren & Turrin 2010): a predicted 4.6 stars for an obscure film beats a
    predicted 4.2 for one nearly everyone watches.  A ranking loss learns from which
    items were rated at all (cells with rating ≥ ``min_rating`` when set), so the item
    bias learns popularity and the vectors learn taste.  ``loss="bpr"`` (Rendle et al.
    2009) pairs every positive cell (u, i) per epoch with a negative j drawn uniformly
    from the items that have at least one training positive (items the model has never
    seen are never negatives, so they are not pushed down) and ascends
    log σ(b_i − b_j + p_u·(q_i − q_j)) by SGD with L2 penalties on the rows used.
    ``loss="warp"`` (Weston et al. 2011, LightFM's favourite) samples negatives until one
    violates the margin and weights the step by the estimated rank; it aims at the top
    of the list, but on MovieLens-100K cold-start validation splits BPR ranked both cold
    items and cold users better, hence the default.  User biases would cancel in either
    loss and are not learned.  The model ranks; it does not predict star ratings
    (``predict`` raises; use ``recommend`` and the vectors).

    **Fold-in.**  ``fold_in``, ``partial_fit_users`` and ``onboard`` place a new user by
    the same BPR objective with the items fixed (:meth:`_solve_user_rows`: exact and
    deterministic), from their positives.  Each reads a rating below ``min_rating`` as
    seen only, as training did: never recommended, never a positive.  ``partial_fit_users``
    and ``partial_fit_items`` read a table's ``rating`` column so (the raw ratings: give
    them all), and rows without a rating (no ``rating`` column, implicit
    :class:`Interactions`) as events, by the fold-in rule
    (:func:`~latentrec.models.foldin.fold_in_values`: each a positive for a model trained
    on stars).  ``partial_fit_items`` places an item from the users who liked it by the
    same objective (:meth:`_solve_item_rows`), as their positive and as every other
    user's negative.
    Which seen cells are positives is kept with the model (:meth:`positive_seen`: the
    fit's, then the rows each partial fit solved from), so every later solve reads
    positives, not every item a user has seen: negatives come from the items with a
    positive, as in the fit.  A user without a positive (every rating below
    ``min_rating``) and without a vector from user features gets the popularity list
    (``fallback=True``), as any model gives a user with no usable history.

    **Refitting the feature part.**  Trained jointly, the id vectors take most of the
    signal and the feature vectors learn what is left.  With ``feature_refit=α`` (the
    default) the feature rows are refitted after training by ridge regression of the
    learned vectors (and item biases) of the entities that have data on their features,
    W = argmin ‖X_f W − [Q b]‖² + α‖W‖² (an attribute-to-feature mapping, Gantner et al.
    2010), and each such entity's id part becomes the difference, so its vector is
    unchanged.  The feature rows are then the best linear prediction of a vector from
    features — what a cold entity needs.  On three MovieLens-100K validation splits
    (``benchmarks/cold_start_ml100k.py`` describes the protocols) it raised the mean
    cold-item NDCG@10 from 0.211 to 0.231 and the cold-user NDCG@10 margin over global
    popularity from +0.007 to +0.015.  ``feature_refit=None`` keeps the jointly trained
    rows.  (Without ids there is nothing to refit: the feature rows are the model.)

    **A linear two-tower model.**  The user vector is a linear map of the user's sparse
    input (id one-hot + features) and the item vector a linear map of the item's, so
    this is a two-tower retrieval model with linear towers.  A deeper tower would replace
    Σ_f x_f e_f by an MLP over the same sparse input (embedding bag → hidden layers →
    k outputs), trained with the same loss in a deep-learning framework; its outputs would
    be exported into the same ``user_factors_`` / ``item_factors_`` so serving, top-k and
    explanations stay unchanged — only ``*_vector_from_features`` would call the tower.

    Args:
        n_factors: k.
        n_epochs: passes over the positive cells (an upper bound with ``patience``, which
            lets it be as large as ``sys.maxsize``: until validation stops improving;
            such a fit without validation data is refused).
        loss: ``"bpr"`` or ``"warp"``.
        max_sampled: WARP's most negatives tried per positive.
        learning_rate: SGD step η.
        learning_schedule: ``"constant"`` (plain SGD) or ``"adagrad"`` (per-coordinate
            steps η/√(1 + Σgrad²), LightFM's default).
        regularization: λ, L2 on every vector row a step uses.
        bias_regularization: λ_b for the item biases (``None``: ``regularization``).  The
            default 0 lets the biases learn popularity freely (better on validation).
        init_std: vectors start as N(0, init_std²); biases at 0.
        item_features, user_features: ``"auto"`` (every usable column), a list of column
            names, or ``None`` (no features on that side).  ``"auto"`` leaves out the
            ``title`` column (one title per item, on any catalogue: an id, not
            content), text columns with more than 100 distinct values (MovieLens
            ``zip_code``: one feature per zip code is nearly an id) and columns with no
            value; :attr:`skipped_features_` says which and
            why, and ``latentrec train`` prints it.  To keep such a column, name the
            columns to use, e.g. ``item_features=["genres", "year", "director"]``: a named
            column is always used, one feature per distinct value.
        use_item_ids, use_user_ids: give each item / user its own vector as well.  With
            ``False`` the side depends on its features only.
        numeric: ``"bucket"`` (quantile buckets) or ``"standardize"`` for number columns.
        n_buckets: buckets per number column.
        feature_refit: ridge α of the refit above, or ``None``.
        min_rating: only cells with a value ≥ this count as positives (None: all cells);
            one above every training value is refused by ``fit`` (a
            :class:`~latentrec.errors.HyperparameterError`).
        patience: with validation data, stop after this many epochs without a lower
            validation BPR loss and restore the best epoch.
        random_state: seed; a fixed seed gives identical results (the kernel is serial:
            rows such as ``gender=M`` take part in most steps, so lock-free parallel
            updates would collide constantly).
        verbose: progress bar: ``None`` (default) shows one in a terminal or notebook
            when the fit takes more than a few seconds; ``True`` always, ``False`` never.

    ``history_`` has ``train_loss`` (the epoch's mean BPR loss −log σ(x), or WARP's
    rank-weighted hinge, before each step) and, with validation data, ``valid_loss``
    (mean BPR loss on the validation cells, one fixed negative each) per epoch.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"user_id": [0, 0, 1, 1, 2], "item_id": [0, 1, 2, 3, 0],
        ...                    "rating": [5, 4, 5, 4, 5]})
        >>> genres = pd.DataFrame({"genres": ["Sci-Fi", "Sci-Fi", "Cooking", "Cooking",
        ...                                   "Sci-Fi"]}, index=[0, 1, 2, 3, 4])
        >>> data = Interactions.from_frame(df, item_features=genres)  # item 4 is new
        >>> model = HybridMF(n_factors=4, n_epochs=200, random_state=0).fit(data)
        >>> q, b = model.item_vector_from_features({"genres": "Sci-Fi"})
        >>> bool(np.allclose(q, model.item_factors_[4]))
        True
        >>> # user 2 likes Sci-Fi: the new Sci-Fi film beats the Cooking ones
        >>> model.recommend(2, n=1, items=[2, 3, 4]).ids.tolist()
        [4]
    """

    predicts_ratings = False
    _array_state = FactorModel._array_state + (
        "item_feature_factors_",
        "item_feature_bias_",
        "user_feature_factors_",
    )
    _scalar_state = FactorModel._scalar_state + ("item_feature_spec_", "user_feature_spec_")

    def __init__(
        self,
        n_factors: int = 32,
        n_epochs: int = 30,
        loss: str = "bpr",
        max_sampled: int = 10,
        learning_rate: float = 0.01,
        learning_schedule: str = "constant",
        regularization: float = 0.01,
        bias_regularization: float | None = 0.0,
        init_std: float = 0.1,
        item_features="auto",
        user_features="auto",
        use_item_ids: bool = True,
        use_user_ids: bool = True,
        numeric: str = "bucket",
        n_buckets: int = 5,
        feature_refit: float | None = 10.0,
        min_rating: float | None = None,
        patience: int | None = None,
        random_state=None,
        verbose: bool | None = None,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.loss = loss
        self.max_sampled = max_sampled
        self.learning_rate = learning_rate
        self.learning_schedule = learning_schedule
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.init_std = init_std
        self.item_features = item_features
        self.user_features = user_features
        self.use_item_ids = use_item_ids
        self.use_user_ids = use_user_ids
        self.numeric = numeric
        self.n_buckets = n_buckets
        self.feature_refit = feature_refit
        self.min_rating = min_rating
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_int("n_factors", self.n_factors)
        check_epochs(self.n_epochs, self.patience)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        check_int("max_sampled", self.max_sampled)
        check_float("learning_rate", self.learning_rate, positive=True)
        if self.learning_schedule not in SCHEDULES:
            raise ValueError(
                f"learning_schedule must be one of {SCHEDULES}, got {self.learning_schedule!r}"
            )
        check_float("regularization", self.regularization)
        if self.bias_regularization is not None:
            check_float("bias_regularization", self.bias_regularization)
        check_float("init_std", self.init_std)
        check_int("n_buckets", self.n_buckets)
        if self.feature_refit is not None:
            check_float("feature_refit", self.feature_refit, positive=True)
        if self.numeric not in NUMERIC_MODES:
            raise ValueError(f"numeric must be one of {NUMERIC_MODES}, got {self.numeric!r}")
        for name in ("item_features", "user_features"):
            value = getattr(self, name)
            ok = value is None or value == "auto"
            ok = ok or (isinstance(value, (list, tuple)) and all(isinstance(c, str) for c in value))
            if not ok:
                raise ValueError(
                    f"{name} must be 'auto', None or a list of column names, got {value!r}"
                )
        if self.min_rating is not None:
            check_real("min_rating", self.min_rating, minimum=None)
        if self.patience is not None:
            check_int("patience", self.patience)

    # ------------------------------------------------------------------ features
    def _encode_side(self, table, columns, n_rows, what):
        if columns is None or table is None:
            if isinstance(columns, (list, tuple)) and columns and table is None:
                raise ValueError(
                    f"{what}_features={list(columns)} but the data has no {what} side table"
                )
            return None, sp.csr_matrix((n_rows, 0), dtype=np.float32)
        enc = FeatureEncoder(
            "auto" if columns == "auto" else list(columns),
            numeric=self.numeric,
            n_buckets=self.n_buckets,
        )
        enc.fit(table, what=what)
        return enc.to_dict(), enc.transform(table, what=what)

    @staticmethod
    def _rows_matrix(features: sp.csr_matrix, use_ids: bool) -> sp.csr_matrix:
        n = features.shape[0]
        parts = ([sp.identity(n, dtype=np.float32, format="csr")] if use_ids else []) + [features]
        out = sp.hstack(parts, format="csr", dtype=np.float32)
        out.sort_indices()
        return out

    # ------------------------------------------------------------------ fitting
    @property
    def _size_params(self) -> tuple[str, ...]:
        return ("n_factors", "max_sampled") if self.loss == "warp" else ("n_factors",)

    def _fit_bytes(self, n_users: int, n_items: int, nnz: int) -> int:
        """The composed factors, a float64 draw of the id rows of the larger side, and
        with ``loss="warp"`` a table of ``max_sampled`` candidates per positive, in
        chunks of :data:`CHUNK` positives.

        Example:
            >>> HybridMF(n_factors=2)._fit_bytes(10, 5, 20)  # 120 + 160
            280
            >>> HybridMF(n_factors=2, loss="warp", max_sampled=10)._fit_bytes(10, 5, 20)
            2680
        """
        k = int(self.n_factors)
        need = super()._fit_bytes(n_users, n_items, nnz) + 8 * max(n_users, n_items) * k
        if self.loss == "warp":
            # rng.integers draws int64 indices, which pick int32 items: 12 bytes each.
            need += 12 * min(CHUNK, nnz) * int(self.max_sampled)
        return need

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        rng = np.random.default_rng(self.random_state)
        k = self.n_factors
        self.item_feature_spec_, f_item = self._encode_side(
            data.item_features, self.item_features, data.n_items, "item"
        )
        self.user_feature_spec_, f_user = self._encode_side(
            data.user_features, self.user_features, data.n_users, "user"
        )
        for what, use_ids, feats in (
            ("item", self.use_item_ids, f_item),
            ("user", self.use_user_ids, f_user),
        ):
            if not use_ids and feats.shape[1] == 0:
                raise ValueError(
                    f"use_{what}_ids=False needs {what} features, but there are none (the data "
                    f"has no usable {what} side table or {what}_features=None)"
                )
        x_item = self._rows_matrix(f_item, self.use_item_ids)
        x_user = self._rows_matrix(f_user, self.use_user_ids)

        users, items = _positives(data, self.min_rating)
        if users.size == 0:
            raise HyperparameterError(
                f"no training cell has a rating >= min_rating={self.min_rating} (the highest "
                f"is {float(data.ratings.max()):g})"
            )
        has_pos_item = np.bincount(items, minlength=data.n_items) > 0
        has_pos_user = np.bincount(users, minlength=data.n_users) > 0
        eligible = np.flatnonzero(has_pos_item).astype(np.int32)
        if eligible.size < 2:
            raise ValueError("BPR needs positives on at least two items to form pairs")
        keys = users.astype(np.int64) * data.n_items + items

        V_user = rng.normal(0.0, self.init_std, (x_user.shape[1], k)).astype(np.float32)
        V_item = rng.normal(0.0, self.init_std, (x_item.shape[1], k)).astype(np.float32)
        b_item = np.zeros(x_item.shape[1], dtype=np.float32)
        adagrad = self.learning_schedule == "adagrad"
        # Accumulators start at 1, as in LightFM, so the first steps are plain SGD steps.
        acc_user = np.ones_like(V_user) if adagrad else np.ones((0, k), np.float32)
        acc_item = np.ones_like(V_item) if adagrad else np.ones((0, k), np.float32)
        acc_bias = np.ones((b_item.size, 1), np.float32) if adagrad else np.ones((0, 1), np.float32)
        lr = np.float32(self.learning_rate)
        reg = np.float32(self.regularization)
        reg_b = np.float32(
            self.regularization if self.bias_regularization is None else self.bias_regularization
        )

        valid = None
        if validation is not None and validation.nnz:
            v_users, v_items = _positives(validation, self.min_rating)
            v_neg, ok = _sample_negatives(rng, v_users, keys, eligible, data.n_items)
            valid = (v_users[ok], v_items[ok], v_neg[ok])

        pos_indptr = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=data.n_users), out=pos_indptr[1:])
        common = (
            x_user.indptr,
            x_user.indices,
            x_user.data,
            x_item.indptr,
            x_item.indices,
            x_item.data,
            V_user,
            V_item,
            b_item,
            lr,
            reg,
            reg_b,
            adagrad,
            acc_user,
            acc_item,
            acc_bias,
        )

        def step(epoch):
            if self.loss == "bpr":
                neg, ok = _sample_negatives(rng, users, keys, eligible, data.n_items)
                order = rng.permutation(np.flatnonzero(ok)).astype(np.int64)
                total = bpr_feature_epoch(users, items, neg, order, *common)
            else:
                order = rng.permutation(users.size).astype(np.int64)
                total = 0.0
                for start in range(0, order.size, CHUNK):
                    part = order[start : start + CHUNK]
                    cand = eligible[rng.integers(0, eligible.size, (part.size, self.max_sampled))]
                    total += warp_feature_epoch(
                        users, items, cand, part, pos_indptr, items, eligible.size - 1, *common
                    )
            last["train"] = total / max(order.size, 1)

        last = {"train": float("nan")}

        def evaluate():
            if valid is None:
                return last["train"], float("nan")
            P, Q, b = x_user @ V_user, x_item @ V_item, x_item @ b_item
            return last["train"], bpr_loss(*valid, P, Q, b)

        history = run_epochs(
            type(self).__name__,
            self.n_epochs,
            step,
            evaluate,
            state=(V_user, V_item, b_item),
            patience=self.patience if valid is not None else None,
            verbose=self.verbose,
        )
        self.history_ = {
            (
                "train_loss"
                if key == "train_rmse"
                else "valid_loss"
                if key == "valid_rmse"
                else key
            ): value
            for key, value in history.items()
        }
        # Entities without training data keep only what their features say about them.
        if self.use_user_ids:
            V_user[: data.n_users][~has_pos_user] = 0
        if self.use_item_ids:
            V_item[: data.n_items][~has_pos_item] = 0
            b_item[: data.n_items][~has_pos_item] = 0
        P, Q, b = x_user @ V_user, x_item @ V_item, x_item @ b_item
        i_off, u_off = x_item.shape[1] - f_item.shape[1], x_user.shape[1] - f_user.shape[1]
        W_item = np.column_stack([V_item[i_off:], b_item[i_off:]])
        W_user = V_user[u_off:]
        if self.feature_refit is not None:
            if self.use_item_ids and f_item.shape[1]:
                W_item = _ridge(
                    f_item[has_pos_item], np.column_stack([Q, b])[has_pos_item], self.feature_refit
                )
            if self.use_user_ids and f_user.shape[1]:
                W_user = _ridge(f_user[has_pos_user], P[has_pos_user], self.feature_refit)
            # Warm entities keep their vectors (their id part takes the difference);
            # entities without data get the refitted feature part alone.
            cold_i, cold_u = ~has_pos_item, ~has_pos_user
            if self.use_item_ids:
                from_features = f_item[cold_i] @ W_item
                Q[cold_i], b[cold_i] = from_features[:, :-1], from_features[:, -1]
            if self.use_user_ids:
                P[cold_u] = f_user[cold_u] @ W_user
        # Which seen cell is a positive (1) or seen only (0, below min_rating), in the
        # seen CSR's order (the training matrix's): what every later solve reads.
        m = data.matrix
        flags = np.ones(m.nnz, dtype=np.uint8)  # a byte a cell, beside the seen CSR
        if self.min_rating is not None:
            flags[m.data < self.min_rating] = 0
        self.positive_cells_ = flags
        self.item_feature_factors_ = np.ascontiguousarray(W_item[:, :-1], dtype=np.float32)
        self.item_feature_bias_ = np.ascontiguousarray(W_item[:, -1], dtype=np.float32)
        self.user_feature_factors_ = np.ascontiguousarray(W_user, dtype=np.float32)
        self._set_state(0.0, np.zeros(data.n_users, dtype=np.float32), b, P, Q)

    def training_values(self, ratings) -> np.ndarray:
        """1 for a rating at or above ``min_rating`` (every rating when None), else NaN:
        the fit's positives (see :meth:`FoldIn.training_values`).

        Example:
            >>> HybridMF(min_rating=3.5).training_values([4.0, 3.0]).tolist()
            [1.0, nan]
        """
        values = np.asarray(ratings, dtype=np.float64)
        floor = -np.inf if self.min_rating is None else float(self.min_rating)
        return np.where(values >= floor, 1.0, np.nan)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows of positive items -> (user_bias (n,) = 0, user_factors (n, k)).

        The fit's own loss with the items fixed, not the squared-error ridge of the
        default fold-in (whose target ``1 − b_i`` turns negative for popular items, so a
        user who liked them was pointed away from them): each row's vector maximises
        its expected BPR objective ``Σ_{i∈P} mean_j log σ(s_i − s_j) − (|P|·λ/2)‖p‖²``
        over negatives j, every item with a positive (:meth:`positive_seen`) outside the
        row, as the fit drew them (:func:`latentrec.kernels.hybrid.bpr_rows`, exact and
        deterministic).  Every cell is a positive (``values`` are ignored:
        :meth:`training_values` already left out the cells below ``min_rating``).  The
        vector is the user's id part alone, as for a user without user features;
        ``loss="warp"`` models use the same BPR objective.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[1, 1, 0, 0], [0, 0, 1, 1]])
            >>> model = HybridMF(n_factors=2, n_epochs=50, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, P = model._solve_user_rows([0, 1], [0], [1.0])
            >>> bias.tolist(), P.shape
            ([0.0], (1, 2))
        """
        self.check_fitted()
        P = bpr_rows(
            indptr,
            indices,
            self.item_factors_,
            self.item_bias_,
            self._items_with_a_positive(),
            float(self.regularization),
        )
        return np.zeros(P.shape[0], dtype=np.float32), P

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows of users who liked an item -> (item_bias (n,), item_factors (n, k)).

        The mirror of :meth:`_solve_user_rows`: the item's vector and bias maximise its
        expected BPR objective with the users and the other items fixed, as a positive
        of the users in its row and as a negative of every other user with a positive,
        each user's positives those of :meth:`positive_seen`
        (:func:`latentrec.kernels.hybrid.bpr_item_rows`).  The default ridge fold-in
        regressed 1 on the users' vectors with an unpenalised bias and gave a new item a
        bias above every trained item's: it topped every user's list.  ``values`` are
        ignored (every cell is a positive), and the vector is the item's id part alone,
        as for an item without features (:meth:`item_vector_from_features` places one
        from its features).  An item recomputed from a new history still meets its
        former users as their positive in the fixed scores.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]])
            >>> model = HybridMF(n_factors=2, n_epochs=50, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, Q = model._solve_item_rows([0, 2], [0, 2], [1.0, 1.0])
            >>> bias.shape, Q.shape
            ((1,), (1, 2))
        """
        self.check_fitted()
        reg = float(self.regularization)
        reg_b = reg if self.bias_regularization is None else float(self.bias_regularization)
        return bpr_item_rows(
            indptr,
            indices,
            self.user_factors_,
            self.item_factors_,
            self.item_bias_,
            self._positives(),
            self._items_with_a_positive(),
            reg,
            reg_b,
        )

    # ------------------------------------------------------------------ positives
    def positive_seen(self) -> sp.csr_matrix:
        """The seen cells that are positives (users x items CSR, values 1): the training
        ratings at or above ``min_rating`` (every cell when it is None), then the rows
        each partial fit solved from.  The other seen cells are seen only: never recommended,
        never a positive.  A model file written before the positives were kept reads
        every seen cell as one, as such models did.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5.0, 2.0, 0.0], [0.0, 4.0, 5.0]])
            >>> model = HybridMF(n_factors=1, n_epochs=1, min_rating=4, random_state=0)
            >>> model.fit(Interactions.from_dense(R)).positive_seen().toarray().tolist()
            [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
        """
        self.check_fitted()
        return self._positives().copy()

    def _positives(self) -> sp.csr_matrix:
        """:meth:`positive_seen`, remembered per fitted state (not to be changed)."""
        fitted = self.fitted_
        return fitted.derived("hybrid_positive_seen", lambda: _positive_csr(fitted))

    def _positive_flags(self) -> np.ndarray:
        return _positive_flags(self.fitted_)

    def _items_with_a_positive(self) -> np.ndarray:
        """The items BPR draws negatives from: those with a positive (as the fit drew).
        Remembered per fitted state: a live fold-in would otherwise count every seen
        cell per request."""
        fitted = self.fitted_

        def compute():
            seen = fitted.catalog.seen
            mask = np.bincount(seen.indices[_positive_flags(fitted)], minlength=seen.shape[1]) > 0
            mask.flags.writeable = False  # shared by every fold-in of this state
            return mask

        return fitted.derived("hybrid_items_with_a_positive", compute)

    def _more_rows(self, side, target, indptr, cols, factors, catalog) -> dict:
        """The positive flags of ``catalog``'s seen cells: the replaced rows' positives
        are the cells that entered the solve; every other cell keeps its flag."""
        seen = self.seen_
        flags = self._positive_flags()
        users = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
        items = seen.indices.astype(np.int64)
        rows = np.repeat(np.asarray(target, dtype=np.int64), np.diff(np.asarray(indptr)))
        cols = np.asarray(cols, dtype=np.int64)
        if side == "user":
            keep = flags & ~np.isin(users, target)
            pos_u, pos_i = np.concatenate([users[keep], rows]), np.concatenate([items[keep], cols])
        else:
            keep = flags & ~np.isin(items, target)
            pos_u, pos_i = np.concatenate([users[keep], cols]), np.concatenate([items[keep], rows])
        new = catalog.seen
        n_items = np.int64(new.shape[1])
        cell_users = np.repeat(np.arange(new.shape[0], dtype=np.int64), np.diff(new.indptr))
        keys = cell_users * n_items + new.indices
        positive = np.isin(keys, pos_u * n_items + pos_i)
        return {"positive_cells_": positive.astype(np.uint8)}

    def _updated_state(self, side, unknown, users_raw, items_raw, values, events=False):
        """The partial fit of the base class on the table's values as the fit reads a
        cell: 1 at or above ``min_rating``, else NaN (seen only, kept out of the solve
        and of :meth:`positive_seen`).  Taken as given, every row was a positive: a
        1-star rating said the user liked the item, unlike in the fit.
        """
        # The base class read the table: rows without a rating are events (False), a
        # rating column is read as the fit read its own cells (None).
        explicit = False if events else None
        if explicit is None:
            # Checked as given: the rule clips what it reads into the scale.
            self._check_values(items_raw, values, "item")
        read = fold_in_values(self, values, explicit)
        return super()._updated_state(side, unknown, users_raw, items_raw, read, events)

    # ------------------------------------------------------------------ cold entities
    def _can_personalise(self, user_idx: np.ndarray) -> np.ndarray:
        """Users with a positive (:meth:`positive_seen`), or without one but with a
        vector from their features.

        (A hook for ``FactorModel._recommend_idx``: such users get their own ranking
        rather than the popularity fallback.)  A user whose ratings are all below
        ``min_rating`` has a history but no positive: the fit left their vector at zero,
        and their "ranking" was the item biases, reported as personal.
        """
        positives = np.diff(self._positives().indptr)[user_idx] > 0
        return positives | np.any(self.user_factors_[user_idx] != 0, axis=1)

    def item_vector_from_features(self, features, *, warn: bool = True):
        """Vector and bias of a new item from its side-table row(s) alone.

        ``features``: a DataFrame (one row per item) or one row as a ``Series``/``dict``
        with the training side table's columns.  Returns ``(vectors, biases)`` of shapes
        ``(m, k)`` and ``(m,)``, or ``(k,)`` and a float for a single row, so that
        ``bias + user_factors_[u] @ vector`` is the item's score for user u.  A value the
        model never saw (a new genre) and a column it was not trained on add nothing, and a
        row with no known value gets the zero vector: each is said in a ``UserWarning``
        naming the values, columns or rows.  ``warn=False`` leaves the warnings out, for a
        caller that reports :meth:`unused_item_features` its own way (the service).

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> table = pd.DataFrame({"genres": ["A", "B"]}, index=[0, 1])
            >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
            >>> data = Interactions.from_frame(df, item_features=table)
            >>> model = HybridMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
            >>> q, b = model.item_vector_from_features({"genres": "A"})
            >>> q.shape, type(b).__name__
            ((2,), 'float')
        """
        self.check_fitted()
        return self._from_features(
            features,
            self.item_feature_spec_,
            self.item_feature_factors_,
            self.item_feature_bias_,
            "item",
            warn,
        )

    def user_vector_from_features(self, features, *, warn: bool = True):
        """Vector (and bias, always 0) of a new user from demographics alone.

        Same input and output shapes, warnings and ``warn`` as
        :meth:`item_vector_from_features` (:meth:`unused_user_features` says what a
        warning would); score items for the user with ``item_bias_ + item_factors_ @
        vector``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> people = pd.DataFrame({"gender": ["F", "M"]}, index=[0, 1])
            >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
            >>> data = Interactions.from_frame(df, user_features=people)
            >>> model = HybridMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
            >>> p, b = model.user_vector_from_features(pd.DataFrame({"gender": ["F", "M"]}))
            >>> p.shape, b.tolist()
            ((2, 2), [0.0, 0.0])
        """
        self.check_fitted()
        return self._from_features(
            features, self.user_feature_spec_, self.user_feature_factors_, None, "user", warn
        )

    def unused_item_features(self, features) -> UnusedFeatures:
        """What of a new item's side-table row(s) the model cannot use, without a warning.

        ``features`` as for :meth:`item_vector_from_features`, whose ``UserWarning`` says
        the same: the columns that are not features of the model, the values it never
        saw, and the rows left with no value it knows (zero vector).

        Example:
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> table = pd.DataFrame({"genres": ["A|B", "B"]}, index=[0, 1])
            >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
            >>> data = Interactions.from_frame(df, item_features=table)
            >>> model = HybridMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
            >>> gaps = model.unused_item_features({"genres": "A|Space", "budget": 3.0})
            >>> gaps.values, gaps.columns, gaps.empty_rows
            ({'genres': ['Space']}, ('budget',), ())
            >>> model.unused_item_features({"genres": "Space"}).empty_rows  # nothing known
            (0,)
        """
        self.check_fitted()
        return self._unused(features, self.item_feature_spec_, "item")

    def unused_user_features(self, features) -> UnusedFeatures:
        """What of a new user's side-table row(s) the model cannot use, without a warning
        (see :meth:`unused_item_features`).

        Example:
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> people = pd.DataFrame({"gender": ["F", "M"]}, index=[0, 1])
            >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
            >>> data = Interactions.from_frame(df, user_features=people)
            >>> model = HybridMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
            >>> model.unused_user_features({"gender": "X"}).values
            {'gender': ['X']}
        """
        self.check_fitted()
        return self._unused(features, self.user_feature_spec_, "user")

    def _unused(self, features, spec, what) -> UnusedFeatures:
        if spec is None:
            raise ValueError(f"this model was trained without {what} features")
        frame = _as_frame(features)
        return _unused_features(spec, frame, encode_features(spec, frame, what=what), what)

    def _from_features(self, features, spec, factors, bias, what, warn=True):
        if spec is None:
            raise ValueError(f"this model was trained without {what} features")
        single = isinstance(features, (pd.Series, dict))
        frame = _as_frame(features)
        x = encode_features(spec, frame, what=what)
        if warn:
            _warn_unused(_unused_features(spec, frame, x, what), spec, what, single)
        vec = np.asarray(x @ factors, dtype=np.float32)
        b = (
            np.asarray(x @ bias, dtype=np.float32)
            if bias is not None
            else np.zeros(x.shape[0], dtype=np.float32)
        )
        if single:
            return vec[0], float(b[0])
        return vec, b

    @property
    def item_feature_names_(self) -> list[str]:
        """Names of the item feature rows (``item_feature_factors_`` rows), in order."""
        self.check_fitted()
        spec = self.item_feature_spec_
        return [] if spec is None else _feature_names(spec["columns"])

    @property
    def user_feature_names_(self) -> list[str]:
        """Names of the user feature rows (``user_feature_factors_`` rows), in order."""
        self.check_fitted()
        spec = self.user_feature_spec_
        return [] if spec is None else _feature_names(spec["columns"])

    @property
    def skipped_features_(self) -> dict[str, dict[str, str]]:
        """The side-table columns the fit left out, ``{"item": {column: why}, "user":
        {column: why}}``: with ``"auto"``, text with more than 100 distinct values, and
        columns with no value (see the ``item_features`` argument for how to keep one).
        Saved and loaded with the model; a model file written before it was kept says {}.

        Example:
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> df = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 1, 2],
            ...                    "rating": [5, 4, 5, 3]})
            >>> films = pd.DataFrame({"genres": ["A"] * 150,
            ...                       "director": [f"d{i}" for i in range(150)]})
            >>> data = Interactions.from_frame(df, item_features=films)
            >>> model = HybridMF(n_factors=2, n_epochs=2, random_state=0).fit(data)
            >>> model.skipped_features_
            {'item': {'director': '150 distinct values, more than max_categories=100'}, 'user': {}}
            >>> model.describe_skipped_features()
            "items' director (150 distinct values, more than max_categories=100)"
        """
        self.check_fitted()
        return {
            what: dict((spec or {}).get("skipped", {}))
            for what, spec in (("item", self.item_feature_spec_), ("user", self.user_feature_spec_))
        }

    def describe_skipped_features(self) -> str:
        """:attr:`skipped_features_` in one line for people (``""`` when none was left out):
        each column with its side and why, ``"items' title (one title per item: an item id
        in disguise, not content); users' zip_code (...)"``.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> model = HybridMF(n_factors=2, n_epochs=1).fit(Interactions.from_dense(np.eye(3)))
            >>> model.describe_skipped_features()  # no side tables: nothing left out
            ''
        """
        return "; ".join(
            f"{what}s' {column} ({why})"
            for what, columns in self.skipped_features_.items()
            for column, why in columns.items()
        )


def _positive_flags(fitted) -> np.ndarray:
    """Per seen cell of ``fitted``'s catalogue (in the CSR's order), whether it is a
    positive; every cell for a model file written before the flags were kept."""
    flags = fitted.state.get("positive_cells_")
    nnz = fitted.catalog.seen.nnz
    if flags is None:
        return np.ones(nnz, dtype=bool)
    if np.shape(flags) != (nnz,):
        raise ValueError(
            f"positive_cells_ has {np.size(flags)} flags for {nnz} seen cells: the seen items "
            "were changed without their positives (use partial_fit_users / partial_fit_items)"
        )
    return np.asarray(flags) > 0


def _positive_csr(fitted) -> sp.csr_matrix:
    """The positive seen cells of ``fitted`` as a users x items CSR of ones."""
    seen = fitted.catalog.seen
    flags = _positive_flags(fitted)
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))[flags]
    indptr = np.zeros(seen.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=seen.shape[0]), out=indptr[1:])
    return sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), seen.indices[flags], indptr), shape=seen.shape
    )


def _ridge(X: sp.csr_matrix, Y: np.ndarray, alpha: float) -> np.ndarray:
    """argmin_W ‖XW − Y‖² + α‖W‖² for a sparse X with few columns (float64 inside)."""
    n_f = X.shape[1]
    if n_f <= 5000:
        A = (X.T @ X).toarray().astype(np.float64) + alpha * np.eye(n_f)
        return np.linalg.solve(A, np.asarray(X.T @ Y.astype(np.float64)))
    from scipy.sparse.linalg import lsqr

    return np.column_stack(
        [lsqr(X, Y[:, c].astype(np.float64), damp=np.sqrt(alpha))[0] for c in range(Y.shape[1])]
    )


def _positives(data: Interactions, min_rating):
    users, items = data.user_idx, data.item_idx.astype(np.int32)
    if min_rating is not None:
        keep = data.ratings >= min_rating
        users, items = users[keep], items[keep]
    return np.ascontiguousarray(users, dtype=np.int32), np.ascontiguousarray(items)


def _sample_negatives(rng, users, pos_keys, eligible, n_items, max_rounds: int = 50):
    """One negative per positive, uniform over ``eligible`` items the user has no positive on.

    Vectorised rejection sampling: redraws only the collisions, a few rounds.  Returns
    ``(neg, ok)``; ``ok`` is False where no negative was found (a user who rated nearly
    every eligible item), and those triples are skipped.
    """
    neg = eligible[rng.integers(0, eligible.size, users.size)]
    todo = np.arange(users.size)
    for _ in range(max_rounds):
        keys = users[todo].astype(np.int64) * n_items + neg[todo]
        pos = np.searchsorted(pos_keys, keys)
        clash = (pos < pos_keys.size) & (pos_keys[np.minimum(pos, pos_keys.size - 1)] == keys)
        todo = todo[clash]
        if todo.size == 0:
            break
        neg[todo] = eligible[rng.integers(0, eligible.size, todo.size)]
    ok = np.ones(users.size, dtype=bool)
    if todo.size:
        keys = users[todo].astype(np.int64) * n_items + neg[todo]
        pos = np.searchsorted(pos_keys, keys)
        clash = (pos < pos_keys.size) & (pos_keys[np.minimum(pos, pos_keys.size - 1)] == keys)
        ok[todo[clash]] = False
    return neg.astype(np.int32), ok
