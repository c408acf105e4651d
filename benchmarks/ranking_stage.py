"""Two-stage ranking on MovieLens-100K: candidates, a learned ranker and re-rankers, side by side.

Protocol (one global time line, nothing from the future):

* ``train`` = the first 80% of the ratings in time, ``test`` = the last 20%
  (``temporal_split(data, test_size=0.2)``); every held-out rating is relevant.
* Model selection and the ranker's labels come from inside ``train``: the candidate
  models are fitted on its first 70% of time (``early``) and the ranker learns from the
  70-80% slice (``valid``), whose interactions are its labels.  The best single model
  and the re-rankers' knobs are chosen on ``valid`` too; the test slice is looked at
  once, for the table.
* For the test, either the candidate models are refitted on the whole of ``train``
  (same hyperparameters) under the already-trained ranker, as one would serve models
  fitted on everything up to now, or the models of the first 70% are kept, so the
  ranker sees the features it was trained on.  Which one is decided on validation, by
  asking the same question one slice earlier (models on 0-60%, ranker on 60-70%, judged
  on 70-80%); both rows are printed, the re-rankers run on the chosen one.
* 192 of the 301 test users have no rating before the cutoff: every model and every
  pipeline gives them the popularity fallback.  The table reports the 109 users with a
  history (where ranking can differ) and all 301 users separately.
* How sure the differences are: for the users with a history, each row after the
  chosen ranker is compared with it, and the ranker with the best single model, by a
  paired bootstrap over users (10,000 resamples of the users, seed 0, the same resamples
  for both rows of a pair; percentile intervals): the relative change of mean NDCG@10,
  Recall@10 and latent ILD, and the ratio of coverage (recomputed on each resample's
  lists, a user drawn twice counting once).

    .venv/bin/python benchmarks/ranking_stage.py --plot tradeoff.png  # prints its run time
    .venv/bin/python benchmarks/ranking_stage.py --quick    # three models, one thread

Needs LightGBM (the ``rank`` extra).  It prints its run time at the end: ``total 22 s``
on 2 idle cores with numba's cache warm (2026-12-04); 194 s and 98 s for the two runs
behind docs/benchmarks.md (2026-12-06, other jobs on the cores); a cold numba cache adds
its compilation.

Where validation picks other MMR or Calibrate knobs than the library's defaults, it prints
the defaults' validation figures beside the pick's (with a paired bootstrap of the pick
against the default over the validation users) and adds the defaults' rows to the tables.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS

import argparse  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from latentrec.data.splits import temporal_split  # noqa: E402
from latentrec.datasets import movielens  # noqa: E402
from latentrec.evaluation import (  # noqa: E402
    average_popularity,
    catalog_coverage,
    gini_exposure,
    intra_list_diversity,
    miscalibration,
    ndcg_at_k,
    novelty,
    recall_at_k,
    time_slices,
)
from latentrec.models import BPR, BiasedMF, ImplicitALS, ItemKNN, Popularity  # noqa: E402
from latentrec.pipeline import (  # noqa: E402
    MMR,
    Calibrate,
    Explore,
    Freshness,
    LearnedRanker,
    Pipeline,
    Rules,
    Thompson,
    calibrate,
    mmr,
)
from latentrec.pipeline.context import genre_matrix  # noqa: E402

K = 10
THREADS = 2
MMR_LAMBDAS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5)
MMR_RELEVANCE = ("minmax", "rank")
MMR_POOLS = (None, 100, 50, 25)
MMR_CENTER = (False, True)
CALIBRATION_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
RESAMPLES = 10_000  # bootstrap resamples of the test users with a history


def candidates(quick: bool) -> dict:
    """The candidate generators tried, by name; each call builds fresh, unfitted models."""
    threads = 1 if quick else THREADS
    out = {
        "Popularity": lambda: Popularity(),
        "ImplicitALS": lambda: ImplicitALS(random_state=0, num_threads=threads),
        "ItemKNN": lambda: ItemKNN(num_threads=threads),
    }
    if not quick:
        # One thread: BPR's parallel SGD is not bit-reproducible, and on 76-85 validation
        # users a different BPR moved the ranker's validation NDCG by several per cent
        # from run to run, and with it every knob chosen there.
        out["BPR"] = lambda: BPR(random_state=0, num_threads=1)
        out["BiasedMF"] = lambda: BiasedMF(random_state=0)
    return out


def top_k(recommender, users: np.ndarray) -> np.ndarray:
    idx, _, _ = recommender.recommend_batch_idx(users, K)
    return idx.astype(np.int64)


class Scorer:
    """Every metric of one top-k table, over a set of users, against a held-out slice."""

    def __init__(self, heldout, history, item_vectors, genres):
        self.heldout = heldout
        self.history = sp.csr_matrix(history.matrix, copy=True)
        self.history.data[:] = 1.0
        self.popularity = np.diff(self.history.tocsc().indptr).astype(np.float64)
        self.n_history_users = int(np.count_nonzero(np.diff(self.history.indptr)))
        self.vectors = item_vectors
        self.genres = genres
        self.users = np.flatnonzero(np.diff(heldout.matrix.indptr) > 0)
        self.with_history = self.users[np.diff(self.history.indptr)[self.users] > 0]

    def __call__(self, top: np.ndarray, users: np.ndarray) -> dict:
        rows = np.searchsorted(self.users, users)
        t = top[rows]
        rel = self.heldout.matrix[users]
        n_items = self.popularity.size
        return {
            "NDCG@10": ndcg_at_k(t, rel, K),
            "R@10": recall_at_k(t, rel, K),
            "ILD genre": intra_list_diversity(t, item_genres=self.genres, k=K),
            "ILD latent": intra_list_diversity(t, item_vectors=self.vectors, k=K),
            "novelty": novelty(t, self.popularity, self.n_history_users, K),
            "coverage": catalog_coverage(t, n_items, K),
            "Gini": gini_exposure(t, n_items, K),
            "avg pop": average_popularity(t, self.popularity, K),
            # NaN for users without a history: they have no genre mix to be calibrated to.
            "miscal": np.nanmean(
                miscalibration(t, self.history[users], self.genres, K, per_user=True)
            )
            if np.diff(self.history.indptr)[users].any()
            else np.nan,
        }

    def per_user(self, top: np.ndarray, users: np.ndarray) -> dict:
        """The per-user figures behind the table's NDCG@10, R@10 and latent ILD, with the
        users' lists: what a paired bootstrap over users resamples."""
        t = top[np.searchsorted(self.users, users)]
        rel = self.heldout.matrix[users]
        return {
            "NDCG@10": ndcg_at_k(t, rel, K, per_user=True),
            "R@10": recall_at_k(t, rel, K, per_user=True),
            "ILD latent": intra_list_diversity(t, item_vectors=self.vectors, k=K, per_user=True),
            "lists": t[:, :K],
        }


