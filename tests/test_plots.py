"""Plots render to files with the expected axes; matplotlib missing gives a clear error."""

import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from latentrec import Interactions, plots  # noqa: E402
from latentrec.data.splits import random_split  # noqa: E402
from latentrec.models import BiasedMF, FactorModel, GradientDescentMF  # noqa: E402

GENRES = ["Sci-Fi", "Romance|Drama", "Comedy", "Action|Sci-Fi", "Drama"]


@pytest.fixture(scope="module")
def movie_data():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 40
    P, Q = rng.normal(0, 1, (n_users, 3)), rng.normal(0, 1, (n_items, 3))
    R = np.clip(np.round(3 + P @ Q.T / 2), 1, 5)
    mask = rng.random((n_users, n_items)) < 0.5
    u, i = np.nonzero(mask)
    df = pd.DataFrame({"user_id": u, "item_id": i, "rating": R[u, i]})
    meta = pd.DataFrame(
        {
            "title": [f"Film {i}" for i in range(n_items)],
            "genres": [GENRES[i % len(GENRES)] for i in range(n_items)],
        }
    )
    return Interactions.from_frame(df, item_features=meta, rating_scale=(1, 5))


def check_png(path, minimum=8_000):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > minimum


def test_taste_map(movie_data, tmp_path):
    model = GradientDescentMF(n_factors=4, n_epochs=300, random_state=0).fit(movie_data)
    path = tmp_path / "map.png"
    fig = plots.taste_map(model, movie_data, path, users=[0, 5], min_ratings=5, n_labels=5)
    check_png(path, 20_000)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("principal component 1")
    assert "variance" in ax.get_ylabel()
    assert ax.get_title().startswith("Taste map")
    texts = [t.get_text() for t in ax.texts]
    assert "user 0" in texts and "user 5" in texts
    assert sum(t.startswith("Film") for t in texts) == 5
    assert_labels_apart(ax)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"Sci-Fi", "Comedy", "Drama"} <= set(legend)
    assert any(t.startswith("users") for t in legend)
    # Chosen labels, and SVG output.
    fig = plots.taste_map(model, movie_data, tmp_path / "map.svg", label_items=[3], min_ratings=5)
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<?xml")
    assert [t.get_text() for t in fig.axes[0].texts] == ["Film 3"]


def test_taste_map_of_a_model_that_gained_users_and_items(movie_data):
    # Before: refused, the training data lacking the items added after training.
    model = GradientDescentMF(n_factors=3, n_epochs=50, random_state=0).fit(movie_data)
    before = plots.taste_map(model, movie_data, min_ratings=5, users=[0])
    model.partial_fit_users(pd.DataFrame({"user_id": [500, 500], "item_id": [0, 1], "rating": 5}))
    model.partial_fit_items(pd.DataFrame({"user_id": [0, 500], "item_id": 900, "rating": 4}))
    after = plots.taste_map(model, movie_data, min_ratings=5, users=[0, 500])
    texts = [t.get_text() for t in after.axes[0].texts]
    assert "user 500" in texts and not any("900" in t for t in texts)
    # The same items on the same axes: the added item has no ratings in the data.
    old, new = before.axes[0].collections[0], after.axes[0].collections[0]
    np.testing.assert_array_equal(old.get_offsets(), new.get_offsets())
    # A split of the training data is taken as before the model grew; data over other
    # ids (here the first users only) is refused.
    split = movie_data.subset(movie_data.item_idx != 3)
    assert plots.taste_map(model, split, min_ratings=5, users=[0]).axes
    first = movie_data.subset(movie_data.user_idx < movie_data.n_users - 1).to_frame()
    other = Interactions.from_frame(first, user="user_id", item="item_id", rating="rating")
    with pytest.raises(ValueError, match="vocabularies"):
        plots.taste_map(model, other, min_ratings=5)


def test_taste_map_needs_two_factors(movie_data):
    model = GradientDescentMF(n_factors=1, n_epochs=5).fit(movie_data)
    with pytest.raises(ValueError, match="at least 2 factors"):
        plots.taste_map(model, movie_data)


