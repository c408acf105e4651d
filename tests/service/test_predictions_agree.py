"""``GET /users/{id}/predictions`` says what ``/explain`` and the library's ``predict`` say.

The route scored in float32 (``score_vectors``) while ``/explain`` and ``predict`` sum
((μ + b_u) + b_i) + Σ p·q in float64 (31d34f5), so the service gave two numbers for one
(user, item), printed to 4 decimals different for about one pair in 3,000; and for a
model without μ in its formula (NMF) a stranger's prediction was 0 stars where
``predict(..., unknown="baseline")`` and the service's own popularity list say the
training mean.  The slow obvious reference is a loop over the library's ``predict``.
"""

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import NMF
from latentrec.store import Rating


def served_predictions(client, user, items):
    body = client.get(f"/users/{user}/predictions", params={"items": items}).json()
    return body, [row["score"] for row in body["predictions"]]


def test_a_trained_users_predictions_are_the_librarys_and_explains_bit_for_bit(
    make_client, explicit_model
):
    client = make_client(explicit_model)
    items = [str(i) for i in explicit_model.items_.ids[:20]]
    for user in explicit_model.users_.ids[:10]:
        body, scores = served_predictions(client, user, items)
        assert body["fallback"] is False
        expected = [float(explicit_model.predict([user], [int(i)])[0]) for i in items]
        explained = [client.get(f"/users/{user}/explain/{i}").json()["prediction"] for i in items]
        assert scores == expected
        assert scores == explained


def test_a_folded_in_users_predictions_are_their_explanations(make_client, store, explicit_model):
    ids = explicit_model.items_.ids
    store.add_ratings([Rating("ann", str(ids[0]), 5.0), Rating("ann", str(ids[3]), 2.0)])
    client = make_client(explicit_model)
    items = [str(i) for i in ids[:20]]
    body, scores = served_predictions(client, "ann", items)
    assert body["fallback"] is False
    explained = [client.get(f"/users/ann/explain/{i}").json()["prediction"] for i in items]
    assert scores == explained


@pytest.fixture
def mu_less_model():
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(12, 8)).astype(float)
    dense[rng.random(dense.shape) < 0.3] = 0
    data = Interactions.from_dense(dense, rating_scale=(1, 5))
    model = NMF(n_factors=2, n_epochs=20, random_state=0).fit(data)
    assert model.global_mean_ == 0.0 and model.rating_mean_ > 1  # no μ in its formula
    return model


def test_a_strangers_prediction_from_a_model_without_mu_is_its_baseline(make_client, mu_less_model):
    client = make_client(mu_less_model)
    items = [str(i) for i in mu_less_model.items_.ids[:4]]
    body, scores = served_predictions(client, "stranger", items)
    assert body["fallback"] is True
    expected = mu_less_model.predict(["stranger"] * 4, [int(i) for i in items], unknown="baseline")
    assert scores == expected.tolist()
    assert min(scores) > 1  # not 0 stars
    explained = client.get(f"/users/stranger/explain/{items[0]}").json()
    assert explained["prediction"] == scores[0] and explained["fallback"] is True
    listed = client.get("/users/stranger/recommendations", params={"n": 2}).json()["items"]
    assert all(row["score"] > 1 for row in listed)