def resampled_users(n_users: int, n_resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``n_resamples`` bootstrap resamples of ``n_users`` users, one row of positions each.

    Every row compared uses the same resamples, so each difference is paired: both rows
    of a pair are measured on the same drawn users.

    Example:
        >>> resampled_users(4, n_resamples=3, seed=1).shape
        (3, 4)
    """
    return np.random.default_rng(seed).integers(0, n_users, size=(n_resamples, n_users))


def mean_ratio(values: np.ndarray, base: np.ndarray, resamples: np.ndarray):
    """``mean(values) / mean(base) - 1``, over all users and over each resample.

    The means skip NaN, as the table's do (a user with no list to measure).

    Example:
        >>> a, b = np.array([1.0, 3.0]), np.array([2.0, 2.0])
        >>> point, boot = mean_ratio(a, b, np.array([[0, 0], [1, 0]]))
        >>> float(point), boot.tolist()
        (0.0, [-0.5, 0.0])
    """
    point = np.nanmean(values) / np.nanmean(base) - 1
    return point, np.nanmean(values[resamples], axis=1) / np.nanmean(base[resamples], axis=1) - 1


def covered(lists: np.ndarray, n_items: int, resamples: np.ndarray, chunk: int = 500):
    """How many items the lists of each resample's users show, at least once each.

    A user drawn twice adds nothing the second time: coverage counts distinct items.

    Example:
        >>> lists = np.array([[0, 1], [1, 2], [3, -1]])
        >>> covered(lists, 5, np.array([[0, 0, 0], [0, 1, 2]])).tolist()
        [2, 4]
    """
    n_users = lists.shape[0]
    shows = np.zeros((n_users, n_items), dtype=np.float32)
    rows, cols = np.nonzero(lists >= 0)
    shows[rows, lists[rows, cols]] = 1.0
    out = np.empty(resamples.shape[0], dtype=np.int64)
    for start in range(0, resamples.shape[0], chunk):
        part = resamples[start : start + chunk]
        drawn = np.zeros((part.shape[0], n_users), dtype=np.float32)
        np.put_along_axis(drawn, part, 1.0, axis=1)
        out[start : start + chunk] = np.count_nonzero(drawn @ shows, axis=1)
    return out


def coverage_ratio(lists: np.ndarray, base: np.ndarray, n_items: int, resamples: np.ndarray):
    """Coverage of ``lists`` over that of ``base``, over all users and over each resample.

    Example:
        >>> a, b = np.array([[0, 1], [2, 3]]), np.array([[0, 1], [0, 2]])
        >>> point, boot = coverage_ratio(a, b, 4, np.array([[0, 0], [0, 1]]))
        >>> float(point), boot.tolist()
        (1.3333333333333333, [1.0, 1.3333333333333333])
    """
    everyone = np.arange(lists.shape[0])[None, :]
    point = covered(lists, n_items, everyone)[0] / covered(base, n_items, everyone)[0]
    return point, covered(lists, n_items, resamples) / covered(base, n_items, resamples)


def interval(boot: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval: the middle ``level`` of the resampled values.

    Example:
        >>> [round(x, 9) for x in interval(np.arange(101.0))]
        [2.5, 97.5]
    """
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_rows(per_user: dict, pairs: list[tuple[str, str]], n_items: int, resamples) -> str:
    """A markdown table of each ``(row, against)`` pair's changes with 95% intervals:
    NDCG@10 and R@10 relative, latent ILD relative, coverage as a ratio (with the median
    of its resampled values).

    Example:
        >>> one = {"NDCG@10": np.ones(3), "R@10": np.ones(3), "ILD latent": np.ones(3),
        ...        "lists": np.array([[0], [1], [2]])}
        >>> got = paired_rows({"a": one, "b": one}, [("b", "a")], 4, resampled_users(3))
        >>> print(got.splitlines()[-1].replace(" | +0.0% [+0.0%, +0.0%]", " | same"))
        | b | a | same | same | same | 1.00x [1.00x, 1.00x], median 1.00x |
    """
    out = [
        "| | against | NDCG@10 change [95% CI] | R@10 change [95% CI] "
        "| ILD latent change [95% CI] | coverage ratio [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for label, against in pairs:
        a, b = per_user[label], per_user[against]
        cells = []
        for name in ("NDCG@10", "R@10", "ILD latent"):
            point, boot = mean_ratio(a[name], b[name], resamples)
            lo, hi = interval(boot)
            cells.append(f"{point:+.1%} [{lo:+.1%}, {hi:+.1%}]")
        # Coverage is no mean over users: a resample holds about 63% distinct users, whose
        # lists cover less, so the resampled ratios sit nearer 1 than the point; their
        # median is printed to show how far.
        point, boot = coverage_ratio(a["lists"], b["lists"], n_items, resamples)
        lo, hi = interval(boot)
        cells.append(f"{point:.2f}x [{lo:.2f}x, {hi:.2f}x], median {np.median(boot):.2f}x")
        out.append(f"| {label} | {against} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def validation_pair(default: dict, pick: dict, base: dict, n_items: int, resamples, extra: str):
    """Two re-rankings of the validation pools side by side, each against the ranker
    (``base``), then the pick against the default by a paired bootstrap over the judged
    users (relative change of mean NDCG@10 and of ``extra``, ``"ild"`` or ``"miscal"``,
    with 95% percentile intervals; coverage as a ratio).

    Example:
        >>> one = {"ndcg": 0.5, "per_user": np.array([0.5, 0.5]), "ild": 0.4,
        ...        "per_user_ild": np.array([0.4, 0.4]), "coverage": 0.1,
        ...        "lists": np.array([[0], [1]])}
        >>> lines = validation_pair(one, one, one, 2, resampled_users(2), "ild").splitlines()
        >>> print(lines[1])
          pick:    NDCG@10 0.5000 (+0.0%), ild 0.400 (+0.0%), coverage 0.1000 (1.00x)
        >>> print(lines[2].replace(" [+0.0%, +0.0%]", ""))
          pick vs default: NDCG@10 +0.0%, ild +0.0%, coverage 1.00x [1.00x, 1.00x]
    """
    lines = []
    for name, got in (("default", default), ("pick", pick)):
        lines.append(
            f"  {name + ':':8s} NDCG@10 {got['ndcg']:.4f} ({got['ndcg'] / base['ndcg'] - 1:+.1%}), "
            f"{extra} {got[extra]:.3f} ({got[extra] / base[extra] - 1:+.1%}), "
            f"coverage {got['coverage']:.4f} ({got['coverage'] / base['coverage']:.2f}x)"
        )
    cells = []
    for label, key in (("NDCG@10", "per_user"), (extra, "per_user_" + extra)):
        point, boot = mean_ratio(pick[key], default[key], resamples)
        lo, hi = interval(boot)
        cells.append(f"{label} {point:+.1%} [{lo:+.1%}, {hi:+.1%}]")
    point, boot = coverage_ratio(pick["lists"], default["lists"], n_items, resamples)
    lo, hi = interval(boot)
    cells.append(f"coverage {point:.2f}x [{lo:.2f}x, {hi:.2f}x]")
    lines.append("  pick vs default: " + ", ".join(cells))
    return "\n".join(lines)


def table(rows: list[tuple[str, dict]]) -> str:
    names = list(rows[0][1])
    out = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in rows:
        cells = [
            f"{values[n]:.4f}"
            if n in ("NDCG@10", "R@10", "coverage", "Gini", "miscal")
            else f"{values[n]:.3f}"
            if n != "avg pop"
            else f"{values[n]:.1f}"
            for n in names
        ]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def first_stage(quick: bool, n_candidates: int) -> SimpleNamespace:
    """Steps 1-2: the time slices, every candidate generator fitted on the first 70% and
    scored on the 70-80% slice, and the ranker trained there; printed as it goes."""
    data = movielens("100k", verbose=False)
    early, valid, train, test = time_slices(data, 0.2, 0.125)  # 70% / 10% / 20% of ratings
    genres, _ = genre_matrix(data.item_features, data.n_items)
    print(
        f"ratings: early {early.nnz}, valid {valid.nnz}, train {train.nnz}, test {test.nnz}; "
        f"test users {np.count_nonzero(test.user_counts())}, of whom with a history "
        f"{np.count_nonzero((test.user_counts() > 0) & (train.user_counts() > 0))}"
    )

    # 1. Every candidate generator on the first 70%, scored on the 70-80% slice.
    makers = candidates(quick)
    early_models, valid_scores = {}, {}
    valid_users = np.flatnonzero(valid.user_counts() > 0)
    valid_hist = valid_users[early.user_counts()[valid_users] > 0]
    for name, make in makers.items():
        model = make().fit(early)
        early_models[name] = model
        top = top_k(model, valid_hist)
        valid_scores[name] = ndcg_at_k(top, valid.matrix[valid_hist], K)
    ranked = sorted(valid_scores, key=valid_scores.get, reverse=True)
    print(
        "validation NDCG@10 (users with a history): "
        + ", ".join(f"{n} {valid_scores[n]:.4f}" for n in ranked)
    )
    best = ranked[0]
    generators = [n for n in ranked if n != "Popularity"][:2] + ["Popularity"]
    print(f"best single model: {best}; candidate generators: {', '.join(generators)}")

    # 2. The ranker learns on the 70-80% slice from the models of the first 70%.
    ranker = LearnedRanker(num_threads=1 if quick else THREADS)
    early_pipe = Pipeline(
        [early_models[n] for n in generators], ranker, n_candidates=n_candidates
    ).fit(early, valid)
    print(f"ranker trained on {early_pipe.ranker_summary_}")
    return SimpleNamespace(
        data=data,
        early=early,
        valid=valid,
        train=train,
        test=test,
        genres=genres,
        makers=makers,
        valid_hist=valid_hist,
        best=best,
        generators=generators,
        ranker=ranker,
        early_pipe=early_pipe,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three candidate models only")
    parser.add_argument("--n-candidates", type=int, default=200)
    parser.add_argument("--plot", default=None, help="also draw the MMR curve to this .png")
    args = parser.parse_args()
    start = time.perf_counter()

    stage = first_stage(args.quick, args.n_candidates)
    data, early, valid, train, test = (
        stage.data,
        stage.early,
        stage.valid,
        stage.train,
        stage.test,
    )
    genres, makers, valid_hist = stage.genres, stage.makers, stage.valid_hist
    best, generators, ranker, early_pipe = (
        stage.best,
        stage.generators,
        stage.ranker,
        stage.early_pipe,
    )

    # 3. Knobs chosen on the validation slice, cross-fitted: a ranker trained on one half
    # of the validation users orders the other half's candidates, and the other way round,
    # so no knob is judged on the users whose labels trained the ranker.
    order = np.random.default_rng(0).permutation(valid_hist)
    halves = [np.sort(order[: order.size // 2]), np.sort(order[order.size // 2 :])]
    folds = []
    for fit_users, judge_users in (halves, halves[::-1]):
        part = valid.subset(np.isin(valid.user_idx, fit_users))
        fold_ranker = LearnedRanker(num_threads=ranker.num_threads)
        Pipeline(early_pipe.models, fold_ranker, n_candidates=args.n_candidates).fit(early, part)
        folds.append((fold_ranker, judge_users))

    # Each judged user's whole ordered pool, once per fold: a one-stage pipeline hands its
    # stage exactly this (candidates by the ranker's score), so the knobs are searched by
    # calling the re-rank functions on it directly.
    early_hist = sp.csr_matrix(early.matrix, copy=True)
    early_hist.data[:] = 1.0
    mmr_space = early_pipe.context_.item_vectors  # the space MMR works in (no test data)
    pools, judged = [], []
    for fold_ranker, judge_users in folds:
        pipe = Pipeline(early_pipe.models, fold_ranker, (), args.n_candidates).fit(early)
        idx, vals, _ = pipe.recommend_batch_idx(judge_users, 4 * args.n_candidates)
        for row in range(judge_users.size):
            keep = idx[row] >= 0
            pools.append((idx[row][keep].astype(np.int64), vals[row][keep].astype(np.float64)))
        judged.append(judge_users)
    judged = np.concatenate(judged)
    rel = valid.matrix[judged]
    shares = pipe.context_.genre_shares
    tastes = [np.asarray(shares[early_hist[u].indices].sum(axis=0)).ravel() for u in judged]

    def measure(top: np.ndarray) -> dict:
        return {
            "ndcg": ndcg_at_k(top, rel, K),
            "per_user": ndcg_at_k(top, rel, K, per_user=True),
            "ild": intra_list_diversity(top, item_vectors=mmr_space, k=K),
            "per_user_ild": intra_list_diversity(top, item_vectors=mmr_space, k=K, per_user=True),
            "coverage": catalog_coverage(top, data.n_items, K),
            "miscal": miscalibration(top, early_hist[judged], genres, K),
            "per_user_miscal": miscalibration(top, early_hist[judged], genres, K, per_user=True),
            "lists": top,
        }

    def reranked(pick) -> dict:
        top = np.full((len(pools), K), -1, dtype=np.int64)
        for j, (c, v) in enumerate(pools):
            got = pick(j, c, v)
            top[j, : got.size] = got
        return measure(top)

    base = reranked(lambda j, c, v: c[:K])
    grid = {}
    for center in MMR_CENTER:
        for how in MMR_RELEVANCE:
            for size in MMR_POOLS:
                for lam_ in MMR_LAMBDAS:
                    grid[center, how, size, lam_] = reranked(
                        lambda j, c, v, lam_=lam_, how=how, size=size, center=center: mmr(
                            c, v, mmr_space, K, lam_, relevance=how, pool=size, center=center
                        )
                    )
    within = [key for key, got in grid.items() if got["ndcg"] >= 0.98 * base["ndcg"]]
    mmr_key = max(within, key=lambda key: (grid[key]["ild"], grid[key]["coverage"]), default=None)
    print(
        f"validation (cross-fitted, {judged.size} users): ranker NDCG@10 {base['ndcg']:.4f}, "
        f"ILD in MMR's space {base['ild']:.3f}, coverage {base['coverage']:.4f}, "
        f"miscalibration {base['miscal']:.4f}"
    )
    print(
        "MMR on validation: per centring / relevance / pool, the lowest lambda within 2% of NDCG@10"
    )
    for center in MMR_CENTER:
        for how in MMR_RELEVANCE:
            for size in MMR_POOLS:
                name = f"  {'centred' if center else 'raw':7s} {how:6s} pool {str(size):4s}"
                ok = [lam_ for lam_ in MMR_LAMBDAS if (center, how, size, lam_) in within]
                if ok:
                    got = grid[center, how, size, min(ok)]
                    print(
                        f"{name}: lambda {min(ok)}: NDCG "
                        f"{got['ndcg'] / base['ndcg'] - 1:+.1%}, "
                        f"ILD {got['ild'] / base['ild'] - 1:+.1%}, "
                        f"coverage {got['coverage'] / base['coverage']:.2f}x"
                    )
                else:
                    print(f"{name}: none")
    if mmr_key is None:
        mmr_key = (False, "minmax", None, 1.0)
    mmr_center, mmr_how, mmr_pool, lam = mmr_key
    # How precisely validation knows an NDCG change: the standard error of the mean of the
    # per-user differences (paired), relative to the ranker's NDCG.
    diff = grid[mmr_key]["per_user"] - base["per_user"] if mmr_key in grid else np.zeros(1)
    diff = diff[np.isfinite(diff)]
    print(
        f"standard error of the chosen MMR's NDCG change on validation: "
        f"{diff.std(ddof=1) / np.sqrt(diff.size) / base['ndcg']:.1%} of the ranker's NDCG"
        if diff.size > 1
        else "no NDCG change to measure"
    )

    # The library's default against today's pick, on the same validation users: is the
    # gap more than these users can tell?  The test's paired bootstrap, on validation.
    valid_resamples = resampled_users(judged.size)
    mmr_default = MMR()
    default_key = (
        mmr_default.center,
        mmr_default.relevance,
        mmr_default.pool,
        mmr_default.lambda_,
    )
    print(
        f"MMR on validation, the default (lambda {mmr_default.lambda_}, "
        f"{mmr_default.relevance}, pool {mmr_default.pool}, centred {mmr_default.center}) "
        f"against the pick (lambda {lam}, "
        f"{mmr_how}, pool {mmr_pool}, centred {mmr_center}):\n"
        + validation_pair(
            grid[default_key], grid[mmr_key], base, data.n_items, valid_resamples, "ild"
        )
    )

    cal = {}
    for how in MMR_RELEVANCE:
        for w in CALIBRATION_WEIGHTS:
            cal[how, w] = reranked(
                lambda j, c, v, w=w, how=how: calibrate(
                    c, v, tastes[j], genres, K, w, relevance=how
                )
            )
    halving = [key for key, got in cal.items() if got["miscal"] <= 0.5 * base["miscal"]]
    if halving:
        cal_key = max(halving, key=lambda key: cal[key]["ndcg"])
    else:
        cal_key = min(cal, key=lambda key: cal[key]["miscal"])
    cal_how, weight = cal_key
    print("Calibrate on validation (relevance, weight: NDCG change, miscalibration change):")
    for how in MMR_RELEVANCE:
        print(
            f"  {how:6s} "
            + ", ".join(
                f"{w}: {cal[how, w]['ndcg'] / base['ndcg'] - 1:+.0%} / "
                f"{cal[how, w]['miscal'] / base['miscal'] - 1:+.0%}"
                for w in CALIBRATION_WEIGHTS
            )
        )
    cal_default = Calibrate()
    cal_default_key = (cal_default.relevance, cal_default.weight)
    print(
        f"Calibrate on validation, the default (weight {cal_default.weight}, "
        f"{cal_default.relevance}) against the pick (weight {weight}, {cal_how}):\n"
        + validation_pair(
            cal[cal_default_key],
            cal[cal_key],
            base,
            data.n_items,
            valid_resamples,
            "miscal",
        )
    )
    print(
        f"chosen: MMR lambda {lam}, relevance {mmr_how}, pool {mmr_pool}, centred "
        f"{mmr_center} (the most latent "
        f"diversity within 2% of NDCG); Calibrate weight {weight}, relevance {cal_how} (the "
        "best NDCG among those that halve miscalibration)"
    )

    # 4. Refit the models on all of train under the trained ranker, or keep those of the
    # first 70%?  Decided on validation with the same question one slice earlier: models
    # and a ranker from 0-60% / 60-70%, then judged on 70-80% with the models refitted on
    # 0-70% or kept.
    inner, inner_valid = temporal_split(early, test_size=1 / 7)
    inner_models = [makers[n]().fit(inner) for n in generators]
    inner_ranker = LearnedRanker(num_threads=ranker.num_threads)
    kept = Pipeline(inner_models, inner_ranker, (), args.n_candidates).fit(inner, inner_valid)
    moved = Pipeline(early_pipe.models, inner_ranker, (), args.n_candidates).fit(early)
    rel = valid.matrix[valid_hist]
    kept_ndcg = ndcg_at_k(top_k(kept, valid_hist), rel, K)
    moved_ndcg = ndcg_at_k(top_k(moved, valid_hist), rel, K)
    refit = moved_ndcg >= kept_ndcg
    print(
        f"refit or keep, on validation: refitted {moved_ndcg:.4f}, kept {kept_ndcg:.4f} -> "
        f"{'refit' if refit else 'keep'} the candidate models"
    )

    models = {name: makers[name]().fit(train) for name in set(generators) | {best}}
    refitted = [models[n] for n in generators]
    if refit:
        chosen = (refitted, train, None)
    else:
        chosen = (early_pipe.models, early, valid)
    # Latent diversity is measured in one fixed item space for every system: ImplicitALS
    # fitted on all 100k ratings, where every item has a vector (a ruler, not a system).
    vectors = ImplicitALS(random_state=0, num_threads=THREADS).fit(data).item_factors_
    scorer = Scorer(test, train, vectors, genres)
    stages = {
        f"+ MMR (lambda {lam}, {mmr_how} relevance, pool {mmr_pool}"
        f"{', centred' if mmr_center else ''})": [
            MMR(lam, relevance=mmr_how, pool=mmr_pool, center=mmr_center)
        ],
    }
    # Where validation picks other knobs than the library's defaults, the defaults' rows
    # too: what a user of MMR() and Calibrate() gets on this split.
    if default_key != mmr_key:
        stages[
            f"+ MMR, the default (lambda {mmr_default.lambda_}, {mmr_default.relevance} "
            f"relevance, pool {mmr_default.pool})"
        ] = [MMR()]
    stages["+ MMR as before (lambda 0.9, min-max relevance, all candidates)"] = [
        MMR(0.9, pool=None)
    ]
    stages[f"+ Calibrate (weight {weight}, {cal_how} relevance)"] = [
        Calibrate(weight, relevance=cal_how)
    ]
    if cal_default_key != cal_key:
        stages[
            f"+ Calibrate, the default (weight {cal_default.weight}, "
            f"{cal_default.relevance} relevance)"
        ] = [Calibrate()]
    stages |= {
        "+ Freshness (weight 0.1, half-life 30 d)": [Freshness(0.1, 30.0)],
        "+ Explore (10% of slots, items < 30 d old)": [Explore(0.1, 30.0)],
        "+ Thompson (10% of slots, items < 30 d old)": [Thompson(0.1, 30.0)],
        "+ Thompson (30% of slots, among the candidates)": [Thompson(0.3, None)],
        "+ Rules (at most 3 per genre)": [Rules(max_per={"genres": 3})],
    }
    mark = {True: " (chosen)", False: ""}
    systems = {
        f"best single model ({best})": models[best],
        "candidates fused, no ranker": Pipeline(refitted, None, (), args.n_candidates).fit(train),
        "learned ranker, models refitted" + mark[refit]: Pipeline(
            refitted, ranker, (), args.n_candidates
        ).fit(train),
        "learned ranker, models of 0-70% kept" + mark[not refit]: Pipeline(
            early_pipe.models, ranker, (), args.n_candidates
        ).fit(early, valid),
    }
    for label, stage in stages.items():
        systems[label] = Pipeline(chosen[0], ranker, stage, args.n_candidates).fit(*chosen[1:])

    chosen_pipe = next(system for label, system in systems.items() if label.endswith("(chosen)"))
    newcomers, _ = chosen_pipe.validation_users(scorer.with_history)
    print(
        f"test users with a history whom the chosen pipeline knows from its validation slice "
        f"alone (folded in from it): {newcomers.size}"
    )
    cold = np.setdiff1d(scorer.users, scorer.with_history)
    populations = {
        "users with a history": scorer.with_history,
        "users without a history (every list the popularity fallback, re-ranked)": cold,
        "all test users": scorer.users,
    }
    results = {title: [] for title in populations}
    per_user = {}
    for label, system in systems.items():
        top = top_k(system, scorer.users)
        for title, users in populations.items():
            results[title].append((label, scorer(top, users)))
        per_user[label] = scorer.per_user(top, scorer.with_history)
    for title, rows in results.items():
        print(f"\n### {title} ({populations[title].size})\n")
        print(table(rows))

    # How sure are the differences?  A paired bootstrap over the users with a history:
    # each row after the chosen ranker against it, the ranker against the best single model.
    labels = list(systems)
    chosen_label = next(label for label in labels if label.endswith("(chosen)"))
    after = labels[labels.index(chosen_label) + 1 :]
    pairs = [(chosen_label, labels[0])] + [(label, chosen_label) for label in after]
    resamples = resampled_users(scorer.with_history.size)
    print(
        f"\n### Paired differences, users with a history ({scorer.with_history.size}; "
        f"{RESAMPLES:,} bootstrap resamples of the users, seed 0, percentile intervals)\n"
    )
    print(paired_rows(per_user, pairs, data.n_items, resamples))
    distinct = np.mean([np.unique(row).size for row in resamples])
    print(
        f"\na resample holds on average {distinct:.1f} distinct users of "
        f"{scorer.with_history.size}: coverage's resampled ratios are of that many users' lists"
    )
    mmr_label = after[0]
    _, boot = mean_ratio(
        per_user[mmr_label]["NDCG@10"], per_user[chosen_label]["NDCG@10"], resamples
    )
    lo, hi = interval(boot)
    print(
        f"\nhalf-width of the chosen MMR's NDCG@10 change interval: {(hi - lo) / 2:.1%} of "
        "the ranker's NDCG@10 (the smallest change these users can tell from none)"
    )

    # 5. The whole MMR curve on the test users with a history, against the chosen ranker,
    # with the relevance and pool chosen on validation.
    base = results["users with a history"][3 if not refit else 2][1]
    print(
        f"\n### MMR's lambda ({mmr_how} relevance, pool {mmr_pool}, centred {mmr_center}) on "
        "the test users with a history (vs the chosen ranker)\n"
    )
    print("| lambda | NDCG@10 | NDCG change | ILD latent | change | coverage | ratio |")
    print("|---|---|---|---|---|---|---|")
    curve = []
    for lam_ in (1.0, *MMR_LAMBDAS, 0.4, 0.3):
        stage = MMR(lam_, relevance=mmr_how, pool=mmr_pool, center=mmr_center)
        pipe = Pipeline(chosen[0], ranker, [stage], args.n_candidates).fit(*chosen[1:])
        got = scorer(top_k(pipe, scorer.users), scorer.with_history)
        curve.append(
            {
                "lambda": lam_,
                "ndcg": got["NDCG@10"],
                "diversity": got["ILD latent"],
                "coverage": got["coverage"],
            }
        )
        print(
            f"| {lam_:g} | {got['NDCG@10']:.4f} | {got['NDCG@10'] / base['NDCG@10'] - 1:+.1%} | "
            f"{got['ILD latent']:.3f} | {got['ILD latent'] / base['ILD latent'] - 1:+.1%} | "
            f"{got['coverage']:.4f} | {got['coverage'] / base['coverage']:.2f}x |"
        )
    if args.plot:
        from latentrec.plots import tradeoff_curve

        tradeoff_curve(curve, args.plot, title="MMR on the learned ranker, ML-100K test")
        print(f"wrote {args.plot}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
