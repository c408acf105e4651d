"""ImplicitALS defaults chosen from the data, on three kinds of implicit feedback.

For each data set this prints NDCG@10 of ``ImplicitALS()`` (every setting ``"auto"``,
resolved in ``fit`` from the values it is given), of popularity, of the former defaults
(linear confidence, ``alpha=2``, ``regularization=30``), and of the best point of a grid
over confidence (linear; log with ε = 1) x alpha (1, 2, 10, 40) x λ (10, 30, 100):
24 points.  The grid's best is picked on the split it is scored on (an oracle: a tuner
would do no better), and the table gives the defaults' share of it.

Data sets:

* ``ml100k-binary``: MovieLens-100K, every rating an interaction of value 1;
* ``plays``: :func:`long_tailed_plays`, synthetic play counts over a planted low-rank
  preference (median in the hundreds, a tail into the tens of thousands), seed 0;
* ``ml100k-counts``: MovieLens-100K with the star values (1 to 5) used as counts.

Protocol, as ``benchmarks/implicit_ml100k.py``: ``user_split(data, 0.2, random_state=0)``
holds out 20% of each user's cells; every held-out cell is relevant; items seen in
training are excluded; ``latentrec.evaluation.evaluate_ranking``; 64 factors, 15
iterations, seed 0.

The rule was tuned on validation splits carved from the *training* part only
(``user_split(train, 0.2, random_state=1)``), never on the test part:

    .venv/bin/python benchmarks/implicit_defaults.py                 # the test table
    .venv/bin/python benchmarks/implicit_defaults.py --validation    # same, validation split
    .venv/bin/python benchmarks/implicit_defaults.py --scaling       # how λ grows with size

``--scaling`` sweeps λ with the rule's confidence and alpha on validation splits of seven
data sets (binary MovieLens-100K, half of its users, five synthetic play-count sets from
800 x 1000 to 6000 x 6000) and fits the exponent of ``regularization="auto"``.

As in ``implicit_ml100k.py``, numba's kernels are compiled for ``haswell`` and OpenBLAS
loads its Haswell kernels on any x86-64 CPU with AVX2 and FMA (``_pinned_cpu.py``): the
figures depend on the CPU's vector width, and the former defaults' on the play counts
(confidences up to 4e5) moved by up to 0.0005 between machines.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import sys
import time

from _pinned_cpu import describe, pin

# Only when run: tests import long_tailed_plays from here.
NOT_PINNED = pin() if __name__ == "__main__" else "imported"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from latentrec import Interactions  # noqa: E402
from latentrec.data.splits import user_split  # noqa: E402
from latentrec.datasets import movielens  # noqa: E402
from latentrec.evaluation import evaluate_ranking  # noqa: E402
from latentrec.models import Popularity  # noqa: E402
from latentrec.models.implicit_als import ImplicitALS  # noqa: E402

K = 10
CONFIDENCES = ("linear", "log")
ALPHAS = (1.0, 2.0, 10.0, 40.0)
REGULARIZATIONS = (10.0, 30.0, 100.0)
SCALING_LAMBDAS = (15.0, 21.0, 30.0, 45.0, 60.0, 82.0, 100.0, 146.0)


def long_tailed_plays(
    n_users: int = 1500,
    n_items: int = 2000,
    per_user: float = 50.0,
    *,
    n_factors: int = 16,
    random_state=0,
) -> Interactions:
    """Synthetic raw play counts over a planted low-rank preference.

    User ``u`` and item ``i`` have factors ``p_u``, ``q_i`` with ``p·q`` of unit variance.
    A user plays ``n_u`` items (lognormal around ``per_user``, clipped to 10 ..
    ``n_items / 2``), drawn without replacement with weights
    ``popularity_i · exp(1.5 p_u·q_i)`` (popularity Zipf-like, 1 / rank).  The count is
    ``round(exp(log 200 + a_u + b_i + 0.5 p_u·q_i + e))``, at least 1, with a user's
    listening volume ``a_u ~ N(0, 0.8²)``, an item effect (length, replays)
    ``b_i ~ N(0, 0.6²)`` and noise ``e ~ N(0, 0.9²)``: the median is in the hundreds and
    the tail reaches tens of thousands, and how much a user plays says little about
    which items they like.

    Example:
        >>> data = long_tailed_plays(200, 300, 20, random_state=0)
        >>> data.n_users, bool(100 < np.median(data.matrix.data) < 1000)
        (200, True)
    """
    rng = np.random.default_rng(random_state)
    scale = n_factors**-0.25
    P = rng.normal(0.0, scale, (n_users, n_factors))
    Q = rng.normal(0.0, scale, (n_items, n_factors))
    log_popularity = rng.permutation(-np.log(np.arange(1, n_items + 1)))
    n_played = rng.lognormal(np.log(per_user), 0.8, n_users)
    n_played = np.clip(np.rint(n_played), 10, n_items // 2).astype(np.int64)
    volume = rng.normal(0.0, 0.8, n_users)
    item_effect = rng.normal(0.0, 0.6, n_items)
    users, items, counts = [], [], []
    for u in range(n_users):
        affinity = Q @ P[u]
        # Gumbel top-n: the n largest of log(weight) + Gumbel noise are a weighted draw
        # without replacement.
        keys = log_popularity + 1.5 * affinity + rng.gumbel(size=n_items)
        chosen = np.argpartition(-keys, n_played[u])[: n_played[u]]
        log_count = (
            np.log(200.0)
            + volume[u]
            + item_effect[chosen]
            + 0.5 * affinity[chosen]
            + rng.normal(0.0, 0.9, chosen.size)
        )
        users.append(np.full(chosen.size, u))
        items.append(chosen)
        counts.append(np.maximum(1.0, np.rint(np.exp(log_count))))
    frame = pd.DataFrame(
        {
            "user_id": np.concatenate(users),
            "item_id": np.concatenate(items),
            "rating": np.concatenate(counts),
        }
    )
    return Interactions.from_frame(frame, implicit=True)


def with_values(data: Interactions, values: np.ndarray | None = None) -> Interactions:
    """``data`` as implicit feedback, with every value 1 (``values=None``) or ``values``."""
    m = data.matrix.copy()
    m.data = np.ones_like(m.data) if values is None else values
    return Interactions(data.users, data.items, m, data.timestamps, implicit=True)


def data_sets() -> dict[str, Interactions]:
    ml = movielens("100k", verbose=False)
    return {
        "ml100k-binary": with_values(ml),
        "plays": long_tailed_plays(),
        "ml100k-counts": with_values(ml, ml.matrix.data.copy()),
    }


def ndcg(model, train: Interactions, test: Interactions) -> float:
    return float(evaluate_ranking(model.fit(train), test, k=K)["ndcg"])


def compare(name: str, train: Interactions, test: Interactions, threads: int) -> dict:
    """NDCG@10 of the defaults, popularity, the former defaults and the grid."""

    def als(**params):
        return ImplicitALS(random_state=0, num_threads=threads, **params)

    defaults = als()
    out = {"data": name, "defaults": ndcg(defaults, train, test)}
    out["settings"] = (
        f"{defaults.confidence_}, alpha={defaults.alpha_:.3g}, "
        f"epsilon={defaults.epsilon_:.3g}, λ={defaults.regularization_:.3g}"
    )
    out["popularity"] = ndcg(Popularity(), train, test)
    out["former"] = ndcg(als(confidence="linear", alpha=2.0, regularization=30.0), train, test)
    grid = {}
    for conf, alpha, reg in itertools.product(CONFIDENCES, ALPHAS, REGULARIZATIONS):
        params = dict(confidence=conf, alpha=alpha, regularization=reg, epsilon=1.0)
        grid[(conf, alpha, reg)] = ndcg(als(**params), train, test)
    best = max(grid, key=grid.get)
    out["grid_best"] = grid[best]
    out["grid_point"] = f"{best[0]}, alpha={best[1]:g}, λ={best[2]:g}"
    out["ratio"] = out["defaults"] / out["grid_best"]
    return out


def print_table(rows: list[dict], split: str) -> None:
    print(f"\nNDCG@10 on the {split} split")
    head = (
        f"{'data':<15}{'defaults':>9}{'popular':>9}{'former':>9}{'grid best':>10}"
        f"{'ratio':>7}  grid point / resolved defaults"
    )
    print(head)
    for r in rows:
        print(
            f"{r['data']:<15}{r['defaults']:>9.4f}{r['popularity']:>9.4f}{r['former']:>9.4f}"
            f"{r['grid_best']:>10.4f}{r['ratio']:>7.3f}  {r['grid_point']}"
        )
        print(f"{'':<59}  defaults: {r['settings']}")
    ok = all(r["ratio"] >= 0.9 and r["defaults"] > r["popularity"] for r in rows)
    print(
        "defaults >= 90% of the grid's best and above popularity on every data set: "
        + ("yes" if ok else "NO")
    )


def scaling(threads: int) -> None:
    """Best λ on validation splits of data sets of several sizes vs the rule's λ."""
    ml = with_values(movielens("100k", verbose=False))
    rng = np.random.default_rng(0)
    half = ml.subset(np.isin(ml.user_idx, rng.permutation(ml.n_users)[: ml.n_users // 2]))
    sets = {
        "ml100k-binary": ml,
        "ml100k-binary, half users": half,
        "plays 1500x2000, 50/user": long_tailed_plays(),
        "plays 4000x3000, 50/user": long_tailed_plays(4000, 3000, random_state=1),
        "plays 1500x2000, 150/user": long_tailed_plays(per_user=150, random_state=2),
        "plays 6000x6000, 50/user": long_tailed_plays(6000, 6000, random_state=3),
        "plays 800x1000, 30/user": long_tailed_plays(800, 1000, 30, random_state=4),
    }
    seeds = (0, 1)
    print(
        "\nvalidation NDCG@10 (mean of seeds 0, 1) over λ, confidence and alpha as the rule "
        "resolves them;\nsplit: user_split(train, 0.2, random_state=1) of "
        "user_split(data, 0.2, random_state=0)'s train"
    )
    print(f"{'data':<27}{'cells':>10}" + "".join(f"{lam:>8g}" for lam in SCALING_LAMBDAS))
    cells, best_lambdas = [], []
    for name, data in sets.items():
        train, _ = user_split(data, 0.2, random_state=0)
        fit, valid = user_split(train, 0.2, random_state=1)
        rule = ImplicitALS(n_epochs=1, num_threads=threads).fit(fit)
        m = fit.matrix
        n_cells = np.count_nonzero(np.diff(m.indptr)) * np.count_nonzero(np.diff(m.tocsc().indptr))
        row = []
        for lam in SCALING_LAMBDAS:
            params = dict(
                confidence=rule.confidence_,
                alpha=rule.alpha_,
                epsilon=rule.epsilon_,
                regularization=lam,
                num_threads=threads,
            )
            row.append(
                np.mean([ndcg(ImplicitALS(random_state=s, **params), fit, valid) for s in seeds])
            )
        row = np.array(row)
        best = SCALING_LAMBDAS[int(row.argmax())]
        rule_score = np.mean(
            [ndcg(ImplicitALS(random_state=s, num_threads=threads), fit, valid) for s in seeds]
        )
        cells.append(n_cells)
        best_lambdas.append(best)
        print(f"{name:<27}{n_cells:>10}" + "".join(f"{x:>8.4f}" for x in row), flush=True)
        print(
            f"{'':<37}best λ {best:g}; rule λ {rule.regularization_:.1f}: {rule_score:.4f} "
            f"({rule_score / row.max():.1%} of the sweep's best)"
        )
    slope, _ = np.polyfit(np.log(cells), np.log(best_lambdas), 1)
    print(f"least squares of log(best λ) on log(cells): exponent {slope:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="numba threads per fit")
    parser.add_argument(
        "--validation", action="store_true", help="score on the validation split, not test"
    )
    parser.add_argument("--scaling", action="store_true", help="the λ-vs-size study only")
    args = parser.parse_args()
    print(
        f"{datetime.date.today().isoformat()}; python {sys.version.split()[0]}, "
        f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} threads per fit"
    )
    print(
        f"arithmetic: {describe()}"
        + (
            f" (not pinned: {NOT_PINNED}; figures may differ in the 4th decimal)"
            if NOT_PINNED
            else ""
        )
    )
    # numba compiles (or loads its cache) once, outside every measured fit.
    ImplicitALS(n_factors=2, n_epochs=1).fit(Interactions.from_dense(np.eye(3)))
    start = time.perf_counter()
    if args.scaling:
        scaling(args.threads)
        print(f"\n{time.perf_counter() - start:.0f} s")
        return
    rows = []
    for name, data in data_sets().items():
        values = data.matrix.data
        train, test = user_split(data, 0.2, random_state=0)
        if args.validation:
            train, test = user_split(train, 0.2, random_state=1)
        print(
            f"{name}: {data.n_users} users, {data.n_items} items, {data.nnz} cells; values: "
            f"median {np.median(values):g}, 99th percentile {np.percentile(values, 99):g}, "
            f"max {values.max():g}",
            flush=True,
        )
        rows.append(compare(name, train, test, args.threads))
    split = "validation (user_split(train, 0.2, random_state=1))" if args.validation else "test"
    print_table(rows, split)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
