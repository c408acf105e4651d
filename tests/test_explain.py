import json

import numpy as np
import pytest

from latentrec.models import BiasedMF


def test_explanation_sums_to_the_prediction(small_data):
    model = BiasedMF(n_factors=5, n_epochs=10, random_state=0).fit(small_data)
    for u, i in [(0, 0), (3, 7), (10, 2)]:
        uid, iid = small_data.users.ids[u], small_data.items.ids[i]
        e = model.explain(uid, iid)
        assert e.prediction == pytest.approx(model.predict([uid], [iid])[0], abs=1e-5)
        assert e.interaction == pytest.approx(
            float(model.user_factors_[u] @ model.item_factors_[i]), abs=1e-5
        )
        assert e.global_mean == model.global_mean_
        assert len(e.factor_contributions) == 5
        assert 1 <= e.clipped <= 5
        # Term f is p_uf * q_if, in the factors' own order (not sorted, not summed).
        by_hand = [
            float(model.user_factors_[u][f]) * float(model.item_factors_[i][f]) for f in range(5)
        ]
        np.testing.assert_allclose(e.factor_contributions, by_hand, rtol=1e-6, atol=1e-9)


def test_explanation_text_and_json(small_data):
    model = BiasedMF(n_factors=3, n_epochs=3, random_state=0).fit(small_data)
    e = model.explain("u0", small_data.items.ids[0])
    text = str(e)
    assert "global mean" in text and f"{e.prediction:.4f}" in text
    d = json.loads(json.dumps(e.to_dict()))
    assert d["prediction"] == pytest.approx(e.prediction)
    assert len(d["top_factors"]) == 3
    top = [f for f, _ in e.top_factors(3)]
    assert np.argmax(np.abs(e.factor_contributions)) == top[0]


def test_explanation_lists_supporting_rated_items(small_data):
    model = BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(small_data)
    uid, iid = small_data.users.ids[2], small_data.items.ids[5]
    e = model.explain(uid, iid)
    rated = set(small_data.items.ids[small_data.matrix[2].indices].tolist()) - {iid}
    got = e.supporting["item_id"].tolist()
    assert got and set(got) <= rated
    assert list(e.supporting["similarity"]) == sorted(e.supporting["similarity"], reverse=True)
    assert "because they rated" in str(e)
    assert [r["item_id"] for r in e.to_dict()["supporting_items"]] == got
    # The three the user rated (the target aside) whose factor vectors point closest to
    # the target's, their cosines computed here one by one; without the user's stars,
    # only those the model fits at or above the mean of its fits of the user's ratings
    # (its stand-in for "liked").
    Q = model.item_factors_.astype(np.float64)
    target = small_data.items.index([iid])[0]
    rated_idx = small_data.matrix[2].indices.tolist()
    fits = [float(model.predict([uid], [small_data.items.ids[j]])[0]) for j in rated_idx]
    cosines = []
    for j, fit in zip(rated_idx, fits, strict=True):
        if j != target and fit >= sum(fits) / len(fits):
            dot = sum(float(a) * float(b) for a, b in zip(Q[j], Q[target], strict=True))
            norm = np.sqrt(sum(float(a) ** 2 for a in Q[j]) * sum(float(b) ** 2 for b in Q[target]))
            cosines.append((dot / norm, small_data.items.ids[j]))
    best = sorted(cosines, key=lambda c: -c[0])[:3]
    assert got == [item for _, item in best]
    np.testing.assert_allclose(e.supporting["similarity"], [c for c, _ in best], rtol=1e-9)


def test_a_ranking_models_explanation_calls_its_sum_a_score_not_a_prediction(small_data):
    """BPR's explanation printed '= prediction 2.9159' as if it were stars, though the
    model predicts no ratings (predict refuses); the text now names it a ranking score,
    and a rating model's keeps '= prediction'."""
    from latentrec.models import BPR

    bpr = BPR(n_factors=3, n_epochs=3, random_state=0).fit(small_data)
    user, item = small_data.users.ids[0], small_data.items.ids[1]
    why = bpr.explain(user, item)
    assert not why.predicts_ratings
    text = str(why)
    assert "= prediction" not in text
    assert f"= ranking score      {why.prediction:.4f} (orders items; not a rating)" in text
    rated = BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(small_data)
    assert "= prediction" in str(rated.explain(user, item))