def test_learning_curves(movie_data, tmp_path):
    train, valid = random_split(movie_data, 0.2, random_state=0)
    model = BiasedMF(n_factors=4, n_epochs=15, random_state=0).fit(train, valid)
    path = tmp_path / "curves.png"
    fig = plots.learning_curves(model, path)
    check_png(path)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "RMSE")
    assert ax.get_title() == "Learning curves of BiasedMF"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
    train_line = ax.get_lines()[0]
    np.testing.assert_allclose(train_line.get_ydata(), model.history_["train_rmse"])
    assert any("best epoch" in t.get_text() for t in ax.texts)
    # A history dict without validation, from a ranking model: a loss axis, one line.
    fig = plots.learning_curves({"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4]})
    assert fig.axes[0].get_ylabel() == "loss" and len(fig.axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match="history"):
        plots.learning_curves({"loss": [1]})


def test_singular_spectrum(movie_data, tmp_path):
    path = tmp_path / "spectrum.png"
    fig = plots.singular_spectrum(movie_data, k=3, path=path, n_values=15)
    check_png(path)
    ax, right = fig.axes
    assert ax.get_xlabel() == "rank r" and ax.get_ylabel() == r"singular value $\sigma_r$"
    assert "cumulative share" in right.get_ylabel()
    assert "mean-centred" in ax.get_title()
    # The plotted values are the true top singular values of the centred matrix.
    M = movie_data.matrix.toarray()
    M[movie_data.matrix.toarray() != 0] -= movie_data.global_mean()
    s = np.linalg.svd(M, compute_uv=False)
    np.testing.assert_allclose(fig.spectrum_["singular_values"], s[:15], rtol=1e-6)
    np.testing.assert_allclose(
        fig.spectrum_["cumulative_share"][2], (s[:3] ** 2).sum() / (s**2).sum(), rtol=1e-6
    )
    assert any("first 3 keep" in t.get_text() for t in right.texts)
    with pytest.raises(ValueError, match="k must lie"):
        plots.singular_spectrum(movie_data, k=20, n_values=15)


def test_rating_distribution(movie_data, tmp_path):
    path = tmp_path / "dist.png"
    fig = plots.rating_distribution(movie_data, path)
    check_png(path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Rating values", "Ratings per user", "Ratings per item"]
    bars = fig.axes[0].patches
    values, counts = np.unique(movie_data.ratings, return_counts=True)
    assert [b.get_height() for b in bars] == counts.tolist()
    assert fig.axes[1].get_xscale() == "log"


def test_rating_value_labels_stay_clear_of_the_mean_and_inside_the_panel():
    # Before: when the first value was the commonest (implicit counts, low ratings) its
    # "77%" sat on the "mean 1.27" text and on the panel's frame; a bar of 10 ratings in
    # 3,000 was labelled "0%".
    counts = {1.0: 1800, 2.0: 450, 3.0: 75, 4.0: 10}
    cells = [v for v, n in counts.items() for _ in range(n)]
    df = pd.DataFrame({"user_id": range(len(cells)), "item_id": 0, "rating": cells})
    fig = plots.rating_distribution(Interactions.from_frame(df))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text().endswith("%")]
    (mean,) = [t for t in ax.texts if t.get_text().startswith("mean")]
    assert [t.get_text() for t in labels] == ["77%", "19%", "3%", "<1%"]
    frame = ax.get_window_extent(renderer)
    for label in labels:
        box = label.get_window_extent(renderer)
        assert not box.overlaps(mean.get_window_extent(renderer))
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1


def test_bad_path_and_missing_matplotlib(movie_data, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=".png or .svg"):
        plots.rating_distribution(movie_data, tmp_path / "x.jpg")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"latentrec\[plot\]"):
        plots.rating_distribution(movie_data)


@pytest.mark.network
def test_taste_map_on_movielens(tmp_path):
    from latentrec import datasets

    data = datasets.movielens("100k", verbose=False)
    model = BiasedMF(n_factors=8, n_epochs=10, random_state=0).fit(data)
    fig = plots.taste_map(model, data, tmp_path / "ml.png", users=[1])
    check_png(tmp_path / "ml.png", 50_000)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Sci-Fi" in legend and "Drama" in legend
    assert "Star Wars" in [t.get_text() for t in fig.axes[0].texts]
    assert_labels_apart(fig.axes[0])
    assert len(fig.axes[0].texts) == 15 + 1  # n_labels items, and the user


def assert_labels_apart(ax):
    """No two labels of ``ax`` overlap, and none covers the legend."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [plots._label_box(t, renderer) for t in ax.texts]
    legend = ax.get_legend().get_window_extent(renderer)
    for i, box in enumerate(boxes):
        assert not box.overlaps(legend), ax.texts[i].get_text()
        for j in range(i):
            assert not box.overlaps(boxes[j]), (ax.texts[i].get_text(), ax.texts[j].get_text())


@pytest.mark.parametrize("spacing", [0.1, 0.15, 0.25])
def test_taste_map_labels_never_overlap_on_crowded_maps(spacing):
    # Items on a grid in the plane, long titles: labels beside their points, spaced just
    # beyond the distance that keeps labels apart, cover their neighbours' unless each is
    # placed where it covers none (or is left out).
    rng = np.random.default_rng(3)
    side = int(1 / spacing) + 1
    grid = np.array([(x, y) for x in range(side) for y in range(side)], float) * spacing
    Q = grid + 1e-3 * rng.normal(size=grid.shape)
    n_users, n_items = 40, len(Q)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.5)
    df = pd.DataFrame({"user_id": u, "item_id": i, "rating": rng.integers(1, 6, u.size)})
    meta = pd.DataFrame(
        {
            "title": [f"A rather long film title {i:03d}" for i in range(n_items)],
            "genres": [GENRES[i % len(GENRES)] for i in range(n_items)],
        }
    )
    data = Interactions.from_frame(df, item_features=meta, rating_scale=(1, 5))
    ids = (data.users.ids, data.items.ids)
    model = FactorModel.from_factors(ids, Q, rng.normal(size=(n_users, 2)))
    fig = plots.taste_map(model, data, users=[0], min_ratings=1, n_labels=15)
    assert_labels_apart(fig.axes[0])
    assert len(fig.axes[0].texts) >= 6


def test_a_picture_is_written_whole_or_not_at_all(movie_data, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "dist.svg"
    plots.rating_distribution(movie_data, path)
    old = path.read_bytes()
    path.chmod(0o640)
    real = Figure.savefig

    def full_disk(fig, fname, **kwargs):
        real(fig, fname, **kwargs)  # the new picture is all there, then the write fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left"):
        plots.rating_distribution(movie_data.subset(np.arange(movie_data.nnz) % 2 == 0), path)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist.svg"]  # no temporary left

    monkeypatch.setattr(Figure, "savefig", real)
    plots.rating_distribution(movie_data.subset(np.arange(movie_data.nnz) % 2 == 0), path)
    new = path.read_bytes()
    assert new != old and new.lstrip().startswith(b"<?xml")
    assert path.stat().st_mode & 0o777 == 0o640  # the old file's mode, as a rewrite keeps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist.svg"]


# What `latentrec plot tradeoff --data ml-100k -o t.png` printed on 2026-12-05 (MMR's
# default pool of 50 candidates; ImplicitALS on the earliest 80%, 109 users): λ = 1 and
# 0.9 lie almost on top of each other (their labels were once drawn over each other in
# both panels), and every NDCG lies within 0.006 of the others.
ML100K_TRADEOFF = pd.DataFrame(
    {
        "lambda": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
        "ndcg": [0.1941, 0.1942, 0.1931, 0.1952, 0.1935, 0.1926, 0.1902, 0.1898],
        "diversity": [0.3870, 0.3904, 0.3989, 0.4080, 0.4215, 0.4363, 0.4677, 0.5091],
        "coverage": [0.1581, 0.1611, 0.1617, 0.1635, 0.1653, 0.1694, 0.1748, 0.1908],
    }
)
# The same command before MMR's pool became 50 (it re-ranked all candidates, pool=None):
# a longer curve, whose labels spread wider; kept for the label test.
ML100K_TRADEOFF_NO_POOL = pd.DataFrame(
    {
        "lambda": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
        "ndcg": [0.1941, 0.1939, 0.1954, 0.1913, 0.1931, 0.1913, 0.1890, 0.1663],
        "diversity": [0.3870, 0.3948, 0.4059, 0.4238, 0.4413, 0.4787, 0.5446, 0.6394],
        "coverage": [0.1581, 0.1611, 0.1629, 0.1665, 0.1706, 0.1772, 0.1986, 0.2378],
    }
)


def label_clashes(ax, lambdas) -> list[str]:
    """What each λ label of ``ax`` (drawn, one point per value of ``lambdas``) covers:
    another label, a point, the line, or the outside of the axes; checked on the boxes
    the renderer gives."""
    from matplotlib.path import Path
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    (line,) = ax.get_lines()
    points = ax.transData.transform(line.get_xydata())
    radius = line.get_markersize() / 72 * ax.figure.dpi / 2
    boxes = {t.get_text(): Text.get_window_extent(t, renderer) for t in ax.texts}
    clashes = []
    for name, box in boxes.items():
        own = float(name.removeprefix("λ="))
        for other, second in boxes.items():
            if other < name and box.overlaps(second):
                clashes.append(f"{name} overlaps {other}")
        if Path(points).intersects_bbox(box, filled=False):
            clashes.append(f"{name} covers the line")
        for lam, (x, y) in zip(lambdas, points, strict=True):
            dot = Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
            if lam != own and box.overlaps(dot):
                clashes.append(f"{name} covers the point of λ={lam:g}")
        if not (ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1)):
            clashes.append(f"{name} leaves the axes")
    return clashes


@pytest.mark.parametrize("curve", [ML100K_TRADEOFF, ML100K_TRADEOFF_NO_POOL])
def test_tradeoff_labels_cover_nothing_on_movielens_numbers(tmp_path, curve):
    path = tmp_path / "tradeoff.png"
    fig = plots.tradeoff_curve(curve, path)
    check_png(path)
    for dpi in (fig.dpi, 150):  # on screen and as written (_save uses 150 dpi)
        fig.set_dpi(dpi)
        fig.canvas.draw()
        for ax in fig.axes:
            assert sorted(t.get_text() for t in ax.texts) == sorted(
                f"λ={lam:g}" for lam in curve["lambda"]
            )
            assert label_clashes(ax, curve["lambda"]) == [], ax.get_xlabel()
    # A label away from its point has a line to it; one right beside it has none.
    for ax in fig.axes:
        for note in ax.texts:
            beside = max(abs(v) for v in note.xyann) <= 5
            assert (note.arrow_patch is None) == beside, note.get_text()


@pytest.mark.parametrize("zigzag", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_tradeoff_labels_never_overlap_on_crowded_curves(seed, zigzag):
    """Random curves with points that nearly coincide: no two labels overlap, and on a
    curve shaped like a real trade-off (NDCG falling as diversity and coverage grow,
    with noise) both ends are labelled, so the curve's direction is always readable."""
    from matplotlib.text import Text

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 16))
    lambdas = np.round(np.linspace(1.0, 0.0, n), 3)
    # Steps of very different sizes: some points nearly coincide, others are far apart.
    steps = rng.exponential(1.0, (n, 3)) * rng.choice([0.001, 1.0], (n, 1), p=[0.4, 0.6])
    signs = rng.choice([-1, 1], n) if zigzag else rng.choice([-0.3, 1], n, p=[0.3, 0.7])
    curve = pd.DataFrame(
        {
            "lambda": lambdas,
            "ndcg": 0.3 - np.cumsum(steps[:, 0] * signs) * 0.01,
            "diversity": 0.3 + np.cumsum(steps[:, 1]) * 0.02,
            "coverage": 0.1 + np.cumsum(steps[:, 2]) * 0.01,
        }
    )
    fig = plots.tradeoff_curve(curve)
    fig.canvas.draw()
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.texts]
        if not zigzag:
            assert f"λ={lambdas[0]:g}" in labels and f"λ={lambdas[-1]:g}" in labels
        assert len(labels) == len(set(labels)) and len(labels) >= min(n, 2) - zigzag
        boxes = [Text.get_window_extent(t) for t in ax.texts]  # the text, not its line
        assert not [
            (a, b) for a in range(len(boxes)) for b in range(a) if boxes[a].overlaps(boxes[b])
        ]


