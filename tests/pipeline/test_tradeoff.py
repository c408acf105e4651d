"""`tradeoff`'s numbers: each row is the metrics of its own MMR pipeline, on the right users."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentrec import datasets
from latentrec.evaluation import catalog_coverage, intra_list_diversity, ndcg_at_k, recall_at_k
from latentrec.models import ImplicitALS, Popularity
from latentrec.pipeline import MMR, Pipeline, tradeoff

K = 5
N_CANDIDATES = 15


@pytest.fixture(scope="module")
def split():
    """Train and test over one vocabulary, with users of every kind: users 0..3 only in
    test (no history), users 4..7 only in train (nothing held out), the rest in both."""
    data = datasets.synthetic(50, 30, 700, random_state=3)
    users = data.user_idx
    held = np.random.default_rng(0).random(data.nnz) < 0.25
    held[users < 4] = True
    held[(users >= 4) & (users < 8)] = False
    return data.subset(~held), data.subset(held)


@pytest.fixture(scope="module")
def models(split):
    # Popularity first: it has no item factors, so diversity must be measured in the
    # second model's space (the first candidate model *with* item factors).
    train, _ = split
    return [Popularity().fit(train), ImplicitALS(n_factors=4, random_state=0).fit(train)]


def _diversity_by_hand(top, vectors):
    """Slow reference: mean over users of the mean 1 - cos over unordered listed pairs."""
    per_user = []
    for row in top:
        items = [int(i) for i in row if i >= 0]
        pairs = list(itertools.combinations(items, 2))
        if not pairs:
            continue
        dist = []
        for a, b in pairs:
            va, vb = vectors[a].astype(np.float64), vectors[b].astype(np.float64)
            dist.append(1.0 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
        per_user.append(np.mean(dist))
    return float(np.mean(per_user))


def test_each_row_is_the_metrics_of_its_own_mmr_pipeline(split, models):
    train, test = split
    lambdas = [1.0, 0.6, 0.2]
    curve = tradeoff(models, train, test, lambdas, k=K, n_candidates=N_CANDIDATES)

    # The users scored: a held-out cell and a training history; 0..3 and 4..7 are out.
    users = np.array(
        [u for u in range(train.n_users) if test.matrix[u].nnz > 0 and train.matrix[u].nnz > 0]
    )
    assert not set(range(8)) & set(users.tolist())
    assert curve["n_users"].tolist() == [users.size] * len(lambdas)
    assert curve["lambda"].tolist() == lambdas

    relevant = test.matrix[users]
    vectors = models[1].item_factors_
    tops = []
    for row, lam in zip(curve.itertuples(), lambdas, strict=True):
        pipe = Pipeline(models, None, [MMR(lam)], N_CANDIDATES).fit(train)
        top = pipe.recommend_batch_idx(users, K)[0].astype(np.int64)
        tops.append(top)
        assert row.ndcg == pytest.approx(ndcg_at_k(top, relevant, K), abs=1e-12)
        assert row.recall == pytest.approx(recall_at_k(top, relevant, K), abs=1e-12)
        assert row.coverage == pytest.approx(catalog_coverage(top, train.n_items, K), abs=1e-12)
        assert row.diversity == pytest.approx(
            intra_list_diversity(top, item_vectors=vectors, k=K), abs=1e-12
        )
        assert row.diversity == pytest.approx(_diversity_by_hand(top, vectors), abs=1e-5)
    # The lambdas do re-rank: otherwise every row above would check the same lists.
    assert not np.array_equal(tops[0], tops[-1])


def test_no_lambda_is_refused(split, models):
    train, test = split
    with pytest.raises(ValueError, match="give at least one lambda"):
        tradeoff(models, train, test, [], k=K, n_candidates=N_CANDIDATES)


def test_no_test_user_with_a_history_is_refused(split, models):
    train, test = split
    only_new = test.subset(test.user_idx < 4)  # users 0..3 have no training cell
    assert only_new.nnz > 0
    with pytest.raises(ValueError, match="no test user has a training history"):
        tradeoff(models, train, only_new, [1.0], k=K, n_candidates=N_CANDIDATES)


def test_candidates_without_item_factors_are_refused(split, models):
    train, test = split
    with pytest.raises(ValueError, match="no candidate model has item factors"):
        tradeoff(models[0], train, test, [1.0], k=K, n_candidates=N_CANDIDATES)


def test_refuses_test_data_the_lists_cannot_hold(split, models):
    """Training cells as 'test' would score as misses (the lists never hold them), and a
    test set read apart from train has other ids: both refused, as evaluate_ranking does."""
    train, test = split
    whole = train.subset(np.ones(train.nnz, bool))
    with pytest.raises(ValueError, match="test shares .* cells with the data"):
        tradeoff(models, train, whole, [1.0], k=K, n_candidates=N_CANDIDATES)
    apart = type(test).from_frame(test.to_frame())
    with pytest.raises(ValueError, match="must share the vocabularies"):
        tradeoff(models, train, apart, [1.0], k=K, n_candidates=N_CANDIDATES)
