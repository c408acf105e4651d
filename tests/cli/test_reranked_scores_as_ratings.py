"""`recommend` with a re-ranking option (or a saved pipeline over one rating model) shows
the model's scores as ratings, clipped to its scale with the note, as it does without one:
`--diversity 0.3` showed 5.1881 on a 1-5 scale with no note. --json keeps raw scores."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import FactorModel, Popularity
from latentrec.models.catalog import Catalog
from latentrec.pipeline import MMR, Pipeline

NOTE = "shown clipped to it, as predict(clip=True) answers"


@pytest.fixture
def model(tmp_path):
    # User 1 has seen "a"; their scores: b 3 + 2.5 * 2 = 8 (past 5), c 3, d 3 + 0.25.
    catalog = Catalog.from_ids(
        [1, 2],
        ["a", "b", "c", "d"],
        seen=[[1, 0, 0, 0], [0, 1, 1, 1]],
        rating_scale=(1.0, 5.0),
    )
    Q = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    P = np.array([[2.5, 0.0], [0.2, 0.1]])
    fitted = FactorModel.from_factors(catalog, Q, P, global_mean=3.0, regularization=0.01)
    path = tmp_path / "m.npz"
    fitted.save(path)
    return fitted, path


def _rows(output: str) -> list[list[str]]:
    lines = output.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["rank", "item_id"])
    return [line.split() for line in lines[start + 1 :]]


def _run(*args):
    out = CliRunner().invoke(main, [str(a) for a in args])
    assert out.exit_code == 0, out.output
    return out


@pytest.mark.parametrize("knobs", [["--diversity", "0.3"], ["--rules", "{rules}"]])
def test_reranked_scores_are_clipped_with_the_note_and_json_stays_raw(model, tmp_path, knobs):
    fitted, path = model
    rules = tmp_path / "rules.toml"
    rules.write_text('bury = ["d"]\n')
    knobs = [k.format(rules=rules) for k in knobs]
    out = _run("recommend", path, "-u", 1, "-n", 3, *knobs)
    rows = _rows(out.stdout)
    items = [r[1] for r in rows]
    assert items[0] == "b" and sorted(items) == ["b", "c", "d"], out.stdout
    shown = [float(r[2]) for r in rows]
    assert shown == pytest.approx(fitted.predict([1] * 3, items, clip=True).tolist(), abs=5e-5)
    assert max(shown) == 5.0 and NOTE in out.stderr, out.output
    raw = json.loads(_run("recommend", path, "-u", 1, "-n", 3, "--json", *knobs).stdout)
    assert [r["item_id"] for r in raw] == items
    assert [r["score"] for r in raw] == pytest.approx(fitted.predict([1] * 3, items).tolist())
    assert raw[0]["score"] == pytest.approx(8.0)


def test_a_saved_pipeline_of_one_rating_model_is_clipped_too(model, tmp_path):
    fitted, _ = model
    history = Interactions(fitted.users_, fitted.items_, fitted.catalog_.seen)
    pipe = tmp_path / "pipe.npz"
    Pipeline(fitted, rerankers=[MMR(0.7)], n_candidates=10).fit(history).save(pipe)
    out = _run("recommend", pipe, "-u", 1, "-n", 2)
    assert [float(r[2]) for r in _rows(out.stdout)][0] == 5.0 and NOTE in out.stderr
    # Several candidates' fused ranks are no ratings: shown as they are, with no note.
    mixed = tmp_path / "mixed.npz"
    Pipeline([fitted, Popularity().fit(history)], n_candidates=10).fit(history).save(mixed)
    out = _run("recommend", mixed, "-u", 1, "-n", 2)
    assert all(float(r[2]) < 1.0 for r in _rows(out.stdout)) and NOTE not in out.stderr


@pytest.mark.parametrize("knobs", [["--diversity", "0.3"], ["--rules", "{rules}"]])
def test_a_huge_n_with_a_knob_lists_every_unseen_item(model, tmp_path, knobs):
    """-n past the catalogue: the candidate pool stops at the items there are (it was
    5 per slot, refused as 'n_candidates ... got 2500000000', an option nobody gave)."""
    _, path = model
    rules = tmp_path / "rules.toml"
    rules.write_text('bury = ["d"]\n')
    knobs = [k.format(rules=rules) for k in knobs]
    out = _run("recommend", path, "-u", 1, "-n", 500_000_000, *knobs)
    assert sorted(r[1] for r in _rows(out.stdout)) == ["b", "c", "d"]
