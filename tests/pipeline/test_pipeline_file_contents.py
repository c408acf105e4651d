"""A pipeline file whose digests check out but whose parts do not fit together is one
ModelFileError naming the pipeline's file (never the temporary copy of a candidate, a
bare KeyError, or a file that loads and then indexes outside the catalogue), and the
command line says it in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import ModelFileError, datasets
from latentrec.cli import main
from latentrec.models import BiasedMF, Popularity
from latentrec.pipeline import Pipeline, Rules, load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_model_file_contents import edited  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    data = datasets.synthetic(20, 10, 80, random_state=0)
    pipe = Pipeline(
        [BiasedMF(n_factors=2, n_epochs=2, random_state=0), Popularity()],
        rerankers=[Rules(never=[data.items.ids[0]], bury=[data.items.ids[1]])],
        n_candidates=8,
    ).fit(data)
    path = tmp_path_factory.mktemp("pipe") / "pipe.npz"
    pipe.save(path)
    other = tmp_path_factory.mktemp("other") / "other.npz"
    Popularity().fit(datasets.synthetic(5, 4, 12, random_state=1)).save(other)
    return data, path, other


def _spec(**changes):
    return lambda m: {**m, "pipeline": {**m["pipeline"], **changes}}


CASES = [
    ({"arrays": {"context.seen_indices": lambda a: a + 50}}, "'context.seen_indices' holds"),
    ({"arrays": {"context.history_indptr": lambda a: a[:-1]}}, "'context.history_indptr' does"),
    ({"arrays": {"context.item_popularity": lambda a: a[:2]}}, "a row per item (10)"),
    ({"arrays": {"context.item_vectors": lambda a: a * np.nan}}, "holds NaN or infinite"),
    ({"arrays": {"stage0.never": lambda a: a + 50}}, "'stage0.never' holds item 5"),
    ({"arrays": {"stage0.bury": lambda a: a - 50}}, "'stage0.bury' holds item -"),
    ({"arrays": {"candidate.0": lambda a: a[:300]}}, "(candidate 0, BiasedMF) is not a"),
    ({"manifest": lambda m: {k: v for k, v in m.items() if k != "pipeline"}}, "'pipeline' is mis"),
    ({"manifest": _spec(n_candidates=-5)}, "n_candidates must be a positive integer"),
    ({"manifest": _spec(rerankers=[{"kind": "Rules", "params": {"x": 1}}])}, "keyword argument"),
    ({"manifest": _spec(ranker={})}, "entry 'ranker.model' is missing"),
]


@pytest.mark.parametrize(("change", "says"), CASES)
def test_parts_that_do_not_fit_are_named(saved, tmp_path, change, says):
    _, path, _ = saved
    bad = edited(path, tmp_path / "bad.npz", **change)
    with pytest.raises(ModelFileError) as err:
        load(bad)
    assert str(bad) in str(err.value) and says in str(err.value), str(err.value)
    assert "/tmp" not in str(err.value).replace(str(tmp_path), "")  # no temporary copy


def test_a_candidate_of_other_data_is_named(saved, tmp_path):
    _, path, other = saved
    raw = np.frombuffer(other.read_bytes(), dtype=np.uint8)
    bad = edited(path, tmp_path / "bad.npz", arrays={"candidate.1": raw})
    with pytest.raises(ModelFileError, match="candidate 1 knows other users or items"):
        load(bad)


def test_a_damaged_ranker_is_named(saved, tmp_path):
    pytest.importorskip("lightgbm")
    _, path, _ = saved
    garbage = np.frombuffer(b"tree\nversion=v4\nnonsense", dtype=np.uint8)
    bad = edited(
        path, tmp_path / "bad.npz", arrays={"ranker.model": garbage}, manifest=_spec(ranker={})
    )
    with pytest.raises(ModelFileError, match="its ranker cannot be read") as err:
        load(bad)
    assert str(bad) in str(err.value)


def test_the_file_as_saved_loads_and_answers_alike(saved):
    data, path, _ = saved
    user = data.users.ids[0]
    assert load(path).recommend(user, 3).ids.tolist() == load(path).recommend(user, 3).ids.tolist()


def test_the_cli_names_a_damaged_pipeline_in_one_line(saved, tmp_path):
    data, path, _ = saved
    bad = edited(path, tmp_path / "bad.npz", arrays={"stage0.never": lambda a: a + 50})
    result = CliRunner().invoke(main, ["recommend", str(bad), "--user", str(data.users.ids[0])])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert str(bad) in lines[0] and "stage0.never" in lines[0], lines[0]
