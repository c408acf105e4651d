"""Factor reports on planted data where factor 0 is a known genre axis."""

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import FactorModel, GradientDescentMF
from latentrec.reports import FactorReport, factor_report, user_profile

GENRES = ["Sci-Fi", "Romance", "Comedy", "Horror"]


def planted(n_users=30, n_items=24, seed=0):
    """Items: Sci-Fi (+1 on factor 0), Romance (−1), others 0; factor 1 is noise.

    Ratings are given for every cell (tiny data), from fixed user / item vectors.
    """
    rng = np.random.default_rng(seed)
    genre = np.array([GENRES[i % 4] for i in range(n_items)])
    f0 = np.select([genre == "Sci-Fi", genre == "Romance"], [1.0, -1.0], 0.0)
    Q = np.column_stack([f0 + rng.normal(0, 0.1, n_items), rng.normal(0, 0.3, n_items)])
    P = rng.normal(0, 1, (n_users, 2))
    P[0] = [2.0, 0.0]  # user 0 loves Sci-Fi
    R = 3 + P @ Q.T
    df = pd.DataFrame(
        [(u, i, R[u, i]) for u in range(n_users) for i in range(n_items)],
        columns=["user_id", "item_id", "rating"],
    )
    meta = pd.DataFrame(
        {
            "title": [f"{g} film {i}" for i, g in enumerate(genre)],
            "year": 1980 + np.arange(n_items),
            "genres": [
                g + ("|Comedy" if i % 7 == 0 and g != "Comedy" else "") for i, g in enumerate(genre)
            ],
        }
    )
    data = Interactions.from_frame(df, item_features=meta)
    trained = GradientDescentMF(n_epochs=2, random_state=0).fit(data)
    # Plant the factors exactly, so the report is tested and not the optimiser.
    model = FactorModel.from_factors(
        trained.catalog_,
        Q,
        P,
        global_mean=3.0,
        user_bias=np.zeros(n_users),
        item_bias=np.zeros(n_items),
    )
    return data, model, genre, P, Q


def test_factor_zero_is_named_after_the_planted_genres():
    data, model, genre, _, Q = planted()
    report = factor_report(model, data, n=3, min_ratings=1)
    assert isinstance(report, FactorReport)
    assert report.name(0) == "Sci-Fi vs Romance"
    row = report.summary.iloc[0]
    # f0 takes three values (+1 Sci-Fi, −1 Romance, 0 else): corr. with one indicator ≈ 0.77.
    assert row["positive_corr"] > 0.7 and row["negative_corr"] < -0.7
    # The top titles of factor 0 are Sci-Fi films in order of their loading.
    top = np.argsort(-Q[:, 0])[:3]
    assert row["top"] == [f"{genre[i]} film {i}" for i in top]
    assert all(t.startswith("Romance") for t in row["bottom"])
    items = report.items
    assert set(items.columns) == {"factor", "pole", "rank", "item_id", "title", "loading"}
    assert len(items) == 2 * 2 * 3
    first = items[(items.factor == 0) & (items.pole == "+")]["loading"].to_numpy()
    assert (np.diff(first) <= 0).all()
    # Correlation table: factor x metadata feature, year included.
    assert "genres=Sci-Fi" in report.correlations.columns and "year" in report.correlations.columns
    assert report.correlations.loc[0, "genres=Sci-Fi"] == pytest.approx(row["positive_corr"])
    text = str(report)
    assert "factor 0: Sci-Fi vs Romance" in text and "Sci-Fi film" in text
    assert report.to_frame().shape[0] == 2


def test_min_ratings_filters_items():
    data, model, _, _, _ = planted()
    sparse = data.subset(~((data.item_idx < 4) & (data.user_idx > 2)))  # items 0-3: 3 ratings
    report = factor_report(model, sparse, n=24, min_ratings=10)
    assert report.n_items == 20
    assert not set(report.items["item_id"]) & {0, 1, 2, 3}
    with pytest.raises(ValueError, match="lower min_ratings"):
        factor_report(model, data, min_ratings=10_000)


