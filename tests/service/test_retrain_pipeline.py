"""Retraining a model directory whose current version is a two-stage pipeline.

The candidate is the current pipeline's recipe refitted the way it was built (models on
the earlier training ratings, the ranker on the latest 20%), scored with the current one
on the same temporal holdout and published only through the same gate; a single model
given with ``--algorithm`` is compared with the pipeline on the same ranking holdout.
Library, CLI and the scheduled path of ``serve --retrain-every``, on the planted data.
"""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.data.splits import temporal_split
from latentrec.models import BiasedMF, ImplicitALS, Popularity
from latentrec.pipeline import (
    MMR,
    Calibrate,
    Explore,
    LearnedRanker,
    Pipeline,
    RankerDataError,
    Rules,
    StageDataError,
    Thompson,
)
from latentrec.pipeline.history import Histories, UserHistory
from latentrec.service.retrain import (
    fit_recipe,
    score_on_holdout,
    temporal_cutoff,
    trained_cells,
    with_known_genres,
)
from latentrec.service.retrain import retrain_on as library_retrain_on
from latentrec.service.schedule import RetrainSchedule, retrain_command
from latentrec.service.versions import ModelDirectory
from latentrec.store import open_store

from .conftest import planted
from .serving import wait_for
from .test_retrain_every import retrain_rounds

# The planted data hold some 60 users, so a holdout has a few dozen of them: fewer than
# retrain's default minimum for a trusted comparison (100 held-out users or ratings).
# These tests are about the refit and the gate, so every retrain here lowers it
# (test_retrain_min_holdout.py covers the minimum itself).
FEW = 1


def retrain_on(*args, **kwargs):
    """:func:`latentrec.service.retrain.retrain_on` with ``min_holdout`` lowered to FEW."""
    return library_retrain_on(*args, **{"min_holdout": FEW, **kwargs})


RANKER = {"n_estimators": 10, "num_leaves": 4, "min_child_samples": 5, "num_threads": 1}


def recipe(rerankers=None) -> Pipeline:
    """BiasedMF + Popularity candidates, a small LightGBM ranker, MMR (unfitted)."""
    return Pipeline(
        [BiasedMF(n_factors=3, n_epochs=30, random_state=0), Popularity()],
        LearnedRanker(**RANKER),
        [MMR(0.7)] if rerankers is None else rerankers,
        n_candidates=15,
    )


def as_data(frame, items, columns=("title", "genres")) -> Interactions:
    return Interactions.from_frame(
        frame, timestamp="timestamp", rating_scale=(1, 5), item_features=items[list(columns)]
    )


@pytest.fixture
def planted_frame():
    return planted()


def publish_old_pipeline(folder, frame, items, pipe=None, share_old=0.5) -> ModelDirectory:
    """A model directory whose v000001 is ``pipe`` fitted (models on the earlier 80%, the
    ranker on the latest 20%) on the oldest ``share_old`` of the ratings (None: all)."""
    if share_old is not None:
        frame = frame[frame["timestamp"] < np.quantile(frame["timestamp"], share_old)]
    old = frame
    md = ModelDirectory(folder)
    md.publish(fit_recipe(pipe or recipe(), as_data(old, items)))
    return md


def recipe_of(pipe: Pipeline):
    """Everything a pipeline is built from, as comparable values."""
    return (
        [(type(m).__name__, m.get_params()) for m in pipe.models],
        None if pipe.ranker is None else pipe.ranker.get_params(),
        [(type(s).__name__, s.get_params()) for s in pipe.rerankers],
        pipe.n_candidates,
    )


def split_as_retrain(data: Interactions, current, holdout=0.1):
    """The training part and the scored ratings, as retrain_on forms them."""
    scored = (data.timestamps >= temporal_cutoff(data, holdout)) & ~trained_cells(current, data)
    return data.subset(~scored), data.subset(scored)


