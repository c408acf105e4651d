"""A re-ranking knob at 0 is off in `latentrec recommend`, as in the service's query.

``--diversity 0`` (or ``--calibrate 0``) added a stage that kept the ranking but handed
the next stage ranks in place of the model's scores, so ``--diversity 0 --boost-new 0.5``
gave another list than ``--boost-new 0.5``, and than the service's ``diversity=0&
boost_new=0.5``, which skips a knob at 0. On a saved pipeline, or on a model without
item factors, ``--diversity 0`` was refused where the service answers ``diversity=0``.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import Popularity
from latentrec.pipeline import Pipeline


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def items_of(out) -> list:
    assert out.exit_code == 0, out.output
    return [row["item_id"] for row in json.loads(out.stdout)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("knob_zero")
    csv = folder / "ratings.csv"
    frame = cli_ratings_frame(n_users=60)
    frame.to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "-a", "implicit-als", "--factors", 4, "--seed", 0, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model, frame


@pytest.mark.parametrize("zero", ["--diversity", "--calibrate"])
@pytest.mark.parametrize("user", [1, 2, 3, "nobody"])
def test_a_knob_at_zero_leaves_the_next_stage_its_scores(trained, zero, user):
    csv, model, _ = trained
    boost = ["--boost-new", 0.5, "--data", csv, "--timestamp-col", "t", "-n", 12, "--json"]
    alone = items_of(invoke("recommend", model, "-u", user, *boost))
    with_zero = items_of(invoke("recommend", model, "-u", user, zero, 0, *boost))
    assert with_zero == alone


def test_diversity_zero_on_a_pipeline_or_a_model_without_factors_is_the_plain_list(
    trained, tmp_path
):
    csv, model, frame = trained
    data = Interactions.from_frame(frame.drop(columns="t"))
    for path, fitted in (
        (tmp_path / "pipe.npz", Pipeline(Popularity(), n_candidates=20).fit(data)),
        (tmp_path / "pop.npz", Popularity().fit(data)),
    ):
        fitted.save(path)
        plain = items_of(invoke("recommend", path, "-u", 1, "-n", 5, "--json"))
        assert items_of(
            invoke("recommend", path, "-u", 1, "-n", 5, "--diversity", 0, "--json")
        ) == (plain)
