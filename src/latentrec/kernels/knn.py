"""Item–item k-NN on baseline residuals: shrunk Pearson similarities and predictions.

Every kernel works on CSR arrays (users x items for ratings, items x items for the kept
similarities) and never forms a dense item x item or users x items matrix except the
caller's output block.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, nogil=True)
def pearson_baseline_neighbors(
    indptr,
    indices,
    resid,
    t_indptr,
    t_indices,
    t_resid,
    shrinkage,
    min_support,
    max_neighbors,
    n_chunks,
    count_only,
    slot_start,
    out_indices,
    out_sims,
    out_counts,
):  # pragma: no cover - compiled
    """Top positive shrunk Pearson-baseline neighbours of every item.

    ``(indptr, indices, resid)`` is the users x items CSR of baseline residuals
    e_ui = r_ui − b_ui and ``(t_indptr, t_indices, t_resid)`` its transpose (items x users),
    both with sorted indices.  For items i ≠ j rated together by the users U_ij,

        s_ij = Σ_U e_ui e_uj / sqrt(Σ_U e_ui² · Σ_U e_uj²) · (|U_ij| − 1) / (|U_ij| − 1 + shrinkage)

    (sums over co-raters only; 0 when |U_ij| < min_support or a sum of squares is 0).
    Item i keeps its ``max_neighbors`` largest positive s_ij, best first, ties to the lower
    item index: ``out_counts[i]`` says how many, and unless ``count_only`` they are written
    to ``out_indices`` / ``out_sims`` from position ``slot_start[i]`` on.  (A caller
    either gives every item ``max_neighbors`` slots, or counts first and then fills a
    CSR whose row starts are ``slot_start``.)  Items are split into ``n_chunks`` strided
    chunks that run in parallel, each with its own O(n_items) scratch; an item's result
    does not depend on the chunking.
    """
    n_items = t_indptr.shape[0] - 1
    for c in prange(n_chunks):
        freq = np.zeros(n_items, np.int64)
        prod = np.zeros(n_items)
        sq_i = np.zeros(n_items)
        sq_j = np.zeros(n_items)
        touched = np.empty(n_items, np.int64)
        cand_j = np.empty(n_items, np.int64)
        cand_s = np.empty(n_items)
        for i in range(c, n_items, n_chunks):
            n_touched = 0
            for a in range(t_indptr[i], t_indptr[i + 1]):
                u = t_indices[a]
                e_i = t_resid[a]
                for b in range(indptr[u], indptr[u + 1]):
                    j = indices[b]
                    if freq[j] == 0:
                        touched[n_touched] = j
                        n_touched += 1
                    e_j = resid[b]
                    freq[j] += 1
                    prod[j] += e_i * e_j
                    sq_i[j] += e_i * e_i
                    sq_j[j] += e_j * e_j
            seen = np.sort(touched[:n_touched])
            n_cand = 0
            for t in range(n_touched):
                j = seen[t]
                f = freq[j]
                if j != i and f >= min_support:
                    den = np.sqrt(sq_i[j] * sq_j[j])
                    if den > 0.0:
                        s = prod[j] / den * (f - 1.0) / (f - 1.0 + shrinkage)
                        if s > 0.0:
                            cand_j[n_cand] = j
                            cand_s[n_cand] = s
                            n_cand += 1
                freq[j] = 0
                prod[j] = 0.0
                sq_i[j] = 0.0
                sq_j[j] = 0.0
            keep = min(n_cand, max_neighbors)
            if n_cand > 0 and not count_only:
                # A stable sort over candidates in item order breaks ties by lower index.
                order = np.argsort(-cand_s[:n_cand], kind="mergesort")
                start = slot_start[i]
                for t in range(keep):
                    out_indices[start + t] = cand_j[order[t]]
                    out_sims[start + t] = cand_s[order[t]]
            out_counts[i] = keep


@njit(cache=True, nogil=True)
def _find(indices, lo, hi, target):  # pragma: no cover - compiled
    """Position of ``target`` in the sorted ``indices[lo:hi]``, or -1."""
    while lo < hi:
        mid = (lo + hi) // 2
        v = indices[mid]
        if v < target:
            lo = mid + 1
        elif v > target:
            hi = mid
        else:
            return mid
    return -1


@njit(cache=True, parallel=True, nogil=True)
def knn_predict(
    user_idx,
    item_idx,
    mu,
    user_bias,
    item_bias,
    r_indptr,
    r_indices,
    r_values,
    s_indptr,
    s_indices,
    s_data,
    k,
    min_k,
    out,
):  # pragma: no cover - compiled
    """out[n] = b_ui + Σ_{j∈N^k_i(u)} s_ij (r_uj − b_uj) / Σ s_ij for each (u, i) pair.

    b_ui = μ + b_u + b_i (a part is 0 where its index is -1, i.e. unknown).  N^k_i(u) is
    the first ``k`` items of i's neighbour list (sorted by similarity, best first) that u
    rated, found by binary search in u's sorted CSR row; with fewer than ``min_k`` of them
    the prediction is the baseline.
    """
    for n in prange(user_idx.shape[0]):
        u = user_idx[n]
        i = item_idx[n]
        base = mu
        if u >= 0:
            base += user_bias[u]
        if i >= 0:
            base += item_bias[i]
        if u >= 0 and i >= 0:
            lo = r_indptr[u]
            hi = r_indptr[u + 1]
            num = 0.0
            den = 0.0
            found = 0
            if hi > lo:
                for t in range(s_indptr[i], s_indptr[i + 1]):
                    pos = _find(r_indices, lo, hi, s_indices[t])
                    if pos >= 0:
                        j = s_indices[t]
                        s = np.float64(s_data[t])
                        num += s * (r_values[pos] - (mu + user_bias[u] + item_bias[j]))
                        den += s
                        found += 1
                        if found == k:
                            break
            if found >= min_k and found > 0 and den > 0.0:
                base += num / den
        out[n] = base


@njit(cache=True, parallel=True, nogil=True)
def knn_score_users(
    users,
    mu,
    user_bias,
    item_bias,
    r_indptr,
    r_indices,
    r_values,
    s_indptr,
    s_indices,
    s_data,
    rev_indptr,
    rev_indices,
    rev_data,
    k,
    min_k,
    out,
):  # pragma: no cover - compiled
    """out[b, i] = the :func:`knn_predict` value of (users[b], i) for every item i.

    Each user's rated items j push s_ij e_uj into the items i whose kept neighbours include
    j (the reverse lists ``rev_*``, the transpose of the neighbour CSR), so a user costs
    O(|R(u)| · m) rather than O(n_items · m).  Only where an item gathers more than ``k``
    contributions is its neighbour list walked to keep the ``k`` most similar.
    """
    n_items = out.shape[1]
    for b in prange(users.shape[0]):
        u = users[b]
        cnt = np.zeros(n_items, np.int64)
        num = np.zeros(n_items)
        den = np.zeros(n_items)
        rated = np.zeros(n_items, np.bool_)
        resid = np.zeros(n_items)
        bu = mu + user_bias[u]
        for p in range(r_indptr[u], r_indptr[u + 1]):
            j = r_indices[p]
            e = r_values[p] - (bu + item_bias[j])
            rated[j] = True
            resid[j] = e
            for t in range(rev_indptr[j], rev_indptr[j + 1]):
                i = rev_indices[t]
                s = np.float64(rev_data[t])
                cnt[i] += 1
                num[i] += s * e
                den[i] += s
        for i in range(n_items):
            c = cnt[i]
            if c > k:
                c = 0
                num[i] = 0.0
                den[i] = 0.0
                for t in range(s_indptr[i], s_indptr[i + 1]):
                    j = s_indices[t]
                    if rated[j]:
                        s = np.float64(s_data[t])
                        num[i] += s * resid[j]
                        den[i] += s
                        c += 1
                        if c == k:
                            break
            value = bu + item_bias[i]
            if c >= min_k and c > 0 and den[i] > 0.0:
                value += num[i] / den[i]
            out[b, i] = value
