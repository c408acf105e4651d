"""Top-10 recommendation on MovieLens-100K as implicit feedback: latentrec vs implicit, LightFM.

Every rating becomes an interaction of value 1 (the star value is dropped), 20% of each
user's interactions are held out (``user_split(data, 0.2, random_state=0)``), items seen
in training are excluded, and every model is scored by the same latentrec functions
(NDCG@10, P@10, Recall@10, MAP@10, catalogue coverage) on the same held-out matrix.

    .venv/bin/python benchmarks/implicit_ml100k.py            # the comparison
    .venv/bin/python benchmarks/implicit_ml100k.py --tune     # + how the defaults were chosen

``--tune`` carves a validation split out of the *training* part only
(``user_split(train, 0.2, random_state=1)``) and grid-searches latentrec ImplicitALS's
``alpha`` x ``regularization`` by validation NDCG@10; the test part is never looked at.

Both ALS implementations run 64 factors, 15 iterations, 2 threads each
(``num_threads=2``; BLAS pinned to 1 thread through OPENBLAS_NUM_THREADS, as implicit asks)
and seed 0; implicit keeps its default regularization (0.01) and CG with 3 steps, plus one
run with latentrec's tuned values (to separate the defaults from the code).  Note the
confidence conventions: latentrec c = 1 + alpha·r, implicit c = alpha·r.  Fit times
exclude numba compilation (a tiny warm-up fit first) and are the median of ``--repeats``
fits, latentrec and implicit alternating in the same process.

The accuracy figures depend on the CPU's vector width and OpenBLAS's kernel (not on
latentrec's thread counts): the script compiles numba's kernels for ``haswell`` and loads
OpenBLAS's Haswell kernels on any x86-64 CPU with AVX2 and FMA (``_pinned_cpu.py``; set
``NUMBA_CPU_NAME=host`` to pin nothing) and prints what was in force.
"""

from __future__ import annotations

import os

from _pinned_cpu import describe, pin

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS
NOT_PINNED = pin() if __name__ == "__main__" else "imported"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from latentrec import Interactions  # noqa: E402
from latentrec.data.splits import user_split  # noqa: E402
from latentrec.datasets import movielens  # noqa: E402
from latentrec.evaluation import evaluate_ranking  # noqa: E402
from latentrec.evaluation import metrics as M  # noqa: E402
from latentrec.models import Popularity  # noqa: E402
from latentrec.models.implicit_als import ImplicitALS  # noqa: E402

THREADS = 2
K = 10
ALPHAS = (1.0, 10.0, 40.0)


def binarize(data: Interactions) -> Interactions:
    m = data.matrix.copy()
    m.data = np.ones_like(m.data)
    return Interactions(data.users, data.items, m, data.timestamps, implicit=True)


def ranking_metrics(top: np.ndarray, test: Interactions, users: np.ndarray) -> dict:
    """The metrics of ``evaluate_ranking`` for an external model's top-k item indices."""
    rel = test.matrix[users]
    return {
        "ndcg": float(M.ndcg_at_k(top, rel, K)),
        "precision": float(M.precision_at_k(top, rel, K)),
        "recall": float(M.recall_at_k(top, rel, K)),
        "map": float(M.map_at_k(top, rel, K)),
        "coverage": float(M.catalog_coverage(top, test.n_items, K)),
    }


def test_users(test: Interactions) -> np.ndarray:
    return np.flatnonzero(np.diff(test.matrix.indptr) > 0).astype(np.int32)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def fit_latentrec(model, train):
    return timed(lambda: model.fit(train))


def fit_implicit_als(alpha, train_csr, regularization=0.01):
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=64,
        iterations=15,
        alpha=alpha,
        regularization=regularization,
        num_threads=THREADS,
        random_state=0,
    )
    _, seconds = timed(lambda: model.fit(train_csr, show_progress=False))
    return model, seconds


def implicit_top(model, train_csr, users) -> np.ndarray:
    ids, _ = model.recommend(users, train_csr[users], N=K, filter_already_liked_items=True)
    return np.asarray(ids, dtype=np.int64)


