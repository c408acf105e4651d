"""`recommend` and `onboard` show a rating model's scores as ratings: clipped to its scale,
as predict(clip=True) answers (they showed 6.96 on a 1-5 scale); --json keeps the raw
scores, and the order is the model's either way."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import load
from latentrec.cli import main
from latentrec.models import FactorModel
from latentrec.models.catalog import Catalog


@pytest.fixture
def model_path(tmp_path):
    catalog = Catalog.from_ids(
        [1, 2], ["a", "b", "c"], seen=[[1, 0, 0], [0, 1, 0]], rating_scale=(1.0, 5.0)
    )
    Q = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    P = np.array([[2.5, 0.0], [0.2, 0.1]])
    model = FactorModel.from_factors(catalog, Q, P, global_mean=3.0, regularization=0.01)
    path = tmp_path / "m.npz"
    model.save(path)
    return path


def _rows(output: str) -> list[list[str]]:
    lines = output.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["rank", "item_id"])
    return [line.split() for line in lines[start + 1 :]]


def test_recommend_shows_a_rating_past_the_scale_as_predict_clip_gives_it(model_path):
    model = load(model_path)
    runner = CliRunner()
    out = runner.invoke(main, ["recommend", str(model_path), "-u", "1", "-n", "2"])
    assert out.exit_code == 0, out.output
    rows = _rows(out.stdout)
    assert [r[1] for r in rows] == ["b", "c"]
    clipped = model.predict([1, 1], ["b", "c"], clip=True)
    assert [float(r[2]) for r in rows] == pytest.approx(clipped.tolist(), abs=5e-5)
    assert "shown clipped to it, as predict(clip=True) answers" in out.stderr
    raw = json.loads(
        runner.invoke(main, ["recommend", str(model_path), "-u", "1", "-n", "2", "--json"]).stdout
    )
    assert [r["score"] for r in raw] == pytest.approx(model.predict([1, 1], ["b", "c"]).tolist())
    assert raw[0]["score"] == pytest.approx(8.0)


def test_onboard_shows_ratings_within_the_scale_like_recommend(model_path, tmp_path):
    runner = CliRunner()
    saved = tmp_path / "grown.npz"
    args = ["onboard", str(model_path), "--answers", "a=5", "-n", "2"]
    out = runner.invoke(main, [*args, "--save-as", "9", "-o", str(saved)])
    assert out.exit_code == 0, out.output
    rows = _rows(out.stdout)
    assert [r[1] for r in rows] == ["b", "c"]
    assert all(1.0 <= float(r[2]) <= 5.0 for r in rows) and float(rows[0][2]) == 5.0
    # The user saved: recommend shows them the same numbers.
    again = runner.invoke(main, ["recommend", str(saved), "-u", "9", "-n", "2"])
    assert _rows(again.stdout) == rows
    raw = json.loads(runner.invoke(main, [*args, "--json"]).stdout)
    assert raw[0]["score"] > 5.0  # the JSON keeps the model's own score
