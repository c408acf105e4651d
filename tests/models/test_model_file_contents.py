"""A model file whose digests check out but whose contents do not form a model (written
wrong, or edited with its digests recomputed) is one ModelFileError naming the file and
the array or entry at fault: never a model that loads and then recommends nothing (NaN
factors), reads outside an array in a kernel (indices out of range: a crash), or fails
later with an error that names no file; and the command line says it in one line."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import latentrec
from latentrec import Interactions, ModelFileError
from latentrec.cli import main
from latentrec.io.modelfile import digest
from latentrec.models import BiasedMF, ItemKNN, Popularity, SVDpp


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((12, 8)) < 0.5)
    return Interactions.from_arrays(users + 1, items + 100, rng.integers(1, 6, users.size))


@pytest.fixture(scope="module")
def files(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    models = {
        "BiasedMF": BiasedMF(n_factors=3, n_epochs=2, random_state=0),
        "SVDpp": SVDpp(n_factors=3, n_epochs=2, random_state=0),
        "ItemKNN": ItemKNN(),
        "Popularity": Popularity(),
    }
    out = {}
    for name, model in models.items():
        out[name] = folder / f"{name}.npz"
        model.fit(data).save(out[name])
    return out


def edited(src, out, arrays=None, manifest=None):
    """A copy of model file ``src`` with arrays replaced (``None``: removed) and the
    manifest changed by ``manifest(dict)``, its digests recomputed as an editor would."""
    with zipfile.ZipFile(src) as zin:
        man = json.loads(zin.read("manifest.json"))
        got = {
            i.filename[: -len(".npy")]: np.lib.format.read_array(io.BytesIO(zin.read(i)))
            for i in zin.infolist()
            if i.filename.endswith(".npy")
        }
    for name, arr in (arrays or {}).items():
        if arr is None:
            got.pop(name)
        else:
            got[name] = arr(got[name]) if callable(arr) else arr
    man["arrays"] = {
        k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": digest(a)}
        for k, a in got.items()
    }
    if manifest is not None:
        man = manifest(man)
    with zipfile.ZipFile(out, "w") as zout:
        zout.writestr("manifest.json", json.dumps(man))
        for k, a in got.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a)
            zout.writestr(k + ".npy", buf.getvalue())
    return out


def _with(value, at=0):
    def change(arr):
        arr = arr.copy()
        arr.flat[at] = value
        return arr

    return change


CASES = [
    ("BiasedMF", {"state.user_factors_": _with(np.nan)}, "'state.user_factors_' holds NaN"),
    ("BiasedMF", {"state.item_bias_": _with(np.inf, 3)}, "'state.item_bias_' holds NaN"),
    ("SVDpp", {"state.y_": _with(-np.inf)}, "'state.y_' holds NaN or infinite"),
    ("ItemKNN", {"state.sim_data_": _with(np.nan)}, "'state.sim_data_' holds NaN"),
    ("BiasedMF", {"state.user_factors_": lambda a: a[:3]}, "a floating-point row per user (12)"),
    ("SVDpp", {"state.p_": lambda a: a[:-1]}, "'state.p_' has shape (11, 3)"),
    ("BiasedMF", {"state.item_factors_": lambda a: a[:, :2]}, "differ in dimension"),
    ("BiasedMF", {"state.user_factors_": lambda a: a.T.copy()}, "row per user"),
    ("BiasedMF", {"state.item_bias_": lambda a: a.astype(np.int64)}, "dtype int64"),
    ("BiasedMF", {"state.item_bias_": lambda a: a.astype(">f4")}, "holds >f4 values"),
    ("BiasedMF", {"state.user_bias_": lambda a: a.astype(str)}, "dtype <U"),
    ("Popularity", {"seen_indices": lambda a: a + 100}, "'seen_indices' holds item 10"),
    ("ItemKNN", {"seen_indices": _with(-1)}, "'seen_indices' holds item -1"),
    ("ItemKNN", {"seen_indptr": lambda a: a[::-1].copy()}, "'seen_indptr' does not rise"),
    ("ItemKNN", {"seen_indices": lambda a: a[::-1].copy()}, "not sorted within each user"),
    ("ItemKNN", {"state.sim_indices_": _with(99)}, "'state.sim_indices_' holds item 99"),
    ("ItemKNN", {"state.sim_indptr_": lambda a: a[:-1]}, "'state.sim_indptr_' has shape"),
    ("ItemKNN", {"state.ratings_": lambda a: a[:-1]}, "a value per seen cell"),
    ("ItemKNN", {"state.sim_data_": lambda a: a[:-1]}, "'state.sim_data_' does not match"),
    ("Popularity", {"users": lambda a: a[:3]}, "n_users=12 but the ids number 3"),
    ("Popularity", {"item_popularity": lambda a: a[:2]}, "'item_popularity' has shape (2,)"),
    ("Popularity", {"items": None}, "array 'items' is missing"),
]


@pytest.mark.parametrize(("kind", "arrays", "says"), CASES)
def test_contents_that_are_no_model_are_named(files, tmp_path, kind, arrays, says):
    bad = edited(files[kind], tmp_path / "bad.npz", arrays=arrays)
    with pytest.raises(ModelFileError) as err:
        latentrec.load(bad)
    assert str(bad) in str(err.value) and says in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: {**m, "algorithm": "FancyNewMF"}, "of kind 'FancyNewMF', which this"),
        (lambda m: {**m, "algorithm": 3}, "of kind 3, which this"),
        (lambda m: {**m, "algorithm": "Blend"}, "missing 1 required positional argument"),
        (lambda m: {k: v for k, v in m.items() if k != "data"}, "has no data section"),
        (lambda m: {k: v for k, v in m.items() if k != "params"}, "has no params section"),
        (lambda m: {**m, "params": {**m["params"], "n_factors": 0}}, "hyperparameters are inv"),
        (lambda m: {**m, "state": {}}, "needs learned values ['global_mean_']"),
        (lambda m: {**m, "state": {"global_mean_": None}}, "global_mean_ is None, not a"),
        (lambda m: {**m, "state": {"global_mean_": "3.5"}}, "global_mean_ is '3.5', not a"),
        (lambda m: {**m, "state": [1]}, "its manifest has no state section"),
        (lambda m: {**m, "params": [1]}, "its manifest has no params section"),
        (lambda m: {**m, "data": {**m["data"], "rating_scale": [5]}}, "rating_scale [5] is not"),
        (lambda m: {**m, "data": {**m["data"], "rating_scale": [5, 1]}}, "with low < high"),
        (lambda m: {**m, "data": {**m["data"], "trained_shape": [13, 8]}}, "within the mod"),
        (lambda m: {**m, "data": {**m["data"], "trained_shape": "12x8"}}, "'12x8' is not"),
    ],
)
def test_a_manifest_that_is_no_model_is_named(files, tmp_path, change, says):
    bad = edited(files["BiasedMF"], tmp_path / "bad.npz", manifest=change)
    with pytest.raises(ModelFileError) as err:
        latentrec.load(bad)
    assert str(bad) in str(err.value) and says in str(err.value), str(err.value)


def test_every_kind_saved_here_still_loads_and_answers_alike(files, data):
    for path in files.values():
        model = latentrec.load(path)
        again = latentrec.load(path)
        user = data.users.ids[0]
        assert model.recommend(user, 3).ids.tolist() == again.recommend(user, 3).ids.tolist()


@pytest.mark.parametrize(
    "damage", ["nan", "index", "kind", "truncated", "empty", "lrdata", "pickle"]
)
def test_the_cli_names_the_file_and_the_fault_in_one_line(files, data, tmp_path, damage):
    bad = tmp_path / "bad.npz"
    if damage == "nan":
        edited(files["BiasedMF"], bad, arrays={"state.item_factors_": _with(np.nan)})
    elif damage == "index":
        edited(files["ItemKNN"], bad, arrays={"state.sim_indices_": _with(10**6)})
    elif damage == "kind":
        edited(files["BiasedMF"], bad, manifest=lambda m: {**m, "algorithm": "Nope"})
    elif damage == "truncated":
        bad.write_bytes(files["BiasedMF"].read_bytes()[:700])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "lrdata":
        data.to_lrdata(bad)
    else:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([print], dtype=object), allow_pickle=True)
        with zipfile.ZipFile(files["BiasedMF"]) as zin, zipfile.ZipFile(bad, "w") as zout:
            for info in zin.infolist():
                raw = zin.read(info)
                if info.filename == "manifest.json":
                    man = json.loads(raw)
                    man["arrays"]["evil"] = {"dtype": "|O", "shape": [1], "sha256": "x"}
                    raw = json.dumps(man)
                zout.writestr(info.filename, raw)
            zout.writestr("evil.npy", buf.getvalue())
    for command in (["recommend", str(bad), "--user", "1"], ["similar", str(bad), "-i", "100"]):
        result = CliRunner().invoke(main, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert str(bad) in lines[0] and "unexpected" not in lines[0], lines[0]


def test_a_pipeline_file_given_where_a_model_is_expected_says_so(files, tmp_path):
    from latentrec.models.persistence import load as load_model

    bad = edited(
        files["BiasedMF"], tmp_path / "p.npz", manifest=lambda m: {**m, "algorithm": "Pipeline"}
    )
    with pytest.raises(ModelFileError, match="holds a pipeline, not a model; load it with"):
        load_model(bad)


@pytest.mark.parametrize(
    ("arrays", "says"),
    [
        ({"state.item_feature_factors_": lambda a: a[:, :2]}, "3 factors a row needed"),
        ({"state.item_feature_bias_": lambda a: a[:1]}, "a value per feature row"),
    ],
)
def test_feature_factors_must_fit_the_latent_space(data, tmp_path, arrays, says):
    from latentrec.models import HybridMF

    genres = ["Sci-Fi" if i % 2 else "Romance" for i in data.items.ids]
    featured = data.replace(item_features=pd.DataFrame({"genres": genres}, index=data.items.ids))
    path = tmp_path / "h.npz"
    HybridMF(n_factors=3, n_epochs=2, random_state=0).fit(featured).save(path)
    bad = edited(path, tmp_path / "bad.npz", arrays=arrays)
    with pytest.raises(ModelFileError) as err:
        latentrec.load(bad)
    assert str(bad) in str(err.value) and says in str(err.value), str(err.value)


def test_the_sorted_rows_check_matches_a_slow_reference_across_slices(monkeypatch):
    """``check_arrays`` looks at the seen cells a slice at a time; tiny slices put row
    starts, empty rows and falls on every kind of slice boundary."""
    from latentrec.models import persistence

    rng = np.random.default_rng(0)
    for trial in range(300):
        monkeypatch.setattr(persistence, "_SLICE", int(rng.integers(1, 6)))
        n_users, n_items = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        counts = rng.integers(0, n_items + 1, n_users)
        rows = [np.sort(rng.choice(n_items, c, replace=False)) for c in counts]
        if rng.random() < 0.6:  # damage one row (or not, when it has one cell)
            u = int(rng.integers(n_users))
            rows[u] = rng.permutation(rows[u]) if rng.random() < 0.5 else rows[u][::-1]
        indices = np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        arrays = {
            "users": np.arange(n_users),
            "items": np.arange(n_items),
            "seen_indptr": indptr,
            "seen_indices": indices,
            "item_popularity": np.ones(n_items, np.float32),
        }
        expected = all((np.diff(r) > 0).all() for r in rows)
        try:
            persistence.check_arrays({"data": {}, "params": {}, "state": {}}, arrays)
            got = True
        except ValueError as err:
            assert "not sorted within each user's row" in str(err)
            got = False
        assert got == expected, (trial, rows)


def test_the_training_shape_is_kept_and_files_without_it_still_load(files, tmp_path):
    assert latentrec.load(files["BiasedMF"]).catalog_.trained_shape == (12, 8)

    def older(m):
        return {**m, "data": {k: v for k, v in m["data"].items() if k != "trained_shape"}}

    old = edited(files["BiasedMF"], tmp_path / "old.npz", manifest=older)
    assert latentrec.load(old).catalog_.trained_shape is None
