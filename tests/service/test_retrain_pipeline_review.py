"""Retraining a pipeline version, the cases an operator meets: side-table columns a
store does not keep, genres in other shapes, and a service whose current version turns
from a pipeline into a single model through ``latentrec retrain --algorithm``."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

import latentrec.service.retrain as retrain_module
from latentrec import Interactions
from latentrec.data.splits import temporal_split
from latentrec.models import BiasedMF, Popularity
from latentrec.pipeline import LearnedRanker, Pipeline, Rules
from latentrec.service.retrain import fit_recipe, with_known_genres
from latentrec.service.retrain import retrain as library_retrain
from latentrec.service.versions import ModelDirectory
from latentrec.store import open_store

from .conftest import planted
from .serving import wait_for
from .test_retrain_pipeline import FEW, RANKER, as_data, retrain_on, run_cli


def retrain(*args, **kwargs):
    """:func:`latentrec.service.retrain.retrain` with ``min_holdout`` lowered to FEW (the
    planted data's holdout has a few dozen users; see test_retrain_pipeline.py)."""
    return library_retrain(*args, **{"min_holdout": FEW, **kwargs})


STUDIOS = [f"Studio {j % 4}" for j in range(30)]


@pytest.fixture
def planted_frame():
    return planted()


def cells(data: Interactions) -> set:
    """The (user, item) pairs of ``data``, by raw id."""
    users, items = data.users.ids[data.user_idx], data.items.ids[data.item_idx]
    return set(zip(users.tolist(), items.tolist(), strict=True))


def small_pipe(first=None, rerankers=()) -> Pipeline:
    factor = BiasedMF(n_factors=3, n_epochs=30, random_state=0)
    models = [factor] if first is None else [first, factor]
    return Pipeline(models, LearnedRanker(**RANKER), list(rerankers), n_candidates=15)


def older_half(frame):
    return frame[frame["timestamp"] < np.quantile(frame["timestamp"], 0.5)]


def test_a_cap_on_a_column_the_store_does_not_keep_comes_from_the_current_pipeline(
    planted_frame, tmp_path
):
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] + 1_700_000_000)
    items = items.assign(studio=STUDIOS)
    store_path = str(tmp_path / "ratings.sqlite")
    with open_store(store_path) as store:
        store.import_interactions(as_data(frame, items))
    md = ModelDirectory(tmp_path / "models")
    capped = small_pipe(rerankers=[Rules(max_per={"studio": 2})])
    md.publish(fit_recipe(capped, as_data(older_half(frame), items, ("title", "studio"))))
    current = md.load_current()[1]
    with open_store(store_path) as store:
        stored = store.interactions()
        assert "studio" not in stored.item_features.columns  # text columns are not kept
        result = retrain(store, md, tolerance=1.0)
    assert result.published, result.reason
    new = md.load_current()[1]
    # The same groups as before, item by item (by raw id), so the cap still holds.
    old_groups = current.rerankers[-1].caps_[0][0]
    new_groups = new.rerankers[-1].caps_[0][0]
    same = new.items_.lookup(current.items_.ids)
    assert (same >= 0).all()
    together_before = (old_groups @ old_groups.T).toarray() > 0
    together_now = (new_groups[same] @ new_groups[same].T).toarray() > 0
    assert np.array_equal(together_before, together_now)
    top, _, _ = new.recommend_batch_idx(np.arange(new.n_users), 10)
    for row in top:
        listed = row[row >= 0]
        assert np.asarray(new_groups[listed].sum(axis=0)).max() <= 2


def test_with_known_genres_reads_lists_and_treats_blank_cells_as_missing():
    df = pd.DataFrame({"user_id": range(6), "item_id": range(5, 11), "rating": 1.0})
    table = pd.DataFrame({"genres": ["A", "B|C", "D", "E", "F", "G"]}, index=range(5, 11))
    pipe = Pipeline(Popularity(), n_candidates=2).fit(
        Interactions.from_frame(df, item_features=table)
    )
    own = pd.DataFrame({"genres": [["X", "Y"], [], np.nan, " ", "|", ("Z",)]}, index=range(5, 11))
    data = Interactions.from_frame(df, item_features=own)
    genres = with_known_genres(data, pipe).item_features["genres"].tolist()
    assert genres == ["X|Y", "B|C", "D", "E", "F", "Z"]