def reference_ndcg(pipe: Pipeline, before: Interactions, test: Interactions, k: int) -> float:
    """One user at a time: the pipeline's list from their history, leaving out what it
    saw and what they rated before, NDCG with the hits counted by hand."""
    ctx = pipe.context_
    values = []
    before_frame = before.to_frame()
    for user, rows in test.to_frame().groupby("user_id"):
        relevant = set(rows["item_id"])
        rated = pipe.items_.lookup(
            before_frame.loc[before_frame["user_id"] == user, "item_id"].to_numpy()
        )
        rated = rated[rated >= 0]
        u = int(pipe.users_.lookup(np.array([user]))[0])
        if u >= 0:
            lo, hi = ctx.history.indptr[u], ctx.history.indptr[u + 1]
            who = UserHistory(
                ctx.history.indices[lo:hi],
                ctx.history_values[lo:hi],
                ctx.seen_items(u),
                exclude=rated,
                key=u,
            )
        else:
            who = UserHistory([], [], [], exclude=rated, key=-1)
        idx, _, _ = pipe.recommend_histories(Histories.of(ctx, [(u, who)]), k)
        ranked = [pipe.items_.ids[i] for i in idx[0] if i >= 0]
        assert not set(ranked) & set(pipe.items_.ids[rated])
        dcg = sum(1 / math.log2(r + 2) for r, item in enumerate(ranked) if item in relevant)
        ideal = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
        values.append(dcg / ideal)
    return float(np.mean(values))


# ---------------------------------------------------------------------- library
def test_a_pipeline_version_is_refitted_with_its_recipe_and_published(planted_frame, tmp_path):
    frame, items = planted_frame
    md = publish_old_pipeline(tmp_path / "models", frame, items)
    current = md.load_current()[1]
    data = as_data(frame, items)
    result = retrain_on(data, md)
    assert result.published, result.reason
    assert result.metric == "ndcg@10" and result.current_version == "v000001"
    assert result.figure("candidate") >= result.figure("current")
    # Both figures are those of a one-user-at-a-time reference on the same holdout.
    train, test = split_as_retrain(data, current)
    assert (result.n_train, result.n_holdout) == (train.nnz, test.nnz)
    assert result.figure("current") == pytest.approx(reference_ndcg(current, train, test, 10))
    refit = fit_recipe(current, train)
    assert result.figure("candidate") == pytest.approx(reference_ndcg(refit, train, test, 10))
    # What was published: the same recipe, models on the earlier 80% of all ratings and
    # the ranker on the latest 20%, everything rated counted as seen.
    version, new = md.load_current()
    assert version.name == "v000002" and version.algorithm == "Pipeline"
    assert recipe_of(new) == recipe_of(current) and new.ranker.is_fitted
    early, _ = temporal_split(data, test_size=0.2)
    assert new.context_.history.nnz == early.nnz and new.context_.seen.nnz == data.nnz
    assert version.metrics["ranker_share"] == 0.2 and version.metrics["metric"] == "ndcg@10"
    assert version.metrics["current"]["ndcg@10"] == result.figure("current")
    # It never lists an item a user rated.
    top, _, _ = new.recommend_batch_idx(np.arange(new.n_users), 10)
    for u in range(new.n_users):
        row = data.matrix.indices[data.matrix.indptr[u] : data.matrix.indptr[u + 1]]
        listed = top[u][top[u] >= 0]
        assert listed.size and not np.isin(listed, row).any(), u


