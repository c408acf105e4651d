"""Retraining: the temporal holdout, the figures (against direct computations), the gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions, load
from latentrec.data.splits import temporal_split
from latentrec.evaluation import evaluate_ranking, evaluate_ratings
from latentrec.models import BiasedMF, Biases, GlobalMean, ImplicitALS, Popularity
from latentrec.service.retrain import (
    RetrainResult,
    retrain,
    retrain_on,
    score_on_holdout,
    trained_cells,
)
from latentrec.service.versions import ModelDirectory

from .retrain_helpers import as_data, timed_frame


@pytest.fixture(scope="module")
def frame():
    return timed_frame()


def old_and_all(df, share_new=0.1):
    """The data a current model was trained on, and everything stored now."""
    t_new = np.quantile(df["t"], 1 - share_new)
    return as_data(df[df["t"] < t_new]), as_data(df)


def reference_rmse(model, test: Interactions) -> float:
    """One held-out rating at a time through the raw-id API (the slow, obvious way)."""
    errors = []
    for u, i, r in test.to_frame()[["user_id", "item_id", "rating"]].itertuples(index=False):
        clip = model.rating_scale_ is not None
        pred = model.predict([u], [i], unknown="baseline", clip=clip)[0]
        errors.append((r - pred) ** 2)
    return math.sqrt(sum(errors) / len(errors))


def reference_ndcg(model, before: Interactions, test: Interactions, k: int) -> float:
    """Per user: score every item, drop what they rated before, sort, discount hits."""
    values = []
    test_frame, before_frame = test.to_frame(), before.to_frame()
    pop_order = np.argsort(-model.item_popularity_, kind="stable")
    for user, rows in test_frame.groupby("user_id"):
        relevant = set(rows["item_id"])
        rated = set(before_frame.loc[before_frame["user_id"] == user, "item_id"])
        if user in model.users_ and model.seen_[model.users_.index([user])[0]].nnz:
            scores = model.score_users(model.users_.index([user]))[0].astype(np.float64)
            order = sorted(range(model.n_items), key=lambda j: (-scores[j], j))
        else:  # the model's popularity fallback
            order = list(pop_order)
        ranked = [model.items_.ids[j] for j in order if model.items_.ids[j] not in rated][:k]
        dcg = sum(1 / math.log2(r + 2) for r, item in enumerate(ranked) if item in relevant)
        ideal = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
        values.append(dcg / ideal)
    return float(np.mean(values))


# ---------------------------------------------------------------------- the gate
def test_first_candidate_is_published_with_figures_from_a_direct_computation(frame, tmp_path):
    data = as_data(frame)
    result = retrain_on(data, tmp_path, model=Biases(), holdout=0.2)
    assert isinstance(result, RetrainResult)
    assert result.published and result.version.name == "v000001"
    assert "no current version" in result.reason and "first candidate" in result.reason
    assert result.current_metrics == {} and result.current_version is None
    train, test = temporal_split(data, test_size=0.2)
    assert result.cutoff == test.timestamps.min()
    assert (result.n_train, result.n_holdout) == (train.nnz, test.nnz)
    direct = evaluate_ratings(Biases().fit(train), test)
    assert result.candidate_metrics == pytest.approx(direct, rel=1e-12)
    # What is published is the same recipe fitted on everything.
    _, published = ModelDirectory(tmp_path).load_current()
    everything = Biases().fit(data)
    np.testing.assert_allclose(published.item_bias_, everything.item_bias_, rtol=1e-6)
    assert published.metrics_["holdout_rmse"] == result.candidate_metrics["rmse"]
    stored = result.version.metrics
    assert stored["candidate"] == result.candidate_metrics and stored["metric"] == "rmse"
    assert stored["data_until"] == data.timestamps.max() and stored["holdout"] == 0.2


def test_a_better_candidate_is_published(frame, tmp_path):
    old, data = old_and_all(frame)
    md = ModelDirectory(tmp_path)
    current = GlobalMean().fit(old)
    md.publish(current)
    result = retrain_on(data, md, model=Biases())
    assert result.published and result.version.name == "v000002"
    assert md.current().name == "v000002"
    assert result.reason.startswith("candidate rmse") and "better than current" in result.reason
    # Scored on exactly the ratings that arrived after the current model was trained.
    recent = data.subset(data.timestamps >= result.cutoff)
    assert result.n_seen_by_current == 0 and result.n_holdout == recent.nnz
    assert result.figure("current") == pytest.approx(reference_rmse(current, recent), rel=1e-9)
    train = data.subset(data.timestamps < result.cutoff)
    cand = Biases().fit(train)
    assert result.figure("candidate") == pytest.approx(reference_rmse(cand, recent), rel=1e-9)
    assert result.figure("candidate") < result.figure("current")
    stored = result.version.metrics
    assert stored["current"]["rmse"] == result.figure("current")
    assert stored["current_version"] == "v000001"


def test_a_worse_candidate_is_refused_and_nothing_changes(frame, tmp_path):
    old, data = old_and_all(frame)
    md = ModelDirectory(tmp_path)
    md.publish(BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(old))
    token = md.pointer_token()
    bad = BiasedMF(n_factors=4, n_epochs=1, regularization=5.0, random_state=0)
    result = retrain_on(data, md, model=bad)
    assert not result.published and result.version is None
    assert "worse than current" in result.reason
    assert result.figure("candidate") > result.figure("current")
    assert md.pointer_token() == token and [v.name for v in md.versions()] == ["v000001"]


def test_tolerance_lets_a_slightly_worse_candidate_through(frame, tmp_path):
    old, data = old_and_all(frame)
    md = ModelDirectory(tmp_path)
    md.publish(Biases().fit(old))
    worse = Biases(regularization=1e4, user_regularization=1e4)  # about the global mean
    probe = retrain_on(data, md, model=worse)
    gap = probe.figure("candidate") - probe.figure("current")
    assert not probe.published and gap > 0
    half = retrain_on(data, md, model=worse, tolerance=gap / 2)
    assert not half.published and "by more than tolerance" in half.reason
    enough = retrain_on(data, md, model=worse, tolerance=gap * 1.01)
    assert enough.published and "within tolerance" in enough.reason


def test_the_default_candidate_copies_the_current_recipe(frame, tmp_path):
    old, data = old_and_all(frame)
    md = ModelDirectory(tmp_path)
    md.publish(BiasedMF(n_factors=3, n_epochs=15, regularization=0.05).fit(old))
    # A tolerance, since another seed alone moves the figure a little either way.
    result = retrain_on(data, md, random_state=7, tolerance=0.1)
    assert result.published, result.reason
    _, model = md.load_current()
    assert type(model) is BiasedMF
    params = model.get_params()
    assert (params["n_factors"], params["n_epochs"], params["regularization"]) == (3, 15, 0.05)
    assert params["random_state"] == 7


def test_ratings_the_current_model_was_trained_on_are_not_scored(frame, tmp_path):
    old, data = old_and_all(frame, share_new=0.05)
    md = ModelDirectory(tmp_path)
    md.publish(Biases().fit(old))
    result = retrain_on(data, md, model=Biases(), holdout=0.2)
    recent = data.timestamps >= result.cutoff
    new = data.timestamps >= old.timestamps.max() + 1
    assert result.n_holdout == np.count_nonzero(new) < np.count_nonzero(recent)
    assert result.n_seen_by_current == np.count_nonzero(recent & ~new)
    # The candidate learned from everything but the scored ratings (the leaked ones too).
    assert result.n_train == data.nnz - result.n_holdout
    test = data.subset(new)
    cand = Biases().fit(data.subset(~new))
    assert result.figure("candidate") == pytest.approx(reference_rmse(cand, test), rel=1e-9)
    # Nothing new since the current version: nothing to compare on, nothing published.
    latest = md.publish(Biases().fit(data))
    nothing = retrain_on(data, md)
    assert not nothing.published and "no new rating" in nothing.reason
    assert nothing.n_holdout == 0 and md.current() == latest


def test_a_diverging_candidate_is_not_published(frame, tmp_path):
    old, data = old_and_all(frame)
    md = ModelDirectory(tmp_path)
    md.publish(Biases().fit(old))
    wild = BiasedMF(n_factors=4, learning_rate=50.0, n_epochs=5, random_state=0)
    result = retrain_on(data, md, model=wild)
    assert not result.published and "diverged" in result.reason
    assert md.current().name == "v000001"


def test_a_version_published_meanwhile_is_never_replaced_unseen(frame, tmp_path):
    old, data = old_and_all(frame)

    class Racing(ModelDirectory):
        """Another process publishes while this retraining is fitting its candidate."""

        def publish(self, model, **kwargs):
            if "if_current" in kwargs:
                ModelDirectory(self.path).publish(GlobalMean().fit(old), note="the other one")
            return super().publish(model, **kwargs)

    md = Racing(tmp_path)
    md.publish(GlobalMean().fit(old))
    result = retrain_on(data, md, model=Biases())
    assert not result.published and "is v000002, not v000001" in result.reason
    assert md.current().note == "the other one"
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]


def test_a_ranking_model_is_compared_on_ndcg(tmp_path):
    df = timed_frame(n_users=80, n_items=40, n_ratings=1500, seed=3, implicit=True)
    old, data = (as_data(d, implicit=True) for d in (df[df["t"] < 1350], df))
    md = ModelDirectory(tmp_path)
    current = ImplicitALS(n_factors=4, random_state=0).fit(old)
    md.publish(current)
    # The figures are the point here, so the comparison runs on this data's users (fewer
    # than the default minimum, which would keep the current version unscored).
    result = retrain_on(data, md, model=ImplicitALS(n_factors=4, random_state=1), min_holdout=1)
    assert result.metric == "ndcg@10"
    before, test = (
        data.subset(data.timestamps < result.cutoff),
        data.subset(data.timestamps >= result.cutoff),
    )
    assert result.figure("current") == pytest.approx(
        reference_ndcg(current, before, test, 10), rel=1e-9
    )
    cand = ImplicitALS(n_factors=4, random_state=1).fit(before)
    direct = evaluate_ranking(cand, test, 10)
    for name in ("ndcg", "precision", "recall", "map", "hit_rate"):
        assert result.candidate_metrics[f"{name}@10"] == pytest.approx(direct[name], rel=1e-12)
    verdict = result.figure("candidate") >= result.figure("current")
    assert result.published == verdict


def test_retrain_from_a_sqlite_store(frame, tmp_path):
    from latentrec.store import Rating, open_store

    t_new = 2700
    with open_store(tmp_path / "ratings.db") as store:
        store.import_interactions(as_data(frame[frame["t"] < t_new]))
        md = ModelDirectory(tmp_path / "models")
        first = retrain(store, md, model=Biases())
        assert first.published and first.version.name == "v000001"
        # Nothing has arrived since: no new rating to compare on.
        assert "no new rating" in retrain(store, md).reason
        new = frame[frame["t"] >= t_new]
        store.add_ratings(
            [
                Rating(str(u), str(i), float(r), float(t))
                for u, i, r, t in new[["user_id", "item_id", "rating", "t"]].itertuples(index=False)
            ]
        )
        result = retrain(store, md)
        stored = store.interactions()
    assert result.current_version == "v000001" and result.n_holdout == len(new)
    # The store hands string ids; the current model was trained on the same string ids,
    # and the figures are those of a direct computation on the same cells.
    recent = stored.subset(stored.timestamps >= result.cutoff)
    current = load(md.version("v000001").path)
    assert result.figure("current") == pytest.approx(reference_rmse(current, recent), rel=1e-9)
    assert result.published == (result.figure("candidate") <= result.figure("current"))


# ---------------------------------------------------------------------- scoring
def test_score_on_holdout_matches_reference_for_a_model_with_other_ids(tmp_path):
    df = timed_frame(n_users=60, n_items=30, n_ratings=900, seed=5)
    data = as_data(df)
    train, test = temporal_split(data, test_size=0.3)
    # A model that knows some users and items the split does not, and lacks others.
    other = df[(df["user_id"] % 3 != 0) & (df["item_id"] % 4 != 0)].copy()
    other["user_id"] += 1000 * (other["user_id"] % 2 == 0)
    model = Biases().fit(as_data(other))
    figures = score_on_holdout(model, train, test)
    assert figures["n"] == test.nnz
    assert figures["rmse"] == pytest.approx(reference_rmse(model, test), rel=1e-9)
    ranked = score_on_holdout(model, train, test, metric="ndcg@5")
    assert ranked["ndcg@5"] == pytest.approx(reference_ndcg(model, train, test, 5), rel=1e-9)
    assert ranked["n_users"] == np.count_nonzero(test.user_counts())


def test_trained_cells_against_a_set_of_pairs(frame):
    old, data = old_and_all(frame, share_new=0.3)
    model = Popularity().fit(old)
    pairs = set(zip(old.to_frame()["user_id"], old.to_frame()["item_id"], strict=True))
    table = data.to_frame()
    expected = [(u, i) in pairs for u, i in zip(table["user_id"], table["item_id"], strict=True)]
    assert trained_cells(model, data).tolist() == expected


# ---------------------------------------------------------------------- errors
def test_bad_calls_are_named(frame, tmp_path):
    data = as_data(frame)
    with pytest.raises(ValueError, match="nothing is published"):
        retrain_on(data, tmp_path)
    with pytest.raises(ValueError, match="holdout must be"):
        retrain_on(data, tmp_path, model=Biases(), holdout=1.0)
    with pytest.raises(ValueError, match="tolerance must be"):
        retrain_on(data, tmp_path, model=Biases(), tolerance=-0.1)
    with pytest.raises(ValueError, match="needs timestamps"):
        retrain_on(Interactions.from_frame(frame), tmp_path, model=Biases())
    with pytest.raises(ValueError, match="does not predict ratings"):
        retrain_on(data, tmp_path, model=Popularity(), metric="rmse")
    with pytest.raises(ValueError, match="unknown metric"):
        retrain_on(data, tmp_path, model=Biases(), metric="auc")
    with pytest.raises(TypeError, match="Interactions"):
        retrain_on(pd.DataFrame(), tmp_path, model=Biases())
    assert ModelDirectory(tmp_path).versions() == []