def test_plots_name_what_a_model_lacks_and_the_path_comes_second(movie_data, tmp_path):
    from latentrec.models import Biases, ItemKNN

    with pytest.raises(ValueError, match="Biases records no per-epoch history"):
        plots.learning_curves(Biases().fit(movie_data))
    with pytest.raises(ValueError, match="item factors; ItemKNN has none"):
        plots.taste_map(ItemKNN().fit(movie_data), movie_data)
    # singular_spectrum(data, path), as every plot here; k is keyword-only.
    path = tmp_path / "s.png"
    plots.singular_spectrum(movie_data, path, n_values=5)
    check_png(path)
    with pytest.raises(TypeError, match="pass k as k=3"):
        plots.singular_spectrum(movie_data, 3)
    with pytest.raises(TypeError, match="k must be a whole number"):
        plots.singular_spectrum(movie_data, k="3")


# What a reviewer saw on ML-100K: a trade-off axis cut to 0.1898-0.1958, untitled data;
# learning curves that named neither the loss nor how to get a validation curve; raw
# "σ_r" / "‖R‖²_F" text; and no way to mark k beyond 50 singular values.
def test_tradeoff_ndcg_axis_starts_at_zero_and_notes_the_range(tmp_path):
    about = "ImplicitALS on ml-100k, latest 20% of ratings held out, 109 users"
    fig = plots.tradeoff_curve(ML100K_TRADEOFF, tmp_path / "t.png", about=about)
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert low == 0 and 0.1952 < high < 0.25
    assert about in fig._suptitle.get_text()
    note = fig._supxlabel.get_text()
    assert "0.1898–0.1952" in note and "λ=1 → λ=0.3: −2.2%" in note
    # Without `about` the title is the plain one; a given title replaces it whole.
    fig = plots.tradeoff_curve(ML100K_TRADEOFF, title="mine")
    assert fig._suptitle.get_text() == "mine"