def test_a_served_pipeline_replaced_by_a_model_through_retrain_answers_from_the_model(
    serve, planted_frame, tmp_path
):
    frame, items = planted_frame
    frame = frame.assign(timestamp=frame["timestamp"] + 1_700_000_000)
    store_path = str(tmp_path / "ratings.sqlite")
    with open_store(store_path) as store:
        store.import_interactions(as_data(frame, items))
    md = ModelDirectory(tmp_path / "models")
    # Led by Popularity, so the per-model routes are refused while it is current.
    md.publish(fit_recipe(small_pipe(first=Popularity()), as_data(older_half(frame), items)))
    server = serve("--model-dir", str(md.path), "--store", store_path, "--no-access-log")
    predictions = server.url + "/users/3/predictions"
    assert httpx.get(predictions, params={"items": "101"}).status_code == 409
    code, output = run_cli(
        "retrain", "--store", store_path, "--model-dir", md.path,
        "--algorithm", "biased-mf", "--param", "n_factors=3", "--seed", "0", "--tolerance", "1",
    )  # fmt: skip
    assert code == 0 and "published v000002" in output, output
    assert md.current().algorithm == "BiasedMF"
    wait_for(
        lambda: httpx.get(server.url + "/health").json()["model_version"] == "v000002",
        60,
        "the service to serve v000002",
    )
    r = httpx.get(predictions, params={"items": "101"})
    assert r.status_code == 200 and r.json()["model_version"] == "v000002", r.text
    body = httpx.get(server.url + "/users/3/recommendations", params={"n": 5}).json()
    assert body["model_version"] == "v000002" and len(body["items"]) == 5
    rated = set(frame.loc[frame["user_id"] == 3, "item_id"].astype(str))
    assert not rated & {str(item["item_id"]) for item in body["items"]}
    similar = httpx.get(server.url + "/items/101/similar", params={"n": 3})
    assert similar.status_code == 200 and similar.json()["model_version"] == "v000002"


def test_no_scored_rating_reaches_the_candidate_and_the_current_rankers_slice_is_not_scored(
    planted_frame, tmp_path, monkeypatch
):
    frame, items = planted_frame
    old = frame[frame["timestamp"] < np.quantile(frame["timestamp"], 0.7)]
    md = ModelDirectory(tmp_path / "models")
    md.publish(fit_recipe(small_pipe(first=Popularity()), as_data(old, items)))
    current = md.load_current()[1]
    # The current's ranker learned from the latest 20% of the older 70%: with half the
    # ratings held out, the cutoff falls inside that slice.
    _, its_slice = temporal_split(as_data(old, items), test_size=0.2)
    fitted = []

    def spy(template, data, share=0.2):
        fitted.append(data)
        return fit_recipe(template, data, share)

    monkeypatch.setattr(retrain_module, "fit_recipe", spy)
    data = as_data(frame, items)
    result = retrain_on(data, md, holdout=0.5, tolerance=1.0)
    assert result.published, result.reason
    recent = data.subset(data.timestamps >= result.cutoff)
    # What the current pipeline records as seen, by raw id: its models' data and its
    # ranker's slice.
    seen = current.context_.seen.tocoo()
    had = set(
        zip(
            current.users_.ids[seen.row].tolist(),
            current.items_.ids[seen.col].tolist(),
            strict=True,
        )
    )
    assert cells(its_slice) <= had
    scored = cells(recent) - had
    assert len(scored) == result.n_holdout > 0
    assert not scored & cells(fitted[0])  # neither the candidate's models nor its ranker
    assert result.n_seen_by_current == len(cells(recent) & had) > 0
    assert cells(its_slice) & cells(recent)  # the cutoff falls inside the ranker's slice
    assert cells(fitted[1]) == cells(data)  # the published refit learns from everything
