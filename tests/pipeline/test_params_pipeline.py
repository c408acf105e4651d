"""A pipeline's own numbers (``n_candidates`` and the re-rankers' knobs), given a value
users get wrong, in Python or in a saved pipeline's manifest: accepted and working, or
refused with one ValueError (a ModelFileError from a file) naming the knob; never an
OverflowError or NumPy's TypeError about ufuncs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_pipeline import timed_data

import latentrec
from latentrec.errors import ModelFileError
from latentrec.io import read_archive, write_archive
from latentrec.models import BiasedMF, ImplicitALS
from latentrec.pipeline import Pipeline, Rules
from latentrec.pipeline.core import STAGES
from latentrec.pipeline.params import check_count_at_most, check_positive

WRONG = [0, -1, -2.5, 2**70, 2.5, 1e3, math.nan, math.inf, True, "abc", None, 1e300]

DATA = timed_data(n_users=20, n_items=12)  # with timestamps and genres, as stages need


def _candidate(stage: str = ""):
    # Thompson samples from an ImplicitALS posterior; the rest take any model.
    cls = ImplicitALS if stage == "Thompson" else BiasedMF
    return cls(n_factors=2, n_epochs=2, random_state=0, verbose=False).fit(DATA)


def _clear(err: Exception, name: str) -> None:
    assert type(err) is ValueError or isinstance(err, ModelFileError), repr(err)
    assert name in str(err) and "\n" not in str(err), str(err)


def test_n_candidates_past_the_largest_count_is_refused_by_name(tmp_path):
    # Before: "OverflowError: Python int too large to convert to C long" from fit, and
    # from latentrec.load of a file holding it.
    model = _candidate()
    for value in WRONG:
        try:
            Pipeline(model, n_candidates=value).fit(DATA).recommend(DATA.users.ids[0], n=3)
        except Exception as err:  # noqa: BLE001 - what was raised is the point
            _clear(err, "n_candidates")
    path = tmp_path / "pipe.npz"
    Pipeline(model, n_candidates=5).fit(DATA).save(path)
    manifest, arrays = read_archive(path)
    for value in WRONG:
        manifest["pipeline"]["n_candidates"] = value
        write_archive(path, manifest, arrays)
        try:
            latentrec.load(path).recommend(DATA.users.ids[0], n=3)
        except ModelFileError as err:
            _clear(err, "n_candidates")
    manifest["pipeline"]["n_candidates"] = 2**70
    write_archive(path, manifest, arrays)
    with pytest.raises(ModelFileError, match=r"n_candidates must be a positive integer <= 2147"):
        latentrec.load(path)


def test_the_largest_count_itself_is_accepted():
    model = _candidate()
    widest = Pipeline(model, n_candidates=2**31 - 1).fit(DATA)
    every = Pipeline(model, n_candidates=DATA.n_items).fit(DATA)
    lists = [
        (widest.recommend(user, n=3).ids.tolist(), every.recommend(user, n=3).ids.tolist())
        for user in DATA.users.ids[:8]
    ]
    assert all(a == b for a, b in lists) and any(a for a, _ in lists)
    assert check_count_at_most(7, "n") == 7


def test_a_knob_wider_than_64_bits_is_a_number_not_a_numpy_type_error():
    # Before: np.isfinite(2**70) raised "ufunc 'isfinite' not supported".
    assert check_positive(2**70, "Freshness half_life_days") == float(2**70)
    with pytest.raises(ValueError, match="Thompson scale must be a non-negative number"):
        check_positive(10**400, "Thompson scale", zero=True)


# Rules takes ids and tables, checked line by line elsewhere (test_rules_file_lines.py).
KNOBS = [
    (name, knob)
    for name, cls in sorted(STAGES.items())
    if name != "Rules"
    for knob in cls.param_names()
]


@pytest.mark.parametrize(("stage", "knob"), KNOBS)
def test_every_wrong_knob_is_accepted_and_works_or_refused_by_name(stage, knob, tmp_path):
    cls = STAGES[stage]
    model = _candidate(stage)
    user = DATA.users.ids[0]
    path = tmp_path / "pipe.npz"
    Pipeline(model, rerankers=[cls()], n_candidates=8).fit(DATA).save(path)
    manifest, arrays = read_archive(path)
    for value in WRONG:
        try:
            pipe = Pipeline(model, rerankers=[cls(**{knob: value})], n_candidates=8).fit(DATA)
            pipe.recommend(user, n=3)
        except Exception as err:  # noqa: BLE001 - what was raised is the point
            _clear(err, knob)
        manifest["pipeline"]["rerankers"][0]["params"][knob] = value
        write_archive(path, manifest, arrays)
        try:
            latentrec.load(path).recommend(user, n=3)
        except ModelFileError as err:
            _clear(err, knob)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ({"pin": 5}, "pin must map item ids to 1-based ranks, got int 5"),
        ({"boost": [1, 2]}, "boost must map item ids to amounts, got list"),
        ({"max_per": 3}, "max_per must map side-table columns to counts, got int 3"),
        ({"never": 7}, "never must be a list of item ids, got int 7 (one id: never=[7])"),
        # A string was read as a list of its characters: never="tt01" hid items t, 0, 1.
        ({"never": "tt01"}, "never must be a list of item ids, got str 'tt01'"),
        ({"bury": {"a": 1}}, "bury must be a list of item ids, got dict"),
    ],
)
def test_rules_refuse_a_value_of_the_wrong_shape_by_name(given, shown):
    with pytest.raises(TypeError) as err:
        Rules(**given)
    assert shown in str(err.value)


def test_rules_take_any_collection_of_ids():
    stage = Rules(pin=None, never=np.array([3, 1]), bury={4}, max_per=None)
    assert stage.never == [3, 1] and stage.bury == [4] and stage.pin == {} and stage.max_per == {}