def test_learning_curves_name_the_loss_and_how_to_get_validation(movie_data):
    from latentrec.models import BPR, ImplicitALS

    model = BiasedMF(n_factors=4, n_epochs=5, random_state=0).fit(movie_data)
    ax = plots.learning_curves(model).axes[0]
    assert ax.get_title() == "Learning curves of BiasedMF"
    assert len(ax.get_lines()) == 1
    hint = ax.get_legend().get_title().get_text()
    assert "no validation curve" in hint and "model.fit(train, validation)" in hint
    assert "train --test-size 0.2 --no-refit\nrecords a held-out test curve" in hint
    implicit = ImplicitALS(n_factors=3, n_epochs=4, random_state=0).fit(movie_data)
    ax = plots.learning_curves(implicit).axes[0]
    assert ax.get_ylabel().startswith("weighted squared loss + L2")
    assert "does not use validation" in ax.get_legend().get_title().get_text()
    # A ranking model's curve: `latentrec train` gives it no validation data.
    bpr = BPR(n_factors=3, n_epochs=3, random_state=0).fit(movie_data)
    hint = plots.learning_curves(bpr).axes[0].get_legend().get_title().get_text()
    assert "model.fit(train, validation)" in hint and "--no-refit" not in hint
    assert "latentrec train records none for ranking models" in hint
    # With a validation curve there is nothing to hint.
    train, valid = random_split(movie_data, 0.2, random_state=0)
    model = BiasedMF(n_factors=4, n_epochs=5, random_state=0).fit(train, valid)
    assert plots.learning_curves(model).axes[0].get_legend().get_title().get_text() == ""


