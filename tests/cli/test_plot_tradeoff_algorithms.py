"""`plot tradeoff -a` takes only algorithms with a latent space, where MMR compares items:
global-mean failed with "item 0 has a zero vector in item_vectors and is recommended", and
an unknown -a listed Blend and FactorModel, which no -a trains there, among the choices."""

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

WORKING = "als, biased-mf, bpmf, bpr, gd-mf, hybrid, implicit-als, nmf, svd, svdpp, warp"


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    csv = tmp_path_factory.mktemp("tradeoff") / "r.csv"
    cli_ratings_frame(n_users=40).to_csv(csv, index=False)
    return csv


@pytest.mark.parametrize("algorithm", ["global-mean", "biases", "itemknn", "popularity"])
def test_an_algorithm_without_a_latent_space_is_said_to_have_none(ratings, algorithm):
    png = ratings.parent / f"{algorithm}.png"
    line = error_line(invoke("plot", "tradeoff", "--data", ratings, "-a", algorithm, "-o", png))
    assert f"-a {algorithm} has no latent space" in line, line
    assert line.endswith(f"use one of {WORKING}"), line
    assert "zero vector" not in line and not png.exists()


@pytest.mark.parametrize("algorithm", ["nope", "Blend", "FactorModel"])
def test_the_choices_listed_are_those_that_work(ratings, algorithm):
    png = ratings.parent / "t.png"
    line = error_line(invoke("plot", "tradeoff", "--data", ratings, "-a", algorithm, "-o", png))
    # Only what works is offered (the registry's list had Blend and FactorModel).
    assert line.split("; use one of ")[1] == WORKING, line
    assert not png.exists()


def test_a_class_name_of_a_working_algorithm_still_draws(ratings):
    pytest.importorskip("matplotlib")
    png = ratings.parent / "ok.png"
    out = invoke("plot", "tradeoff", "--data", ratings, "-a", "BiasedMF", "-k", 3,
                 "--lambdas", "1,0.5", "-o", png)  # fmt: skip
    assert out.exit_code == 0, out.output
    assert png.exists()
