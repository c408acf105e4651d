"""latentrec BPR / WARP against implicit's BPR and LightFM's WARP on implicit MovieLens-100K.

Protocol: every rating is an interaction; ``user_split(data, 0.2, random_state=0)`` holds
out 20% of each user's cells; each model ranks all items a user did not see in training
and the top 10 are scored against the held-out cells with latentrec's metric functions
(NDCG@10, P@10), the same code for every library.  latentrec's own figures also come from
``latentrec.evaluation.evaluate_ranking`` and must agree.

``--tune`` chooses hyperparameters on a validation split carved from the *training* part
only (``user_split(train, 0.2, random_state=1)``), never the test part; it prints a table
and the best setting per model (latentrec's defaults and the "tuned" implicit variant come
from it).  Fit seconds exclude numba compilation (latentrec is warmed up on tiny data
first); all libraries run in this one process with the same thread count, so their ratio
is fair even when the machine is busy.

Usage::

    python benchmarks/implicit_ml100k_bpr.py [--threads 2] [--seeds 0 1 2] [--no-lightfm]
    python benchmarks/implicit_ml100k_bpr.py --tune
    python benchmarks/implicit_ml100k_bpr.py --speed [--threads 1]
    python benchmarks/implicit_ml100k_bpr.py --fold-in
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from latentrec import Interactions
from latentrec.data.splits import user_split
from latentrec.datasets import movielens
from latentrec.evaluation import evaluate_ranking
from latentrec.evaluation.metrics import ndcg_at_k, precision_at_k
from latentrec.models.bpr import BPR, WARP
from latentrec.retrieval import mask_seen, topk

# implicit's tuned variant: the best of its grid on the validation split (--tune; valid
# NDCG@10 0.2195 against 0.2149 for the best inside the 4 x 4 x 4 grid).
IMPLICIT_TUNED = {"learning_rate": 0.0003, "regularization": 0.003, "iterations": 1600}


def top_n(user_vecs, item_vecs, item_bias, train: Interactions, users, n=10):
    """Top-n unseen items for ``users`` from factor scores (the same code for every library)."""
    scores = (user_vecs[users] @ item_vecs.T).astype(np.float32)
    if item_bias is not None:
        scores += item_bias[None, :].astype(np.float32)
    mask_seen(scores, train.matrix, users)
    return topk(scores, n)[0]


def metrics(recommended, test: Interactions, users) -> dict:
    rel = test.matrix[users]
    return {
        "ndcg@10": float(ndcg_at_k(recommended, rel, 10)),
        "p@10": float(precision_at_k(recommended, rel, 10)),
    }


def test_users(test: Interactions) -> np.ndarray:
    return np.flatnonzero(test.user_counts() > 0).astype(np.int32)


def binary(train: Interactions):
    X = train.matrix.copy()
    X.data[:] = 1.0
    return X


# ---------------------------------------------------------------------- the models
def run_latentrec(cls, params, train, test, threads, seed):
    model = cls(**params, num_threads=threads, random_state=seed)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    users = test_users(test)
    rec = top_n(model.user_factors_, model.item_factors_, model.item_bias_, train, users)
    out = metrics(rec, test, users)
    shared = evaluate_ranking(model, test, k=10)
    # The shared evaluation path must give the same figures as the one used for the others.
    assert abs(shared["ndcg"] - out["ndcg@10"]) < 1e-9, (shared, out)
    assert abs(shared["precision"] - out["p@10"]) < 1e-9, (shared, out)
    return out, seconds


def run_implicit(params, train, test, threads, seed):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    model = BayesianPersonalizedRanking(
        factors=64, **params, num_threads=threads, random_state=seed
    )
    X = binary(train)
    start = time.perf_counter()
    model.fit(X, show_progress=False)
    seconds = time.perf_counter() - start
    users = test_users(test)
    rec = top_n(np.asarray(model.user_factors), np.asarray(model.item_factors), None, train, users)
    return metrics(rec, test, users), seconds


def run_lightfm(params, train, test, threads, seed, epochs=30):
    from lightfm import LightFM

    model = LightFM(no_components=64, loss="warp", random_state=seed, **params)
    coo = binary(train).tocoo()
    start = time.perf_counter()
    model.fit(coo, epochs=epochs, num_threads=threads)
    seconds = time.perf_counter() - start
    users = test_users(test)
    item_bias, item_emb = model.get_item_representations()
    _, user_emb = model.get_user_representations()  # the user bias does not change a ranking
    rec = top_n(user_emb, item_emb, item_bias, train, users)
    return metrics(rec, test, users), seconds


def warm_up(threads):
    tiny = Interactions.from_dense(np.kron(np.eye(2), np.ones((3, 3))))
    for cls in (BPR, WARP):
        cls(n_factors=2, n_epochs=1, num_threads=threads, random_state=0).fit(tiny)


# ---------------------------------------------------------------------- tuning
def grid(**space):
    """Every combination of the listed values, as dicts."""
    keys = list(space)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(space[k] for k in keys))
    ]


# Rounds on the validation split: a first grid, then grids widened wherever the best value
# sat on an edge; these are the final grids (the earlier rounds' results are in the report
# that introduced this script).  Also tried for WARP, off the grid: init_std=0.1 at the
# chosen setting (validation NDCG@10 0.2300 against 0.2625 with 0.01).
BPR_GRID = grid(
    optimizer=["adagrad"],
    learning_rate=[0.02, 0.05, 0.1],
    regularization=[0.01, 0.03, 0.1],
    n_epochs=[30, 100, 200],
) + grid(
    optimizer=["sgd"],
    learning_rate=[0.02, 0.05],
    regularization=[0.01, 0.03, 0.1],
    n_epochs=[100, 200],
)
WARP_GRID = grid(
    learning_rate=[0.005, 0.01, 0.02, 0.05],
    regularization=[0.003, 0.01, 0.03, 0.1],
    n_epochs=[20, 50, 100],
    init_std=[0.01],
)
# implicit's best kept moving to lower learning rates with more iterations; the last four
# points follow it past the grid's edge (its tuned variant is the best of all of them).
IMPLICIT_GRID = grid(
    learning_rate=[0.001, 0.003, 0.01, 0.03],
    regularization=[0.003, 0.01, 0.03, 0.1],
    iterations=[50, 100, 200, 400],
) + [
    {"learning_rate": 0.001, "regularization": 0.001, "iterations": 400},
    {"learning_rate": 0.001, "regularization": 0.003, "iterations": 800},
    {"learning_rate": 0.0003, "regularization": 0.003, "iterations": 1600},
    {"learning_rate": 0.003, "regularization": 0.001, "iterations": 200},
]


def tune(train, threads, which):
    sub, valid = user_split(train, 0.2, random_state=1)
    print(f"validation split of the training part: {sub.nnz} train / {valid.nnz} valid cells")
    runners = {
        "latentrec BPR": (BPR_GRID, lambda p: run_latentrec(BPR, p, sub, valid, threads, 0)),
        "latentrec WARP": (WARP_GRID, lambda p: run_latentrec(WARP, p, sub, valid, threads, 0)),
        "implicit BPR": (IMPLICIT_GRID, lambda p: run_implicit(p, sub, valid, threads, 0)),
    }
    for name, (space, run) in runners.items():
        if which and name not in which:
            continue
        best = None
        for params in space:
            scores, seconds = run(params)
            print(f"{name:15s} {params} valid NDCG@10 {scores['ndcg@10']:.4f} "
                  f"P@10 {scores['p@10']:.4f} ({seconds:.1f}s)", flush=True)  # fmt: skip
            if best is None or scores["ndcg@10"] > best[1]:
                best = (params, scores["ndcg@10"])
        print(f"BEST {name}: {best[0]} valid NDCG@10 {best[1]:.4f}", flush=True)


# ---------------------------------------------------------------------- speed
def speed(train, threads, reps=3):
    """Fit seconds at equal epoch counts, the libraries alternating; medians and ratios."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from lightfm import LightFM

    X = binary(train)
    coo = X.tocoo()
    runs = {
        "latentrec BPR, 100 epochs": lambda: BPR(num_threads=threads, random_state=0).fit(train),
        "implicit BPR, 100 iterations": lambda: BayesianPersonalizedRanking(
            factors=64, iterations=100, num_threads=threads, random_state=0
        ).fit(X, show_progress=False),
        "latentrec WARP, 30 epochs": lambda: WARP(
            n_epochs=30, num_threads=threads, random_state=0
        ).fit(train),
        "LightFM WARP, 30 epochs": lambda: LightFM(
            no_components=64, loss="warp", random_state=0
        ).fit(coo, epochs=30, num_threads=threads),
    }
    times = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    med = {name: float(np.median(t)) for name, t in times.items()}
    for name, t in med.items():
        print(f"{name:30s} median fit {t:6.2f}s  ({', '.join(f'{x:.2f}' for x in times[name])})")
    names = list(med)
    print(f"BPR  latentrec / implicit: {med[names[0]] / med[names[1]]:.2f}")
    print(f"WARP latentrec / LightFM:  {med[names[2]] / med[names[3]]:.2f}")


