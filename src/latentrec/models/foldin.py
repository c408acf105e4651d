"""Fold-in and partial fits: place users (or items) from their ratings, the other side fixed.

:class:`FoldIn` is mixed into :class:`~latentrec.models.factor.FactorModel`.  ``fold_in``
is pure (it returns a :class:`~latentrec.models.results.UserVector`); the partial fits
build a new catalogue and new learned arrays beside the current ones and swap the
model's one ``Fitted`` reference, so a reader in another thread sees either the old model
or the new one.  Writers are serialised by a lock; readers never wait for it.

The default per-row solve is the weighted ridge regression of
:func:`latentrec.kernels.ridge.ridge_rows`; algorithms with an exact update of their own
(ALS, implicit ALS, BPR, Bayesian MF, HybridMF) override ``_solve_user_rows`` /
``_solve_item_rows``.

Which value a stored cell of a user enters a fold-in with is stated once, here
(:func:`fold_in_values` applies it; the service's live fold-in and a pipeline's users
known from its validation slice alone both call it).  The cell is an explicit rating
(stars) or an implicit event (a play, a click, with its weight); NaN means "seen only".

- A model that predicts ratings folds in the explicit ratings, clipped to its scale;
  events are seen only.
- A ranking model (implicit ALS, BPR, WARP, HybridMF, factors made elsewhere) takes the
  kind of cell it was trained on (:func:`trained_kind`, what its catalogue recorded) as
  its fit read it (:meth:`FoldIn.training_values`: ImplicitALS the value, BPR and WARP 1
  for every cell, HybridMF 1 at or above its ``min_rating``, else seen only); of the
  other kind, events with their weight and explicit ratings at or above
  :func:`like_threshold` (the top 40 % of its scale) as 1, the rest seen only.  A model
  whose kind is unknown (a file written before the kind was recorded, factors imported
  from Spark) takes events by weight and stars by the like threshold.  Everything is
  clipped to its rating scale when it was trained on one.
- A bare list of item ids given to :meth:`FoldIn.fold_in` or ``onboard`` is events of
  weight 1 (:func:`answer_values`): for a rating model seen only (``fold_in`` refuses
  it, ``onboard`` falls back to popularity without those items), for a ranking model
  read as above.
- Cells whose own kind is unknown (``explicit=None``: a pipeline file written before
  it kept the kind of its validation slice) are read as the model's fit read its own
  training cells (``training_values``), clipped: what such files always did.
"""

from __future__ import annotations

import inspect
import threading
import warnings

import numpy as np
import pandas as pd

from ..data.interactions import Interactions
from ..data.vocabulary import UnknownIdError
from ..kernels.ridge import ridge_rows
from .base import index_array, reads_fitted
from .persistence import factor_reach, scores_past_float32
from .results import UserVector

# One lock for every model's updates: they are rare next to reads, and a lost update
# (two writers each swapping in their own new state) is worse than a short wait.
_UPDATE_LOCK = threading.RLock()


