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
