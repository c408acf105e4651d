"""What `latentrec plot` draws says what it shows: the trade-off names the model, the
data and the hold-out and starts NDCG at 0; learning curves name the model and say how
to get a validation curve; -k of the spectrum computes as many values as it marks; and
--help keeps each kind's name on one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from new_user_support import error_line, invoke, train_both

pytest.importorskip("matplotlib")

from latentrec import plots  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_both(tmp_path_factory.mktemp("plots"))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the command drew, by plot function name."""
    figures = {}
    for name in ("tradeoff_curve", "learning_curves", "singular_spectrum"):
        original = getattr(plots, name)

        def keep(*args, _original=original, _name=name, **kwargs):
            figures[_name] = _original(*args, **kwargs)
            return figures[_name]

        monkeypatch.setattr(plots, name, keep)
    return figures


def test_tradeoff_is_titled_with_model_data_and_split_and_starts_at_zero(trained, drawn):
    csv, _, _, folder = trained
    args = ["--data", csv, "--timestamp-col", "t", "-a", "biased-mf", "-o", folder / "t.png"]
    out = invoke("plot", "tradeoff", *args)
    assert out.exit_code == 0, out.output
    fig = drawn["tradeoff_curve"]
    title = fig._suptitle.get_text()
    assert "BiasedMF on ratings.csv, latest 20% of ratings held out" in title
    assert all(ax.get_ylim()[0] == 0 for ax in fig.axes)
    assert fig._supxlabel.get_text().startswith("NDCG@10 spans ")


def test_tradeoff_title_gives_the_held_out_share_with_its_digits(trained, drawn):
    # It was a whole percent: --test-size 0.125 read "latest 12% of ratings held out".
    csv, _, _, folder = trained
    args = ["--data", csv, "--timestamp-col", "t", "--test-size", "0.125", "-o", folder / "t.png"]
    out = invoke("plot", "tradeoff", *args)
    assert out.exit_code == 0, out.output
    assert "latest 12.5% of ratings held out" in drawn["tradeoff_curve"]._suptitle.get_text()


def test_learning_curves_from_the_cli_name_the_model_and_the_missing_validation(trained, drawn):
    _, model, _, folder = trained
    out = invoke("plot", "learning-curves", "--model", model, "-o", folder / "c.png")
    assert out.exit_code == 0, out.output
    ax = drawn["learning_curves"].axes[0]
    assert ax.get_title() == "Learning curves of BiasedMF"
    assert "no validation curve" in ax.get_legend().get_title().get_text()


def test_spectrum_k_computes_as_many_values_or_names_the_matrix_limit(tmp_path, drawn):
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(100), np.arange(80), indexing="ij")
    csv = tmp_path / "dense.csv"
    pd.DataFrame(
        {"user_id": users.ravel(), "item_id": items.ravel(), "rating": rng.integers(1, 6, 8000)}
    ).to_csv(csv, index=False)
    out = invoke("plot", "spectrum", "--data", csv, "-k", 60, "-o", tmp_path / "s.png")
    assert out.exit_code == 0, out.output
    assert drawn["singular_spectrum"].spectrum_["singular_values"].size == 60
    line = error_line(
        invoke("plot", "spectrum", "--data", csv, "-k", 500, "-o", tmp_path / "x.png")
    )
    assert "k must lie in [1, 79] (min(users, items) - 1 of this 100×80 matrix)" in line


@pytest.mark.parametrize("width", [60, 80, 120])
def test_plot_help_keeps_every_kind_on_one_line(width):
    from click.testing import CliRunner

    from latentrec.cli import main

    out = CliRunner().invoke(main, ["plot", "--help"], terminal_width=width)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].endswith("plot [OPTIONS] KIND")
    kinds = "taste-map, learning-curves, spectrum, ratings, tradeoff"
    assert kinds in out.output
    assert not any(line.rstrip().endswith("learning-") for line in out.output.splitlines())
