"""HybridMF.unused_item_features / unused_user_features: what of a side-table row the
model cannot use, asked without a warning (the service reports it in its answer and its
log), and saying exactly what ``*_vector_from_features`` warns."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.models.hybrid import UnusedFeatures


@pytest.fixture(scope="module")
def model():
    """Multi-label genres (Sci-Fi, Romance, Drama) and year buckets; users' taste."""
    rng = np.random.default_rng(0)
    genres = ["Sci-Fi", "Romance", "Sci-Fi|Drama", "Romance|Drama"] * 5
    rows = [(u, i, 5.0) for u in range(20) for i in range(20) if rng.random() < 0.4]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    items = pd.DataFrame({"genres": genres, "year": rng.integers(1980, 2000, 20)})
    users = pd.DataFrame({"taste": ["Sci-Fi", "Romance"] * 10})
    data = Interactions.from_frame(df, item_features=items, user_features=users)
    return HybridMF(n_factors=4, n_epochs=3, random_state=0).fit(data)


def silently(call, *args, **kwargs):
    """``call(*args, **kwargs)``, failing on any warning it gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


def warned(call, *args):
    """The messages of the UserWarnings ``call(*args)`` gives."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        call(*args)
    assert all(w.category is UserWarning for w in said)
    return [str(w.message) for w in said]


def expected_warnings(gaps: UnusedFeatures, model_columns, what, single):
    """The warnings a ``*_vector_from_features`` call gives, written from ``gaps`` the slow
    obvious way: one per kind of loss, in the order columns, values, empty rows."""
    out = []
    if gaps.columns:
        why = "; ".join(f"{c} ({r})" for c, r in gaps.skipped.items())
        out.append(
            f"{what} feature column(s) {list(gaps.columns)} are not features of this model, "
            f"which was trained on {model_columns}: they add nothing to the vector"
            + (f"; left out when it was fitted: {why}" if why else "")
        )
    if gaps.values:
        listed = "; ".join(f"{c} {v}" for c, v in gaps.values.items())
        out.append(f"{what} feature values the model never saw add nothing to the vector: {listed}")
    if gaps.empty_rows:
        rows = "" if single else " " + ", ".join(str(r) for r in gaps.empty_rows)
        out.append(
            f"{len(gaps.empty_rows)} {what} row(s){rows} have no feature the model knows "
            "(every cell missing or never seen): the vector is zero and the bias 0"
        )
    return out


ITEM_ROWS = [
    {"genres": "Sci-Fi", "year": 1990},  # all known
    {"genres": "Sci-Fi|Space", "year": 1990},  # one unseen genre
    {"genres": "Space|Western", "year": None},  # nothing known
    {"genres": "Sci-Fi", "year": 1990, "director": "Scott"},  # an unknown column
    {"genres": "Sci-Fi", "year": 1990, "director": None},  # an unknown column, no value
]


@pytest.mark.parametrize("row", ITEM_ROWS)
def test_what_the_method_says_is_what_the_vector_warns(model, row):
    gaps = silently(model.unused_item_features, row)
    said = warned(model.item_vector_from_features, row)
    assert said == expected_warnings(gaps, ["genres", "year"], "item", single=True)


def test_each_kind_of_loss_is_named(model):
    assert silently(model.unused_item_features, ITEM_ROWS[0]) == UnusedFeatures()
    assert silently(model.unused_item_features, ITEM_ROWS[1]) == UnusedFeatures(
        values={"genres": ["Space"]}
    )
    assert silently(model.unused_item_features, ITEM_ROWS[2]) == UnusedFeatures(
        values={"genres": ["Space", "Western"]}, empty_rows=(0,)
    )
    assert silently(model.unused_item_features, ITEM_ROWS[3]) == UnusedFeatures(
        columns=("director",)
    )
    assert silently(model.unused_item_features, ITEM_ROWS[4]) == UnusedFeatures()