def test_spectrum_labels_are_mathtext_and_k_sets_how_many_values(tmp_path):
    rng = np.random.default_rng(0)
    data = Interactions.from_dense(rng.integers(1, 6, (120, 80)))
    fig = plots.singular_spectrum(data, tmp_path / "s.png", k=60)  # past the old 50
    ax, right = fig.axes
    M = data.matrix.toarray() - data.global_mean()  # every cell observed: all centred
    np.testing.assert_allclose(
        fig.spectrum_["singular_values"], np.linalg.svd(M, compute_uv=False)[:60], rtol=1e-6
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == r"singular value $\sigma_r$" and ax.get_ylabel().endswith(r"$\sigma_r$")
    assert r"$\|R\|_F^2$" in right.get_ylabel() and r"\|R\|_F^2$" in labels[1]
    for text in [*labels, ax.get_ylabel(), right.get_ylabel()]:
        outside = text.split("$")[::2]  # the parts that are not mathtext
        assert not any(c in part for part in outside for c in "_σ‖²"), text
    # k at the right edge: its note stays inside the figure, clear of the legend.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (note,) = right.texts
    box = note.get_window_extent(renderer)
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    assert not box.overlaps(ax.get_legend().get_window_extent(renderer))
    with pytest.raises(ValueError, match=r"k must lie in \[1, 79\] \(min\(users, items\) - 1"):
        plots.singular_spectrum(data, k=500)


def test_taste_map_and_factors_of_a_small_file_name_the_min_ratings_option(tmp_path):
    # The 6 x 6 example: no item has the default 50 ratings.  The command said "lower
    # min_ratings", an option `plot` did not have, so a small data set had no taste map.
    from click.testing import CliRunner

    from latentrec.cli import main

    R = np.array([[5, 5, 4, 1, 0, 1], [4, 5, 5, 2, 1, 0], [5, 4, 0, 1, 2, 1],
                  [1, 2, 1, 5, 4, 5], [0, 1, 2, 4, 5, 4], [2, 1, 1, 5, 5, 4]])  # fmt: skip
    u, i = np.nonzero(R)
    csv = tmp_path / "six.csv"
    pd.DataFrame({"user_id": u, "item_id": i, "rating": R[u, i]}).to_csv(csv, index=False)
    model = tmp_path / "six.npz"
    GradientDescentMF(n_epochs=50, random_state=0).fit(Interactions.from_csv(csv)).save(model)
    args = ["plot", "taste-map", "--model", str(model), "--data", str(csv)]
    r = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "a.png")])
    assert r.exit_code == 1
    assert "0 of --data's 6" in r.output and "lower --min-ratings" in r.output
    r = CliRunner().invoke(main, [*args, "--min-ratings", "4", "-o", str(tmp_path / "b.png")])
    assert r.exit_code == 0, r.output
    check_png(tmp_path / "b.png")
    # factors, on the same file, named the Python argument min_ratings= in its error.
    r = CliRunner().invoke(main, ["factors", str(model), "--data", str(csv)])
    assert r.exit_code == 1 and "the most is 6); lower --min-ratings" in r.output
    r = CliRunner().invoke(main, ["factors", str(model), "--data", str(csv), "--min-ratings", "1"])
    assert r.exit_code == 0 and "factor 1:" in r.output
    r = CliRunner().invoke(main, ["plot", "spectrum", "--data", str(csv), "--min-ratings", "4",
                                  "-o", str(tmp_path / "c.png")])  # fmt: skip
    assert r.exit_code == 2 and "does not read --min-ratings" in r.output