class FoldIn:
    """Fold-in (pure) and partial fits (swap the fitted state) for factor models."""

    # Learned arrays with one row per user / per item: partial fits grow them (new rows
    # start at zero unless the solve hooks fill them).  Subclasses add their own.
    _user_arrays: tuple[str, ...] = ("user_bias_", "user_factors_")
    _item_arrays: tuple[str, ...] = ("item_bias_", "item_factors_")

    def training_values(self, ratings) -> np.ndarray:
        """Explicit ``ratings`` as this model's fit reads a training cell's value, NaN for
        a cell it does not learn from: what a fold-in is given to place a user from
        ratings as training placed them.  By default the values themselves (a rating
        model fits them; ImplicitALS makes each its confidence); a model whose fit reads
        only which cells are stored says so by overriding this.

        Example:
            >>> from latentrec.models import BPR, HybridMF, ImplicitALS
            >>> ImplicitALS().training_values([5.0, 2.0]).tolist()
            [5.0, 2.0]
            >>> BPR().training_values([5.0, 2.0]).tolist()
            [1.0, 1.0]
            >>> HybridMF(min_rating=4).training_values([5.0, 2.0]).tolist()
            [1.0, nan]
        """
        return np.array(ratings, dtype=np.float64)

    @reads_fitted
    def fold_in(self, ratings, *, unknown: str = "error") -> UserVector:
        """A new user's bias and factors from their ratings, with the item side fixed.

        Pure: the model is not changed (use :meth:`partial_fit_users` to add the user).
        ``ratings`` is a dict ``{item_id: value}`` or a pandas Series indexed by item id
        (each value enters the solve as the model's fit read a training cell's value,
        :meth:`training_values`: as given for most models; for a HybridMF 1 at or
        above its ``min_rating``, below it seen only), or a sequence of item ids: events
        without a rating (plays, clicks, "seen"), which enter by the project's one rule
        (:func:`fold_in_values` with ``explicit=False``, weight 1 each).  So a ranking
        model (ImplicitALS, BPR, WARP, HybridMF) folds each in as a positive (HybridMF
        only at or above its ``min_rating``; below it a cell is seen only, not folded
        in), and a rating model, for which events are seen only, refuses a list with a
        ValueError: it learns a user's taste from stars, and a list says nothing of
        how they were rated (give ``{item_id: rating}``).  Unknown item ids raise
        :class:`UnknownIdError` naming them, unless ``unknown="ignore"``, which drops
        them and lists them in ``UserVector.ignored``.  Two ids that are one item of the
        model (``"a"`` and ``" a"``, ``1`` and ``"1"``) raise ``ValueError`` naming both.
        No known rating gives zeros: a
        vector that ranks by item bias alone (all ties for a model without biases), not
        by popularity; :func:`~latentrec.onboarding.onboard` gives the popularity list
        for such a user (``fallback=True``).  Ratings off the model's rating scale, or
        for a rating model fitted without one outside the range of its training ratings
        (:func:`answer_range`), raise ``ValueError`` naming the items and the range.

        The default solve is, per user, the ridge regression
        ``min Σ_j (r_j − μ − b_j − b − p·q_j)² + n·(λ‖p‖² + λ_b b²)`` over the user's
        ``n`` ratings (λ = ``regularization``, 0.1 for a model without one; λ_b =
        ``bias_regularization`` where the model has it, else λ), with the bias b only for
        a model with user biases (else b = 0).  Models with an objective or update of
        their own say so and replace it: ALS, implicit ALS, BPR and WARP, Bayesian MF,
        NMF (p ≥ 0), TruncatedSVD (the projection of the imputed row), SVD++ (the y of
        the rated items fixed), full-batch gradient descent (λ not multiplied by n),
        and HybridMF (its BPR objective).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> fan = model.fold_in({0: 5, 1: 5, 2: 1})
            >>> fan.factors.shape
            (2,)
            >>> bool(model.user_factors_.shape[0] == 4)  # the model is unchanged
            True
        """
        self.check_fitted()
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        item_ids, values = answer_values(self, ratings)
        listed = is_id_list(ratings)
        if self.predicts_ratings and listed:
            raise ValueError(
                f"{type(self).__name__} predicts ratings, so it folds in ratings: a list of "
                "item ids says which items were seen, not how they were rated (for a "
                "rating model such events are seen only; see fold_in_values); give "
                "{item_id: rating}"
            )
        # Given values were checked as given (NaN is an error); NaN now: seen only.
        folded = ~np.isnan(values)
        self._check_values(item_ids[folded], values[folded], "item")
        idx = self.items_.lookup(item_ids)
        refuse_same_id(item_ids, idx, "item")
        ignored: list = []
        if (idx < 0).any():
            if unknown == "error":
                raise UnknownIdError("item", pd.unique(item_ids[idx < 0]).tolist())
            ignored = item_ids[idx < 0].tolist()
        # Unknown items, and cells that are seen only, are not folded in.
        values = values[(idx >= 0) & folded]
        idx = idx[(idx >= 0) & folded]
        order = np.argsort(idx, kind="stable")
        bias, factors = self._solve_rows(
            "user",
            np.array([0, idx.size], dtype=np.int64),
            idx[order].astype(np.int32),
            values[order].astype(np.float32),
        )
        return UserVector(float(bias[0]), np.array(factors[0], dtype=np.float32), ignored)

    @reads_fitted
    def fold_in_idx(self, indptr, item_idx, values) -> tuple[np.ndarray, np.ndarray]:
        """Fold in many users at once from CSR rows of (internal item index, value).

        The batch, index-level form of :meth:`fold_in`: row ``r`` holds the ratings
        ``item_idx[indptr[r]:indptr[r+1]]`` with ``values``; items stay fixed and the
        model is not changed.  Rows without ratings get zeros.  Item indices are whole
        numbers in ``[0, n_items)``, each at most once in a row (a repeat would be counted
        twice; :meth:`fold_in` refuses a repeated item id the same way).

        Returns:
            ``(bias (n,), factors (n, k))``, float32.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> bias, P = model.fold_in_idx([0, 2, 3], [0, 1, 2], [5.0, 5.0, 1.0])
            >>> P.shape
            (2, 2)
        """
        self.check_fitted()
        indptr = np.asarray(indptr, dtype=np.int64)
        item_idx = index_array(item_idx, self.n_items, "item_idx")
        values = np.asarray(values, dtype=np.float64)
        if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must start at 0 and never decrease")
        if int(indptr[-1]) != item_idx.size or values.shape != item_idx.shape:
            raise ValueError(
                f"indptr ends at {int(indptr[-1])} but there are {item_idx.size} item indices "
                f"and {values.size} values"
            )
        self._check_values(item_idx, values, "item index")
        _refuse_repeats(indptr, item_idx)
        return self._solve_rows(
            "user",
            indptr,
            item_idx.astype(np.int32),
            values.astype(np.float32),
            lambda row: f"the user in row {row}",
        )

    def partial_fit_users(self, data, *, unknown: str = "error") -> FoldIn:
        """Add new users (or recompute existing ones) from their ratings; items stay fixed.

        ``data`` is a DataFrame with columns ``user_id``, ``item_id`` and optionally
        ``rating``, or an :class:`Interactions`.  Rows without a rating (no ``rating``
        column, or implicit Interactions) are events, read by the fold-in rule: a
        ranking model folds each in as 1.0, while a model that predicts ratings records
        them as seen only, with a warning (never as 1-star ratings; a user with no rated
        row gets zeros, as :meth:`fold_in` gives for no rating).  Each user's rows are
        taken as their whole history: an existing user's bias, factors and seen items
        are replaced.  A repeated (user, item) pair keeps its last row (with a warning).
        Unknown item ids are an error unless ``unknown="ignore"`` (their rows are dropped
        with a warning).
        The vocabulary, ``user_bias_``, ``user_factors_``, the seen items and the item
        popularity grow together: they are built aside and swapped in as one new state,
        so a concurrent reader sees the model before or after, and the new users can be
        recommended to, predicted, explained and saved at once.  Returns ``self``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> new = pd.DataFrame({"user_id": [9, 9], "item_id": [0, 1], "rating": [5, 5]})
            >>> model.partial_fit_users(new).n_users
            5
            >>> model.recommend(9, n=2).ids.tolist()
            [3, 2]
        """
        return self._partial_fit(data, "user", unknown)

    def partial_fit_items(self, data, *, unknown: str = "error") -> FoldIn:
        """Add new items (or recompute existing ones) from their ratings; users stay fixed.

        The mirror image of :meth:`partial_fit_users`: ``data`` has ``user_id``,
        ``item_id`` and optionally ``rating`` (rows without one are read as there: seen
        only for a model that predicts ratings); unknown *user* ids are an error unless
        ``unknown="ignore"``.  Grows the item vocabulary, ``item_bias_``,
        ``item_factors_``, the item popularity, the titles (a new item's title is its id)
        and the seen items.  Returns ``self``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import BiasedMF
            >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
            >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
            >>> model = model.fit(Interactions.from_dense(R))
            >>> new = pd.DataFrame({"user_id": [0, 1, 2], "item_id": 7, "rating": [5, 5, 1]})
            >>> sorted(model.partial_fit_items(new).similar_items(7, n=2).ids.tolist())
            [0, 1]
        """
        return self._partial_fit(data, "item", unknown)

    def _solve_user_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (item_idx, value) for n users -> (user_bias (n,), user_factors (n, k)).

        Item factors and biases stay fixed.  The default is the weighted-λ ridge of
        :meth:`fold_in`; algorithms with an exact update of their own override it.
        """
        reg_f, reg_b, weighted = self._fold_in_regularization("user")
        return ridge_rows(
            indptr,
            indices,
            values,
            self.item_factors_,
            self.global_mean_ + self.item_bias_.astype(np.float64),
            bool(np.any(self.user_bias_)),
            reg_f,
            reg_b,
            weighted,
        )

    def _solve_item_rows(self, indptr, indices, values) -> tuple[np.ndarray, np.ndarray]:
        """CSR rows (user_idx, value) for n items -> (item_bias (n,), item_factors (n, k)).

        The mirror image of :meth:`_solve_user_rows`, with user factors and biases fixed.
        """
        reg_f, reg_b, weighted = self._fold_in_regularization("item")
        return ridge_rows(
            indptr,
            indices,
            values,
            self.user_factors_,
            self.global_mean_ + self.user_bias_.astype(np.float64),
            bool(np.any(self.item_bias_)),
            reg_f,
            reg_b,
            weighted,
        )

    def _more_rows(self, side, target, indptr, cols, factors, catalog) -> dict:
        """Other learned arrays a partial fit of ``side`` changes: ``{name: array}``.

        Called with the solved rows (``target``: their indices in ``catalog``, the new
        catalogue; ``indptr`` / ``cols``: their cells; ``factors``: what the solve gave)
        for a model that keeps more per-row state than a bias and a factor row (SVD++'s
        raw p and y); the default changes nothing.
        """
        return {}

    def _fold_in_regularization(self, side: str) -> tuple[float, float, bool]:
        """(λ for factors, λ for the bias, whether λ is multiplied by the row's count).

        Defaults: ``regularization`` (0.1 when the model has none), ``bias_regularization``
        when set, weighted by the count as SGD's per-visit penalty adds up to.
        """
        given = self.fitted_.state.get("fold_in_regularization_")
        if given is not None:  # a model made from factors (FactorModel.from_factors)
            return float(given[0]), float(given[1]), True
        reg = getattr(self, "regularization", None)
        reg = 0.1 if reg is None else float(reg)
        reg_b = getattr(self, "bias_regularization", None)
        return reg, reg if reg_b is None else float(reg_b), True

    def _solve_rows(self, side, indptr, indices, values, name=None):
        """Solve CSR rows of ``side`` (see ``_solve_user_rows``) and check what came out;
        ``name(row)`` says which user or item a row is, for an error about it."""
        hook = self._solve_user_rows if side == "user" else self._solve_item_rows
        n_rows, k = indptr.size - 1, self.n_factors_
        bias, factors = hook(indptr, indices, values)
        bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        factors = np.asarray(factors, dtype=np.float32)
        if bias.shape != (n_rows,) or factors.shape != (n_rows, k):
            raise ValueError(
                f"{type(self).__name__}._solve_{side}_rows returned shapes {bias.shape} and "
                f"{factors.shape}; expected ({n_rows},) and ({n_rows}, {k})"
            )
        if not (np.isfinite(bias).all() and np.isfinite(factors).all()):
            raise FloatingPointError(
                f"{type(self).__name__}: the {side} solve gave NaN or infinite values; "
                "raise regularization"
            )
        # A row without cells gets zeros, as fold_in and fold_in_idx promise: the row a
        # fit gives a user (item) without training cells.  BayesianMF's conditional mean
        # of such a row is its prior mean, which made an unrated user "placed" by the
        # population's mean taste, unlike the same user in the training data.
        empty = np.diff(np.asarray(indptr)) == 0
        if empty.any():
            bias = np.where(empty, np.float32(0), bias)
            factors = np.where(empty[:, None], np.float32(0), factors)
        self._check_rows_score(side, bias, factors, name)
        return bias, factors

    def _check_rows_score(self, side, bias, factors, name) -> None:
        """Raise if solved rows of ``side`` could score past float32's range.

        A finite row is not enough: with a tiny fixed vector and a small λ the solve
        gives a huge one (p = r / q), whose scores against the other fixed rows are
        infinite, and recommend then listed +inf ties in item order.  The bound is
        :func:`~latentrec.models.persistence.scores_past_float32`; the fixed side's
        extent is remembered with the state, so a fold-in stays O(its rows).
        """
        other = "item" if side == "user" else "user"
        names = (f"{other}_bias_", f"{other}_factors_")
        fitted = self.fitted_

        def fixed(exact):
            return fitted.derived(
                ("score_reach", other, exact),
                lambda: factor_reach(*(fitted.state[n] for n in names), exact),
                inputs=names,
            )

        new = (bias, factors)
        sides = (new, fixed) if side == "user" else (fixed, new)
        past = scores_past_float32(fitted.state["global_mean_"], *sides)
        if past is None:
            return
        other_b, other_len = fixed(True)
        lengths = np.sqrt(np.square(factors, dtype=np.float64).sum(axis=1))
        row = int(np.argmax(np.abs(bias.astype(np.float64)) + lengths * other_len))
        who = f"the {side}" if name is None else name(row)
        raise FloatingPointError(
            f"{type(self).__name__}: the fold-in of {who} diverged: its factors have length "
            f"{lengths[row]:.3g} and the {other}s' up to {other_len:.3g}, so its scores could "
            "pass float32's range and be infinite or NaN; raise regularization"
        )

    def _check_values(self, ids, values, what) -> None:
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"ratings for {what} id(s) {ids[bad][:5].tolist()} are not finite")
        if self.rating_scale_ is not None:
            lo, hi = self.rating_scale_
            out = (values < lo) | (values > hi)
            if out.any():
                raise ValueError(
                    f"ratings for {what} id(s) {ids[out][:5].tolist()} lie outside the "
                    f"model's rating scale {lo:g}-{hi:g}"
                )

    def _partial_fit(self, data, side: str, unknown: str):
        self.check_fitted()
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        users_raw, items_raw, values = partial_frame(data)
        seen_only = self.predicts_ratings and not has_ratings(data)
        if seen_only:
            # Rows without a rating are events, and a rating model learns taste from stars
            # only (fold_in_values): read as 1.0 they would be 1-star ratings.  They are
            # recorded as seen, not folded in.
            values = np.full(len(values), np.nan)
        with _UPDATE_LOCK:
            # Everything is read from one snapshot and the result replaces it whole.
            view = self.pinned()
            # Events (no rating column) add up when repeated, as Interactions adds them.
            events = not seen_only and not has_ratings(data)
            new = view._updated_state(side, unknown, users_raw, items_raw, values, events)
            if new is not None:
                self._swap(new)
        if seen_only and new is not None:
            warnings.warn(
                f"{type(self).__name__} predicts ratings, but the table has no ratings (no "
                f"'rating' column, or implicit data): its rows are recorded as seen, not "
                f"folded in as ratings; give a 'rating' column to place the {side}s",
                stacklevel=user_stacklevel(),
            )
        return self

    def _updated_state(self, side, unknown, users_raw, items_raw, values, events=False):
        """The fitted state after replacing the histories of some rows of ``side``.

        Repeated (user, item) rows: the last wins for ratings, as in Interactions'
        default; ``events`` (rows without a rating column, given to an implicit model)
        add up, as Interactions adds events, so that a user folded in from their raw
        plays is placed as the same plays read into training data would place them.
        """
        if side == "user":
            row_raw, col_raw, row_vocab, col_vocab = users_raw, items_raw, self.users_, self.items_
        else:
            row_raw, col_raw, row_vocab, col_vocab = items_raw, users_raw, self.items_, self.users_
        # NaN: a row that is seen only (an event given to a rating model), never folded in.
        rated = ~np.isnan(values)
        self._check_values(items_raw[rated], values[rated], "item")
        col = col_vocab.lookup(col_raw).astype(np.int64)
        if (col < 0).any():
            if unknown == "error":
                raise UnknownIdError(col_vocab.name, pd.unique(col_raw[col < 0]).tolist())
            warnings.warn(
                f"partial_fit_{side}s ignored {int((col < 0).sum())} row(s) with unknown "
                f"{col_vocab.name} ids: {pd.unique(col_raw[col < 0])[:5].tolist()}",
                stacklevel=user_stacklevel(),
            )
            keep = col >= 0
            row_raw, col, values = row_raw[keep], col[keep], values[keep]
            if row_raw.size == 0:
                return None
        codes, uniq = pd.factorize(row_raw, sort=False)
        uniq = np.asarray(uniq)
        key = codes.astype(np.int64) * len(col_vocab) + col
        # The last row of each repeated pair, in the order of the sorted distinct keys.
        last = key.size - 1 - np.unique(key[::-1], return_index=True)[1]
        if last.size < key.size and events:
            inverse = np.unique(key, return_inverse=True)[1].reshape(-1)
            values = np.array(values, dtype=np.float64)
            values[last] = np.bincount(inverse, weights=values, minlength=last.size)
            # Said, as Interactions' load report counts its merged rows.
            warnings.warn(
                f"partial_fit_{side}s added up the events of each repeated (user, item) "
                f"pair: {key.size - last.size} repeated row(s) merged",
                stacklevel=user_stacklevel(),
            )
        elif last.size < key.size:
            warnings.warn(
                f"partial_fit_{side}s kept the last of each repeated (user, item) pair: "
                f"{key.size - last.size} earlier row(s) not used",
                stacklevel=user_stacklevel(),
            )
        order = last[np.lexsort((col[last], codes[last]))]
        codes, col, values = codes[order], col[order], values[order]
        indptr = np.zeros(uniq.size + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(codes, minlength=uniq.size))
        # Every row is seen; only the rated ones enter the solve (a row with none gets
        # zeros, as fold_in gives for no rating).
        rated = ~np.isnan(values)
        solve_indptr = np.zeros(uniq.size + 1, dtype=np.int64)
        solve_indptr[1:] = np.cumsum(np.bincount(codes[rated], minlength=uniq.size))
        solve_col = col[rated]
        bias, factors = self._solve_rows(
            side,
            solve_indptr,
            solve_col.astype(np.int32),
            values[rated].astype(np.float32),
            lambda row: f"{side} {uniq[row]!r}",
        )
        target = row_vocab.lookup(uniq).astype(np.int64)
        # Two spellings of one known id ("u1", " u1") would both write its row.
        refuse_same_id(uniq, target, row_vocab.name)
        new = target < 0
        n_new = int(new.sum())
        target[new] = len(row_vocab) + np.arange(n_new)
        catalog = self.catalog_.with_rows(side, target, indptr, col, new_ids=uniq[new])
        changes = {}
        for name in self._user_arrays if side == "user" else self._item_arrays:
            old = getattr(self, name)
            grown = np.zeros((old.shape[0] + n_new,) + old.shape[1:], dtype=old.dtype)
            grown[: old.shape[0]] = old  # new rows start at zero unless solved below
            changes[name] = grown
        bias_name, factors_name = (
            ("user_bias_", "user_factors_")
            if side == "user"
            else (
                "item_bias_",
                "item_factors_",
            )
        )
        changes[bias_name][target] = bias
        changes[factors_name][target] = factors
        changes.update(self._more_rows(side, target, solve_indptr, solve_col, factors, catalog))
        self._check_finite(changes)
        return self.fitted_.evolve(catalog, **changes)


def parse_ratings(ratings) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (an object array) and float values from a dict, a Series or a sequence of
    ids (events: values 1.0, which :func:`answer_values` reads by the fold-in rule); a
    repeated item is an error.

    Example:
        >>> ids, values = parse_ratings({10: 5, 20: 3})
        >>> ids.tolist(), values.tolist()
        ([10, 20], [5.0, 3.0])
    """
    if isinstance(ratings, dict):
        ids = list(ratings.keys())
        values = np.asarray(list(ratings.values()), dtype=np.float64)
    elif isinstance(ratings, pd.Series):
        ids = list(ratings.index)
        values = pd.to_numeric(ratings, errors="coerce").to_numpy(dtype=np.float64)
    elif isinstance(ratings, pd.DataFrame):
        raise TypeError(
            "fold_in takes one user's ratings (dict, Series or item ids); for a table of "
            "users use partial_fit_users"
        )
    else:
        ids = [ratings] if np.ndim(ratings) == 0 else list(ratings)
        values = np.ones(len(ids))
    arr = np.empty(len(ids), dtype=object)
    arr[:] = ids
    if len(ids) and pd.Index(arr).has_duplicates:
        dup = pd.Index(arr)[pd.Index(arr).duplicated()].unique()[:5].tolist()
        raise ValueError(f"ratings repeat item id(s) {dup}; give each item once")
    return arr, values


def refuse_same_id(raw_ids: np.ndarray, idx: np.ndarray, what: str) -> None:
    """Raise a ValueError when two of the distinct ``raw_ids`` are one id of the model
    (their looked-up ``idx`` agree): ``"a"`` and ``" a"`` (ids are found without
    surrounding whitespace) or ``1`` and ``"1"``.  Both would enter a solve, one item
    counted twice.  Unknown ids (``idx`` -1) are left to the caller.

    Example:
        >>> raw = np.array(["a", "b", " a"], dtype=object)
        >>> try:
        ...     refuse_same_id(raw, np.array([0, 1, 0]), "item")
        ... except ValueError as err:
        ...     print(str(err)[:43])
        item ids 'a' and ' a' are the same item (id
    """
    known = np.flatnonzero(idx >= 0)
    order = known[np.argsort(idx[known], kind="stable")]
    same = np.flatnonzero(idx[order][1:] == idx[order][:-1])
    if same.size:
        first, second = (raw_ids[order[same[0]]], raw_ids[order[same[0] + 1]])
        raise ValueError(
            f"{what} ids {first!r} and {second!r} are the same {what} (ids are matched "
            f"without surrounding whitespace, and 1 as '1'); give each {what} once"
        )


def _refuse_repeats(indptr: np.ndarray, item_idx: np.ndarray) -> None:
    """Raise a ValueError naming the first row that holds an item index twice.

    Example:
        >>> try:
        ...     _refuse_repeats(np.array([0, 1, 4]), np.array([3, 2, 5, 2]))
        ... except ValueError as err:
        ...     print(err)
        row 1 repeats item index 2 (positions 1 and 3); give each item once per row
    """
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    order = np.lexsort((item_idx, rows))
    same = (rows[order][1:] == rows[order][:-1]) & (item_idx[order][1:] == item_idx[order][:-1])
    if same.any():
        at = int(np.flatnonzero(same)[0])
        first, second = sorted((int(order[at]), int(order[at + 1])))
        raise ValueError(
            f"row {int(rows[first])} repeats item index {int(item_idx[first])} (positions "
            f"{first} and {second}); give each item once per row"
        )


def is_id_list(ratings) -> bool:
    """Whether ``ratings`` is the list form of :meth:`FoldIn.fold_in` (item ids without
    values: events), not a dict or Series of values.

    Example:
        >>> is_id_list([10, 20]), is_id_list({10: 5}), is_id_list(pd.Series({10: 5}))
        (True, False, False)
    """
    return not isinstance(ratings, (dict, pd.Series, pd.DataFrame))


def answer_values(model, ratings) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and the value each enters ``model``'s fold-in with, NaN for "seen only".

    A list of item ids is events of weight 1, read by the one rule,
    :func:`fold_in_values` (``explicit=False``): a rating model gets NaN for every id
    (seen only), a ranking model what its fit would make of such an event.  A dict or
    Series gives values, checked as given (a NaN or a value off the model's rating scale
    raises ``ValueError``) and then read as the model's fit read a training cell
    (``explicit=None``, :meth:`FoldIn.training_values`): the values themselves for most
    models, 1 or NaN (seen only) below ``min_rating`` for a HybridMF.

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [7, 8]), np.eye(2), global_mean=3.0)
        >>> answer_values(m, {7: 4.0})[1].tolist(), answer_values(m, [7, 8])[1].tolist()
        ([4.0], [nan, nan])
        >>> ranking = FactorModel.from_factors(([1], [7, 8]), np.eye(2))
        >>> answer_values(ranking, [7, 8])[1].tolist()
        [1.0, 1.0]
        >>> from latentrec import Interactions
        >>> from latentrec.models import HybridMF
        >>> stars = Interactions.from_dense(np.array([[5.0, 2.0], [4.0, 5.0]]))
        >>> hybrid = HybridMF(n_factors=1, n_epochs=1, min_rating=4).fit(stars)
        >>> answer_values(hybrid, {0: 5.0, 1: 2.0})[1].tolist()
        [1.0, nan]
    """
    ids, values = parse_ratings(ratings)
    if is_id_list(ratings):
        return ids, fold_in_values(model, values, False)
    # Given values are checked as given (NaN, off the scale: errors), then read as the
    # fit read its own training cells: a HybridMF with min_rating learns nothing from a
    # rating below it, so such an answer is seen only, as it was in training.
    model._check_values(ids, values, "item")
    _check_answer_range(model, ids, values)
    return ids, fold_in_values(model, values, None)


def answer_range(model) -> tuple[float, float, str] | None:
    """The ratings a fold-in of ``model`` takes as answers: ``(low, high, what)``, or
    ``None`` when any finite value goes.

    A model with a rating scale takes answers on it (``what`` is ``"rating scale"``).
    A rating model (one that predicts ratings) fitted on explicit ratings without a
    scale takes the range its training ratings covered (``"range of its training
    ratings"``): a 9 given to a model that saw only 1-5 lies where nothing was learned,
    and the new user's scores would be extrapolated off the scale of every prediction,
    so it is refused rather than guessed at.  A ranking model (ImplicitALS, BPR, ...)
    reads a value as a confidence or a positive, where a larger count is no
    extrapolation; it, event data (plays, clicks), factors made elsewhere and model
    files written before the range was recorded give ``None``.  Only the answers of
    :meth:`FoldIn.fold_in` and :func:`~latentrec.onboarding.onboard` (ratings given as a
    dict or Series) are held to the training range; :meth:`FoldIn.partial_fit_users`
    and :meth:`FoldIn.fold_in_idx` take data, held to the rating scale alone.

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> R = np.array([[5, 3, 1], [4, 1, 2]])
        >>> answer_range(BiasedMF(n_epochs=1).fit(Interactions.from_dense(R)))
        (1.0, 5.0, 'range of its training ratings')
        >>> stars = Interactions.from_dense(R, rating_scale=(1, 10))
        >>> answer_range(BiasedMF(n_epochs=1).fit(stars))
        (1.0, 10.0, 'rating scale')
    """
    if model.rating_scale_ is not None:
        lo, hi = model.rating_scale_
        return float(lo), float(hi), "rating scale"
    seen = getattr(model.catalog_, "rating_range", None)
    if seen is None or not model.predicts_ratings:
        return None
    if getattr(model.catalog_, "implicit", None) is not False:
        return None
    return float(seen[0]), float(seen[1]), "range of its training ratings"


def _check_answer_range(model, ids, values) -> None:
    """Refuse given answers outside :func:`answer_range` (the scale itself is checked by
    ``_check_values``, with the message it has always had)."""
    bounds = answer_range(model)
    if bounds is None or bounds[2] == "rating scale":
        return
    lo, hi, what = bounds
    # The range is of float32 training values: compare the answers as they would be stored.
    stored = np.asarray(values, dtype=np.float32)
    out = (stored < np.float32(lo)) | (stored > np.float32(hi))
    if out.any():
        shown = ", ".join(f"{i}={v:g}" for i, v in zip(ids[out][:5], values[out][:5], strict=True))
        raise ValueError(
            f"answer(s) {shown} lie outside the {what}, {lo:g}-{hi:g}; this model was "
            "fitted without a rating scale and learned nothing of ratings beyond it"
        )


def user_stacklevel() -> int:
    """The ``stacklevel`` at which a warning raised by the caller of this function names
    the first frame outside ``latentrec.models``: the user's line, however many of the
    package's frames a subclass's overrides put between (HybridMF's ``_partial_fit``
    and ``_updated_state``), where a fixed count named a line of the package.

    Example:
        >>> user_stacklevel() >= 1
        True
    """
    here = inspect.currentframe()  # None where Python keeps no frames: level 2 then
    frame, level = (here.f_back, 1) if here is not None else (None, 2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("latentrec.models"):
        frame, level = frame.f_back, level + 1
    return level


def has_ratings(data) -> bool:
    """Whether the table given to a partial fit holds ratings: a DataFrame with a
    ``rating`` column, or an :class:`Interactions` that is not implicit feedback.

    Example:
        >>> import pandas as pd
        >>> has_ratings(pd.DataFrame({"user_id": [1], "item_id": [2]}))
        False
        >>> has_ratings(pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [4]}))
        True
    """
    if isinstance(data, Interactions):
        return not data.implicit
    return isinstance(data, pd.DataFrame) and "rating" in data.columns


def partial_frame(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user ids, item ids, values) from a long table or an Interactions.

    Example:
        >>> import pandas as pd
        >>> users, items, values = partial_frame(pd.DataFrame({"user_id": [1], "item_id": [2]}))
        >>> values.tolist()
        [1.0]
    """
    if isinstance(data, Interactions):
        data = data.to_frame()
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            "expected a DataFrame with user_id, item_id (and rating) columns or an "
            f"Interactions, got {type(data).__name__}"
        )
    missing = [c for c in ("user_id", "item_id") if c not in data.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the table has {list(data.columns)}")
    if len(data) == 0:
        raise ValueError("the table is empty: no ratings to fit")
    for col in ("user_id", "item_id"):
        nulls = data[col].isna().to_numpy()
        if nulls.any():
            raise ValueError(
                f"column {col!r} has missing ids at rows {data.index[nulls][:5].tolist()}"
            )
    if "rating" in data.columns:
        values = pd.to_numeric(data["rating"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"column 'rating' has missing or non-numeric values at rows "
                f"{data.index[bad][:5].tolist()}"
            )
    else:
        values = np.ones(len(data))
    return data["user_id"].to_numpy(), data["item_id"].to_numpy(), values


def trained_kind(model) -> str | None:
    """The kind of cell a fitted ``model`` was trained on, by the names a ratings store
    uses: ``"event"`` (implicit feedback), ``"explicit"`` (ratings), or ``None`` when it
    was not recorded (a model file written before it was; factors made elsewhere).

    Read from the model's catalogue (``Catalog.implicit``, its training data's
    ``Interactions.implicit``), not from what sort of model it is: an implicit model may
    have been trained on stars.

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import FactorModel, Popularity
        >>> trained_kind(Popularity().fit(Interactions.from_arrays([1], ["a"], None)))
        'event'
        >>> trained_kind(FactorModel.from_factors(([1], ["a"]), np.eye(1))) is None
        True
    """
    implicit = getattr(model.catalog_, "implicit", None)
    if implicit is None:
        return None
    return "event" if implicit else "explicit"


def like_threshold(model) -> float:
    """The lowest explicit rating a ranking ``model`` takes as a positive when its fit did
    not read stars (trained on events, or its kind unknown; see the module docstring):
    60 % of the way up its rating scale (4 and 5 of 1-5 stars), or any rating when it
    has no scale.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> cat = Catalog.from_ids([1], [7], rating_scale=(1, 5))
        >>> like_threshold(FactorModel.from_factors(cat, np.eye(1)))
        3.4
        >>> like_threshold(FactorModel.from_factors(([1], [7]), np.eye(1)))
        -inf
    """
    scale = model.rating_scale_
    if scale is None:
        return -np.inf
    lo, hi = scale
    return float(lo + 0.6 * (hi - lo))


def fold_in_values(model, values, explicit) -> np.ndarray:
    """The value each of a user's cells enters ``model``'s fold-in with, NaN for "seen
    only": the rule of the module docstring.

    ``values`` are the stored values (stars, or an event's weight); ``explicit`` says per
    cell (or for all, as one bool) whether it is an explicit rating, or is ``None`` when
    the cells' kind is unknown (they are then read as the model's own training cells).

    Example:
        >>> import latentrec
        >>> from latentrec.models import BPR, Catalog, FactorModel, HybridMF, ImplicitALS
        >>> m = FactorModel.from_factors(([1], [7]), np.eye(1), global_mean=3.0)
        >>> fold_in_values(m, [4.0, 2.0], [True, False])  # a rating model: no events
        array([ 4., nan])
        >>> R = np.array([[5.0, 2.0], [4.0, 0.0]])
        >>> stars = latentrec.Interactions.from_dense(R, rating_scale=(1, 5))
        >>> als = ImplicitALS(n_factors=1, random_state=0).fit(stars)  # trained on stars
        >>> fold_in_values(als, [2.0, 9.0], [True, False])
        array([2., 5.])
        >>> bpr = BPR(n_factors=1, n_epochs=1, random_state=0).fit(stars)
        >>> fold_in_values(bpr, [5.0, 2.0], True)
        array([1., 1.])
        >>> plays = latentrec.Interactions.from_arrays([1, 1, 2, 2], [7, 8, 7, 8],
        ...                                            [1.0, 5.0, 4.0, 3.0], implicit=True)
        >>> hybrid = HybridMF(n_factors=1, n_epochs=1, min_rating=3, random_state=0).fit(plays)
        >>> fold_in_values(hybrid, [1.0, 5.0], False)
        array([nan,  1.])
        >>> cat = Catalog.from_ids([1], [7, 8], rating_scale=(1, 5))  # kind unknown
        >>> made = FactorModel.from_factors(cat, np.eye(2), predicts_ratings=False)
        >>> fold_in_values(made, [5.0, 2.0], True)
        array([ 1., nan])
        >>> fold_in_values(made, [5.0, 2.0], None)  # cells of unknown kind: as trained
        array([5., 2.])
    """
    values = np.asarray(values, dtype=np.float64)
    lo, hi = model.rating_scale_ or (-np.inf, np.inf)
    if explicit is None:
        # A ranking model trained on stars refuses fold-in values outside their scale,
        # and a ranking model's positive (1) need not lie on it.
        return np.clip(model.training_values(values), lo, hi)
    explicit = np.broadcast_to(np.asarray(explicit, dtype=bool), values.shape)
    if model.predicts_ratings:
        return np.where(explicit, np.clip(values, lo, hi), np.nan)
    kind = trained_kind(model)
    read = model.training_values(values) if kind is not None else values
    stars = read if kind == "explicit" else np.where(values >= like_threshold(model), 1.0, np.nan)
    weights = read if kind == "event" else values
    # An event's stored weight is any sum of positive weights: clipped like the rest.
    return np.clip(np.where(explicit, stars, weights), lo, hi)