def lightfm_top(train_csr, users, seed=0):
    from lightfm import LightFM

    model = LightFM(no_components=64, loss="warp", random_state=seed)
    _, seconds = timed(lambda: model.fit(train_csr.tocoo(), epochs=30, num_threads=THREADS))
    item_bias, item_emb = model.get_item_representations()
    _, user_emb = model.get_user_representations()
    scores = (user_emb[users] @ item_emb.T + item_bias[None, :]).astype(np.float32)
    from latentrec.retrieval import mask_seen, topk

    mask_seen(scores, train_csr, users)
    return topk(scores, K)[0], seconds


def tune(train: Interactions) -> tuple[float, float]:
    fit_part, valid = user_split(train, 0.2, random_state=1)
    alphas = (1.0, 2.0, 3.0, 5.0, 10.0, 40.0)
    regs = (1.0, 10.0, 20.0, 30.0, 40.0, 60.0, 100.0)
    seeds = (0, 1)
    print(
        "\nvalidation NDCG@10 of ImplicitALS(64 factors, 15 iterations), mean of seeds "
        f"{seeds}, on a split of"
    )
    print("the training part (user_split(train, 0.2, random_state=1)); rows alpha, columns λ")
    print(f"{'alpha':>8}" + "".join(f"{r:>9g}" for r in regs))
    best = (-1.0, None, None)
    for a in alphas:
        row = []
        for r in regs:
            ndcg = np.mean(
                [
                    evaluate_ranking(
                        ImplicitALS(
                            alpha=a, regularization=r, random_state=s, num_threads=THREADS
                        ).fit(fit_part),
                        valid,
                        k=K,
                    )["ndcg"]
                    for s in seeds
                ]
            )
            row.append(ndcg)
            if ndcg > best[0]:
                best = (ndcg, a, r)
        print(f"{a:>8g}" + "".join(f"{x:>9.4f}" for x in row), flush=True)
    print(f"best: alpha={best[1]:g}, regularization={best[2]:g} (valid NDCG@10 {best[0]:.4f})")
    return best[1], best[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per ALS model")
    parser.add_argument("--tune", action="store_true", help="grid-search latentrec defaults")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*OpenBLAS.*")

    data = binarize(movielens("100k", verbose=False))
    train, test = user_split(data, 0.2, random_state=0)
    train_csr = sp.csr_matrix(train.matrix, copy=True)  # implicit needs writable arrays
    users = test_users(test)
    print(
        f"MovieLens-100K as implicit (value 1): train {train.nnz}, test {test.nnz} cells, "
        f"{users.size} test users"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; threads: {THREADS} for every "
        "library, OPENBLAS_NUM_THREADS=" + os.environ["OPENBLAS_NUM_THREADS"]
    )
    print(
        f"arithmetic: {describe()}"
        + (
            f" (not pinned: {NOT_PINNED}; figures may differ in the 4th decimal)"
            if NOT_PINNED
            else ""
        )
    )
    _, warm = timed(
        lambda: ImplicitALS(n_factors=4, n_epochs=1).fit(Interactions.from_dense(np.eye(3)))
    )
    print(f"numba warm-up (compile or cache load, excluded): {warm:.2f}s")

    # The defaults are resolved from the data in fit ("auto"): read what they became.
    defaults = ImplicitALS(random_state=0, num_threads=THREADS).fit(train)
    if args.tune:
        tune(train)
    print(
        f"latentrec defaults: confidence={defaults.confidence_}, alpha={defaults.alpha_:g}, "
        f"regularization={defaults.regularization_:g}"
    )

    rows = []  # (name, metrics, fit seconds, group)

    # ALS, latentrec and implicit alternating, median of repeats.
    lat_alphas = sorted(set(ALPHAS) | {float(defaults.alpha_)})
    times: dict[str, list[float]] = {}
    results: dict[str, dict] = {}
    for rep in range(args.repeats):
        for a in lat_alphas:
            name = f"latentrec ImplicitALS a={a:g}" + (" (default)" if a == defaults.alpha_ else "")
            model, sec = fit_latentrec(
                ImplicitALS(alpha=a, random_state=0, num_threads=THREADS), train
            )
            times.setdefault(name, []).append(sec)
            if rep == 0:
                results[name] = evaluate_ranking(model, test, k=K)
        for a in ALPHAS:
            name = f"implicit ALS a={a:g}"
            model, sec = fit_implicit_als(a, train_csr)
            times.setdefault(name, []).append(sec)
            if rep == 0:
                results[name] = ranking_metrics(implicit_top(model, train_csr, users), test, users)
        # Same algorithm with latentrec's tuned values (implicit's c = alpha·r, so alpha + 1):
        # shows how much of the gap is the defaults rather than the code.
        a, reg = defaults.alpha_ + 1, defaults.regularization_
        name = f"implicit ALS a={a:g} λ={reg:g} (ours)"
        model, sec = fit_implicit_als(a, train_csr, reg)
        times.setdefault(name, []).append(sec)
        if rep == 0:
            results[name] = ranking_metrics(implicit_top(model, train_csr, users), test, users)
    for name in results:
        rows.append((name, results[name], float(np.median(times[name]))))

    pop, sec = fit_latentrec(Popularity(), train)
    rows.append(("latentrec Popularity", evaluate_ranking(pop, test, k=K), sec))

    try:
        from latentrec.models.bpr import BPR, WARP

        for cls in (BPR, WARP):
            try:
                model, sec = fit_latentrec(cls(random_state=0, num_threads=THREADS), train)
            except (FloatingPointError, ValueError) as err:  # another helper's work in progress
                print(f"latentrec {cls.__name__} failed: {err}")
                continue
            name = f"latentrec {cls.__name__} (defaults)"
            rows.append((name, evaluate_ranking(model, test, k=K), sec))
    except ImportError as err:
        print(f"latentrec BPR/WARP not available: {err}")

    from implicit.cpu.bpr import BayesianPersonalizedRanking

    bpr = BayesianPersonalizedRanking(factors=64, num_threads=THREADS, random_state=0)
    _, sec = timed(lambda: bpr.fit(train_csr, show_progress=False))
    rows.append(
        (
            "implicit BPR (64 f, defaults)",
            ranking_metrics(implicit_top(bpr, train_csr, users), test, users),
            sec,
        )
    )

    try:
        top, sec = lightfm_top(train_csr, users)
        rows.append(("LightFM WARP (64 c, 30 ep)", ranking_metrics(top, test, users), sec))
    except ImportError as err:
        print(f"LightFM not available: {err}")

    print(f"\n{'model':<40}{'NDCG@10':>9}{'P@10':>8}{'R@10':>8}{'MAP@10':>8}{'cov':>7}{'fit s':>8}")
    for name, m, sec in rows:
        print(
            f"{name:<40}{m['ndcg']:>9.4f}{m['precision']:>8.4f}{m['recall']:>8.4f}"
            f"{m['map']:>8.4f}{m['coverage']:>7.3f}{sec:>8.3f}"
        )
    lat = {n: (m, s) for n, m, s in rows if n.startswith("latentrec ImplicitALS")}
    imp = {n: (m, s) for n, m, s in rows if n.startswith("implicit ALS") and "ours" not in n}
    best_imp = max(imp.items(), key=lambda kv: kv[1][0]["ndcg"])
    default_name = next(n for n in lat if "(default)" in n)
    print(f"\nbest implicit ALS: {best_imp[0]} NDCG@10 {best_imp[1][0]['ndcg']:.4f}")
    print(f"latentrec default: NDCG@10 {lat[default_name][0]['ndcg']:.4f}")
    print("fit-time ratio latentrec/implicit ALS (median of repeats, same alpha):")
    for a in ALPHAS:
        ln = next(n for n in lat if n.split(" (")[0] == f"latentrec ImplicitALS a={a:g}")
        t_l, t_i = lat[ln][1], imp[f"implicit ALS a={a:g}"][1]
        print(f"  alpha={a:g}: {t_l:.3f}s / {t_i:.3f}s = {t_l / t_i:.2f}")


if __name__ == "__main__":
    main()
