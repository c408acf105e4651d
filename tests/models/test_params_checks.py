"""The shared hyperparameter checks: counts and numbers have an upper end the kernels can
hold, flags are bools, ``verbose`` is None/True/False or a level >= 0, and the refusals name the
parameter and the range, from Python, from a model file and on the command line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

import latentrec
from latentrec import Interactions
from latentrec.cli import main
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.io import read_archive, write_archive
from latentrec.models import (
    NMF,
    WARP,
    BiasedMF,
    Biases,
    GradientDescentMF,
    HybridMF,
    ImplicitALS,
    ItemKNN,
    SVDpp,
    TruncatedSVD,
)
from latentrec.models._training import MAX_COUNT, MAX_REAL, check_float, check_int


def sweep_data() -> Interactions:
    """12 users x 9 items, 1-5 stars, every user and item rated (the sweep's data)."""
    rng = np.random.default_rng(0)
    dense = rng.integers(1, 6, size=(12, 9)) * (rng.random((12, 9)) < 0.6)
    dense[:, 0] = 3
    dense[0, :] = 4
    return Interactions.from_dense(dense)


def test_a_count_wider_than_the_kernels_take_is_refused_with_its_range():
    check_int("k", MAX_COUNT)
    with pytest.raises(ValueError, match=rf"^k must be an integer >= 1 and <= {MAX_COUNT}, got"):
        check_int("k", 2**70)
    with pytest.raises(ValueError, match=r"got 1000.0 \(a float: write 1000\)"):
        check_int("n_epochs", 1e3)
    with pytest.raises(ValueError, match=r"must be an integer >= 1, got 2.5$"):
        check_int("n_epochs", 2.5)


def test_a_number_beyond_float32_or_64_bits_is_refused_by_name():
    check_float("regularization", MAX_REAL)
    with pytest.raises(ValueError, match=r"^regularization must be a finite number >= 0 and <="):
        check_float("regularization", 1e300)
    with pytest.raises(ValueError, match=r"too wide for 64 bits; write it as a float \(1.18"):
        check_float("regularization", 2**70)
    with pytest.raises(ValueError, match=r"^learning_rate must be a finite number > 0, got nan"):
        check_float("learning_rate", float("nan"), positive=True)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda v: Biases(regularization=v), "regularization"),
        (lambda v: ItemKNN(min_k=v), "min_k"),
        (lambda v: ItemKNN(k=v), "k"),
        (lambda v: ImplicitALS(cg_steps=v), "cg_steps"),
        (lambda v: HybridMF(min_rating=v), "min_rating"),
    ],
)
def test_huge_ints_are_refused_before_the_fit_not_inside_numpy(make, name):
    # Before: OverflowError (C long), numba TypingError or NumPy's ufunc TypeError, which
    # the command line called a bug.
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        make(2**70).check_params()


@pytest.mark.parametrize(
    ("cls", "name"), [(BiasedMF, "biased"), (NMF, "biased"), (HybridMF, "use_item_ids")]
)
def test_a_flag_must_be_a_bool_not_something_with_a_truth_value(cls, name):
    # Before: biased="false" was true, so trained a biased model; 2**70 an OverflowError.
    for value in ("false", 0, None, 2**70):
        with pytest.raises(ValueError, match=rf"^{name} must be True or False, got"):
            cls(**{name: value}).check_params()
    cls(**{name: np.bool_(False)}).check_params()


def test_verbose_must_be_none_true_false_or_a_level():
    for value in ("yes", 2.5, float("nan"), -1):
        with pytest.raises(ValueError, match=r"^verbose must be None"):
            BiasedMF(verbose=value).check_params()
    for value in (None, True, False, 0, 1, 2):
        BiasedMF(verbose=value).check_params()


