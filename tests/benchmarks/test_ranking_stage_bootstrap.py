"""ranking_stage.py's paired bootstrap against a loop over resamples written out plainly."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import ranking_stage  # noqa: E402


def _lists(rng, n_users, n_items, k):
    rows = [rng.choice(n_items, size=k, replace=False) for _ in range(n_users)]
    out = np.array(rows)
    out[0, k // 2 :] = -1  # a short list: its empty slots show nothing
    return out


def test_mean_ratio_matches_a_loop_over_resamples():
    rng = np.random.default_rng(3)
    a, b = rng.random(30), rng.random(30) + 0.1
    a[4] = np.nan  # a user with no list to measure counts in neither mean
    b[7] = np.nan
    draws = ranking_stage.resampled_users(30, n_resamples=200, seed=5)
    point, boot = ranking_stage.mean_ratio(a, b, draws)

    def ratio(users):
        va = [a[u] for u in users if not np.isnan(a[u])]
        vb = [b[u] for u in users if not np.isnan(b[u])]
        return (sum(va) / len(va)) / (sum(vb) / len(vb)) - 1

    assert np.isclose(point, ratio(range(30)))
    assert np.allclose(boot, [ratio(row) for row in draws])


def test_coverage_ratio_counts_each_item_once_over_the_drawn_users():
    rng = np.random.default_rng(4)
    lists, base = _lists(rng, 25, 60, 5), _lists(rng, 25, 60, 5)
    draws = ranking_stage.resampled_users(25, n_resamples=300, seed=6)
    point, boot = ranking_stage.coverage_ratio(lists, base, 60, draws)

    def shown(top, users):
        return len({int(i) for u in set(users) for i in top[u] if i >= 0})

    assert np.isclose(point, shown(lists, range(25)) / shown(base, range(25)))
    assert np.allclose(boot, [shown(lists, row) / shown(base, row) for row in draws])
    # Chunking the resamples changes nothing.
    again = ranking_stage.covered(lists, 60, draws, chunk=7)
    assert again.tolist() == [shown(lists, row) for row in draws]


def test_the_two_rows_of_a_pair_are_measured_on_the_same_users():
    # Every user's NDCG falls by exactly 10%: paired, every resample says -10%; drawn
    # independently for the two rows, the resamples would scatter around it.
    base = np.random.default_rng(1).random(50) + 0.05
    draws = ranking_stage.resampled_users(50, n_resamples=500)
    point, boot = ranking_stage.mean_ratio(0.9 * base, base, draws)
    assert np.isclose(point, -0.1)
    assert np.allclose(ranking_stage.interval(boot), (-0.1, -0.1))


def test_resamples_are_seeded_and_in_range():
    one = ranking_stage.resampled_users(9, n_resamples=40, seed=2)
    assert one.shape == (40, 9) and one.min() >= 0 and one.max() < 9
    assert np.array_equal(one, ranking_stage.resampled_users(9, n_resamples=40, seed=2))


def test_interval_is_the_middle_of_the_sorted_resamples():
    values = np.random.default_rng(0).permutation(np.arange(1001.0))
    assert np.allclose(ranking_stage.interval(values), (25.0, 975.0))
    assert np.allclose(ranking_stage.interval(values, level=0.5), (250.0, 750.0))


def test_per_user_figures_average_to_the_table():
    rng = np.random.default_rng(8)
    n_users, n_items = 12, 40
    heldout = rng.random((n_users, n_items)) < 0.15
    heldout[3] = False  # a user with nothing held out is not scored
    history = rng.random((n_users, n_items)) < 0.2
    history[5] = False  # nor, for the bootstrap, one without a history
    genres = (rng.random((n_items, 4)) < 0.4).astype(np.float64)
    scorer = ranking_stage.Scorer(
        SimpleNamespace(matrix=sp.csr_matrix(heldout, dtype=np.float64)),
        SimpleNamespace(matrix=sp.csr_matrix(history, dtype=np.float64)),
        rng.normal(size=(n_items, 3)),
        genres,
    )
    top = _lists(rng, scorer.users.size, n_items, ranking_stage.K)
    users = scorer.with_history
    assert 3 not in scorer.users and 5 not in users
    table = scorer(top, users)
    got = scorer.per_user(top, users)
    for name in ("NDCG@10", "R@10", "ILD latent"):
        assert got[name].shape == (users.size,)
        assert np.isclose(np.nanmean(got[name]), table[name])
    everyone = np.arange(users.size)[None, :]
    shown = ranking_stage.covered(got["lists"], n_items, everyone)[0]
    assert np.isclose(shown / n_items, table["coverage"])


def test_paired_rows_prints_one_line_per_pair():
    one = {
        "NDCG@10": np.array([0.2, 0.4, 0.6]),
        "R@10": np.array([0.1, 0.2, 0.3]),
        "ILD latent": np.array([0.5, 0.5, 0.5]),
        "lists": np.array([[0, 1], [1, 2], [2, 3]]),
    }
    half = {**one, "NDCG@10": one["NDCG@10"] / 2, "lists": np.array([[0, 1], [0, 1], [4, 5]])}
    draws = ranking_stage.resampled_users(3, n_resamples=100)
    got = ranking_stage.paired_rows({"ranker": one, "MMR": half}, [("MMR", "ranker")], 8, draws)
    lines = got.splitlines()
    assert len(lines) == 3
    assert lines[2].startswith(
        "| MMR | ranker | -50.0% [-50.0%, -50.0%] | +0.0% [+0.0%, +0.0%] | +0.0% [+0.0%, +0.0%] "
        "| 1.00x ["
    )
