"""ImplicitALS's fold-in Gram across updates: a state whose fixed factors are the very same
array keeps it (partial_fit_users leaves the item factors alone), a state whose factors
changed computes it again; the answers are those of a freshly computed Gram."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import latentrec.models.implicit_als as ials
from latentrec import Interactions
from latentrec.models import ImplicitALS
from latentrec.models.catalog import Fitted


def _model(seed=0):
    rng = np.random.default_rng(seed)
    M = sp.random(40, 30, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    M.data[:] = rng.integers(1, 5, M.nnz)
    model = ImplicitALS(
        n_factors=4, n_epochs=3, confidence="linear", alpha=2.0, regularization=0.5,
        random_state=seed, solver="cholesky",
    )  # fmt: skip
    return model.fit(Interactions.from_sparse(M))


@pytest.fixture
def grams(monkeypatch):
    """The factors each Gram was computed of (one entry per computation)."""
    seen = []
    real = ials._exact_gram
    monkeypatch.setattr(ials, "_exact_gram", lambda Y, *a: seen.append(Y) or real(Y, *a))
    return seen


def _fresh(model):
    """The same learned values in a state that remembers nothing: a Gram computed anew."""
    f = model.fitted_
    return ImplicitALS.from_fitted(Fitted.build(f.catalog, dict(f.state)), **model.get_params())


def _rows(users, items, seed):
    rng = np.random.default_rng(seed)
    n = 3 * len(users)
    return pd.DataFrame(
        {
            "user_id": np.repeat(users, 3),
            "item_id": rng.choice(items, n),
            "rating": rng.integers(1, 5, n).astype(float),
        }
    ).drop_duplicates(["user_id", "item_id"])


ANSWER = {0: 3.0, 4: 1.0, 7: 2.0}


def test_partial_fit_users_keeps_the_item_gram(grams):
    model = _model()
    grams.clear()  # the fit's own half-steps
    first = model.fold_in(ANSWER)
    assert len(grams) == 1
    for step in range(3):  # new users, then a known user's history replaced
        old_items = model.item_factors_
        model.partial_fit_users(_rows([100 + step, 0], model.items_.ids, seed=step))
        assert np.array_equal(model.item_factors_, old_items)
        answer = model.fold_in(ANSWER)
        assert np.array_equal(answer.factors, first.factors)
    assert len(grams) == 1  # once, across the updates' solves and the fold-ins
    # Identical to a Gram computed afresh for the final state.
    fresh = _fresh(model).fold_in(ANSWER)
    assert len(grams) == 2
    assert np.array_equal(answer.factors, fresh.factors)


def test_partial_fit_items_computes_the_item_gram_again(grams):
    model = _model()
    grams.clear()
    model.fold_in(ANSWER)
    # The item solves read the user Gram; the item factors change.
    model.partial_fit_items(_rows([3, 8], model.users_.ids, seed=5).rename(
        columns={"user_id": "item_id", "item_id": "user_id"}
    ))  # fmt: skip
    n = len(grams)
    assert n == 2 and grams[1].shape[0] == model.n_users
    answer = model.fold_in(ANSWER)
    assert len(grams) == n + 1
    assert np.array_equal(grams[-1], model.item_factors_)
    assert np.array_equal(answer.factors, _fresh(model).fold_in(ANSWER).factors)


def test_partial_fit_users_drops_the_user_gram(grams):
    model = _model()
    items = _rows([3], model.users_.ids, seed=2).rename(
        columns={"user_id": "item_id", "item_id": "user_id"}
    )
    grams.clear()
    model.partial_fit_items(items)  # user Gram computed
    model.partial_fit_items(items)  # same user factors: kept
    assert len(grams) == 1
    model.partial_fit_users(_rows([0], model.items_.ids, seed=3))  # item Gram
    assert len(grams) == 2
    model.partial_fit_items(items)  # user factors changed: computed again
    assert len(grams) == 3
    assert np.array_equal(grams[-1], model.user_factors_)


def test_new_item_factors_compute_the_gram_again(grams):
    model = _model()
    model.fold_in(ANSWER)
    grams.clear()
    f = model.fitted_
    # Equal values in another array (as a new item's zero row appended, then sliced off):
    # not provably the same, so computed again; the same object is kept.
    params = model.get_params()
    other = ImplicitALS.from_fitted(
        f.evolve(item_factors_=f.state["item_factors_"].copy()), **params
    )
    same = ImplicitALS.from_fitted(f.evolve(item_factors_=f.state["item_factors_"]), **params)
    grown = ImplicitALS.from_fitted(
        f.evolve(item_factors_=np.vstack([model.item_factors_, np.ones((1, 4), np.float32)])),
        **params,
    )
    assert np.array_equal(same.fold_in(ANSWER).factors, model.fold_in(ANSWER).factors)
    assert len(grams) == 0
    assert np.array_equal(other.fold_in(ANSWER).factors, model.fold_in(ANSWER).factors)
    assert len(grams) == 1
    moved = grown.fold_in(ANSWER).factors
    assert len(grams) == 2
    assert np.array_equal(moved, _fresh(grown).fold_in(ANSWER).factors)
    assert not np.array_equal(moved, model.fold_in(ANSWER).factors)