def test_a_table_names_its_empty_rows_and_the_user_side_works_alike(model):
    table = pd.DataFrame(
        {"genres": [None, "Sci-Fi", "Noir"], "year": [np.nan, 1985, np.nan]}, index=[70, 71, 72]
    )
    gaps = silently(model.unused_item_features, table)
    assert gaps == UnusedFeatures(values={"genres": ["Noir"]}, empty_rows=(70, 72))
    assert warned(model.item_vector_from_features, table) == expected_warnings(
        gaps, ["genres", "year"], "item", single=False
    )
    people = pd.DataFrame({"taste": ["Horror", "Sci-Fi"], "age": [30, 40]}, index=[5, 6])
    user_gaps = silently(model.unused_user_features, people)
    assert user_gaps == UnusedFeatures(
        columns=("age",), values={"taste": ["Horror"]}, empty_rows=(5,)
    )
    assert warned(model.user_vector_from_features, people) == expected_warnings(
        user_gaps, ["taste"], "user", single=False
    )


def test_a_column_the_fit_left_out_says_why():
    df = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 1, 2], "rating": [5, 4, 5, 3]})
    films = pd.DataFrame({"genres": ["A"] * 150, "director": [f"d{i}" for i in range(150)]})
    data = Interactions.from_frame(df, item_features=films)
    model = HybridMF(n_factors=2, n_epochs=2, random_state=0).fit(data)
    gaps = silently(model.unused_item_features, {"genres": "A", "director": "d3"})
    why = "150 distinct values, more than max_categories=100"
    assert gaps == UnusedFeatures(columns=("director",), skipped={"director": why})
    said = warned(model.item_vector_from_features, {"genres": "A", "director": "d3"})
    assert said == expected_warnings(gaps, ["genres"], "item", single=True)


def test_warn_false_gives_the_same_vector_without_a_word(model):
    row = {"genres": "Sci-Fi|Space", "year": 1990, "director": "Scott"}
    q, b = silently(model.item_vector_from_features, row, warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, want_b = model.item_vector_from_features(row)
    np.testing.assert_array_equal(q, want)
    assert b == want_b
    # The unseen genre and the unknown column add nothing: the known part's vector.
    known, known_b = silently(model.item_vector_from_features, {"genres": "Sci-Fi", "year": 1990})
    np.testing.assert_allclose(q, known, rtol=1e-6)
    assert b == pytest.approx(known_b)


def test_a_model_without_the_side_says_so(model):
    data = Interactions.from_dense(np.eye(3))
    bare = HybridMF(n_factors=2, n_epochs=1).fit(data)
    with pytest.raises(ValueError, match="trained without item features"):
        bare.unused_item_features({"genres": "A"})


def test_the_user_side_leaves_its_warnings_out_as_the_item_side_does(model):
    """``warn=False`` was the item side's alone: a caller reporting
    ``unused_user_features`` its own way had the user side's warnings all the same."""
    row = {"taste": "Horror", "age": 30}
    assert silently(model.unused_user_features, row) == UnusedFeatures(
        columns=("age",), values={"taste": ["Horror"]}, empty_rows=(0,)
    )
    p, b = silently(model.user_vector_from_features, row, warn=False)
    assert not p.any() and b == 0.0
    assert len(warned(model.user_vector_from_features, row)) == 3


INFINITE = [float("inf"), float("-inf")]


@pytest.mark.parametrize("numeric", ["bucket", "standardize"])
@pytest.mark.parametrize("infinite", INFINITE, ids=["inf", "-inf"])
def test_an_infinite_number_to_fit_on_is_named_by_column_and_row(numeric, infinite):
    """Taken for a number, it was dropped without a word (a bucket), or made every
    standard score NaN and the fit "diverge" (lower the learning rate, it said)."""
    df = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 1, 2], "rating": [5, 4, 5, 3]})
    films = pd.DataFrame({"year": [1990.0, infinite, 2000.0]})
    data = Interactions.from_frame(df, item_features=films)
    model = HybridMF(n_factors=2, n_epochs=2, random_state=0, numeric=numeric)
    with pytest.raises(ValueError, match=rf"^'year' of item 1 is {infinite}, not a finite number"):
        silently(model.fit, data)