def test_the_gate_refuses_a_worse_pipeline_and_tolerance_lets_it_through(planted_frame, tmp_path):
    frame, items = planted_frame
    md = publish_old_pipeline(tmp_path / "models", frame, items)
    data = as_data(frame, items)
    # A recipe that never shows any item rated from the cutoff on cannot hit one.
    held = data.to_frame().loc[data.timestamps >= temporal_cutoff(data, 0.1), "item_id"]
    blind = recipe([MMR(0.7), Rules(never=sorted(set(held)))])
    refused = retrain_on(data, md, model=blind)
    assert not refused.published and refused.figure("candidate") == 0.0
    assert refused.figure("current") > 0
    assert refused.reason.startswith("candidate ndcg@10 0.0000 is worse than current")
    assert [v.name for v in md.versions()] == ["v000001"]
    allowed = retrain_on(data, md, model=blind, tolerance=1.0)
    assert allowed.published and "within tolerance 1" in allowed.reason
    new = md.load_current()[1]
    assert recipe_of(new) == recipe_of(blind) and isinstance(new.rerankers[-1], Rules)


def test_a_ranker_with_nothing_to_learn_publishes_nothing_and_says_why(planted_frame, tmp_path):
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] // 100)  # 0..99
    md = publish_old_pipeline(tmp_path / "models", frame, items, share_old=None)
    # Then only newcomers rate (the latest fifth of the training part has nobody with an
    # earlier rating), and the held-out ratings are the old users' later ones.
    rng = np.random.default_rng(0)
    newcomers = pd.DataFrame(  # one rating each
        {
            "user_id": np.arange(1000, 1250),
            "item_id": rng.integers(100, 130, 250),
            "rating": 4.0,
            "timestamp": 1000 + np.arange(250),
        }
    )
    had = set(zip(frame["user_id"], frame["item_id"], strict=True))
    unrated = [(u, i) for u in range(60) for i in range(100, 130) if (u, i) not in had]
    picked = [unrated[j] for j in rng.choice(len(unrated), 100, replace=False)]
    later = pd.DataFrame(picked, columns=["user_id", "item_id"]).assign(
        rating=3.0, timestamp=2000 + np.arange(100)
    )
    data = as_data(pd.concat([frame, newcomers, later], ignore_index=True), items)
    result = retrain_on(data, md)
    assert not result.published and result.candidate_metrics == {}
    assert result.reason == (
        "the candidate's ranker cannot be trained on the latest 20% of its training ratings: "
        "no validation user has a training history: nothing to rank"
    )
    assert [v.name for v in md.versions()] == ["v000001"]
    with pytest.raises(RankerDataError):
        fit_recipe(md.load_current()[1], split_as_retrain(data, md.load_current()[1])[0])


def test_a_single_model_is_compared_with_the_current_pipeline(planted_frame, tmp_path):
    frame, items = planted_frame
    md = publish_old_pipeline(tmp_path / "models", frame, items)
    current = md.load_current()[1]
    data = as_data(frame, items)
    model = BiasedMF(n_factors=3, n_epochs=30, random_state=0)
    with pytest.raises(ValueError, match="Pipeline does not predict ratings"):
        retrain_on(data, md, model=model, metric="rmse")
    result = retrain_on(data, md, model=model)
    assert result.metric == "ndcg@10" and result.current_version == "v000001"
    train, test = split_as_retrain(data, current)
    assert result.figure("current") == pytest.approx(reference_ndcg(current, train, test, 10))
    fitted = model.clone().fit(train)
    assert result.candidate_metrics == score_on_holdout(fitted, train, test, metric="ndcg@10")
    assert result.published == (result.figure("candidate") >= result.figure("current"))
    assert md.current().algorithm == ("BiasedMF" if result.published else "Pipeline")


