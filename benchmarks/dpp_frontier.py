"""Would a DPP re-ranker meet the diversity target MMR misses? Its frontier on the test split.

``mmr_frontier.py`` shows that no MMR setting buys +25% latent diversity and 1.5x
catalogue coverage within 2% of NDCG@10 on the ranking-stage test split, even chosen on
the test.  This script asks the same of the other standard diversity re-ranker: a
determinantal point process by fast greedy MAP inference (Chen, Zhang and Zhou, NeurIPS
2018; ``_dpp.dpp_greedy``), kernel ``diag(r) S diag(r)`` with ``r = exp(alpha *
relevance)`` and ``S`` the item cosine similarity, ``theta`` the trade-off.

Everything but the re-ranker is ``mmr_frontier.py``'s: the same bases (the pipeline
``ranking_stage.py`` chooses on validation, or ``--base single``: ImplicitALS on all of
``train``, its top 800), the same pools handed to the re-ranker, the same test users
with a history, the same ruler for diversity (ImplicitALS on all 100k ratings) and the
same coverage users.  The family: theta 0.1 to 0.995, min-max or rank relevance, all
candidates or the top 100/50, in the candidate models' factor spaces raw and whitened
(ImplicitALS's and BPR's; the best spaces of ``mmr_frontier.py``).  Looked at on the
test this is an upper bound on what a choice made on validation could reach.

    .venv/bin/python benchmarks/dpp_frontier.py             # 336 settings
    .venv/bin/python benchmarks/dpp_frontier.py --quick     # 32: ImplicitALS only, coarse
    .venv/bin/python benchmarks/dpp_frontier.py --base single
    .venv/bin/python benchmarks/dpp_frontier.py --validate  # also choose on validation

Needs LightGBM (the ``rank`` extra).  ``--validate`` chooses, per space, the setting with
the most diversity within 2% of NDCG@10 on the validation slice (cross-fitted for the
pipeline, as ``mmr_frontier.py --validate`` does) and reports it on the test.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _dpp import dpp_greedy  # noqa: E402
from mmr_frontier import (  # noqa: E402
    COSTS,
    N_CANDIDATES,
    least_cost,
    print_chosen_on_validation,
    ranked_pools,
    similarity_spaces,
    validation_frontier,
)
from ranking_stage import THREADS, K, Scorer, first_stage  # noqa: E402

from latentrec.models import ImplicitALS  # noqa: E402
from latentrec.pipeline import Pipeline  # noqa: E402

THETAS = (0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995)
RELEVANCE = ("minmax", "rank")
POOLS = (None, 100, 50)
QUICK_THETAS = (0.6, 0.8, 0.9, 0.95)
QUICK_POOLS = (None, 50)


def dpp_spaces(factors: dict, quick: bool = False) -> dict:
    """The item spaces DPP is tried in: each model's factors, raw and whitened.

    ``--quick`` keeps ImplicitALS's only.  Values are item x dimension arrays.

    Example:
        >>> sorted(dpp_spaces({"ImplicitALS": np.eye(3), "BPR": np.eye(3)}))
        ['BPR', 'BPR, whitened', 'ImplicitALS', 'ImplicitALS, whitened']
        >>> sorted(dpp_spaces({"ImplicitALS": np.eye(3), "BPR": np.eye(3)}, quick=True))
        ['ImplicitALS', 'ImplicitALS, whitened']
    """
    if quick:
        factors = {"ImplicitALS": factors["ImplicitALS"]}
    both = similarity_spaces("factors", factors, None, None)
    both.update(similarity_spaces("whitened", factors, None, None))
    return {name: vectors for name, (vectors, _) in both.items()}


def frontier(pools: list, spaces: dict, score, thetas=THETAS, pool_sizes=POOLS):
    """Every DPP setting over every user's ``(candidates, scores)`` pool, measured.

    ``score(top)`` gives the ``NDCG@10``, ``ILD latent`` and ``coverage`` of a users x K
    table.  Returns the figures of the top K of each pool and one row per setting: its
    name, NDCG@10 cost, ILD gain and coverage ratio against those, and its figures (the
    rows of ``mmr_frontier.frontier``).

    Example:
        >>> pools = [(np.array([0, 1, 2]), np.array([3.0, 2.0, 1.0]))]
        >>> score = lambda top: {"NDCG@10": 1.0, "ILD latent": 1.0, "coverage": 1.0}
        >>> base, rows = frontier(pools, {"S": np.eye(3)}, score)
        >>> len(rows), rows[0]["setting"], rows[0]["cost"]
        (84, 'S, minmax, pool None, theta 0.1', 0.0)
    """

    def measured(pick) -> dict:
        top = np.full((len(pools), K), -1, dtype=np.int64)
        for row, (c, v) in enumerate(pools):
            got = pick(c, v)
            top[row, : got.size] = got
        return score(top)

    base = measured(lambda c, v: c[:K])  # pools come ordered by score, as in mmr_frontier
    rows = []
    for space, vectors in spaces.items():
        for how, pool, theta in itertools.product(RELEVANCE, pool_sizes, thetas):
            got = measured(
                lambda c, v, vec=vectors, opts=(theta, how, pool): dpp_greedy(
                    c, v, vec, K, opts[0], relevance=opts[1], pool=opts[2]
                )
            )
            rows.append(
                {
                    "space": space,
                    "setting": f"{space}, {how}, pool {pool}, theta {theta:g}",
                    "cost": 1 - got["NDCG@10"] / base["NDCG@10"],
                    "ild": got["ILD latent"] / base["ILD latent"] - 1,
                    "coverage": got["coverage"] / base["coverage"],
                    "values": got,
                }
            )
    return base, rows


TARGETS = (
    ("ILD +25%", lambda r: r["ild"] >= 0.25),
    ("coverage 1.5x", lambda r: r["coverage"] >= 1.5),
    ("both", lambda r: r["ild"] >= 0.25 and r["coverage"] >= 1.5),
)


def report(rows: list, spaces) -> None:
    """Print ``mmr_frontier.py``'s tables for these rows.

    Example:
        >>> row = {"space": "S", "setting": "S, x", "cost": 0.01, "ild": 0.3, "coverage": 1.2,
        ...        "values": {"NDCG@10": 0.2, "ILD latent": 0.6, "coverage": 0.2}}
        >>> report([row], ["S"])  # doctest: +ELLIPSIS
        | NDCG@10 cost at most | most ILD gain (setting) | most coverage (setting) |
        ...
        | S | 1 | +30.0%, 1.20x | 1.0% | not reached | not reached |
    """
    print("| NDCG@10 cost at most | most ILD gain (setting) | most coverage (setting) |")
    print("|---|---|---|")
    for cost in COSTS:
        within = [r for r in rows if r["cost"] <= cost]
        if not within:
            print(f"| {cost:.0%} | none | none |")
            continue
        ild = max(within, key=lambda r: r["ild"])
        cov = max(within, key=lambda r: r["coverage"])
        print(
            f"| {cost:.0%} | {ild['ild']:+.1%} ({ild['setting']}) | "
            f"{cov['coverage']:.2f}x ({cov['setting']}) |"
        )
    print("\n| reached | least NDCG@10 cost | setting | NDCG@10 | latent ILD | coverage |")
    print("|---|---|---|---|---|---|")
    for label, ok in TARGETS:
        r = least_cost(rows, ok)
        if r is None:
            print(f"| {label} | not reached | | | | |")
            continue
        got = r["values"]
        print(
            f"| {label} | {r['cost']:.1%} | {r['setting']} | {got['NDCG@10']:.4f} | "
            f"{got['ILD latent']:.3f} | {got['coverage']:.4f} |"
        )
    print("\n| space | settings | ILD gain, coverage within 2% | +25% ILD | 1.5x coverage | both |")
    print("|---|---|---|---|---|---|")
    for space in spaces:
        mine = [r for r in rows if r["space"] == space]
        within = [r for r in mine if r["cost"] <= 0.02]
        best = (
            f"{max(r['ild'] for r in within):+.1%}, {max(r['coverage'] for r in within):.2f}x"
            if within
            else "none"
        )
        costs = []
        for _, ok in TARGETS:
            r = least_cost(mine, ok)
            costs.append("not reached" if r is None else f"{r['cost']:.1%}")
        print(f"| {space} | {len(mine)} | {best} | " + " | ".join(costs) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=("pipeline", "single"), default="pipeline")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also choose each space's setting on validation and report it on the test",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"ImplicitALS's spaces, theta {QUICK_THETAS} and pools {QUICK_POOLS} only",
    )
    args = parser.parse_args()
    grid = (
        {"thetas": QUICK_THETAS, "pool_sizes": QUICK_POOLS}
        if args.quick
        else {"thetas": THETAS, "pool_sizes": POOLS}
    )
    start = time.perf_counter()
    s = first_stage(False, N_CANDIDATES)
    if args.base == "pipeline":
        pipe = Pipeline(s.early_pipe.models, s.ranker, (), N_CANDIDATES).fit(s.early, s.valid)
        bpr = s.early_pipe.models[s.generators.index("BPR")]
    else:
        pipe = Pipeline(s.makers["ImplicitALS"](), None, (), 4 * N_CANDIDATES).fit(s.train)
        bpr = s.makers["BPR"]().fit(s.train)
    ruler = ImplicitALS(random_state=0, num_threads=THREADS).fit(s.data).item_factors_
    scorer = Scorer(s.test, s.train, ruler, s.genres)
    idx, vals, fallback = pipe.recommend_batch_idx(scorer.users, 4 * N_CANDIDATES)
    pools = ranked_pools(idx, vals, fallback, pipe.context_.item_popularity)
    factors = {"ImplicitALS": pipe.context_.item_vectors, "BPR": bpr.item_factors_}
    spaces = dpp_spaces(factors, args.quick)
    base, rows = frontier(pools, spaces, lambda top: scorer(top, scorer.with_history), **grid)
    print(
        f"\n{len(rows)} DPP settings on the {scorer.with_history.size} test users with a "
        f"history; {args.base} without a re-ranker: NDCG@10 {base['NDCG@10']:.4f}, latent "
        f"ILD {base['ILD latent']:.3f}, coverage {base['coverage']:.4f}\n"
    )
    report(rows, spaces)
    if args.validate:
        # mmr_frontier's validation pools and rule, with DPP as the re-ranker.
        val_base, val_rows = validation_frontier(
            s, args.base, lambda f, _: dpp_spaces(f, args.quick), frontier, grid
        )
        print(
            f"without a re-ranker on validation: NDCG@10 {val_base['NDCG@10']:.4f}, latent "
            f"ILD (first 70%'s ImplicitALS) {val_base['ILD latent']:.3f}, coverage "
            f"{val_base['coverage']:.4f}\n"
        )
        print_chosen_on_validation(rows, val_rows, spaces)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
