"""A size hyperparameter whose arrays would not fit in memory (``n_factors=2**31 - 1``,
BayesianMF's ``n_samples``, HybridMF's WARP ``max_sampled``) is refused before the fit
allocates anything, in one error naming the hyperparameter, its value, the bytes needed
and the bytes available; large values that fit are accepted.  And an ``n_epochs`` that
only patience can end is refused when there is no validation data for patience."""

from __future__ import annotations

import sys
import tracemalloc

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.models import (
    ALS,
    BPR,
    NMF,
    BayesianMF,
    BiasedMF,
    GradientDescentMF,
    HybridMF,
    ImplicitALS,
    SVDpp,
    TruncatedSVD,
    _training,
)
from latentrec.registry import model_class, model_names

HUGE = 2**31 - 1


def _data(shape=(30, 20), density=0.4, seed=0) -> Interactions:
    """Random ratings in ``shape`` with every user and item rated at least once."""
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 6, size=shape) * (rng.random(shape) < density)
    dense[:, 0] = 3
    dense[0, :] = 4
    return Interactions.from_dense(dense)


DATA = _data()
FACTOR_MODELS = [n for n in model_names() if "n_factors" in model_class(n).param_names()]


@pytest.mark.parametrize("name", FACTOR_MODELS)
def test_n_factors_beyond_memory_is_refused_by_name_before_allocating(name, monkeypatch):
    cls = model_class(name)
    model = cls(n_factors=HUGE)
    if cls is TruncatedSVD:
        # A rank above min(users, items) is refused for what it is, not for its memory.
        with pytest.raises(ValueError, match=r"exceeds min\(n_users, n_items\) = 20"):
            model.fit(DATA)
        return
    # The refusal comes before the algorithm runs, so before it allocates anything.
    monkeypatch.setattr(cls, "_fit", _no_allocation)
    with pytest.raises(ValueError) as err:
        model.fit(DATA)
    text = str(err.value)
    assert text.startswith(f"{name}: n_factors={HUGE}"), text
    assert " needs at least " in text and " bytes) of memory to fit 30 users x 20 items" in text
    assert " bytes) available here; lower n_factors" in text, text
    assert "\n" not in text
    assert not model.is_fitted


def _no_allocation(*args, **kwargs):
    raise AssertionError("the fit started before its memory was checked")


def test_the_figures_are_the_bytes_needed_and_the_bytes_available(monkeypatch):
    monkeypatch.setattr(_training, "available_memory", lambda: 1000)
    # (30 users + 20 items) x 10 factors x 4 bytes
    with pytest.raises(ValueError) as err:
        BiasedMF(n_factors=10).fit(DATA)
    assert str(err.value) == (
        "BiasedMF: n_factors=10 needs at least 2.0 KiB (2,000 bytes) of memory to fit 30 "
        "users x 20 items, more than the 1000 bytes (1,000 bytes) available here; lower "
        "n_factors"
    )
    monkeypatch.setattr(_training, "available_memory", lambda: 2000)
    assert BiasedMF(n_factors=10, n_epochs=1).fit(DATA).is_fitted  # exactly enough


def test_unknown_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr(_training, "available_memory", lambda: None)
    assert BiasedMF(n_factors=10, n_epochs=1).fit(DATA).is_fitted


@pytest.mark.parametrize(
    ("model", "need"),
    [
        # The factors, (30 + 20) x k x 4, plus each algorithm's own work space.
        (BiasedMF(n_factors=10), 2000),
        # ALS: P's float64 draw beside its float32 copy, or the factors and one system
        (ALS(n_factors=10, num_threads=1), max(12 * 30 * 10, 2000 + 8 * 11 * 11)),
        (BPR(n_factors=10, optimizer="sgd"), 2000 + 8 * 30 * 10),
        (NMF(n_factors=10), 2000 + 8 * 30 * 10),
        # U and V in float64, then the residual's two float64 gathers of cells x k
        (GradientDescentMF(n_factors=10), 8 * 50 * 10 + 16 * DATA.nnz * 10),
        (SVDpp(n_factors=10), 4000),
        (BayesianMF(n_factors=10, n_samples=4), 5 * 2000 + 8 * 30 * 11),
        (TruncatedSVD(n_factors=10), 3 * 2000),
        (ImplicitALS(n_factors=10, solver="cg"), 2000 + 8 * 100),
        (ImplicitALS(n_factors=10, solver="cholesky", num_threads=2), 2000 + 3 * 8 * 100),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, int) else str(v),
)
def test_each_algorithms_estimate_counts_its_work_space(model, need):
    assert model._fit_bytes(30, 20, DATA.nnz) == need