def test_small_data_gets_whole_number_ticks_for_counts_and_ranks():
    # On the 6x6 example the axes read "rank 1.5", "1.5 users" and "5.25 ratings per user".
    R = np.array([[5, 5, 4, 1, 0, 1], [4, 5, 5, 2, 1, 0], [5, 4, 0, 1, 2, 1],
                  [1, 2, 1, 5, 4, 5], [0, 1, 2, 4, 5, 4], [2, 1, 1, 5, 5, 4]])  # fmt: skip
    data = Interactions.from_dense(R, missing=0)

    def ticks(axis):
        lo, hi = sorted(axis.get_view_interval())
        values = [v for v in axis.get_ticklocs() if lo <= v <= hi]
        assert values
        return values

    spectrum = plots.singular_spectrum(data)
    spectrum.canvas.draw()
    assert all(float(v).is_integer() for v in ticks(spectrum.axes[0].xaxis))
    dist = plots.rating_distribution(data)
    dist.canvas.draw()
    for ax in dist.axes[1:]:
        assert all(float(v).is_integer() for v in ticks(ax.xaxis))
        assert all(float(v).is_integer() for v in ticks(ax.yaxis))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_the_k_mark_stays_inside_the_axes_when_k_keeps_most_of_the_norm(k):
    # The 6x6 example keeps 95% at k = 2: the label went up-right, over the title.
    R = np.array([[5, 5, 4, 1, 0, 1], [4, 5, 5, 2, 1, 0], [5, 4, 0, 1, 2, 1],
                  [1, 2, 1, 5, 4, 5], [0, 1, 2, 4, 5, 4], [2, 1, 1, 5, 5, 4]])  # fmt: skip
    fig = plots.singular_spectrum(Interactions.from_dense(R, missing=0), k=k)
    assert fig.spectrum_["cumulative_share"][k - 1] > 0.8
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    right = fig.axes[1]
    (label,) = [t for t in right.texts if t.get_text().startswith(f"first {k} keep")]
    box, axes = label.get_window_extent(renderer), right.get_window_extent(renderer)
    assert axes.x0 <= box.x0 and box.x1 <= axes.x1 and axes.y0 <= box.y0 and box.y1 <= axes.y1


