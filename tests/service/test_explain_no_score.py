"""/explain and /predictions give the same number for a user.  A ranking model has none
for a user it cannot personalise: /predictions answers ``null``, and /explain refuses
(409) with the library's reason, as ``FactorModel.explain`` and ``latentrec explain`` do.
It used to answer ``prediction: null`` with the other terms, a sum that is no score."""

import numpy as np
import pytest

from latentrec import UnknownIdError
from latentrec.models import ImplicitALS
from latentrec.store import Rating


@pytest.fixture(scope="module")
def ranking_model(planted_data):
    return ImplicitALS(n_factors=3, n_epochs=5, random_state=0).fit(planted_data)


def test_an_unknown_user_of_a_ranking_model_is_refused_as_the_library_refuses(
    make_client, ranking_model
):
    client = make_client(ranking_model)
    item = ranking_model.items_.ids[0]
    pred = client.get("/users/nobody/predictions", params={"items": [str(item)]}).json()
    assert pred["predictions"][0]["score"] is None and pred["fallback"] is True
    with pytest.raises(UnknownIdError) as library:
        ranking_model.explain("nobody", item)
    why = client.get(f"/users/nobody/explain/{item}")
    assert why.status_code == 409, why.text
    detail = why.json()["detail"]
    assert detail == str(library.value)
    assert "ImplicitALS ranks items" in detail and "popularity list" in detail


def test_an_erased_training_user_of_a_ranking_model_is_refused_too(
    make_client, store, ranking_model
):
    """Known to the model, but erased: the service gives them the popularity list, so
    it has no score of theirs to explain (the library would explain their training
    row, which the service no longer serves them)."""
    store.add_ratings([Rating("3", "100", 1.0, kind="event")])
    store.delete_user("3")
    client = make_client(ranking_model)
    assert client.get("/users/3/recommendations").json()["fallback"] is True
    why = client.get("/users/3/explain/101")
    assert why.status_code == 409, why.text
    detail = why.json()["detail"]
    # The library's reason, in its words (not a copy of them kept in the service).
    assert detail == (
        "user '3' has no vector in the served model (erased, or nothing stored that it "
        f"can fold in): {ranking_model.unexplained_user_reason('such a user')}"
    )
    assert "ImplicitALS ranks items" in detail and "popularity list" in detail


def test_the_library_gives_its_reason_for_a_user_it_cannot_explain(ranking_model, explicit_model):
    """``unexplained_user_reason`` is the reason ``explain`` refuses an unknown user
    of a ranking model with; a rating model explains its baseline and has none."""
    item = ranking_model.items_.ids[0]
    with pytest.raises(UnknownIdError) as refused:
        ranking_model.explain("nobody", item, unknown="baseline")
    reason = ranking_model.unexplained_user_reason()
    assert str(refused.value) == f"unknown user id(s): 'nobody'; {reason}"
    assert "a user it does not know" in reason
    assert "such a user, nor" in ranking_model.unexplained_user_reason("such a user")
    assert explicit_model.unexplained_user_reason() is None
    assert explicit_model.explain("nobody", 104, unknown="baseline").user_known is False


@pytest.mark.parametrize("user", ["3", "newcomer"])
def test_a_personalised_user_gets_the_same_number_from_both(
    make_client, store, ranking_model, user
):
    if user == "newcomer":
        store.add_ratings([Rating(user, "100", 2.0, kind="event")])
    client = make_client(ranking_model)
    items = [str(x) for x in ranking_model.items_.ids[:5]]
    pred = client.get(f"/users/{user}/predictions", params={"items": items}).json()
    scores = [p["score"] for p in pred["predictions"]]
    explained = [client.get(f"/users/{user}/explain/{i}").json()["prediction"] for i in items]
    assert None not in scores and pred["fallback"] is False
    assert np.allclose(explained, scores, atol=1e-5)


def test_an_unknown_user_of_a_rating_model_still_gets_the_baseline_from_both(
    make_client, explicit_model
):
    client = make_client(explicit_model)
    pred = client.get("/users/nobody/predictions", params={"items": ["104"]}).json()
    body = client.get("/users/nobody/explain/104").json()
    baseline = explicit_model.predict(["nobody"], [104], unknown="baseline")[0]
    assert pred["predictions"][0]["score"] == pytest.approx(baseline, abs=1e-5)
    assert body["prediction"] == pytest.approx(baseline, abs=1e-5)
    assert body["fallback"] is True and body["user_bias"] == 0.0
    library = explicit_model.explain("nobody", 104, unknown="baseline")
    assert body["item_bias"] == pytest.approx(library.item_bias)
