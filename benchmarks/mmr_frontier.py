"""How much diversity and coverage MMR can buy at all on the ranking-stage test split.

``ranking_stage.py`` chooses MMR's knobs on validation and reports that one setting on the
test.  This script asks the question the issue's target poses without that step: over the
whole MMR family, looked at on the *test* users with a history (an oracle, so an upper
bound on what any choice made on validation could reach), what is the most latent
intra-list diversity and catalogue coverage within a given NDCG@10 cost, and what is the
least NDCG@10 cost at which +25% diversity and 1.5x coverage are reached?

The family: lambda 0.95 to 0.05, min-max or rank relevance, all candidates or the
ranker's top 100/50/25, raw or centred factors, in the space the pipeline's MMR stage
uses (the first candidate model's item factors, ImplicitALS) or the second candidate
model's (BPR).  Each setting re-ranks exactly what the pipeline hands its stage: every
user's pool ordered by the learned ranker (by popularity for a user the models cannot
score).  The pipeline is the one ``ranking_stage.py`` chooses on validation (the
candidate models of the first 70% kept under the ranker); setting lambda 0.7, min-max,
pool 50, raw reproduces its "+ MMR" row.  Diversity is measured in the same ruler
(ImplicitALS on all 100k ratings), coverage over the same users.

    .venv/bin/python benchmarks/mmr_frontier.py   # about 1 minute, 2 cores
    .venv/bin/python benchmarks/mmr_frontier.py --base single

``--base single`` asks the same of MMR over the best single model instead (ImplicitALS
fitted on all of ``train``, its top 800 by its own score), in that model's space or in
BPR's (also fitted on ``train``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from ranking_stage import THREADS, K, Scorer, first_stage  # noqa: E402

from latentrec.models import ImplicitALS  # noqa: E402
from latentrec.pipeline import Pipeline, mmr  # noqa: E402

N_CANDIDATES = 200
LAMBDAS = tuple(round(x, 2) for x in np.arange(0.95, 0.0, -0.05))
RELEVANCE = ("minmax", "rank")
POOLS = (None, 100, 50, 25)
CENTER = (False, True)
COSTS = (0.02, 0.05, 0.10, 0.20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=("pipeline", "single"), default="pipeline")
    args = parser.parse_args()
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
    users = scorer.users
    idx, vals, fallback = pipe.recommend_batch_idx(users, 4 * N_CANDIDATES)
    popularity = pipe.context_.item_popularity
    pools = []
    for row in range(users.size):
        keep = idx[row] >= 0
        c = idx[row][keep].astype(np.int64)
        # The pipeline re-ranks a fallback list by popularity, the relevance it gives it.
        v = popularity[c] if fallback[row] else vals[row][keep]
        pools.append((c, np.asarray(v, dtype=np.float64)))
    spaces = {
        "ImplicitALS": pipe.context_.item_vectors,
        "BPR": bpr.item_factors_,
    }

    def measured(pick) -> dict:
        top = np.full((users.size, K), -1, dtype=np.int64)
        for row, (c, v) in enumerate(pools):
            got = pick(c, v)
            top[row, : got.size] = got
        return scorer(top, scorer.with_history)

    base = measured(lambda c, v: c[:K])
    rows = []
    for (space, vectors), how, pool, center, lam in itertools.product(
        spaces.items(), RELEVANCE, POOLS, CENTER, LAMBDAS
    ):
        opts = {"lambda_": lam, "relevance": how, "pool": pool, "center": center}
        got = measured(lambda c, v, vec=vectors, opts=opts: mmr(c, v, vec, K, **opts))
        rows.append(
            {
                "setting": f"{space}, {how}, pool {pool}, {'centred' if center else 'raw'}, "
                f"lambda {lam:g}",
                "cost": 1 - got["NDCG@10"] / base["NDCG@10"],
                "ild": got["ILD latent"] / base["ILD latent"] - 1,
                "coverage": got["coverage"] / base["coverage"],
                "values": got,
            }
        )
    print(
        f"\n{len(rows)} MMR settings on the {scorer.with_history.size} test users with a "
        f"history; {args.base} without MMR: NDCG@10 {base['NDCG@10']:.4f}, latent ILD "
        f"{base['ILD latent']:.3f}, coverage {base['coverage']:.4f}\n"
    )
    same = next(r for r in rows if r["setting"] == "ImplicitALS, minmax, pool 50, raw, lambda 0.7")
    print(
        f"{same['setting']} (the setting ranking_stage.py chose on validation): NDCG@10 "
        f"{same['values']['NDCG@10']:.4f}, latent ILD {same['values']['ILD latent']:.3f}, "
        f"coverage {same['values']['coverage']:.4f}\n"
    )
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
    for label, ok in (
        ("ILD +25%", lambda r: r["ild"] >= 0.25),
        ("coverage 1.5x", lambda r: r["coverage"] >= 1.5),
        ("both", lambda r: r["ild"] >= 0.25 and r["coverage"] >= 1.5),
    ):
        hits = [r for r in rows if ok(r)]
        if hits:
            r = min(hits, key=lambda r: r["cost"])
            got = r["values"]
            print(
                f"| {label} | {r['cost']:.1%} | {r['setting']} | {got['NDCG@10']:.4f} | "
                f"{got['ILD latent']:.3f} | {got['coverage']:.4f} |"
            )
        else:
            print(f"| {label} | not reached | | | | |")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
