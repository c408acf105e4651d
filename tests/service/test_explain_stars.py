"""``GET /users/{id}/explain/{item}`` cites the titles the user rated well, by their stars.

The store holds the user's stars; the route chose its "because you rated" titles by the
model's fit of them instead, so a title the user gave 1 star could be cited.  The slow
obvious reference is the library's ``supporting_items(..., ratings=...)`` given the same
stars.
"""

import numpy as np
import pytest

from latentrec.models import Catalog, FactorModel
from latentrec.models.factor import supporting_items
from latentrec.store import Rating


@pytest.fixture
def tilted_model():
    """Five titles; "Close" (20) is nearly the target (10), and a big item bias makes
    the model's fit of it high whatever a user gave it, so a fit-based choice cites it."""
    q = np.array([[1.0, 0.0], [0.95, 0.1], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    cat = Catalog.from_ids(
        ["x"],
        [10, 20, 30, 40, 50],
        rating_scale=(1, 5),
        item_titles=["Target", "Close", "Liked", "Middling", "Opposite"],
    )
    return FactorModel.from_factors(
        cat, q, np.zeros((1, 2)), global_mean=3.0, item_bias=[0.0, 3.0, -2.0, 0.0, 0.0]
    )


def test_a_one_star_title_closest_to_the_item_is_not_cited(make_client, store, tilted_model):
    store.add_ratings(
        [Rating("ann", "20", 1.0), Rating("ann", "30", 5.0), Rating("ann", "40", 3.0)]
    )
    client = make_client(tilted_model)
    body = client.get("/users/ann/explain/10").json()
    cited = {row["item_id"]: row for row in body["supporting_items"]}
    assert "20" not in cited  # 1 star, below ann's mean (3): no reason for anything
    assert cited["30"]["rating"] == 5.0 and cited["30"]["title"] == "Liked"
    assert body["supporting_from"] == "ratings"
    assert [row["item_id"] for row in body["supporting_items"]] == ["30", "40"]


def test_a_rating_written_after_the_first_answer_changes_the_citations(
    make_client, store, tilted_model
):
    store.add_ratings([Rating("ann", "20", 5.0, 1.0), Rating("ann", "30", 4.0, 1.0)])
    client = make_client(tilted_model)
    first = client.get("/users/ann/explain/10").json()
    assert [row["item_id"] for row in first["supporting_items"]] == ["20"]
    store.add_ratings([Rating("ann", "20", 1.0, 2.0)])  # ann changes her mind
    again = client.get("/users/ann/explain/10").json()
    assert [(row["item_id"], row["rating"]) for row in again["supporting_items"]] == [("30", 4.0)]


def test_the_route_cites_what_the_library_cites_given_the_stored_stars(
    make_client, store, explicit_model, planted_data
):
    """A store holding the training ratings: the route's titles and ratings are the
    library's ``supporting_items`` with the training data as the stars."""
    m = planted_data.matrix.tocsr()
    rows = []
    for user in (3, 7):
        u = planted_data.users.index([user])[0]
        cells = slice(m.indptr[u], m.indptr[u + 1])
        for j, v in zip(m.indices[cells], m.data[cells], strict=True):
            rows.append(Rating(str(user), str(planted_data.items.ids[j]), float(v)))
    store.add_ratings(rows)
    client = make_client(explicit_model)
    for user in (3, 7):
        for item in (104, 110, 121):
            body = client.get(f"/users/{user}/explain/{item}").json()
            expected = supporting_items(explicit_model, user, item, ratings=planted_data)
            got = [(row["item_id"], row["rating"]) for row in body["supporting_items"]]
            assert got == [
                (str(i), float(r))
                for i, r in zip(expected["item_id"], expected["rating"], strict=True)
            ]
            assert body["supporting_from"] == "ratings"


def test_a_training_user_with_no_stored_rows_is_explained_by_the_fit(client, explicit_model):
    body = client.get("/users/3/explain/104").json()
    expected = supporting_items(explicit_model, 3, 104)
    assert [row["item_id"] for row in body["supporting_items"]] == [
        str(x) for x in expected["item_id"]
    ]
    assert body["supporting_from"] == "model"
    assert all(row["rating"] is None for row in body["supporting_items"])


def test_events_are_no_stars(make_client, store, tilted_model):
    store.add_ratings(
        [Rating("bo", "20", 1.0, kind="event"), Rating("bo", "30", 1.0, kind="event")]
    )
    body = make_client(tilted_model).get("/users/bo/explain/10").json()
    assert body["supporting_from"] == "model"


def test_a_training_user_whose_store_lacks_their_row_keeps_its_items_at_the_fit(
    make_client, store, explicit_model
):
    """User 3's stored stars share nothing with their training row, so the row joins
    their fold-in valued at the model's prediction; the citations treat it the same."""
    seen = explicit_model.seen_
    trained = set(seen.indices[seen.indptr[3] : seen.indptr[4]].tolist())
    fresh = [j for j in range(explicit_model.n_items) if j not in trained][:2]
    ids = explicit_model.items_.ids
    store.add_ratings([Rating("3", str(ids[fresh[0]]), 5.0), Rating("3", str(ids[fresh[1]]), 1.0)])
    body = make_client(explicit_model).get("/users/3/explain/104").json()
    fit = explicit_model.predict(np.full(len(trained), 3), ids[sorted(trained)], clip=True)
    stars = {ids[fresh[0]]: 5.0, ids[fresh[1]]: 1.0}
    stars.update({ids[j]: float(v) for j, v in zip(sorted(trained), fit, strict=True)})
    # The service's vector for user 3 was folded in from both, so both are its record:
    # the reference is a model with the same items whose record for user 3 holds them.
    seen = np.zeros((1, explicit_model.n_items), np.float32)
    seen[0, [*trained, *fresh]] = 1
    refolded = FactorModel.from_factors(
        Catalog.from_ids([3], explicit_model.items_, seen=seen),
        explicit_model.item_factors_,
        global_mean=explicit_model.global_mean_,
    )
    expected = supporting_items(refolded, 3, 104, ratings=stars)
    got = [(row["item_id"], row["rating"]) for row in body["supporting_items"]]
    assert [g[0] for g in got] == [str(x) for x in expected["item_id"]]
    assert str(ids[fresh[1]]) not in [g[0] for g in got]
    # A training title's value is the model's fit, not a star of theirs: no rating shown.
    assert all(rating == (5.0 if item == str(ids[fresh[0]]) else None) for item, rating in got), got
    assert any(rating is None for _, rating in got)