def _run(*args):
    out = CliRunner().invoke(main, [str(a) for a in args])
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    return out.exit_code, lines


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    path = tmp_path_factory.mktemp("params") / "ratings.csv"
    cli_ratings_frame(n_users=30).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("algorithm", "param", "shown"),
    [
        ("itemknn", f"k={2**70}", "k must be an integer >= 1 and <= 2147483647"),
        ("itemknn", "min_k=1e3", "min_k must be an integer >= 0, got 1000.0 (a float: write"),
        ("biases", f"regularization={2**70}", "regularization must be a finite number >= 0"),
        ("biased-mf", "biased=maybe", "biased must be True or False, got 'maybe'"),
        ("nmf", "init_high=1e300", "init_high must be a finite number > 0 and <="),
        # The command set verbose itself, over the user's value, without a word.
        ("biased-mf", "verbose=true", "--param verbose is the command line's to set"),
    ],
)
def test_train_refuses_each_in_one_error_line(ratings, tmp_path, algorithm, param, shown):
    code, lines = _run("train", ratings, "-a", algorithm, "--param", param, "-q", "-o",
                       tmp_path / "m.npz")  # fmt: skip
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert shown in lines[0] and "unexpected" not in lines[0], lines
    assert not (tmp_path / "m.npz").exists()


def test_recommend_from_a_file_whose_k_is_too_wide_names_k(ratings, tmp_path):
    # Before: "Error: unexpected TypingError ... (a bug in latentrec ...)".
    path = tmp_path / "knn.npz"
    code, lines = _run("train", ratings, "-a", "itemknn", "-q", "-o", path)
    assert code == 0, lines
    manifest, arrays = read_archive(path)
    manifest["params"]["k"] = 2**70
    write_archive(path, manifest, arrays)
    with pytest.raises(latentrec.errors.ModelFileError, match="k must be an integer"):
        latentrec.load(path)
    code, lines = _run("recommend", path, "--user", 1)
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "k must be an integer >= 1 and <= 2147483647" in lines[0], lines
    assert "unexpected" not in lines[0]


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ItemKNN, {"k": MAX_COUNT, "max_neighbors": MAX_COUNT, "min_support": MAX_COUNT}),
        (ItemKNN, {"shrinkage": MAX_REAL, "num_threads": MAX_COUNT}),
        (TruncatedSVD, {"n_factors": 2, "max_iter": MAX_COUNT, "tol": MAX_REAL}),
        (WARP, {"n_factors": 2, "n_epochs": 1, "max_sampled": MAX_COUNT}),
        (
            HybridMF,
            {"n_factors": 2, "n_epochs": 1, "n_buckets": MAX_COUNT, "min_rating": -MAX_REAL},
        ),
    ],
)
def test_the_largest_values_allowed_fit_save_and_load(cls, params, tmp_path):
    model = cls(**params).fit(sweep_data())
    first = model.recommend(1, n=3).ids.tolist()
    model.save(tmp_path / "m.npz")
    assert latentrec.load(tmp_path / "m.npz").recommend(1, n=3).ids.tolist() == first


@pytest.mark.parametrize(
    ("cls", "params", "names"),
    [
        (SVDpp, {"init_std": 1000.0}, "init_std=1000.0 starts the factors far from 0"),
        (BiasedMF, {"regularization": 1000.0}, "learning_rate x regularization = 100"),
    ],
)
def test_a_divergence_caused_by_another_hyperparameter_names_it(cls, params, names):
    # Before: only "lower learning_rate (where the model has one) or raise regularization",
    # wrong advice for a huge init_std or regularization.
    with pytest.raises(FloatingPointError, match="diverged") as err:
        cls(n_factors=2, n_epochs=2, random_state=0, verbose=False, **params).fit(sweep_data())
    assert names in str(err.value) and "\n" not in str(err.value)


def test_a_fit_diverging_past_float32_is_one_error_without_a_numpy_warning():
    # GradientDescentMF's float64 factors overflowed float32 when stored: NumPy's
    # "overflow encountered in cast" came before the divergence error (the command line
    # printed it as a second line, "warning: overflow encountered in cast").
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="init_std=1000.0 starts the factors"):
            GradientDescentMF(n_factors=2, n_epochs=2, init_std=1000.0, random_state=0).fit(
                sweep_data()
            )