def test_genres_the_data_lacks_come_from_the_current_pipelines_context(planted_frame, tmp_path):
    frame, items = planted_frame
    # Calibrate needs genres; the retraining data has titles only.
    md = publish_old_pipeline(tmp_path / "models", frame, items, recipe([Calibrate(0.5)]))
    current = md.load_current()[1]
    titles_only = as_data(frame, items, columns=("title",))
    filled = with_known_genres(titles_only, current).item_features["genres"]
    assert filled.tolist() == items.loc[titles_only.items.ids, "genres"].tolist()
    result = retrain_on(titles_only, md, tolerance=1.0)
    assert result.published, result.reason
    new = md.load_current()[1]
    assert np.array_equal(new.context_.genre_names, current.context_.genre_names)
    assert (new.context_.item_genres != current.context_.item_genres).nnz == 0
    # The data's own genres win; an item neither knows has none.
    mine = items.assign(genres=["Noir"] + [None] * 29)
    extra = pd.DataFrame({"user_id": [0], "item_id": [999], "rating": [3.0], "timestamp": [1]})
    data = Interactions.from_frame(
        pd.concat([frame, extra]), timestamp="timestamp", rating_scale=(1, 5), item_features=mine
    )
    genres = with_known_genres(data, current).item_features["genres"]
    assert genres[100] == "Noir" and genres[101] == items.loc[101, "genres"]
    assert pd.isna(genres[999])


# ---------------------------------------------------------------------- command line
@pytest.fixture
def stored_pipeline(planted_frame, tmp_path):
    """A SQLite store holding every planted rating (with genres), and a model directory
    whose v000001 is a pipeline fitted on the older half of them."""
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] + 1_700_000_000)
    store_path = str(tmp_path / "ratings.sqlite")
    with open_store(store_path) as store:
        store.import_interactions(as_data(frame, items))
    md = publish_old_pipeline(tmp_path / "models", frame, items)
    return store_path, md


def run_cli(*args):
    """The command line in this process; ``retrain`` with ``--min-holdout`` FEW."""
    if args and args[0] == "retrain":
        args = (*args, "--min-holdout", FEW)
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_cli_retrain_refits_a_pipeline_version(stored_pipeline):
    store_path, md = stored_pipeline
    code, output = run_cli("retrain", "--store", store_path, "--model-dir", md.path, "--json")
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["published"] is True and summary["version"] == "v000002", summary
    assert summary["metric"] == "ndcg@10" and summary["current_version"] == "v000001"
    assert md.current().algorithm == "Pipeline"
    code, output = run_cli("retrain", "--store", store_path, "--model-dir", md.path)
    assert code == 0, output
    assert output.strip().splitlines()[-1] == (
        "not published: all 69 ratings from the cutoff on were in the training data of "
        "v000002: no new rating to compare on"
    )


def test_cli_retrain_with_an_algorithm_compares_it_with_the_pipeline(stored_pipeline):
    store_path, md = stored_pipeline
    code, output = run_cli(
        "retrain", "--store", store_path, "--model-dir", md.path,
        "--algorithm", "biased-mf", "--param", "n_factors=3", "--seed", "0", "--json",
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["metric"] == "ndcg@10" and summary["current_version"] == "v000001"
    assert set(summary["current"]) >= {"ndcg@10", "n_users"}
    published = summary["candidate"]["ndcg@10"] >= summary["current"]["ndcg@10"]
    assert summary["published"] is published
    assert md.current().algorithm == ("BiasedMF" if published else "Pipeline")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--param", "n_factors=2"], "is a pipeline, which is refitted with its own recipe"),
        (["--metric", "rmse"], "Pipeline does not predict ratings"),
        (["--holdout", "1.5"], "holdout must be a share strictly between 0 and 1"),
    ],
)
def test_cli_retrain_failures_on_a_pipeline_are_one_line(stored_pipeline, extra, message):
    store_path, md = stored_pipeline
    code, output = run_cli("retrain", "--store", store_path, "--model-dir", md.path, *extra)
    assert code == 1, output
    assert message in output and len(output.strip().splitlines()) == 1, output
    assert [v.name for v in md.versions()] == ["v000001"]


