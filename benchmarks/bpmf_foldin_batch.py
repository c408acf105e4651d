"""BayesianMF fold-in: one kernel call per kept sample (the former path) vs one call for all.

    .venv/bin/python benchmarks/bpmf_foldin_batch.py
    .venv/bin/python benchmarks/bpmf_foldin_batch.py --repeats 20 --samples 200

A BayesianMF (10 factors, ``--samples`` kept samples, 10 burn-in sweeps, seed 0) is
fitted on 6,000 random ratings of 300 users x 200 items.  Then, interleaved in one
process, the script times folding in 1 user and 100 users (their own training rows)
both ways: ``per-sample``, the former ``_conditional_means`` (one ``sample_rows`` call
per sample, each on that sample's block of the item factors), and ``batched``, the
model's fold-in (``conditional_means``: every sample in one call).  It prints the median
milliseconds of ``--repeats`` runs of each and their ratio, after checking that the two
give bit-identical biases and factors.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from latentrec import datasets
from latentrec.kernels.bpmf import sample_rows
from latentrec.kernels.threads import fold_in_threads, numba_threads
from latentrec.models import BayesianMF
from latentrec.models.als import check_rows


def per_sample(model, indptr, indices, values):
    """The former user fold-in: one ``sample_rows`` call (zero normals) per kept sample."""
    indptr, indices, values = check_rows(indptr, indices, values, model.n_items, "item")
    used, local = np.unique(indices, return_inverse=True)
    rows = (indptr, local.astype(np.int32).reshape(indices.shape), values)
    other_bias = model.item_bias_[used]
    other_bias.flags.writeable = False
    precisions, means = model.user_prior_precision_, model.user_prior_mean_
    S, k1 = means.shape
    k, n, root = k1 - 1, rows[0].size - 1, np.sqrt(S)
    out_bias = np.zeros(n)
    out_factors = np.zeros((n, S * k), dtype=np.float32)
    zeros = np.zeros((n, k1))
    bias_s = np.zeros(n, dtype=np.float32)
    factors_s = np.zeros((n, k), dtype=np.float32)
    with numba_threads(fold_in_threads(model.num_threads, n, k)):
        for s in range(S):
            block = slice(s * k, (s + 1) * k)
            other_s = np.ascontiguousarray(model.item_factors_[used, block] * np.float32(root))
            prior = np.ascontiguousarray(precisions[s], dtype=np.float64)
            sample_rows(
                *rows,
                model.global_mean_,
                other_bias,
                other_s,
                float(model.alpha_samples_[s]),
                prior,
                prior @ means[s],
                zeros,
                bias_s,
                factors_s,
            )
            out_factors[:, block] = factors_s / np.float32(root)
            out_bias += bias_s
    return (out_bias / S).astype(np.float32), out_factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    data = datasets.synthetic(300, 200, 6000, random_state=0)
    model = BayesianMF(
        n_factors=10, n_samples=args.samples, burn_in=10, random_state=0, verbose=False
    ).fit(data)
    for n_users in (1, 100):
        sub = data.matrix[np.arange(n_users)]
        cells = (sub.indptr, sub.indices, sub.data)
        old, new = per_sample(model, *cells), model.fold_in_idx(*cells)
        for a, b in zip(old, new, strict=True):
            np.testing.assert_array_equal(a, b)
        times = {"per-sample": [], "batched": []}
        for _ in range(args.repeats):
            for name, run in (("per-sample", per_sample), ("batched", BayesianMF.fold_in_idx)):
                start = time.perf_counter()
                run(model, *cells)
                times[name].append(time.perf_counter() - start)
        old_ms = 1e3 * float(np.median(times["per-sample"]))
        new_ms = 1e3 * float(np.median(times["batched"]))
        print(
            f"{n_users:>3} user(s), {args.samples} samples: per-sample {old_ms:.2f} ms "
            f"({args.samples} kernel calls), batched {new_ms:.2f} ms (1 call), "
            f"ratio {old_ms / new_ms:.2f}x; answers bit-identical"
        )


if __name__ == "__main__":
    main()