def test_large_values_that_fit_are_accepted():
    # 4096 factors over 50 rows: 800 KiB, far from any machine's limit.
    model = BiasedMF(n_factors=4096, n_epochs=1, random_state=0).fit(DATA)
    assert model.item_factors_.shape == (20, 4096)


def test_bayesian_n_samples_beyond_memory_names_both_size_parameters():
    model = BayesianMF(n_factors=10, n_samples=HUGE, burn_in=0)
    with pytest.raises(ValueError, match=rf"^BayesianMF: n_factors=10, n_samples={HUGE} needs"):
        model.fit(DATA)
    assert "lower n_factors or n_samples" in _last_error(model)


def _last_error(model) -> str:
    try:
        model.fit(DATA)
    except ValueError as err:
        return str(err)
    return ""


def test_hybrid_warp_max_sampled_beyond_memory_is_refused_by_name():
    model = HybridMF(n_factors=4, loss="warp", max_sampled=HUGE)
    with pytest.raises(ValueError, match=rf"^HybridMF: n_factors=4, max_sampled={HUGE} needs"):
        model.fit(DATA)
    # The BPR loss samples one negative per positive: max_sampled sizes nothing there.
    assert HybridMF(n_factors=4, n_epochs=1, max_sampled=HUGE)._size_params == ("n_factors",)


def test_n_epochs_that_only_patience_can_end_needs_validation_data():
    model = BiasedMF(n_factors=2, n_epochs=sys.maxsize, patience=2, random_state=0)
    with pytest.raises(ValueError, match=r"^n_epochs=9223372036854775807 ends only by patience"):
        model.fit(DATA)
    train, valid = random_split(DATA, 0.3, random_state=0)
    model.fit(train, validation=valid)
    assert model.history_["stopped_early"]
    assert len(model.history_["epoch"]) < 10_000


def _traced_peak(model, data) -> int:
    """The most bytes Python's allocators held at once while ``model`` was fitted."""
    tracemalloc.start()
    try:
        model.fit(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", FACTOR_MODELS)
def test_the_estimate_is_at_most_what_a_real_fit_allocates(name):
    """``_fit_bytes`` is a lower bound of the fit's peak, so the check never refuses a
    fit that would run: BPR's counted its float64 draw and AdaGrad's sums together,
    though the draw is freed before the sums are made (a fifth over the real peak)."""
    # 300 users x 200 items, few cells: at k = 64 the factor-sized arrays are the peak.
    data = _data((300, 200), 0.03, seed=1)
    cls = model_class(name)
    kwargs = {"n_factors": 64, "random_state": 0}
    if "n_epochs" in cls.param_names():
        kwargs["n_epochs"] = 1
    if "n_samples" in cls.param_names():
        kwargs.update(n_samples=3, burn_in=1)  # the samples it keeps size its peak, not 200
    model = cls(**kwargs)
    need = model._fit_bytes(data.n_users, data.n_items, data.nnz)
    # Fitted once first: numba's compilation allocates too, so a cold first fit's peak
    # was higher than a warm one's, and ALS's estimate passed alone but not after
    # other tests had compiled its kernels.
    model.clone().fit(data)
    peak = _traced_peak(model, data)
    assert 0 < need <= peak, (need, peak)


def test_gradient_descent_counts_its_per_cell_gathers():
    """Each step gathers ``U[rows]`` and ``V[cols]``, two float64 arrays of cells x k: with
    many cells that is the fit's peak, and the estimate, counting the factors alone, was
    a tenth of it (so ``n_factors`` a thousand times too large was not refused)."""
    data = _data((60, 50), 1.0, seed=2)  # 3,000 cells
    model = GradientDescentMF(n_factors=64, n_epochs=1, random_state=0)
    need = model._fit_bytes(data.n_users, data.n_items, data.nnz)
    assert need >= 16 * data.nnz * 64
    peak = _traced_peak(model, data)
    assert need <= peak < 2 * need, (need, peak)
