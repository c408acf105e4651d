"""`plot taste-map --label-items` labels the items named: an unknown id is one error line,
an item left off the map by --min-ratings a warning naming it and the option to lower."""

from __future__ import annotations

import pytest
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels")
    frame = cli_ratings_frame(n_users=300)
    csv = folder / "ratings.csv"
    frame.to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "--factors", 3, "--epochs", 3, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model, frame.item_id.value_counts(), folder


def test_an_unknown_label_item_is_one_error_line(trained):
    csv, model, counts, folder = trained
    picture = folder / "unknown.png"
    out = invoke(
        "plot", "taste-map", "--model", model, "--data", csv, "--label-items", "100,99999",
        "-o", picture,
    )  # fmt: skip
    assert out.exit_code == 1
    assert error_line(out) == "Error: unknown item id(s): 99999"
    assert not picture.exists()


def test_a_label_item_off_the_map_is_named_in_a_warning(trained, monkeypatch):
    from latentrec import plots

    csv, model, counts, folder = trained
    threshold = int(counts.min()) + 1
    rare, common = int(counts.idxmin()), int(counts.idxmax())
    drawn = {}
    original = plots.taste_map

    def keep(*a, **kw):
        drawn["fig"] = original(*a, **kw)
        return drawn["fig"]

    monkeypatch.setattr(plots, "taste_map", keep)
    picture = folder / "labels.png"
    out = invoke(
        "plot", "taste-map", "--model", model, "--data", csv, "--min-ratings", threshold,
        "--label-items", f"{common}, {rare}", "-o", picture,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert (
        f"warning: --label-items {rare} have fewer than {threshold} ratings in --data, so "
        "they are not on the map and get no label; lower --min-ratings to show them"
    ) in out.output
    assert [t.get_text() for t in drawn["fig"].axes[0].texts] == [str(common)]
    assert picture.stat().st_size > 0


def test_label_items_is_refused_by_the_other_plots(trained):
    csv, _, _, folder = trained
    out = invoke("plot", "spectrum", "--data", csv, "--label-items", "100", "-o", folder / "s.png")
    assert out.exit_code == 2
    assert "plot spectrum does not read --label-items (taste-map only)" in out.output


@pytest.fixture(scope="module")
def odd_ids(tmp_path_factory):
    import numpy as np
    import pandas as pd

    folder = tmp_path_factory.mktemp("odd_labels")
    items = ["a,b", 'say "hi", now', "x=y", "plain", "p5", "p6"]
    rng = np.random.default_rng(2)
    rows = [(u, item, int(rng.integers(1, 6))) for u in range(40) for item in items]
    csv = folder / "odd.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).to_csv(csv, index=False)
    model = folder / "odd.npz"
    out = invoke("train", csv, "--factors", 2, "--epochs", 3, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model, folder


def drawn_labels(monkeypatch, *args) -> list[str]:
    from latentrec import plots

    drawn = {}
    original = plots.taste_map

    def keep(*a, **kw):
        drawn["fig"] = original(*a, **kw)
        return drawn["fig"]

    monkeypatch.setattr(plots, "taste_map", keep)
    out = invoke(*args)
    assert out.exit_code == 0, out.output
    return [t.get_text() for t in drawn["fig"].axes[0].texts]


def test_label_items_takes_csv_quoted_ids_as_onboard_answers_do(odd_ids, monkeypatch):
    csv, model, folder = odd_ids
    base = ("plot", "taste-map", "--model", model, "--data", csv, "--min-ratings", 1)
    # An id with a comma (and one with quotes inside) is written as in a CSV file, the
    # way onboard --answers takes it; a bare id may hold '='.
    labels = '"a,b", "say ""hi"", now",x=y'
    got = drawn_labels(monkeypatch, *base, "--label-items", labels, "-o", folder / "q.png")
    assert got == ["a,b", 'say "hi", now', "x=y"]
    assert (folder / "q.png").stat().st_size > 0


@pytest.mark.parametrize(
    "labels, words",
    [
        ('"a,b', "needs its closing quote"),
        ('"a,b"x', "item ids separated by commas"),
        ('"",plain', "item ids separated by commas"),
        (" , ", "item ids separated by commas"),
    ],
)
def test_malformed_quoted_label_items_are_one_line(odd_ids, labels, words):
    csv, model, folder = odd_ids
    picture = folder / "bad.png"
    out = invoke(
        "plot", "taste-map", "--model", model, "--data", csv, "--min-ratings", 1,
        "--label-items", labels, "-o", picture,
    )  # fmt: skip
    assert words in error_line(out)
    assert not picture.exists()