# ---------------------------------------------------------------------- the schedule
def test_a_scheduled_round_retrains_a_pipeline_in_its_child_process(stored_pipeline):
    store_path, md = stored_pipeline
    schedule = RetrainSchedule(store_path, str(md.path), every=3600, min_holdout=FEW)
    assert schedule.command == retrain_command(str(md.path), FEW)
    summary = schedule.run_once()
    assert schedule.failures == 0 and summary is not None
    assert summary["published"] is True and summary["version"] == "v000002", summary
    assert md.current().algorithm == "Pipeline"


def test_serve_with_retrain_every_starts_on_a_pipeline(serve, stored_pipeline):
    store_path, md = stored_pipeline
    server = serve(
        "--model-dir", str(md.path), "--store", store_path, "--retrain-every", "1h",
    )  # fmt: skip
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["model_version"] == "v000001"


def test_serve_retrains_a_pipeline_published_after_it_started(serve, planted_frame, tmp_path):
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] + 1_700_000_000)
    store_path = str(tmp_path / "ratings.sqlite")
    data = as_data(frame, items)
    with open_store(store_path) as store:
        store.import_interactions(data)
    # v000001: a single model trained on everything stored, so rounds find nothing new.
    md = ModelDirectory(tmp_path / "models")
    md.publish(BiasedMF(n_factors=3, n_epochs=30, random_state=0).fit(data))
    server = serve(
        "--model-dir", str(md.path), "--store", store_path, "--retrain-every", "1s",
        "--retrain-min-holdout", str(FEW), "--no-access-log",
    )  # fmt: skip
    log_path = tmp_path / "serve.log"
    wait_for(lambda: retrain_rounds(log_path), 60, "a first round")
    # A pipeline fitted on the older half is published while the service runs.
    old = frame[frame["timestamp"] < np.quantile(frame["timestamp"], 0.5)]
    pipe_file = tmp_path / "pipe.npz"
    fit_recipe(recipe(), as_data(old, items)).save(pipe_file)
    code, output = run_cli("models", "publish", pipe_file, "--model-dir", md.path)
    assert code == 0 and "v000002 (Pipeline)" in output, output
    published = wait_for(
        lambda: [r for r in retrain_rounds(log_path) if r.get("published")], 120, "a publish"
    )
    assert published[0]["version"] == "v000003", published
    rounds = retrain_rounds(log_path)
    assert not [r for r in rounds if "failed" in r], rounds
    assert md.version("v000003").algorithm == "Pipeline"
    assert md.version("v000003").metrics["current_version"] == "v000002"
    wait_for(
        lambda: httpx.get(server.url + "/health").json()["model_version"] == "v000003",
        60,
        "the service to serve v000003",
    )
    body = httpx.get(server.url + "/users/3/recommendations", params={"n": 5}).json()
    assert body["model_version"] == "v000003" and len(body["items"]) == 5


