"""`explain` for users a model does not know or gained after training: a ranking model
refuses (it has no answer for such a user to explain), the JSON names no factor for a
user with no user part, and --data without the user's ratings is said so."""

import json

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

import latentrec
from latentrec import UnknownIdError
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.models import BPR, WARP, BiasedMF, ImplicitALS


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain_unknown")
    frame = cli_ratings_frame(times=False)
    frame.to_csv(folder / "ratings.csv", index=False)
    data = latentrec.Interactions.from_frame(frame, rating_scale=(1, 5))
    for name, model in {
        "mf": BiasedMF(n_factors=3, n_epochs=10, random_state=0),
        "bpr": BPR(n_factors=3, n_epochs=3, random_state=0),
        "warp": WARP(n_factors=3, n_epochs=3, random_state=0),
        "ials": ImplicitALS(n_factors=3, n_epochs=3, random_state=0),
    }.items():
        model.fit(data).save(folder / f"{name}.npz")
    return folder


@pytest.mark.parametrize("name", ["bpr", "warp", "ials"])
def test_a_ranking_model_refuses_an_unknown_user(folder, name):
    model = latentrec.load(folder / f"{name}.npz")
    assert not model.predicts_ratings
    for unknown in ("error", "baseline"):
        with pytest.raises(UnknownIdError) as err:
            model.explain(999, 101, unknown=unknown)
        said = str(err.value)
        assert "999" in said and "no personal score" in said
        assert "popularity list" in said and "baseline" in said
    # What the refusal promises: recommend answers such a user with the popularity list.
    assert model.recommend(999, n=3).fallback
    line = error_line(invoke("explain", folder / f"{name}.npz", "-u", 999, "-i", 101))
    assert "no personal score" in line and "popularity list" in line
    assert "999" in line and type(model).__name__ in line
    # A known user is explained as before.
    out = invoke("explain", folder / f"{name}.npz", "-u", 1, "-i", 101)
    assert out.exit_code == 0 and "ranking score" in out.stdout, out.output


def test_json_names_no_factor_for_an_unknown_user(folder):
    raw = invoke("explain", folder / "mf.npz", "-u", 999, "-i", 101, "--json")
    assert raw.exit_code == 0, raw.output
    why = json.loads(raw.stdout)
    assert why["user_known"] is False and why["top_factors"] == []
    assert why["interaction"] == 0
    known = json.loads(invoke("explain", folder / "mf.npz", "-u", 1, "-i", 101, "--json").stdout)
    assert len(known["top_factors"]) == 3


def test_data_without_the_added_users_ratings_is_said(folder, tmp_path):
    fold = tmp_path / "fold.npz"
    answers = ("--answers", "101=5,102=4,103=1")
    out = invoke("onboard", folder / "mf.npz", *answers, "--save-as", 5000, "-o", fold)
    assert out.exit_code == 0, out.output
    for extra in ((), ("--json",)):
        args = ("explain", fold, "-u", 5000, "-i", 105, "--data", folder / "ratings.csv")
        out = invoke(*args, *extra)
        assert out.exit_code == 0, out.output
        lines = [x for x in out.stderr.splitlines() if x != COMPILE_MESSAGE]
        assert len(lines) == 1 and lines[0].startswith("note: "), lines
        assert "has no ratings for user '5000'" in lines[0]
        assert "model's fit of what they rated" in lines[0]
        if extra:
            json.loads(out.stdout)  # standard output stays JSON
    # A user with ratings in --data gets no such note.
    out = invoke("explain", fold, "-u", 1, "-i", 105, "--data", folder / "ratings.csv")
    assert out.exit_code == 0, out.output
    assert not [x for x in out.stderr.splitlines() if x.startswith("note:")]