# ---------------------------------------------------------------------- fold-in
def fold_in_check(train, test, threads):
    """Refit every user's vector by fold-in from their training row, items fixed."""
    users = test_users(test)
    X = train.matrix
    for cls in (BPR, WARP):
        model = cls(num_threads=threads, random_state=0).fit(train)
        start = time.perf_counter()
        _, folded = model.fold_in_idx(X.indptr, X.indices, X.data)
        seconds = time.perf_counter() - start
        trained = model.user_factors_
        cos = np.sum(folded * trained, 1) / (
            np.linalg.norm(folded, axis=1) * np.linalg.norm(trained, axis=1) + 1e-12
        )
        scores = {
            name: metrics(top_n(vecs, model.item_factors_, model.item_bias_, train, users), test,
                          users)["ndcg@10"]
            for name, vecs in (("trained", trained), ("folded-in", folded))
        }  # fmt: skip
        print(f"{cls.__name__}: NDCG@10 trained {scores['trained']:.4f}, folded-in "
              f"{scores['folded-in']:.4f}; median cosine {np.median(cos):.3f}; fold-in of "
              f"{train.n_users} users {seconds:.2f}s")  # fmt: skip


# ---------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--speed", action="store_true", help="time equal-epoch fits only")
    parser.add_argument("--fold-in", action="store_true", help="check user fold-in only")
    parser.add_argument("--only", nargs="*", default=None, help="model names to tune")
    parser.add_argument("--no-lightfm", action="store_true")
    args = parser.parse_args()

    data = movielens("100k", verbose=False)
    train, test = user_split(data, 0.2, random_state=0)
    print(f"MovieLens-100K as implicit: {train.nnz} train / {test.nnz} test cells, "
          f"threads={args.threads}")  # fmt: skip
    warm_up(args.threads)
    if args.tune:
        tune(train, args.threads, args.only)
        return
    if args.speed:
        speed(train, args.threads)
        return
    if args.fold_in:
        fold_in_check(train, test, args.threads)
        return

    runs = [
        ("latentrec BPR", lambda s: run_latentrec(BPR, {}, train, test, args.threads, s)),
        ("implicit BPR (default)", lambda s: run_implicit({}, train, test, args.threads, s)),
        (
            "implicit BPR (tuned)",
            lambda s: run_implicit(IMPLICIT_TUNED, train, test, args.threads, s),
        ),
        ("latentrec WARP", lambda s: run_latentrec(WARP, {}, train, test, args.threads, s)),
    ]
    if not args.no_lightfm:
        runs.append(("LightFM WARP", lambda s: run_lightfm({}, train, test, args.threads, s)))
    results = {name: [] for name, _ in runs}
    # Alternate the libraries seed by seed so that machine load hits them alike.
    for seed in args.seeds:
        for name, run in runs:
            scores, seconds = run(seed)
            results[name].append((scores["ndcg@10"], scores["p@10"], seconds))
            print(f"  seed {seed} {name:24s} NDCG@10 {scores['ndcg@10']:.4f} "
                  f"P@10 {scores['p@10']:.4f} fit {seconds:.2f}s", flush=True)  # fmt: skip
    print(f"\n{'model':24s} {'NDCG@10':>8s} {'P@10':>8s} {'fit s':>7s}  (mean over seeds "
          f"{args.seeds})")  # fmt: skip
    for name, rows in results.items():
        nd, p, s = np.mean(rows, axis=0)
        print(f"{name:24s} {nd:8.4f} {p:8.4f} {s:7.2f}")


if __name__ == "__main__":
    main()
