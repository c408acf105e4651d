"""`latentrec recommend`'s re-ranking knobs take what the service's query knobs take.

The service refused ``boost_new`` above 10 (422) while ``--boost-new`` took any
non-negative number, so one request was answered by the command and refused by the
service.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

from latentrec.cli import main
from latentrec.pipeline.stages import KNOB_MAX_BOOST


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("knob_bounds")
    csv = folder / "ratings.csv"
    cli_ratings_frame(n_users=40).to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "-a", "implicit-als", "--factors", 4, "--seed", 0, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model


def boost(trained, amount):
    csv, model = trained
    return invoke(
        "recommend", model, "-u", 1, "-n", 5, "--boost-new", amount,
        "--data", csv, "--timestamp-col", "t", "--json",
    )  # fmt: skip


def test_boost_new_past_the_services_ceiling_is_refused(trained):
    out = boost(trained, KNOB_MAX_BOOST + 0.5)
    assert out.exit_code == 2  # click's range check, as for --diversity 1.5
    assert f"is not in the range 0<=x<={KNOB_MAX_BOOST}" in out.output
    at_ceiling = boost(trained, KNOB_MAX_BOOST)
    assert at_ceiling.exit_code == 0, at_ceiling.output
    assert len(json.loads(at_ceiling.stdout)) == 5


def test_the_service_takes_the_same_ceiling():
    pytest.importorskip("fastapi")
    from latentrec.service.knobs import MAX_BOOST

    assert MAX_BOOST == KNOB_MAX_BOOST
