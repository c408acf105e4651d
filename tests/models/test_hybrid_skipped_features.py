"""HybridMF with ``"auto"`` features dropped a column with more than ``max_categories``
distinct values (a director per film) without a word: only the encoder knew, and the
model discarded it.  The fitted model now keeps what it left out and why, in its file
too, says it in one line (and ``latentrec train`` prints that line), and a named column
is still always used."""

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import latentrec
from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import FeatureEncoder, HybridMF

WHY = "150 distinct values, more than max_categories=100"


def _data(n_users: int = 2, **sides) -> Interactions:
    # Each user rates four of the first eight films (two users: the first three).
    users = np.repeat(np.arange(n_users), 4)
    items = (users + np.tile(np.arange(4), n_users) * 2) % 8
    df = pd.DataFrame({"user_id": users, "item_id": items, "rating": 5.0})
    if n_users == 2:
        df = pd.DataFrame({"user_id": [0, 0, 1, 1], "item_id": [0, 1, 1, 2], "rating": 5.0})
    return Interactions.from_frame(df, **sides)


FILMS = pd.DataFrame(
    {"genres": ["A", "B"] * 75, "director": [f"d{i}" for i in range(150)], "studio": None}
)
PEOPLE = pd.DataFrame({"gender": ["F", "M"], "zip": ["1", "2"], "note": [None, None]})


def _fit(**params) -> HybridMF:
    model = HybridMF(n_factors=2, n_epochs=2, random_state=0, **params)
    return model.fit(_data(item_features=FILMS, user_features=PEOPLE))


def test_the_fitted_model_says_which_columns_it_left_out_and_why():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said on the model, not as a warning on every fit
        model = _fit()
    assert model.item_feature_names_ == ["genres=A", "genres=B"]
    assert model.skipped_features_ == {
        "item": {"director": WHY, "studio": "no values (every cell is missing)"},
        "user": {"note": "no values (every cell is missing)"},
    }
    assert model.describe_skipped_features() == (
        f"items' director ({WHY}); items' studio (no values (every cell is missing)); "
        "users' note (no values (every cell is missing))"
    )


def test_a_named_column_is_used_however_many_values_it_has():
    model = _fit(item_features=["genres", "director"], user_features=None)
    assert "director=d149" in model.item_feature_names_
    assert model.skipped_features_ == {"item": {}, "user": {}}
    assert model.describe_skipped_features() == ""


def test_what_was_left_out_is_saved_and_loaded_with_the_model(tmp_path):
    model = _fit()
    model.save(tmp_path / "m.npz")
    loaded = latentrec.load(tmp_path / "m.npz")
    assert loaded.skipped_features_ == model.skipped_features_
    assert loaded.describe_skipped_features() == model.describe_skipped_features()
    encoder = FeatureEncoder.from_dict(loaded.item_feature_spec_)
    assert encoder.skipped_ == {"director": WHY, "studio": "no values (every cell is missing)"}


def test_a_model_file_from_before_says_nothing_was_left_out():
    # Stored encodings had only "columns": they still load, with nothing to say.
    assert FeatureEncoder.from_dict({"columns": []}).skipped_ == {}


def test_a_new_entitys_left_out_column_says_why_it_adds_nothing():
    model = _fit()
    with pytest.warns(UserWarning, match=f"left out when it was fitted: director \\({WHY}\\)"):
        q, _ = model.item_vector_from_features({"genres": "A", "director": "d3"})
    np.testing.assert_array_equal(q, model.item_vector_from_features({"genres": "A"})[0])


def test_train_prints_the_columns_left_out_in_one_line(monkeypatch, tmp_path):
    import latentrec.cli.train as train

    def films(source, **opts):
        return _data(20, item_features=FILMS)

    monkeypatch.setattr(train, "load_data", films)
    args = ["train", "films", "-a", "hybrid", "--epochs", "2", "--factors", "2", "-q"]
    out = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "m.npz")])
    assert out.exit_code == 0, out.output
    said = [line for line in out.output.splitlines() if line.startswith("features not used")]
    assert said == [
        f"features not used: items' director ({WHY}); items' studio (no values (every cell "
        "is missing))"
    ], out.output
    # Held out and refitted, the model written is fitted twice: the line is said once.
    out = CliRunner().invoke(main, [*args, "--test-size", "0.25", "-o", str(tmp_path / "n.npz")])
    assert out.exit_code == 0, out.output
    assert out.output.count("features not used") == 1, out.output
    # Nothing left out: nothing said.
    monkeypatch.setattr(train, "load_data", lambda source, **opts: _data(20))
    out = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "p.npz")])
    assert out.exit_code == 0 and "features not used" not in out.output, out.output


def test_train_keeps_a_left_out_column_named_in_a_param_list(monkeypatch, tmp_path):
    """The docstring's way to keep a column, from the command line: ``--param`` read
    ``item_features=["genres","director"]`` as text, which the model refused, so a column
    "auto" leaves out could not be kept there."""
    import latentrec.cli.train as train

    monkeypatch.setattr(train, "load_data", lambda source, **opts: _data(20, item_features=FILMS))
    path = tmp_path / "m.npz"
    args = ["train", "films", "-a", "hybrid", "--epochs", "2", "--factors", "2", "-q"]
    keep = '--param=item_features=["genres", "director"]'
    out = CliRunner().invoke(main, [*args, keep, "-o", str(path)])
    assert out.exit_code == 0, out.output
    assert "features not used" not in out.output, out.output
    model = latentrec.load(path)
    assert model.item_features == ["genres", "director"]
    assert model.skipped_features_["item"] == {}
    # Not a list after all: one line naming the value, as any bad --param.
    out = CliRunner().invoke(main, [*args, "--param", "item_features=[genres", "-o", str(path)])
    assert out.exit_code == 1, out.output
    assert out.output.startswith("Error: --param value '[genres' starts like a JSON list")
    assert "Traceback" not in out.output