# ---------------------------------------------------------------------- review follow-ups
def test_a_reranker_that_cannot_be_fitted_publishes_nothing_and_names_the_stage(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    md = ModelDirectory(tmp_path / "models")
    titles_only = as_data(frame, items, columns=("title",))
    result = retrain_on(titles_only, md, model=recipe([MMR(0.7), Calibrate(0.5)]))
    assert not result.published and result.candidate_metrics == {}
    assert result.reason == (
        "the candidate's re-ranker Calibrate (rerankers[1]) cannot be fitted: Calibrate "
        "needs item genres: the training data has no item side table with a 'genres' column"
    )
    assert md.versions() == []
    # A fit outside a retrain raises the error, the stage named on it.
    with pytest.raises(StageDataError, match="Calibrate needs item genres") as info:
        fit_recipe(recipe([MMR(0.7), Calibrate(0.5)]), titles_only)
    assert info.value.stage == "Calibrate (rerankers[1])"


def pinned_over_a_changed_cap(frame, items, folder):
    """v000001 pins items 100 (Drama) and 101 (Comedy) with at most one item per genre;
    then the catalogue says 101 is a Drama too, so the pins alone break the cap."""
    pinned = recipe([Rules(pin={100: 1, 101: 2}, max_per={"genres": 1})])
    md = publish_old_pipeline(folder, frame, items, pinned)
    changed = items.assign(genres=items["genres"].where(items.index != 101, "Drama"))
    return md, changed


PINS_OVER_CAP = (
    "the candidate's re-ranker Rules (rerankers[0]) cannot be fitted: Rules max_per: the "
    "pinned items alone put 2 items with genres 'Drama' in a list, above its cap of 1"
)


def test_a_rules_pin_over_a_genre_cap_after_the_genres_changed_is_not_published(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    md, changed = pinned_over_a_changed_cap(frame, items, tmp_path / "models")
    result = retrain_on(as_data(frame, changed), md)
    assert not result.published and result.reason == PINS_OVER_CAP
    assert [v.name for v in md.versions()] == ["v000001"]


def test_cli_retrain_says_in_one_line_that_a_stage_cannot_be_fitted_and_exits_0(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] + 1_700_000_000)
    md, changed = pinned_over_a_changed_cap(frame, items, tmp_path / "models")
    store_path = str(tmp_path / "ratings.sqlite")
    with open_store(store_path) as store:
        store.import_interactions(as_data(frame, changed))
    code, output = run_cli("retrain", "--store", store_path, "--model-dir", md.path)
    assert code == 0, output
    assert output.strip().splitlines()[-1] == f"not published: {PINS_OVER_CAP}", output
    assert [v.name for v in md.versions()] == ["v000001"]


def test_a_programming_error_in_a_stage_still_fails_the_retrain(
    planted_frame, tmp_path, monkeypatch
):
    frame, items = planted_frame

    def broken(self, context):
        raise TypeError("a bug, not the data")

    monkeypatch.setattr(Calibrate, "fit", broken)
    with pytest.raises(TypeError, match="a bug, not the data"):
        retrain_on(as_data(frame, items), tmp_path / "models", model=recipe([Calibrate(0.5)]))


def seeded_recipe() -> Pipeline:
    """Every part that draws random numbers, each seeded 0 (LightGBM on one thread)."""
    return Pipeline(
        [
            BiasedMF(n_factors=3, n_epochs=30, random_state=0, num_threads=1),
            ImplicitALS(n_factors=3, n_epochs=5, random_state=0, num_threads=1),
        ],
        LearnedRanker(**RANKER),
        [Explore(0.2, new_days=1.0, random_state=0), Thompson(0.2, new_days=None)],
        n_candidates=15,
    )


def test_the_seed_of_a_retrain_reaches_every_part_and_fixes_what_is_published(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    data = as_data(frame, items)
    published = []
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        md = ModelDirectory(tmp_path / name)
        result = retrain_on(data, md, model=seeded_recipe(), random_state=seed)
        assert result.published, result.reason
        pipe = md.load_current()[1]
        assert [m.random_state for m in pipe.models] == [seed, seed]
        assert pipe.ranker.random_state == seed
        assert [s.random_state for s in pipe.rerankers] == [seed, seed]
        published.append(pipe)
    a, b, c = published
    users = np.arange(a.n_users)
    first, second = (p.recommend_batch_idx(users, 10)[0] for p in (a, b))
    assert np.array_equal(first, second)
    # The seed reached LightGBM: its bagging differs with another seed.
    X = np.random.default_rng(0).normal(size=(200, len(a.ranker.feature_names_)))
    assert np.array_equal(a.ranker.predict(X), b.ranker.predict(X))
    assert not np.array_equal(a.ranker.predict(X), c.ranker.predict(X))


def test_explore_without_a_seed_keeps_its_order_by_score_in_a_seeded_retrain(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    md = ModelDirectory(tmp_path / "models")
    plain = recipe([Explore(0.2, new_days=1.0, random_state=None)])
    assert retrain_on(as_data(frame, items), md, model=plain, random_state=3).published
    assert md.load_current()[1].rerankers[0].random_state is None
