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
    # the target's, their cosines computed here one by one.
    Q = model.item_factors_.astype(np.float64)
    target = small_data.items.index([iid])[0]
    cosines = []
    for j in small_data.matrix[2].indices.tolist():
        if j != target:
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