def test_rotation_keeps_predictions_and_finds_the_main_axis():
    data, model, _, P, Q = planted()
    # Mix the two factors by a rotation: the genre axis is no longer factor 0 ...
    c, s = np.cos(0.9), np.sin(0.9)
    rot = np.array([[c, -s], [s, c]])
    model = FactorModel.from_factors(model.catalog_, Q @ rot, P @ rot, global_mean=3.0)
    plain = factor_report(model, data, min_ratings=1)
    assert plain.summary.iloc[0]["positive_corr"] < 0.95
    # ... and rotate=True recovers it as the principal axis of the item vectors.
    report = factor_report(model, data, min_ratings=1, rotate=True)
    assert report.name(0) in ("Sci-Fi vs Romance", "Romance vs Sci-Fi")  # axes have no sign
    assert abs(report.summary.iloc[0]["positive_corr"]) > 0.7
    V = report.rotation
    np.testing.assert_allclose(V @ V.T, np.eye(2), atol=1e-10)
    np.testing.assert_allclose((P @ rot @ V) @ (Q @ rot @ V).T, P @ Q.T, atol=1e-10)


def test_user_profile_in_factor_terms():
    data, model, _, P, _ = planted()
    report = factor_report(model, data, min_ratings=1)
    profile = user_profile(model, 0, data, report=report, n=2)
    frame = profile.to_frame()
    assert list(frame.columns) == ["factor", "name", "value", "z", "leaning", "top_rated"]
    first = frame.iloc[0]
    assert first["value"] == pytest.approx(P[0, 0], rel=1e-6)
    assert first["leaning"] == "Sci-Fi" and first["name"] == "Sci-Fi vs Romance"
    expected_z = (P[0, 0] - P[:, 0].mean()) / P[:, 0].std()
    assert first["z"] == pytest.approx(expected_z, rel=1e-5)
    assert all(t.startswith("Sci-Fi") for t in first["top_rated"])
    assert "leans Sci-Fi" in str(profile)
    # Without a report one is computed with the same defaults.
    again = user_profile(model, 0, data, min_ratings=1)
    assert again.frame["name"].tolist() == frame["name"].tolist()


def test_without_metadata_and_bad_input():
    data, model, _, _, _ = planted()
    bare = Interactions(data.users, data.items, data.matrix)
    report = factor_report(model, bare, min_ratings=1)
    assert report.name(1) == "factor 1" and report.correlations.shape == (2, 0)
    assert "factor 1: factor 1" in str(report)
    other = Interactions.from_dense(np.ones((3, 3)))
    with pytest.raises(ValueError, match="vocabularies"):
        factor_report(model, other)
    with pytest.raises(ValueError, match="n must be"):
        factor_report(model, data, n=0)


