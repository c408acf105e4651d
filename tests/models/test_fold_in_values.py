"""``fold_in_values``: the one rule for the value a user's cell enters a fold-in with,
checked cell by cell against the rule written out the slow, obvious way."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import BPR, BiasedMF, FactorModel, HybridMF, ImplicitALS
from latentrec.models.foldin import fold_in_values, like_threshold, trained_kind


def cells(implicit: bool, scale=(1, 5)) -> Interactions:
    rng = np.random.default_rng(0)
    users, items = np.divmod(rng.choice(8 * 6, 30, replace=False), 6)
    values = rng.integers(scale[0], scale[1] + 1, users.size).astype(float)
    return Interactions.from_arrays(
        users, items, values, rating_scale=None if implicit else scale, implicit=implicit
    )


def made_elsewhere(model):
    """The same factors with their training kind forgotten (as imported from Spark)."""
    return FactorModel.from_factors(
        dataclasses.replace(model.catalog_, implicit=None),
        model.item_factors_,
        model.user_factors_,
        predicts_ratings=False,
    )


MODELS = {
    "BiasedMF on stars": lambda: BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(
        cells(False)
    ),
    # No "BiasedMF on events": rating models refuse implicit data.
    "ImplicitALS on stars": lambda: ImplicitALS(n_factors=2, random_state=0).fit(cells(False)),
    "ImplicitALS on events": lambda: ImplicitALS(n_factors=2, random_state=0).fit(cells(True)),
    "BPR on stars 2-10": lambda: BPR(n_factors=2, n_epochs=1, random_state=0).fit(
        cells(False, (2, 10))
    ),
    "HybridMF on events": lambda: HybridMF(
        n_factors=2, n_epochs=1, min_rating=3, random_state=0
    ).fit(cells(True)),
    "factors of unknown kind": lambda: made_elsewhere(
        ImplicitALS(n_factors=2, random_state=0).fit(cells(False))
    ),
}


def slow_rule(model, value: float, explicit: bool | None) -> float:
    """One cell, as the module docstring of latentrec.models.foldin says it in words."""
    lo, hi = model.rating_scale_ or (-math.inf, math.inf)
    as_trained = float(model.training_values([value])[0])
    if explicit is None:  # the cell's kind unknown: as the model's own training cells
        out = as_trained
    elif model.predicts_ratings:  # explicit ratings only
        out = value if explicit else math.nan
    else:
        kind = model.catalog_.implicit  # True: events, False: stars, None: unknown
        if explicit:
            if kind is False:
                out = as_trained
            else:
                no_scale = lo == -math.inf
                out = 1.0 if no_scale or value >= lo + 0.6 * (hi - lo) else math.nan
        else:
            out = as_trained if kind is True else value
    return out if math.isnan(out) else min(max(out, lo), hi)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1])
def test_each_cell_enters_as_the_rule_says(name, seed):
    model = MODELS[name]()
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 12.0, 40).round(1)
    values[:6] = [1.0, 3.4, 3.3, 5.0, 10.0, 2.0]  # the thresholds and scale ends
    explicit = rng.random(40) < 0.5
    got = fold_in_values(model, values, explicit)
    pairs = zip(values.tolist(), explicit.tolist(), strict=True)
    want = [slow_rule(model, v, e) for v, e in pairs]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        fold_in_values(model, values, None), [slow_rule(model, v, None) for v in values]
    )
    # One flag for all cells is the same as that flag for each.
    np.testing.assert_array_equal(
        fold_in_values(model, values, True), fold_in_values(model, values, np.ones(40, bool))
    )


def test_the_kind_and_the_like_threshold_are_read_from_the_model():
    stars, events = MODELS["ImplicitALS on stars"](), MODELS["ImplicitALS on events"]()
    made = MODELS["factors of unknown kind"]()
    assert [trained_kind(m) for m in (stars, events, made)] == ["explicit", "event", None]
    assert like_threshold(made) == pytest.approx(3.4)
    assert like_threshold(MODELS["BPR on stars 2-10"]()) == pytest.approx(6.8)
    assert like_threshold(events) == -math.inf  # trained on events: no scale
