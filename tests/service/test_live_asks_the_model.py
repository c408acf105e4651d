"""A training user with nothing stored is personal in the service exactly when the
model personalises them (``FactorModel.can_personalise``).

The service counted cells: a ``HybridMF`` user whose ratings are all below
``min_rating`` has a training row but no positive, so the model gives them the
popularity fallback, while the service served their zero vector (the item biases) with
``fallback: false``.
"""

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF

from .conftest import planted


@pytest.fixture(scope="module")
def hybrid_and_frame():
    frame, _ = planted()
    stars = Interactions.from_frame(frame, rating_scale=(1, 5))
    model = HybridMF(
        n_factors=3,
        n_epochs=5,
        min_rating=4,
        random_state=0,
        user_features=None,
        item_features=None,
    ).fit(stars)
    return model, frame


def served_list(client, user, n):
    body = client.get(f"/users/{user}/recommendations", params={"n": n}).json()
    return [x["item_id"] for x in body["items"]], body["fallback"]


def test_service_and_model_agree_on_fallback_for_training_users(make_client, hybrid_and_frame):
    model, frame = hybrid_and_frame
    best = frame.groupby("user_id")["rating"].max()
    below = best[best < 4].index.tolist()
    ordinary = best[best >= 4].index.tolist()
    # The planted data has both kinds; the test means nothing without them.
    assert below and ordinary
    personal = model.can_personalise(model.users_.index(below + ordinary[:3]))
    assert personal.tolist() == [False] * len(below) + [True] * 3
    client = make_client(model)
    n = 6
    for user in below + ordinary[:3]:
        expected = model.recommend(user, n=n)
        ids, fallback = served_list(client, user, n)
        assert fallback is expected.fallback, user
        assert ids == [str(x) for x in expected.ids], user
        # Neither list offers back what the user rated in training.
        assert not set(ids) & {str(x) for x in frame.loc[frame["user_id"] == user, "item_id"]}
    assert served_list(client, below[0], n)[1] is True
    assert served_list(client, ordinary[0], n)[1] is False


def test_can_personalise_reads_unknown_as_false_and_checks_range(hybrid_and_frame):
    model, _ = hybrid_and_frame
    assert model.can_personalise([-1]).tolist() == [False]
    with pytest.raises(IndexError, match="user_idx"):
        model.can_personalise([model.n_users])
    assert model.can_personalise(np.empty(0, np.int64)).size == 0


def test_explain_refuses_a_user_the_model_does_not_personalise(make_client, hybrid_and_frame):
    """``recommend`` gives such a user the popularity list, while ``explain`` read their
    untaught vector as a personal score citing the titles they disliked (library and
    CLI), and the service's 409 said they were erased or had nothing stored."""
    model, frame = hybrid_and_frame
    best = frame.groupby("user_id")["rating"].max()
    low, ordinary = best[best < 4].index[0], best[best >= 4].index[0]
    item = frame["item_id"].iloc[0]
    with pytest.raises(ValueError, match="all of whose ratings are below min_rating 4") as err:
        model.explain(low, item)
    assert "recommend gives such a user the popularity list" in str(err.value)
    assert model.explain(ordinary, item).user_known
    client = make_client(model)
    answer = client.get(f"/users/{low}/explain/{item}")
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"] == str(err.value)
    assert client.get(f"/users/{ordinary}/explain/{item}").status_code == 200