def test_explanation_and_predict_are_the_same_number(small_data):
    """explain summed in float64 while predict added μ and the biases in float32, so the
    two differed by up to 5e-7: printed to 4 decimals they disagreed for about 1 pair in
    3,000 on MovieLens-100K.  Now predict is the explanation's sum, bit for bit, and both
    are the sum a slow reference takes term by term in Python floats."""
    import math

    model = BiasedMF(n_factors=6, n_epochs=10, random_state=0).fit(small_data)
    users = np.repeat(small_data.users.ids, small_data.n_items)
    items = np.tile(small_data.items.ids, small_data.n_users)
    predicted = model.predict(users, items)
    P, Q = model.user_factors_, model.item_factors_
    for k, (uid, iid) in enumerate(zip(users, items, strict=True)):
        e = model.explain(uid, iid)
        assert e.prediction == predicted[k]
        u, i = k // small_data.n_items, k % small_data.n_items
        reference = math.fsum(
            [
                model.global_mean_,
                float(model.user_bias_[u]),
                float(model.item_bias_[i]),
                *(float(P[u, f]) * float(Q[i, f]) for f in range(P.shape[1])),
            ]
        )
        assert abs(predicted[k] - reference) < 1e-12


def _scaled_model(predicts_ratings=True):
    from latentrec.models import FactorModel
    from latentrec.models.catalog import Catalog

    catalog = Catalog.from_ids(["ann"], ["a", "b"], seen=[[0, 1]], rating_scale=(1.0, 5.0))
    Q = np.array([[2.0, 1.0], [0.5, 0.0]])
    P = np.array([[1.0, 0.25]])  # p·q_a = 2.25, p·q_b = 0.5
    return FactorModel.from_factors(
        catalog, Q, P, global_mean=3.0, predicts_ratings=predicts_ratings
    )


def test_an_explanation_past_the_scale_shows_predicts_answer_and_the_clip_by_how_much():
    """The explanation's '= prediction' is predict's default answer (clip=False) and a
    second line gives clip=True's, with the amount cut off: it said only 'clipped to
    scale 5.0000', without the scale or how much of the sum the clip removed."""
    model = _scaled_model()
    e = model.explain("ann", "a")
    assert e.prediction == model.predict(["ann"], ["a"])[0] == 5.25
    assert e.clipped == model.predict(["ann"], ["a"], clip=True)[0] == 5.0
    text = str(e)
    assert "  = prediction         5.2500\n" in text
    assert "  clipped to 1-5       5.0000 (by -0.2500, as predict(clip=True) answers)" in text
    inside = model.explain("ann", "b")  # 3.5: nothing clipped, nothing said about it
    assert inside.clipped == inside.prediction == 3.5
    assert "clipped" not in str(inside)


def test_a_ranking_models_score_is_not_clipped_to_the_data_scale():
    """A ranking model trained on 1-5 stars printed 'clipped to scale 1.0000' under a
    score of 0.03 (and the service's explanation gave 1.0 as its clipped value): a score
    that orders items is no rating to clip."""
    model = _scaled_model(predicts_ratings=False)
    e = model.explain("ann", "a")
    assert e.clipped == e.prediction == 5.25
    assert e.to_dict()["clipped"] == 5.25
    assert "clipped" not in str(e)


def _liked_by_hand(model, data, u, target, n=3):
    """The reference: the user's ratings at or above their mean, the target aside, by
    cosine with the target's factors, each computed in Python floats."""
    row = data.matrix[u]
    stars = [float(x) for x in row.data]
    mean = sum(stars) / len(stars)
    Q = model.item_factors_
    out = []
    for j, star in zip(row.indices.tolist(), stars, strict=True):
        if j == target or star < mean:
            continue
        a, b = [float(x) for x in Q[j]], [float(x) for x in Q[target]]
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        cos = dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)
        out.append((-cos, j, star))
    return sorted(out)[:n]


