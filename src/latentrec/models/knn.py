"""Item-based k-NN on baseline residuals (Koren 2010's KNNBaseline; Surprise's KNNBaseline)."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import retrieval
from ..data.interactions import Interactions
from ..kernels.knn import knn_predict, knn_score_users, pearson_baseline_neighbors
from ..kernels.threads import numba_threads
from ._training import check_float, check_int
from .base import Recommender, check_n
from .baselines import Biases
from .ranking import id_array, is_id_collection

# Up to this many neighbour slots (n_items x max_neighbors) the similarities are computed
# in one pass into fixed-width rows (8 bytes a slot); beyond it, in two passes (count, then
# fill) so that memory holds only the neighbours actually kept.
_PADDED_SLOTS = 1 << 24


class ItemKNN(Recommender):
    """r̂_ui = b_ui + Σ_{j∈N^k_i(u)} s_ij (r_uj − b_uj) / Σ_{j∈N^k_i(u)} s_ij.

    The classic neighbourhood model of the texts (Koren 2010, "Factor in the
    neighbors"; Surprise's ``KNNBaseline`` with item-based ``pearson_baseline``):

    * baselines b_ui = μ + b_u + b_i from :class:`~latentrec.models.Biases` (alternating
      least squares with shrinkage ``bias_regularization`` for items and
      ``user_bias_regularization`` for users, ``bias_epochs`` passes);
    * the similarity of items i and j is the Pearson correlation of their baseline
      residuals e_ui = r_ui − b_ui over the users who rated both, shrunk by
      (n_ij − 1) / (n_ij − 1 + ``shrinkage``) (pairs with fewer than
      max(2, ``min_support``) co-raters get 0);
    * N^k_i(u) holds the ``k`` items most similar to i among those u rated, positive
      similarities only (a negative or zero weight would not be a neighbour in Surprise
      either); with fewer than ``min_k`` of them the prediction is the baseline.

    Only the ``max_neighbors`` most similar (positive) items of each item are kept, in a
    sparse item x item CSR (``sim_indptr_``, ``sim_indices_``, ``sim_data_``, best first),
    and N^k_i(u) is drawn from those kept neighbours.  Where an item has no more positive
    neighbours than ``max_neighbors`` (on MovieLens-100K every item has fewer than 1000)
    predictions equal the full model's exactly, and Surprise's on every cell the user did
    not rate (held-out cells; on a rated cell N^k_i(u) leaves i out, where Surprise counts
    i as its own neighbour with the user's rating); with a smaller cap a user
    who rated few of i's kept neighbours gets fewer of them (or the baseline) — on
    MovieLens-100K a cap of 200 costs about 0.0015 RMSE.  ``None`` keeps every positive
    similarity, which for a large catalogue approaches a dense item x item matrix.
    Similarities are computed item by item from the sparse residual matrix by a numba
    kernel, never as a dense item x item matrix; fitting costs O(Σ_u |R(u)|²) time and
    the kept neighbours' memory (8 bytes each).

    Predictions and ranking scores are the same function: ``predict`` looks up the
    neighbours of each (user, item) pair; ranking scores blocks of users through the
    reverse neighbour lists.  Unknown users or items get the known part of the baseline.

    Args:
        k: neighbours per prediction.
        min_k: fewest neighbours for a personalised prediction.
        shrinkage: the similarity shrinkage constant (Surprise's default 100).
        min_support: fewest co-raters for a non-zero similarity.
        max_neighbors: neighbours kept per item (None: all with a positive similarity).
        bias_regularization: λ_i of the item baselines.
        user_bias_regularization: λ_u of the user baselines.
        bias_epochs: alternating passes for the baselines.
        num_threads: numba threads (None: numba's default); results do not depend on it.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5], [5, 0, 1, 2]])
        >>> model = ItemKNN(shrinkage=0).fit(Interactions.from_dense(R))
        >>> model.similar_items(0, n=1).ids.tolist()
        [1]
        >>> bool(model.predict([4], [1])[0] > model.predict([4], [3])[0])
        True
    """

    _array_state = (
        "user_bias_",
        "item_bias_",
        "ratings_",
        "sim_indptr_",
        "sim_indices_",
        "sim_data_",
    )
    _scalar_state = ("global_mean_",)

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        shrinkage: float = 100.0,
        min_support: int = 1,
        max_neighbors: int | None = 1000,
        bias_regularization: float = 10.0,
        user_bias_regularization: float = 15.0,
        bias_epochs: int = 10,
        num_threads: int | None = None,
    ):
        self.k = k
        self.min_k = min_k
        self.shrinkage = shrinkage
        self.min_support = min_support
        self.max_neighbors = max_neighbors
        self.bias_regularization = bias_regularization
        self.user_bias_regularization = user_bias_regularization
        self.bias_epochs = bias_epochs
        self.num_threads = num_threads

    def _check_params(self) -> None:
        check_int("k", self.k)
        check_int("min_k", self.min_k, minimum=0)
        check_float("shrinkage", self.shrinkage)
        check_int("min_support", self.min_support, minimum=0)
        if self.max_neighbors is not None:
            check_int("max_neighbors", self.max_neighbors)
        check_float("bias_regularization", self.bias_regularization)
        check_float("user_bias_regularization", self.user_bias_regularization)
        check_int("bias_epochs", self.bias_epochs)
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads)

    def _fit(self, data: Interactions, validation: Interactions | None) -> None:
        base = Biases(
            regularization=self.bias_regularization,
            user_regularization=self.user_bias_regularization,
            n_epochs=self.bias_epochs,
        ).fit(data)
        mu = float(base.global_mean_)
        bu = base.user_bias_.astype(np.float64)
        bi = base.item_bias_.astype(np.float64)
        m = data.matrix
        resid = m.data - (mu + bu[data.user_idx] + bi[m.indices])
        R = sp.csr_matrix((resid, m.indices, m.indptr), shape=m.shape)
        T = R.T.tocsr()  # items x users, sorted: the co-raters of each item in user order
        T.sort_indices()
        cap = data.n_items if self.max_neighbors is None else int(self.max_neighbors)
        width = max(1, min(cap, data.n_items - 1))
        with numba_threads(self.num_threads):
            # Two scratch sets per thread balance popular and rare items between threads.
            n_chunks = max(1, min(data.n_items, 2 * numba.get_num_threads()))
            args = (m.indptr, m.indices, resid, T.indptr, T.indices, T.data)
            args += (float(self.shrinkage), max(2, int(self.min_support)), width, n_chunks)
            counts = np.zeros(data.n_items, dtype=np.int64)
            if data.n_items * width <= _PADDED_SLOTS:
                # One pass into `width` slots per item, then squeeze out the unused ones.
                slots = np.arange(data.n_items, dtype=np.int64) * width
                indices = np.zeros(data.n_items * width, dtype=np.int32)
                sims = np.zeros(data.n_items * width, dtype=np.float32)
                pearson_baseline_neighbors(*args, False, slots, indices, sims, counts)
                used = (np.arange(width)[None, :] < counts[:, None]).ravel()
                indices, sims = indices[used], sims[used]
            else:
                # Large catalogues: count, then recompute straight into the CSR, so memory
                # is the kept neighbours only (twice the time of one pass).
                none_i, none_s = np.zeros(0, np.int32), np.zeros(0, np.float32)
                no_slots = np.zeros(0, np.int64)
                pearson_baseline_neighbors(*args, True, no_slots, none_i, none_s, counts)
                slots = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
                total = int(counts.sum())
                indices = np.zeros(total, dtype=np.int32)
                sims = np.zeros(total, dtype=np.float32)
                pearson_baseline_neighbors(*args, False, slots, indices, sims, counts)
        self.global_mean_ = mu
        self.user_bias_ = bu
        self.item_bias_ = bi
        self.ratings_ = m.data.astype(np.float32, copy=True)
        self.sim_indptr_ = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.sim_indices_ = indices
        self.sim_data_ = sims

    # ----------------------------------------------------------- scoring
    @property
    def similarity_(self) -> sp.csr_matrix:
        """The kept similarities as an items x items CSR (row i: i's neighbours, best first).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5], [2, 1, 4]])
            >>> ItemKNN(shrinkage=0).fit(Interactions.from_dense(R)).similarity_.shape
            (3, 3)
        """
        self.check_fitted()
        n = len(self.items_)
        return sp.csr_matrix((self.sim_data_, self.sim_indices_, self.sim_indptr_), shape=(n, n))

    def _reverse_lists(self):
        # Built on first use and not saved: the transpose is derived state.
        cached = getattr(self, "_reverse", None)
        if cached is None or cached[0] is not self.sim_data_:
            rev = self.similarity_.T.tocsr()
            cached = (self.sim_data_, rev.indptr.astype(np.int64), rev.indices, rev.data)
            self._reverse = cached
        return cached[1:]

    def _predict_idx(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        self.check_fitted()
        u = np.ascontiguousarray(user_idx, dtype=np.int64)
        i = np.ascontiguousarray(item_idx, dtype=np.int64)
        out = np.empty(u.shape[0], dtype=np.float64)
        with numba_threads(self.num_threads):
            knn_predict(
                u,
                i,
                float(self.global_mean_),
                self.user_bias_,
                self.item_bias_,
                self.seen_.indptr,
                self.seen_.indices,
                self.ratings_,
                self.sim_indptr_,
                self.sim_indices_,
                self.sim_data_,
                int(self.k),
                int(self.min_k),
                out,
            )
        return out

    def _score_block(self, user_idx: np.ndarray) -> np.ndarray:
        users = np.ascontiguousarray(user_idx, dtype=np.int64)
        out = np.empty((users.shape[0], self.n_items), dtype=np.float64)
        rev_indptr, rev_indices, rev_data = self._reverse_lists()
        with numba_threads(self.num_threads):
            knn_score_users(
                users,
                float(self.global_mean_),
                self.user_bias_,
                self.item_bias_,
                self.seen_.indptr,
                self.seen_.indices,
                self.ratings_,
                self.sim_indptr_,
                self.sim_indices_,
                self.sim_data_,
                rev_indptr,
                rev_indices,
                rev_data,
                int(self.k),
                int(self.min_k),
                out,
            )
        return out.astype(np.float32)

    def similar_items(self, item_id, n: int = 10, *, items=None, filter_items=None):
        """The kept neighbours of ``item_id``, most similar first (itself excluded).

        Only neighbours with a positive similarity that are among the ``max_neighbors``
        kept are returned, so fewer than ``n`` may come back; an item without training
        data has none (an empty result, as for factor models).  ``items`` restricts the
        candidates and ``filter_items`` removes some, as in :meth:`recommend`.

        One id gives :class:`~latentrec.models.results.Recommendations`; a list or array
        of ids gives a long table with columns ``query_id``, ``rank``, ``item_id``,
        ``score`` (no rows for an id without neighbours), as factor models do.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> R = np.array([[5, 4, 1], [4, 5, 2], [1, 2, 5], [2, 1, 4]])
            >>> model = ItemKNN(shrinkage=0).fit(Interactions.from_dense(R))
            >>> model.similar_items(1).ids.tolist()
            [0]
            >>> model.similar_items([1, 0])["item_id"].tolist()
            [0, 1]
        """
        self.check_fitted()
        check_n(n)
        scalar = not is_id_collection(item_id)
        raw = id_array(item_id)
        query = self.items_.index(raw).astype(np.int64)
        # One mask of the items a query may get, shared by every query.
        allowed = np.ones(self.n_items, dtype=bool)
        if items is not None:
            allowed[:] = False
            allowed[self.items_.index(items)] = True
        if filter_items is not None:
            allowed[self.items_.index(filter_items)] = False
        tops, vals = [], []
        # Dense rows for a block of queries at a time: memory stays (block x n_items).
        step = max(1, (1 << 20) // max(1, self.n_items))
        for a in range(0, query.size, step):
            block = query[a : a + step]
            scores = np.full((block.size, self.n_items), -np.inf, dtype=np.float32)
            for r, idx in enumerate(block):
                lo, hi = self.sim_indptr_[idx], self.sim_indptr_[idx + 1]
                scores[r, self.sim_indices_[lo:hi]] = self.sim_data_[lo:hi]
            scores[:, ~allowed] = -np.inf
            scores[np.arange(block.size), block] = -np.inf  # never its own neighbour
            top, val = retrieval.topk(scores, n)
            tops.append(top)
            vals.append(val)
        top = np.concatenate(tops) if tops else np.empty((0, 0), np.int32)
        val = np.concatenate(vals) if vals else np.empty((0, 0), np.float32)
        if scalar:
            keep = top[0] >= 0
            return self.catalog_.recommendations(top[0][keep], val[0][keep], False)
        rows, cols = np.nonzero(top >= 0)
        return pd.DataFrame(
            {
                "query_id": raw[rows],
                "rank": cols + 1,
                "item_id": self.items_.ids[top[rows, cols]],
                "score": val[rows, cols],
            }
        )