# ---------------------------------------------------------------------- supporting items
# (explain.supporting_items lives here because it reads factors the same way reports do)
def test_supporting_items_are_the_users_rated_items_nearest_the_target():
    from latentrec.explain import supporting_items

    R = np.array(
        [
            [5, 4, 3, 0, 2, 1],  # user 0 rated items 0, 1, 2, 4, 5 (not 3)
            [0, 0, 0, 4, 0, 0],
        ]
    )
    meta = pd.DataFrame({"title": [f"T{i}" for i in range(6)], "genres": ["x"] * 6})
    df = pd.DataFrame(
        [(u, i, R[u, i]) for u in range(2) for i in range(6) if R[u, i]],
        columns=["user_id", "item_id", "rating"],
    )
    data = Interactions.from_frame(df, item_features=meta)
    model = GradientDescentMF(n_epochs=2, random_state=0).fit(data)
    target = np.array([1.0, 0.0])
    Q = np.array(
        [
            [2.0, 0.1],  # nearly the target's direction
            [0.0, 3.0],  # orthogonal
            [-1.0, 0.0],  # opposite
            target,  # the target itself (item 3)
            [0.0, 0.0],  # no vector: left out
            [1.0, 1.0],  # 45 degrees
        ]
    )
    model = FactorModel.from_factors(model.catalog_, Q, np.ones((2, 2)), global_mean=3.0)
    table = supporting_items(model, 0, 3, n=3)
    assert table["item_id"].tolist() == [0, 5, 1]
    expected = [2.0 / np.hypot(2.0, 0.1), 1 / np.sqrt(2), 0.0]
    np.testing.assert_allclose(table["similarity"], expected, atol=1e-6)
    assert table["title"].tolist() == ["T0", "T5", "T1"]
    everything = supporting_items(model, 0, 3, n=10)
    # Item 4 (zero vector) has no direction; item 2 the model fits at 2.0, below the user's
    # mean fit, so without their stars it is not cited as something they liked.
    assert everything["item_id"].tolist() == [0, 5, 1]
    # With their stars (mean 3): the 5, 4 and 3 are cited, the 1-star item 5 is not.
    liked = supporting_items(model, 0, 3, n=10, ratings=data)
    assert liked["item_id"].tolist() == [0, 1, 2]
    assert liked["similarity"].iloc[-1] == pytest.approx(-1.0)
    # The target is never its own support, even when the user rated it.
    assert 0 not in supporting_items(model, 0, 0, n=10)["item_id"].tolist()
    # A user whose only rated item is the target has no support.
    assert supporting_items(model, 1, 3).empty
    with pytest.raises(ValueError, match="n must be"):
        supporting_items(model, 0, 3, n=0)


# ---------------------------------------------------------------------- a model that grew
def grown(model, data):
    """``model`` after onboarding a user and adding an item (fold-in, no retraining)."""
    model.partial_fit_users(
        pd.DataFrame({"user_id": [999, 999], "item_id": [0, 2], "rating": [5.0, 1.0]})
    )
    model.partial_fit_items(pd.DataFrame({"user_id": [0, 999], "item_id": 77, "rating": 4.0}))
    assert (model.n_users, model.n_items) == (data.n_users + 1, data.n_items + 1)
    return model


def test_a_model_that_gained_users_and_items_is_reported_from_its_training_data():
    # Before: the report refused the training data of a grown model (other vocabularies),
    # and only the command line padded it.
    data, model, _, _, _ = planted()
    report = factor_report(model, data, n=3, min_ratings=1)
    profile = user_profile(model, 0, data, report=report)
    model = grown(model, data)
    after = factor_report(model, data, n=3, min_ratings=1)
    # The added item has no ratings in the training data: left out, the rest unchanged.
    pd.testing.assert_frame_equal(after.summary, report.summary)
    pd.testing.assert_frame_equal(after.items, report.items)
    pd.testing.assert_frame_equal(user_profile(model, 0, data, report=after).frame, profile.frame)
    # The onboarded user is described in the same terms: no training ratings of theirs,
    # so by the items the model keeps for them (it said "0 ratings" and named none).
    new = user_profile(model, 999, data, report=after)
    assert new.from_model and new.n_rated == 3  # items 0 and 2, and the added item 77
    assert "(3 items the model keeps for them; none in the data)" in str(new)
    assert new.frame["top_rated"].map(len).gt(0).any()
    kept = set(data.item_titles()[[0, 2]]) | {"77"}
    assert set(new.frame["top_rated"].sum()) <= kept
    assert new.frame["value"].iloc[0] == pytest.approx(model.user_factors_[-1, 0], rel=1e-6)


def test_a_grown_model_takes_data_over_its_training_id_maps_only():
    data, model, _, _, _ = planted()
    model = grown(model, data)
    # The model records its training shape: a split of the training data (its id maps,
    # other cells) is taken as it would be before the model grew.
    other = data.subset(data.item_idx != 3)
    assert other.users == data.users and other.items == data.items
    assert len(factor_report(model, other, min_ratings=1).summary) == model.n_factors_
    # Data over other ids (the first users only) is refused, naming what was gained.
    first = data.subset(data.user_idx < data.n_users - 1).to_frame()
    fewer = Interactions.from_frame(first, user="user_id", item="item_id", rating="rating")
    with pytest.raises(ValueError, match="vocabularies.*gained 1 users and 1 items later"):
        factor_report(model, fewer, min_ratings=1)
    with pytest.raises(ValueError, match="vocabularies"):
        factor_report(model, Interactions.from_dense(np.ones((3, 3))), min_ratings=1)