@pytest.mark.parametrize("infinite", INFINITE, ids=["inf", "-inf"])
def test_an_infinite_number_for_a_new_item_is_named_not_dropped(model, infinite):
    """Its year added nothing, and neither a warning nor unused_item_features said so."""
    row = {"genres": "Sci-Fi", "year": infinite}
    for ask in (model.item_vector_from_features, model.unused_item_features):
        with pytest.raises(ValueError, match=rf"^'year' of item 0 is {infinite}, not a finite"):
            silently(ask, row)


def reference_item_vector(model, genres: list[str], year):
    """A new item's vector and bias the slow obvious way: its known genres share a weight
    of one (each once), its year falls in one bucket; unknown genres count for nothing."""
    names = model.item_feature_names_
    spec = {c["column"]: c for c in model.item_feature_spec_["columns"]}
    known = sorted({g for g in genres if f"genres={g}" in names})
    rows = [names.index(f"genres={g}") for g in known]
    weights = [1 / len(known) for _ in known]
    if year is not None:
        edges = spec["year"]["edges"]
        bucket = sum(1 for e in edges if e <= year)
        first = next(i for i, n in enumerate(names) if n.startswith("year"))
        rows.append(first + bucket)
        weights.append(1.0)
    vector = np.zeros(model.item_feature_factors_.shape[1])
    bias = 0.0
    for row, weight in zip(rows, weights, strict=True):
        vector += weight * model.item_feature_factors_[row].astype(np.float64)
        bias += weight * float(model.item_feature_bias_[row])
    return vector, bias


def test_a_vector_from_the_known_values_is_the_vector_without_the_unknown_ones(model):
    """Over many rows mixing known and unseen genres (repeated, in any order) and years:
    the unseen add nothing, and the known share their weight among themselves alone."""
    rng = np.random.default_rng(1)
    pool = ["Sci-Fi", "Romance", "Drama", "Space", "Western", "Noir"]
    for _ in range(200):
        genres = [str(g) for g in rng.choice(pool, size=rng.integers(0, 5))]
        year = None if rng.random() < 0.3 else int(rng.integers(1970, 2010))
        row = {"genres": "|".join(genres) or None, "year": year}
        q, b = silently(model.item_vector_from_features, row, warn=False)
        want, want_b = reference_item_vector(model, genres, year)
        np.testing.assert_allclose(q, want, rtol=1e-5, atol=1e-6)
        assert b == pytest.approx(want_b, rel=1e-5, abs=1e-6)
        known = [g for g in genres if g in ("Sci-Fi", "Romance", "Drama")]
        without = {"genres": "|".join(known) or None, "year": year}
        q2, b2 = silently(model.item_vector_from_features, without, warn=False)
        np.testing.assert_allclose(q, q2, rtol=1e-6, atol=1e-7)
        assert b == pytest.approx(b2, rel=1e-6, abs=1e-7)


def test_the_warnings_point_at_the_caller_not_the_library(model):
    """Moved into a helper, the warnings could name a line of hybrid.py, which no
    filter on the caller's module would match and no reader could act on."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model.item_vector_from_features({"genres": "Space", "year": 1990, "director": "Scott"})
        model.user_vector_from_features({"taste": "Horror", "age": 30})
    assert len(said) == 5
    assert {w.filename for w in said} == {__file__}


def test_a_bad_number_names_its_row_as_the_table_does(model):
    """Under numpy 2 the row of an integer index was named np.int64(8)."""
    table = pd.DataFrame({"genres": ["Sci-Fi", "Drama"], "year": [1990, "seventies"]}, index=[7, 8])
    with pytest.raises(ValueError, match=r"^'year' of item 8 is 'seventies', not a number"):
        silently(model.item_vector_from_features, table)