def test_a_taste_map_without_genres_has_no_genre_legend(movie_data):
    # Every point was "other", under a legend titled "genre" with that one entry.
    bare = Interactions(movie_data.users, movie_data.items, movie_data.matrix)
    model = GradientDescentMF(n_epochs=20, random_state=0).fit(bare)
    assert plots.taste_map(model, bare, min_ratings=5).axes[0].get_legend() is None
    legend = plots.taste_map(model, bare, min_ratings=5, users=[0]).axes[0].get_legend()
    (entry,) = legend.get_texts()  # the users' stars only
    assert entry.get_text().startswith("users")
    assert legend.get_title().get_text() == ""
    # With genres the legend is as before.
    legend = plots.taste_map(model, movie_data, min_ratings=5).axes[0].get_legend()
    assert legend.get_title().get_text() == "genre"


def test_taste_map_refuses_an_unknown_label_item_and_warns_of_one_off_the_map(movie_data):
    from latentrec import UnknownIdError

    model = GradientDescentMF(n_factors=3, n_epochs=50, random_state=0).fit(movie_data)
    counts = movie_data.item_counts()
    rare = int(movie_data.items.ids[np.argmin(counts)])
    threshold = int(counts.min()) + 1  # every item but the rarest is on the map
    mapped = [int(i) for i in movie_data.items.ids[counts >= threshold][:2]]
    # An unknown id was silently left unlabelled: now an error naming it (and only it).
    with pytest.raises(UnknownIdError, match=r"unknown item id\(s\): 99999$"):
        plots.taste_map(model, movie_data, label_items=[mapped[0], 99999, rare], min_ratings=1)
    # A known item left out by min_ratings: a warning naming it; the others are labelled.
    with pytest.warns(UserWarning, match=rf"label_items \[{rare}\] have fewer than "
                      rf"min_ratings={threshold} ratings"):  # fmt: skip
        fig = plots.taste_map(
            model, movie_data, label_items=[mapped[1], rare, mapped[0]], min_ratings=threshold
        )
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(f"Film {i}" for i in mapped)
