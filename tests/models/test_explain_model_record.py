"""explain cites only titles the model was trained on for the user (its record), with the
stars read from the ratings given, and explains an unknown user's baseline answer when
asked to, as predict gives it."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

from latentrec import Interactions, UnknownIdError
from latentrec.data.splits import random_split
from latentrec.explain import supporting_items
from latentrec.models import NMF, BiasedMF


@pytest.fixture(scope="module")
def split():
    data = random_ratings(n_users=30, n_items=25, density=0.5, seed=3)
    train, test = random_split(data, 0.3, random_state=0)
    model = BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(train)
    return data, train, test, model


def user_stars(data: Interactions, user) -> dict:
    row = data.matrix[data.users.index([user])[0]]
    return dict(zip(data.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))


def reference(model, user, item, stars: dict, n: int = 3):
    """The slow, obvious rule: the record's items with stars, those at or above the mean
    of those stars, the target left out, ordered by cosine (ties: lower index)."""
    u = model.users_.index([user])[0]
    record = set(model.seen_[u].indices.tolist())
    kept = {model.items_.index([k])[0]: v for k, v in stars.items()}
    kept = {i: v for i, v in kept.items() if i in record}
    if not kept:
        return []
    mean = np.mean(list(kept.values()))
    t = model.items_.index([item])[0]
    q = model.item_factors_.astype(np.float64)
    sims = []
    for i, v in kept.items():
        norm = np.linalg.norm(q[i]) * np.linalg.norm(q[t])
        if v >= mean and i != t and norm > 0:
            sims.append((-(q[i] @ q[t]) / norm, i))
    return [model.items_.ids[i] for _, i in sorted(sims)[:n]]


def test_held_out_ratings_are_never_cited_and_are_counted(split):
    data, train, test, model = split
    checked = 0
    for user in data.users.ids[:20]:
        stars = user_stars(data, user)
        record = set(user_stars(train, user)) if user in train.users.ids else set()
        held = len(set(stars) - record)
        for item in data.items.ids[:6]:
            e = model.explain(user, item, ratings=data)
            cited = e.supporting["item_id"].tolist()
            assert set(cited) <= record
            assert cited == reference(model, user, item, stars)
            assert all(e.supporting["rating"] == [stars[c] for c in cited])
            assert e.supporting_left_out == held == e.to_dict()["supporting_left_out"]
            checked += held > 0
            if held:
                assert f"not cited            {held} rated title(s)" in str(e)
            else:
                assert "not cited" not in str(e)
    assert checked  # the split held some of these users' ratings out


def test_a_dict_with_an_item_the_user_never_rated_leaves_it_out(split):
    data, train, _, model = split
    user = train.users.ids[0]
    stars = user_stars(train, user)
    never = next(i for i in train.items.ids if i not in stars)
    item = next(i for i in train.items.ids if i != never)
    with_extra = model.explain(user, item, ratings={**stars, never: 5.0})
    alone = model.explain(user, item, ratings=stars)
    assert never not in with_extra.supporting["item_id"].tolist()
    assert with_extra.supporting_left_out == 1 and alone.supporting_left_out == 0
    pd.testing.assert_frame_equal(with_extra.supporting, alone.supporting)


def test_a_folded_in_user_is_explained_from_what_was_folded_in(split):
    _, train, _, _ = split
    model = BiasedMF(n_factors=4, n_epochs=20, random_state=0).fit(train)
    items = train.items.ids
    model.partial_fit_users(
        pd.DataFrame({"user_id": "new", "item_id": items[:3], "rating": [5.0, 4.0, 5.0]})
    )
    answers = {items[0]: 5, items[1]: 4, items[2]: 5, items[5]: 1}
    e = model.explain("new", items[10], ratings=answers)
    assert set(e.supporting["item_id"]) <= set(items[:3].tolist())
    assert e.supporting_left_out == 1
    table = supporting_items(model, "new", items[10], ratings={items[5]: 5.0})
    assert len(table) == 0 and table.attrs["left_out"] == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: BiasedMF(n_factors=3, n_epochs=10, random_state=0),
        lambda: NMF(n_factors=3, n_epochs=10, random_state=0),  # no μ: the training mean
    ],
)
def test_an_unknown_user_gets_the_baseline_predict_gives_when_asked(split, make):
    _, train, _, _ = split
    model = make().fit(train)
    item = train.items.ids[4]
    with pytest.raises(UnknownIdError, match="unknown='baseline'"):
        model.explain("nobody", item)
    with pytest.raises(ValueError, match="unknown must be"):
        model.explain("nobody", item, unknown="guess")
    e = model.explain("nobody", item, unknown="baseline")
    expected = model.predict(["nobody"], [item], unknown="baseline")[0]
    assert e.prediction == pytest.approx(expected, rel=1e-12)
    assert not e.user_known and e.user_bias == 0 and not np.any(e.factor_contributions)
    assert e.supporting is None and not e.to_dict()["user_known"]
    assert "the model does not know this user" in str(e)
    assert "largest factor terms" not in str(e)
    # A known user is explained as before, and says nothing of the kind.
    known = model.explain(train.users.ids[0], item, unknown="baseline")
    assert known.user_known and "does not know" not in str(known)


def test_a_biased_model_explains_the_baseline_bit_for_bit(split):
    _, train, _, model = split
    for item in train.items.ids[:5]:
        e = model.explain("nobody", item, unknown="baseline")
        assert e.prediction == model.predict(["nobody"], [item], unknown="baseline")[0]
