"""Model evaluation: rating metrics only for models that predict ratings, and the
cross-validation table printed without a pandas warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame, random_ratings

import latentrec
from latentrec.cli import main
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.data.splits import kfold, random_split
from latentrec.evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from latentrec.evaluation.evaluate import UnrankableScoresError
from latentrec.models import BPR, Biases, ImplicitALS, Popularity
from latentrec.pipeline import Pipeline

# Models that rank but predict no ratings, small enough to fit in a blink.
RANKERS = [Popularity(), BPR(n_factors=2, n_epochs=2), ImplicitALS(n_factors=2, n_epochs=2)]


@pytest.fixture(scope="module")
def split():
    return random_split(random_ratings(n_users=20, n_items=15, seed=3), 0.25, random_state=0)


@pytest.mark.parametrize("model", RANKERS, ids=lambda m: type(m).__name__)
def test_rating_metrics_refuse_a_model_that_predicts_no_ratings(split, model):
    train, test = split
    fitted = model.clone().fit(train)
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"^{name} does not predict ratings, so it cannot be "):
        evaluate_ratings(fitted, test)
    with pytest.raises(ValueError, match=r"evaluated on rmse and mae; .*evaluate_ranking"):
        evaluate_ratings(fitted, test)
    # The same error type as the model's own predict, so one except serves both.
    with pytest.raises(latentrec.PredictsNoRatingsError):
        evaluate_ratings(fitted, test)
    # What the message points to works on the same model and data.
    assert 0.0 <= evaluate_ranking(fitted, test, k=5)["ndcg"] <= 1.0


class _NeverFitted(Popularity):
    """A ranking model whose fit fails loudly, to show the refusal comes before any fold."""

    def _fit(self, data, validation):
        raise AssertionError("cross_validate fitted a fold before refusing the task")


@pytest.mark.parametrize("model", [*RANKERS, _NeverFitted()], ids=lambda m: type(m).__name__)
def test_rating_cross_validation_refuses_a_model_that_predicts_no_ratings(split, model):
    data = random_ratings(n_users=20, n_items=15, seed=3)
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"^{name} does not predict ratings") as err:
        cross_validate(model, data, n_splits=2)
    assert "cross-validated on rmse and mae" in str(err.value)
    assert "task='ranking'" in str(err.value)
    if not isinstance(model, _NeverFitted):
        ranked = cross_validate(model, data, n_splits=2, task="ranking", k=5)
        assert {"ndcg", "precision"} <= set(ranked.folds.columns)


@pytest.mark.parametrize("k", [0, -3, 2.5, "10"])
def test_a_bad_k_is_named_k_and_refused_before_any_fold(split, k):
    # Before: evaluate_ranking said "n must be a positive integer" (the name inside
    # recommend_batch_idx), and cross_validate fitted a fold before it said so.
    train, test = split
    with pytest.raises(ValueError, match=rf"^k must be a positive integer, got {k!r}$"):
        evaluate_ranking(Popularity().fit(train), test, k=k)
    data = random_ratings(n_users=20, n_items=15, seed=3)
    with pytest.raises(ValueError, match=r"^k must be a positive integer"):
        cross_validate(_NeverFitted(), data, n_splits=2, task="ranking", k=k)


@pytest.mark.parametrize("task", ["rating", "ranking"])
def test_cross_validate_names_a_model_or_data_of_the_wrong_kind(task):
    # Before: object() was "object does not predict ratings" (rating) or an AttributeError
    # on clone (ranking), a class failed inside clone, and a matrix was "expected an
    # Interactions" by kfold; none named the argument.
    data = random_ratings(n_users=20, n_items=15, seed=3)
    with pytest.raises(TypeError, match="^model must be a latentrec model or pipeline .*object"):
        cross_validate(object(), data, n_splits=2, task=task)
    with pytest.raises(TypeError, match=r"got the class Biases; pass Biases\(\)$"):
        cross_validate(Biases, data, n_splits=2, task=task)
    with pytest.raises(TypeError, match="^data must be latentrec.Interactions, got csr_matrix"):
        cross_validate(Biases(), data.matrix, n_splits=2, task=task)


class _PredictsOff(Biases):
    """Biases whose predictions of one item (``item_idx``) are ``value``: a model gone
    wrong."""

    item_idx, value = 0, float("inf")

    def _predict_idx(self, user_idx, item_idx):
        pred = np.asarray(super()._predict_idx(user_idx, item_idx), dtype=np.float64)
        return np.where(item_idx == self.item_idx, self.value, pred)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("per_user", [False, True])
def test_a_prediction_not_finite_is_refused_naming_its_user_and_item(split, value, per_user):
    # Before: an infinite prediction was clipped to the end of the 1-5 scale and scored as
    # such; a NaN was refused as "y_pred has 1 NaN ... first at position 4", a position in
    # arrays the caller never saw.
    train, test = split
    model = _PredictsOff().fit(train)
    model.item_idx, model.value = int(test.item_idx[2]), value
    assert model.rating_scale_ is not None  # the clip that hid the infinity
    first = int(np.flatnonzero(test.item_idx == model.item_idx)[0])
    user, item = test.users.ids[test.user_idx[first]], test.items.ids[model.item_idx].item()
    count = int(np.count_nonzero(test.item_idx == model.item_idx))
    with pytest.raises(
        ValueError,
        match=rf"^_PredictsOff predicted {value} for user {user!r}, item {item!r} \({count} of "
        rf"the {test.nnz} held-out cells are not finite\)",
    ):
        evaluate_ratings(model, test, per_user=per_user)


class _ScoresNaN(Biases):
    """Biases whose scores of the items in ``items`` are ``value`` (all items for None)."""

    items = None
    value = np.nan

    def _score_block(self, user_idx):
        scores = np.array(super()._score_block(user_idx), dtype=np.float32)
        scores[:, slice(None) if self.items is None else self.items] = self.value
        return scores


def test_a_ranking_whose_lists_run_short_of_nan_scored_candidates_is_refused(split):
    # Before: a candidate scored NaN was left out of the lists, so a model scoring every
    # item NaN got empty lists and figures of 0.0, and one scoring a few items NaN was
    # judged at a k past its lists on shorter ones, all without a word.
    train, test = split
    model = _ScoresNaN().fit(train)
    with pytest.raises(
        UnrankableScoresError,
        match=r"^_ScoresNaN scored (\d+) of the \1 candidate items of user 'u\d+' not finite "
        r"\(\1 NaN\); (\d+) of the \2 users it ranks have such scores",
    ):
        evaluate_ranking(model, test, 5)
    model.items = [0, 1]
    with pytest.raises(ValueError, match=r"NaN and -inf drop out of a list"):
        evaluate_ranking(model, test, 2**31 - 1)
    # Lists as long as asked for are evaluated (the NaN items rank nowhere), as before.
    assert 0.0 <= evaluate_ranking(model, test, 5)["ndcg"] <= 1.0


@pytest.mark.parametrize("k", [1, 5, 2**31 - 1])
def test_a_ranking_with_candidates_scored_plus_infinity_is_refused(split, k):
    # Before: +inf scores were listed first, tied, in item index order (the tie check read
    # them as the -inf padding past a user's candidates), and the figures were printed.
    # A GradientDescentMF whose fit diverged just short of float32's range scored so.
    train, test = split
    model = _ScoresNaN().fit(train)
    model.items, model.value = [3, 4, 5], np.inf
    with pytest.raises(UnrankableScoresError, match=r"\(\d+ \+inf\); .*lower learning_rate"):
        evaluate_ranking(model, test, k)
    with pytest.raises(UnrankableScoresError):
        evaluate_ranking(model, test, k, per_user=True)


def test_every_user_with_a_relevant_cell_has_a_row_in_line_with_their_id(split):
    # Users left one candidate or none are not looked at by the tie check, but they are
    # evaluated: the table holds every user with a relevant held-out cell, by their id.
    train, test = split
    model = Biases().fit(train)
    table = evaluate_ranking(model, test, 3, per_user=True)
    held = np.unique(test.user_idx)
    assert table["user_id"].tolist() == model.users_.ids[held].tolist()
    recommended, _, _ = model.recommend_batch_idx(held, 3)
    for row, u in zip(table.itertuples(index=False), held, strict=True):
        truth = set(test.item_idx[test.user_idx == u].tolist())
        hits = sum(int(i) in truth for i in recommended[list(held).index(u)])
        assert row[table.columns.get_loc("precision@3")] == pytest.approx(hits / 3)
    assert evaluate_ranking(model, test, 3)["n_users"] == len(table)


def test_a_pipeline_is_refused_by_name(split):
    train, test = split
    pipe = Pipeline(Popularity(), n_candidates=5).fit(train)
    with pytest.raises(ValueError, match="^Pipeline does not predict ratings"):
        evaluate_ratings(pipe, test)


def test_a_rating_model_is_still_evaluated_on_ratings(split):
    train, test = split
    scores = evaluate_ratings(Biases().fit(train), test)
    assert scores["n"] == test.nnz and 0 < scores["mae"] <= scores["rmse"]


@pytest.mark.parametrize("cv", [[], ["--cv", "2"]], ids=["holdout", "cv"])
def test_cli_evaluate_on_ratings_refuses_a_ranking_model_in_one_line(tmp_path, cv):
    csv = tmp_path / "ratings.csv"
    cli_ratings_frame().to_csv(csv, index=False)
    out = CliRunner().invoke(main, ["evaluate", str(csv), "-a", "bpr", *cv])
    assert out.exit_code == 1, out.output
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    assert lines == ["Error: bpr does not predict ratings; use --task ranking"]
    assert "rmse" not in out.stdout.lower()


@pytest.mark.parametrize("task", ["rating", "ranking"])
def test_cross_validation_prints_without_a_pandas_warning(task):
    data = random_ratings(n_users=20, n_items=15, seed=3)
    model = Biases() if task == "rating" else Popularity()
    cv = cross_validate(model, data, n_splits=2, task=task, k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' deprecation of an in-place dtype change
        shown = str(cv)
    lines = shown.splitlines()
    assert lines[0] == type(model).__name__
    assert lines[1].split() == cv.folds.columns.tolist()
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "mean"]
    means = [float(x) for x in lines[-1].split()[1:]]
    assert means == pytest.approx(cv.mean().to_numpy(), abs=5e-5)
    assert cv.folds["fold"].tolist() == [1, 2]  # the folds themselves are left as they were
    assert np.issubdtype(cv.folds["fold"].dtype, np.integer)


def test_a_separately_read_test_set_is_refused_saying_what_differs_and_how_to_share():
    data = random_ratings(n_users=30, n_items=20, seed=3)
    frame = data.to_frame()
    train_rows = frame.sample(frac=0.8, random_state=0)
    test_frame = frame.drop(train_rows.index)
    train = latentrec.Interactions.from_frame(train_rows)
    model = Biases().fit(train)
    alone = latentrec.Interactions.from_frame(test_frame)  # its own, smaller vocabularies
    with pytest.raises(ValueError, match="vocabularies") as caught:
        evaluate_ratings(model, alone)
    said = str(caught.value)
    n_users, n_items = alone.n_users, alone.n_items
    assert f"users differ ({n_users} in test, {train.n_users} in the model)" in said
    assert f"items differ ({n_items} in test, {train.n_items} in the model)" in said
    assert "users=train.users, items=train.items" in said
    # The way it names works: read against the training data, the test set is scored.
    known = test_frame[test_frame["item_id"].isin(train_rows["item_id"])]
    known = known[known["user_id"].isin(train_rows["user_id"])]
    shared = latentrec.Interactions.from_frame(known, users=train.users, items=train.items)
    assert evaluate_ratings(model, shared)["n"] == len(known)


def test_predictions_are_clipped_to_the_declared_scale_and_only_to_it():
    # As the docstring says: Surprise clips to its Reader's scale; data without a declared
    # scale is scored unclipped, so declaring it is what makes the figures comparable.
    frame = random_ratings(n_users=30, n_items=20, seed=7).to_frame()
    for scale in (None, (1, 5)):
        data = latentrec.Interactions.from_frame(frame, rating_scale=scale)
        train, test = random_split(data, 0.3, random_state=0)
        # Unshrunk biases add up past the ends of the scale for a generous user and a
        # well-liked item.
        model = Biases(regularization=0, user_regularization=0).fit(train)
        raw = model.predict_idx(test.user_idx, test.item_idx)
        shown = raw if scale is None else np.clip(raw, *scale)
        expected = np.sqrt(np.mean((test.ratings - shown) ** 2))
        assert evaluate_ratings(model, test)["rmse"] == pytest.approx(expected)
        if scale is not None:
            assert ((raw < 1) | (raw > 5)).any()  # clipping had something to do


def test_ranking_cross_validation_takes_a_relevance_threshold():
    # Only ratings of 4 and up count as relevant in each fold, as evaluate_ranking does.
    data = random_ratings(n_users=30, n_items=20, seed=2)
    cv = cross_validate(Popularity(), data, 3, task="ranking", k=5, relevance_threshold=4)
    for row, (train, test) in zip(
        cv.folds.itertuples(), kfold(data, 3, random_state=0), strict=True
    ):
        fold = evaluate_ranking(Popularity().fit(train), test, 5, relevance_threshold=4)
        assert row.ndcg == pytest.approx(fold["ndcg"])
    everything = cross_validate(Popularity(), data, 3, task="ranking", k=5)
    assert not np.allclose(cv.folds["ndcg"], everything.folds["ndcg"])
    with pytest.raises(ValueError, match="relevance_threshold applies to task='ranking'"):
        cross_validate(Biases(), data, 3, relevance_threshold=4)
    with pytest.raises(ValueError, match="relevance_threshold must be a number"):
        cross_validate(Popularity(), data, 3, task="ranking", relevance_threshold="4")
