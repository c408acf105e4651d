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
pool 50, raw (MMR's defaults) reproduces its "+ MMR, the default" row.  Diversity is
measured in the same ruler (ImplicitALS on all 100k ratings), coverage over the same users.

    .venv/bin/python benchmarks/mmr_frontier.py            # 608 settings
    .venv/bin/python benchmarks/mmr_frontier.py --quick    # 64: lambda 0.9/0.7/0.5/0.3, pool all/50
    .venv/bin/python benchmarks/mmr_frontier.py --base single

Needs LightGBM (the ``rank`` extra).  Every run first builds ``ranking_stage.py``'s
pipeline (as long as that script's first stage), then measures each setting; ``--quick``
keeps a tenth of the settings, MMR's defaults (lambda 0.7, min-max, pool 50, raw) among
them, so its "+ MMR, the default" check still prints.  The script prints its total time.

``--base single`` asks the same of MMR over the best single model instead (ImplicitALS
fitted on all of ``train``, its top 800 by its own score), in that model's space or in
BPR's (also fitted on ``train``).

``--space`` changes only the item-item similarity MMR's greedy step uses (the cosine
between the vectors it is given); MMR, the pools and the measurement stay as they are:

* ``factors`` (the default): ImplicitALS's and BPR's item factors, raw or centred;
* ``genre``: the items' MovieLens genre vectors (binary), so the similarity is the
  genre cosine;
* ``pc``: each model's item factors, centred, with the top 1 or 2 principal components
  (the directions the popular items share) projected out;
* ``whitened``: each model's item factors with every dimension scaled to unit variance
  across items, raw or centred;
* ``cooc``: each item's column of the candidate models' training interactions (binary),
  so the similarity is item-kNN's co-occurrence cosine;
* ``all``: every one of the above.

In the derived factor spaces an item whose factor vector is zero (no data) stays zero,
and the statistics (principal components, variances) come from the items that have one.

``--validate`` also chooses, per space, a setting on the validation slice (the most
diversity within 2% of NDCG@10, as ``ranking_stage.py`` does; cross-fitted for the
pipeline) and reports it on the test beside what it promised on validation.

    .venv/bin/python benchmarks/mmr_frontier.py --space all   # 481-901 s, 2 cores (2026-12-05)
    .venv/bin/python benchmarks/mmr_frontier.py --space all --base single   # 932 s
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from ranking_stage import THREADS, K, Scorer, first_stage  # noqa: E402

from latentrec.evaluation import catalog_coverage, intra_list_diversity, ndcg_at_k  # noqa: E402
from latentrec.models import ImplicitALS  # noqa: E402
from latentrec.pipeline import LearnedRanker, Pipeline, mmr  # noqa: E402

N_CANDIDATES = 200
LAMBDAS = tuple(round(x, 2) for x in np.arange(0.95, 0.0, -0.05))
RELEVANCE = ("minmax", "rank")
POOLS = (None, 100, 50, 25)
CENTER = (False, True)
COSTS = (0.02, 0.05, 0.10, 0.20)
SPACES = ("factors", "genre", "pc", "whitened", "cooc")
# --quick: a coarse grid that still holds ranking_stage.py's chosen setting (0.7, pool 50).
QUICK_LAMBDAS = (0.9, 0.7, 0.5, 0.3)
QUICK_POOLS = (None, 50)


def popular_cosines(vectors: np.ndarray, counts: np.ndarray, n: int = 20, center=False):
    """Min, median and max pairwise cosine among the ``n`` items with the most ``counts``.

    ``center=True`` first subtracts the mean over all items, as ``mmr(center=True)`` does.

    Example:
        >>> v = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        >>> [round(float(x), 3) for x in popular_cosines(v, np.array([5, 4, 1]), n=2)]
        [0.707, 0.707, 0.707]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if center:
        vectors = vectors - vectors.mean(axis=0)
    top = np.argsort(-np.asarray(counts), kind="stable")[:n]
    unit = vectors[top] / np.linalg.norm(vectors[top], axis=1, keepdims=True)
    pairs = (unit @ unit.T)[np.triu_indices(top.size, k=1)]
    return pairs.min(), np.median(pairs), pairs.max()


def _with_data(vectors: np.ndarray) -> np.ndarray:
    """Which rows (items) have a nonzero vector."""
    return np.any(vectors != 0, axis=1)


def without_top_components(vectors, k: int) -> np.ndarray:
    """Item vectors centred, with their top ``k`` principal components projected out.

    The mean and the components are those of the items with a nonzero vector; an item
    whose vector is zero (no data) stays zero, so MMR counts it as unlike every item.

    Example:
        >>> v = np.array([[3.0, 1.0], [3.0, -1.0], [-3.0, 1.0], [-3.0, -1.0], [0.0, 0.0]])
        >>> np.round(without_top_components(v, 1), 6).tolist()
        [[0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, -1.0], [0.0, 0.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    rows = _with_data(vectors)
    centred = vectors[rows] - vectors[rows].mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    top = vt[:k]
    out = np.zeros_like(vectors)
    out[rows] = centred - (centred @ top.T) @ top
    return out


def whitened(vectors) -> np.ndarray:
    """Item vectors with each dimension divided by its standard deviation across items.

    The deviations are those of the items with a nonzero vector; a dimension that does
    not vary is left as it is.  Nothing is subtracted (MMR's ``center`` does that).

    Example:
        >>> whitened(np.array([[1.0, 10.0], [-1.0, -10.0], [0.0, 0.0]])).tolist()
        [[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    std = vectors[_with_data(vectors)].std(axis=0)
    return vectors / np.where(std > 0, std, 1.0)


def cooccurrence_vectors(history) -> np.ndarray:
    """Each item's column of a users x items interaction matrix, binarised, as a row.

    The cosine between two rows is the co-occurrence cosine item-kNN uses: the users who
    had both, over the square root of the product of each item's number of users.

    Example:
        >>> h = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 3]]))
        >>> cooccurrence_vectors(h).tolist()
        [[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
    """
    columns = sp.csc_matrix(history, dtype=np.float64, copy=True)
    columns.data[:] = 1.0
    return np.asarray(columns.T.todense())


def similarity_spaces(which: str, factors: dict, genres, history) -> dict:
    """The spaces MMR is tried in, by name, each ``(item vectors, centring choices)``.

    ``factors`` maps a model's name to its item factors; ``genres`` is items x genres;
    ``history`` the candidate models' users x items training interactions.  Vectors that
    are already centred get only ``center=False``: centring them again changes nothing.

    Example:
        >>> f = {"M": np.eye(3)}
        >>> g = sp.csr_matrix(np.eye(3))
        >>> sorted(similarity_spaces("all", f, g, sp.csr_matrix(np.eye(3))))
        ['M', 'M, top 1 PC out', 'M, top 2 PCs out', 'M, whitened', 'co-occurrence', 'genre']
    """
    out = {}
    both = (False, True)
    if which in ("factors", "all"):
        out.update({name: (v, both) for name, v in factors.items()})
    if which in ("genre", "all"):
        out["genre"] = (np.asarray(sp.csr_matrix(genres).todense(), dtype=np.float64), both)
    if which in ("pc", "all"):
        for name, v in factors.items():
            out[f"{name}, top 1 PC out"] = (without_top_components(v, 1), (False,))
            out[f"{name}, top 2 PCs out"] = (without_top_components(v, 2), (False,))
    if which in ("whitened", "all"):
        out.update({f"{name}, whitened": (whitened(v), both) for name, v in factors.items()})
    if which in ("cooc", "all"):
        out["co-occurrence"] = (cooccurrence_vectors(history), both)
    return out


def frontier(
    pools: list, spaces: dict, score, lambdas=LAMBDAS, pool_sizes=POOLS
) -> tuple[dict, list]:
    """Every MMR setting over every user's ``(candidates, scores)`` pool, measured.

    ``score(top)`` gives the ``NDCG@10``, ``ILD latent`` and ``coverage`` of a users x K
    table.  Returns the figures without MMR (the top K of each pool) and one row per
    setting: its name, NDCG@10 cost, ILD gain and coverage ratio against that, and its
    figures.  ``lambdas`` and ``pool_sizes`` narrow the grid (``--quick``).

    Example:
        >>> pools = [(np.array([0, 1, 2]), np.array([3.0, 2.0, 1.0]))]
        >>> spaces = {"S": (np.eye(3), (False,))}
        >>> score = lambda top: {"NDCG@10": 1.0, "ILD latent": 1.0, "coverage": 1.0}
        >>> base, rows = frontier(pools, spaces, score)
        >>> len(rows), rows[0]["setting"], rows[0]["cost"]
        (152, 'S, minmax, pool None, raw, lambda 0.95', 0.0)
        >>> len(frontier(pools, spaces, score, lambdas=QUICK_LAMBDAS, pool_sizes=QUICK_POOLS)[1])
        16
    """

    def measured(pick) -> dict:
        top = np.full((len(pools), K), -1, dtype=np.int64)
        for row, (c, v) in enumerate(pools):
            got = pick(c, v)
            top[row, : got.size] = got
        return score(top)

    base = measured(lambda c, v: c[:K])
    rows = []
    settings = [
        (space, vectors, how, pool, center, lam)
        for space, (vectors, centers) in spaces.items()
        for how, pool, center, lam in itertools.product(RELEVANCE, pool_sizes, centers, lambdas)
    ]
    for space, vectors, how, pool, center, lam in settings:
        opts = {"lambda_": lam, "relevance": how, "pool": pool, "center": center}
        got = measured(lambda c, v, vec=vectors, opts=opts: mmr(c, v, vec, K, **opts))
        rows.append(
            {
                "space": space,
                "setting": f"{space}, {how}, pool {pool}, {'centred' if center else 'raw'}, "
                f"lambda {lam:g}",
                "cost": 1 - got["NDCG@10"] / base["NDCG@10"],
                "ild": got["ILD latent"] / base["ILD latent"] - 1,
                "coverage": got["coverage"] / base["coverage"],
                "values": got,
            }
        )
    return base, rows


def ranked_pools(idx, vals, fallback=None, popularity=None) -> list:
    """Each user's ``(candidates, scores)`` pool from ``recommend_batch_idx``'s arrays.

    Slots marked -1 are dropped.  A user flagged in ``fallback`` got a popularity list,
    and the pipeline re-ranks it by popularity, the relevance it gives it: that user's
    scores are ``popularity`` of the candidates.  ``fallback=None``: no user is.

    Example:
        >>> idx = np.array([[2, 0, -1], [1, 2, 0]])
        >>> vals = np.array([[0.9, 0.5, 0.0], [0.3, 0.2, 0.1]])
        >>> pools = ranked_pools(idx, vals, np.array([False, True]), np.array([7.0, 8.0, 9.0]))
        >>> [(c.tolist(), v.tolist()) for c, v in pools]
        [([2, 0], [0.9, 0.5]), ([1, 2, 0], [8.0, 9.0, 7.0])]
    """
    out = []
    for row in range(idx.shape[0]):
        keep = idx[row] >= 0
        c = idx[row][keep].astype(np.int64)
        v = popularity[c] if fallback is not None and fallback[row] else vals[row][keep]
        out.append((c, np.asarray(v, dtype=np.float64)))
    return out


def validation_frontier(s, base: str, spaces_of, measure=frontier, grid=None) -> tuple[dict, list]:
    """A re-ranker's frontier on the validation slice, from data before it only.

    ``measure(pools, spaces, score, **grid)`` measures the re-ranker's settings: this
    module's :func:`frontier` (MMR, the default) or ``dpp_frontier.frontier`` (DPP).
    ``spaces_of(factors, history)`` gives its item spaces from the first 70%'s item
    factors (by model name: ImplicitALS, BPR) and users x items interactions.

    ``pipeline``: as ``ranking_stage.py`` chooses MMR's knobs, cross-fitted (a ranker
    trained on one half of the validation users orders the other half's pools, and the
    other way round); ``single``: ImplicitALS fitted on the first 70%, its top 800.  The
    spaces come from the models and interactions of the first 70%, and diversity is
    measured in the first 70%'s ImplicitALS space, as ``ranking_stage.py`` does (the
    fixed ruler saw the validation slice).

    Example:
        >>> callable(validation_frontier)
        True
    """
    als = s.early_pipe.models[s.generators.index("ImplicitALS")]
    bpr = s.early_pipe.models[s.generators.index("BPR")]
    pools = []
    if base == "pipeline":
        order = np.random.default_rng(0).permutation(s.valid_hist)
        halves = [np.sort(order[: order.size // 2]), np.sort(order[order.size // 2 :])]
        judged = []
        for fit_users, judge_users in (halves, halves[::-1]):
            part = s.valid.subset(np.isin(s.valid.user_idx, fit_users))
            ranker = LearnedRanker(num_threads=s.ranker.num_threads)
            Pipeline(s.early_pipe.models, ranker, n_candidates=N_CANDIDATES).fit(s.early, part)
            pipe = Pipeline(s.early_pipe.models, ranker, (), N_CANDIDATES).fit(s.early)
            idx, vals, _ = pipe.recommend_batch_idx(judge_users, 4 * N_CANDIDATES)
            pools += ranked_pools(idx, vals)
            judged.append(judge_users)
        judged = np.concatenate(judged)
    else:
        pipe = Pipeline(als, None, (), 4 * N_CANDIDATES).fit(s.early)
        judged = s.valid_hist
        idx, vals, fallback = pipe.recommend_batch_idx(judged, 4 * N_CANDIDATES)
        pools = ranked_pools(idx, vals, fallback, pipe.context_.item_popularity)
    ruler = als.item_factors_
    rel = s.valid.matrix[judged]
    factors = {"ImplicitALS": als.item_factors_, "BPR": bpr.item_factors_}
    spaces = spaces_of(factors, pipe.context_.history)

    def score(top):
        return {
            "NDCG@10": ndcg_at_k(top, rel, K),
            "ILD latent": intra_list_diversity(top, item_vectors=ruler, k=K),
            "coverage": catalog_coverage(top, s.data.n_items, K),
        }

    print(f"validation: {judged.size} users with a history")
    return measure(pools, spaces, score, **(grid or {}))


def print_chosen_on_validation(rows: list, val_rows: list, spaces) -> None:
    """Per space, the settings chosen on validation (``val_rows``) and the same on the
    test (``rows``, matched by setting): the most ILD within 2% of NDCG@10 (as
    ``ranking_stage.py`` chooses), and the least cost meeting both targets there.

    Example:
        >>> row = {"space": "S", "setting": "S, x", "cost": 0.01, "ild": 0.3, "coverage": 1.6}
        >>> print_chosen_on_validation([row], [row], ["S"])  # doctest: +ELLIPSIS
        | space | rule | setting | validation: cost, ILD, coverage | test: same |
        |---|---|---|---|---|
        | S | most ILD | S, x | 1.0%, +30.0%, 1.60x | 1.0%, +30.0%, 1.60x |
        | S | both | S, x | 1.0%, +30.0%, 1.60x | 1.0%, +30.0%, 1.60x |
    """
    print("| space | rule | setting | validation: cost, ILD, coverage | test: same |")
    print("|---|---|---|---|---|")
    on_test = {r["setting"]: r for r in rows}
    for space in spaces:
        mine = [r for r in val_rows if r["space"] == space]
        within = [r for r in mine if r["cost"] <= 0.02]
        choices = {
            "most ILD": max(within, key=lambda r: (r["ild"], r["coverage"]), default=None),
            "both": least_cost(within, lambda r: r["ild"] >= 0.25 and r["coverage"] >= 1.5),
        }
        for rule, r in choices.items():
            if r is None:
                print(f"| {space} | {rule} | none | | |")
                continue
            t = on_test[r["setting"]]
            print(
                f"| {space} | {rule} | {r['setting']} | {r['cost']:.1%}, "
                f"{r['ild']:+.1%}, {r['coverage']:.2f}x | {t['cost']:.1%}, "
                f"{t['ild']:+.1%}, {t['coverage']:.2f}x |"
            )


def least_cost(rows: list, ok) -> dict | None:
    """The row of least NDCG@10 cost among those for which ``ok(row)`` holds, or None.

    Example:
        >>> least_cost([{"cost": 0.1, "ild": 0.3}, {"cost": 0.05, "ild": 0.2}],
        ...            lambda r: r["ild"] >= 0.25)
        {'cost': 0.1, 'ild': 0.3}
    """
    hits = [r for r in rows if ok(r)]
    return min(hits, key=lambda r: r["cost"]) if hits else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=("pipeline", "single"), default="pipeline")
    parser.add_argument(
        "--space", choices=(*SPACES, "all"), default="factors", help="MMR's similarity"
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also choose each space's setting on validation and report it on the test",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"lambda {QUICK_LAMBDAS} and pools {QUICK_POOLS} only (a tenth of the settings)",
    )
    args = parser.parse_args()
    grid = (
        {"lambdas": QUICK_LAMBDAS, "pool_sizes": QUICK_POOLS}
        if args.quick
        else {"lambdas": LAMBDAS, "pool_sizes": POOLS}
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
    users = scorer.users
    idx, vals, fallback = pipe.recommend_batch_idx(users, 4 * N_CANDIDATES)
    pools = ranked_pools(idx, vals, fallback, pipe.context_.item_popularity)
    factors = {"ImplicitALS": pipe.context_.item_vectors, "BPR": bpr.item_factors_}
    spaces = similarity_spaces(args.space, factors, s.genres, pipe.context_.history)

    if args.base == "pipeline":
        # Why MMR buys little diversity here: in its space the popular items point alike.
        counts = s.early.item_counts()
        for center in (False, True):
            lo, med, hi = popular_cosines(factors["ImplicitALS"], counts, 20, center)
            print(
                "pairwise cosines of the 20 items most rated in `early`, in the early "
                f"ImplicitALS factors{' centred' if center else ''}: {lo:.2f}-{hi:.2f}, "
                f"median {med:.2f}"
            )
    base, rows = frontier(pools, spaces, lambda top: scorer(top, scorer.with_history), **grid)
    print(
        f"\n{len(rows)} MMR settings on the {scorer.with_history.size} test users with a "
        f"history; {args.base} without MMR: NDCG@10 {base['NDCG@10']:.4f}, latent ILD "
        f"{base['ILD latent']:.3f}, coverage {base['coverage']:.4f}\n"
    )
    same = [r for r in rows if r["setting"] == "ImplicitALS, minmax, pool 50, raw, lambda 0.7"]
    for r in same:
        print(
            f"{r['setting']} (MMR's defaults, the '+ MMR, the default' row of "
            "ranking_stage.py): NDCG@10 "
            f"{r['values']['NDCG@10']:.4f}, latent ILD {r['values']['ILD latent']:.3f}, "
            f"coverage {r['values']['coverage']:.4f}\n"
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
    targets = (
        ("ILD +25%", lambda r: r["ild"] >= 0.25),
        ("coverage 1.5x", lambda r: r["coverage"] >= 1.5),
        ("both", lambda r: r["ild"] >= 0.25 and r["coverage"] >= 1.5),
    )
    for label, ok in targets:
        r = least_cost(rows, ok)
        if r is not None:
            got = r["values"]
            print(
                f"| {label} | {r['cost']:.1%} | {r['setting']} | {got['NDCG@10']:.4f} | "
                f"{got['ILD latent']:.3f} | {got['coverage']:.4f} |"
            )
        else:
            print(f"| {label} | not reached | | | | |")
    print(
        f"\nPer space ({args.base}): within 2% of NDCG@10 the most ILD gain and the most "
        "coverage; the least NDCG@10 cost (negative: a gain) for each target\n"
    )
    print("| space | settings | ILD gain, coverage within 2% | +25% ILD | 1.5x coverage | both |")
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
        for _, ok in targets:
            r = least_cost(mine, ok)
            costs.append("not reached" if r is None else f"{r['cost']:.1%}")
        print(f"| {space} | {len(mine)} | {best} | " + " | ".join(costs) + " |")
    if args.validate:
        val_base, val_rows = validation_frontier(
            s,
            args.base,
            lambda f, history: similarity_spaces(args.space, f, s.genres, history),
            grid=grid,
        )
        print(
            f"without MMR on validation: NDCG@10 {val_base['NDCG@10']:.4f}, latent ILD "
            f"(first 70%'s ImplicitALS) {val_base['ILD latent']:.3f}, coverage "
            f"{val_base['coverage']:.4f}\n"
        )
        print(
            "Chosen on validation, per space: the most ILD within 2% of NDCG@10 (as "
            "ranking_stage.py chooses), and the least cost meeting both targets there\n"
        )
        print_chosen_on_validation(rows, val_rows, spaces)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