# A genre names a pole only when the association is real (reviewer, ML-100K: "Children's"
# over Scream at r = 0.19, "Film-Noir" over Air Bud at 0.10): above the chance bound of
# shuffled factors, and carried by the pole's top titles.
def many_genres(seed=0, n_items=400, n_users=40, k=6):
    """400 items over 10 genres; factor 0 is the Western indicator plus noise (a genre
    axis), factors 1..5 are noise; the model's factors are planted exactly."""
    rng = np.random.default_rng(seed)
    names = [f"G{j}" for j in range(9)] + ["Western"]
    genre = rng.choice(names, n_items)
    Q = rng.normal(0, 1, (n_items, k))
    Q[:, 0] = (genre == "Western") * 2.0 + rng.normal(0, 0.5, n_items)
    P = rng.normal(0, 1, (n_users, k))
    return planted_model(genre, P, Q)


def planted_model(genre, P, Q):
    n_users, n_items = P.shape[0], Q.shape[0]
    df = pd.DataFrame(
        [(u, i, 1.0 + (u + i) % 5) for u in range(n_users) for i in range(n_items)],
        columns=["user_id", "item_id", "rating"],
    )
    meta = pd.DataFrame({"title": [f"{g} film {i}" for i, g in enumerate(genre)], "genres": genre})
    data = Interactions.from_frame(df, item_features=meta)
    trained = GradientDescentMF(n_factors=Q.shape[1], n_epochs=1, random_state=0).fit(data)
    model = FactorModel.from_factors(
        trained.catalog_, Q, P, global_mean=3.0,
        user_bias=np.zeros(n_users), item_bias=np.zeros(n_items),
    )  # fmt: skip
    return data, model


def test_a_genre_factor_is_named_and_random_factors_are_not():
    named_noise = 0
    for seed in range(5):
        data, model = many_genres(seed)
        report = factor_report(model, data, n=3, min_ratings=1)
        assert report.summary["positive"].iloc[0] == "Western", seed
        assert report.name(0).startswith("Western vs")
        # The bound is what shuffled factors reach: on 400 items and 10 genres about 0.15.
        assert 0.1 < report.threshold < 0.25
        noise = report.summary.iloc[1:]
        named_noise += int(noise["positive"].notna().sum() + noise["negative"].notna().sum())
        for row in noise.itertuples():
            if row.name.startswith("factor"):
                assert row.name == f"factor {row.factor}"
                assert f"factor {row.factor}: factor {row.factor}\n" in str(report) + "\n"
    # 25 noise factors, 50 poles: the 99% bound lets through about one by chance.
    assert named_noise <= 3, named_noise
    assert "nan" not in str(report)


def test_a_correlated_genre_the_top_titles_contradict_does_not_name_the_pole():
    rng = np.random.default_rng(1)
    n_items = 300
    genre = np.where(np.arange(n_items) < 60, "Children's", "Horror")
    Q = rng.normal(0, 0.3, (n_items, 2))
    Q[:60, 0] += 1.0  # Children's items lean positive: r is well above chance ...
    Q[60:72, 0] = 2.5  # ... but the pole's top titles are horror films (Scream)
    data, model = planted_model(genre, rng.normal(0, 1, (30, 2)), Q)
    report = factor_report(model, data, n=5, min_ratings=1)
    r = report.correlations.loc[0, "genres=Children's"]
    assert r > 2 * report.threshold  # named by r alone
    assert all(t.startswith("Horror") for t in report.summary["top"].iloc[0])
    assert report.summary["positive"].iloc[0] != "Children's"
    assert "Children's vs" not in report.name(0)


