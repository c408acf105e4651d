"""/explain and /predictions give the same number for a user, and no number alike when a
ranking model has none: an unknown user of ImplicitALS gets ``null`` from both."""

import numpy as np
import pytest

from latentrec.models import ImplicitALS
from latentrec.store import Rating


@pytest.fixture(scope="module")
def ranking_model(planted_data):
    return ImplicitALS(n_factors=3, n_epochs=5, random_state=0).fit(planted_data)


def test_an_unknown_user_of_a_ranking_model_has_no_score_in_either_route(
    make_client, ranking_model
):
    client = make_client(ranking_model)
    item = str(ranking_model.items_.ids[0])
    pred = client.get("/users/nobody/predictions", params={"items": [item]}).json()
    why = client.get(f"/users/nobody/explain/{item}")
    assert why.status_code == 200, why.text
    body = why.json()
    assert pred["predictions"][0]["score"] is None and pred["fallback"] is True
    assert body["prediction"] is None and body["clipped"] is None
    assert body["fallback"] is True


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