def test_because_they_rated_cites_only_titles_the_user_liked(small_data):
    """It cited the user's rated titles closest to the item whatever their stars, so a
    title rated 1 could be 'why' an item was picked (about one citation in five on
    MovieLens-100K was a 1 or 2).  Given the user's ratings, only those at or above the
    user's mean are cited, each with its rating."""
    from latentrec.explain import supporting_items

    model = BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(small_data)
    for u, i in [(2, 5), (7, 0), (11, 3)]:
        uid, iid = small_data.users.ids[u], small_data.items.ids[i]
        want = _liked_by_hand(model, small_data, u, i)
        for ratings in (
            small_data,
            dict(
                zip(
                    small_data.items.ids[small_data.matrix[u].indices].tolist(),
                    small_data.matrix[u].data.tolist(),
                    strict=True,
                )
            ),
        ):
            table = supporting_items(model, uid, iid, ratings=ratings)
            assert table["item_id"].tolist() == [small_data.items.ids[j] for _, j, _ in want]
            assert table["rating"].tolist() == [star for _, _, star in want]
            np.testing.assert_allclose(table["similarity"], [-c for c, _, _ in want], rtol=1e-9)
        e = model.explain(uid, iid, ratings=small_data)
        first = {c: e.supporting[c].iloc[0] for c in ("item_id", "rating", "similarity")}
        shown = f"{first['item_id']} (rated {first['rating']:g}, {first['similarity']:.2f})"
        assert f"because they rated   {shown}" in str(e)


def test_a_title_rated_low_is_not_cited_even_when_it_is_the_closest():
    """User 0 rated item 1 (a twin of item 2) one star and item 0 five: explaining item
    2 cited item 1 first; now it cites item 0, with or without the user's stars (the
    model's fit of them stands in)."""
    from latentrec import Interactions
    from latentrec.models import FactorModel
    from latentrec.models.catalog import Catalog

    data = Interactions.from_dense(np.array([[5, 1, 0], [4, 2, 3]]))
    Q = np.array([[1.0, 0.2], [0.1, 1.0], [0.12, 1.0]])
    P = np.array([[1.5, -1.0], [1.0, 0.5]])
    catalog = Catalog.from_ids([0, 1], [0, 1, 2], seen=[[1, 1, 0], [1, 1, 1]])
    model = FactorModel.from_factors(catalog, Q, P, global_mean=3.0)
    assert model.predict([0, 0], [0, 1]).tolist()[0] > model.predict([0], [1])[0]
    with_stars = model.explain(0, 2, ratings=data).supporting
    assert with_stars["item_id"].tolist() == [0] and with_stars["rating"].tolist() == [5.0]
    assert model.explain(0, 2).supporting["item_id"].tolist() == [0]


def test_a_ranking_model_cites_every_title_the_user_has(small_data):
    """For a model that predicts no ratings every interaction is a positive."""
    from latentrec.explain import supporting_items
    from latentrec.models import BPR

    model = BPR(n_factors=3, n_epochs=3, random_state=0, num_threads=1).fit(small_data)
    uid, iid = small_data.users.ids[4], small_data.items.ids[2]
    table = supporting_items(model, uid, iid, n=1000)
    rated = set(small_data.items.ids[small_data.matrix[4].indices].tolist()) - {iid}
    assert set(table["item_id"].tolist()) == rated


def test_ratings_that_cannot_be_read_are_refused_by_name(small_data):
    from latentrec.data import UnknownIdError
    from latentrec.explain import supporting_items

    model = BiasedMF(n_factors=2, n_epochs=2, random_state=0).fit(small_data)
    uid, iid = small_data.users.ids[0], small_data.items.ids[0]
    with pytest.raises(TypeError, match="ratings must be the user's"):
        supporting_items(model, uid, iid, ratings=[1, 2])
    with pytest.raises(UnknownIdError, match="nope"):
        supporting_items(model, uid, iid, ratings={"nope": 5})
    with pytest.raises(ValueError, match=r"ratings: item .* has rating nan"):
        supporting_items(model, uid, iid, ratings={small_data.items.ids[1]: float("nan")})