def test_a_user_leaning_to_an_unnamed_pole_is_told_the_side_not_nan():
    # Factor 1 is noise: neither pole carries a genre, so the leaning has no label.
    data, model, _, P, _ = planted()
    profile = user_profile(model, 3, data, report=factor_report(model, data, min_ratings=1))
    text = str(profile)
    assert "nan" not in text
    sign = "+" if P[3, 1] > P[:, 1].mean() else "-"  # the side of z, not of the value
    assert f"factor 1 (factor 1): {P[3, 1]:+.3f}" in text
    assert f"leans {sign} side" in text


def test_the_leaning_follows_the_z_score_the_factors_are_ranked_by():
    # Every user's factor-0 value is shifted up by 1: user 5 sits just above 0 but far
    # below the users' mean, so against the others they lean Romance (the - pole).
    # The raw value's sign said "+0.002 (z -0.28), leans Action".
    data, model, _, P, Q = planted()
    P = P.copy()
    P[:, 0] += 1.0
    P[5, 0] = 0.002
    shifted = FactorModel.from_factors(
        model.catalog_, Q, P, global_mean=3.0,
        user_bias=np.zeros(len(P)), item_bias=np.zeros(len(Q)),
    )  # fmt: skip
    report = factor_report(shifted, data, min_ratings=1)
    assert report.name(0) == "Sci-Fi vs Romance"
    profile = user_profile(shifted, 5, data, report=report, n=2)
    row = profile.frame.iloc[0]
    assert row["value"] > 0 and row["z"] < 0
    assert row["leaning"] == "Romance"
    assert row["top_rated"] and all(t.startswith("Romance") for t in row["top_rated"])
    assert f"{row['value']:+.3f} (z {row['z']:+.2f}), leans Romance" in str(profile)
    # Every row's leaning is the pole on the side of its z.
    for r in profile.frame.itertuples():
        pole = report.summary.iloc[r.factor]["positive" if r.z > 0 else "negative"]
        named = isinstance(r.leaning, str)  # an unnamed pole reads back as NaN
        assert (r.leaning if named else None) == (pole if isinstance(pole, str) else None)


def test_a_factor_on_which_all_users_agree_leans_nowhere():
    # Every user has +0.5 on factor 1: z is 0 (no spread), so no user leans either way,
    # although the raw value is positive.
    data, model, _, P, Q = planted()
    P = P.copy()
    P[:, 1] = 0.5
    same = FactorModel.from_factors(
        model.catalog_, Q, P, global_mean=3.0,
        user_bias=np.zeros(len(P)), item_bias=np.zeros(len(Q)),
    )  # fmt: skip
    profile = user_profile(same, 7, data, min_ratings=1)
    row = profile.frame.iloc[1]
    assert row["value"] == pytest.approx(0.5) and row["z"] == 0
    assert not isinstance(row["leaning"], str) and row["top_rated"] == []
    assert "+0.500 (z +0.00), at the users' mean" in str(profile)


def test_titles_are_never_metadata_features():
    # 24 items, under the encoder's 100 distinct values: each title became a one-hot
    # "genre" of one item, 24 extra correlation columns, and the chance bound moved.
    data, model, _, _, _ = planted()
    report = factor_report(model, data, min_ratings=1)
    assert not [c for c in report.correlations.columns if c.startswith("title")]
    assert set(report.correlations.columns) == {
        "genres=Comedy", "genres=Horror", "genres=Romance", "genres=Sci-Fi", "year",
    }  # fmt: skip
    # The same report as over a side table without the title column at all.
    table = data.item_features.drop(columns=["title"])
    untitled = Interactions(data.users, data.items, data.matrix, item_features=table)
    bare = factor_report(model, untitled, min_ratings=1)
    assert report.threshold == bare.threshold
    pd.testing.assert_frame_equal(report.correlations, bare.correlations)
    pd.testing.assert_frame_equal(
        report.summary.drop(columns=["top", "bottom"]), bare.summary.drop(columns=["top", "bottom"])
    )
