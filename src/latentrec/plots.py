"""Pictures of the data and of the latent space (needs matplotlib: ``pip install latentrec[plot]``).

Every function draws on a fresh :class:`matplotlib.figure.Figure` with the Agg canvas
(no pyplot, so no global state and no window), returns the Figure, and when given
``path`` also writes it there (``.png`` or ``.svg``, by the suffix).

* :func:`taste_map` — the item vectors in 2-D (PCA), coloured by genre, some titles and
  users placed among them;
* :func:`learning_curves` — train / validation error per epoch from ``model.history_``;
* :func:`singular_spectrum` — singular values of the rating matrix and the share of the
  squared Frobenius norm the first k keep;
* :func:`rating_distribution` — how the stars are spread and how ratings pile up on few
  users and items;
* :func:`tradeoff_curve` — accuracy against diversity and against catalogue coverage as
  MMR's lambda moves (from :func:`latentrec.pipeline.tradeoff`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .data.genres import genre_label_lists
from .data.interactions import Interactions
from .io.atomic import atomic_path
from .models.inputs import with_model_ids

# Distinct colours for the most common main genres; everything else is grey.
_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
]


def _figure(width: float, height: float, ncols: int = 1):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "latentrec.plots needs matplotlib; install the plot extra: "
            "pip install 'latentrec[plot]'"
        ) from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, c + 1) for c in range(ncols)]
    return fig, (axes[0] if ncols == 1 else axes)


def check_picture_path(path) -> str:
    """The picture format ``path`` names (``".png"`` or ``".svg"``); a ``ValueError``
    for any other name, which the plots refuse.

    Example:
        >>> check_picture_path("map.PNG")
        '.png'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"path must end in .png or .svg, got {Path(path).name!r}")
    return suffix


def _save(fig, path) -> None:
    if path is None:
        return
    suffix = check_picture_path(path)
    # Written whole or not at all, as model files are: a failure while drawing or writing
    # (a full disk) leaves the old picture, not half of a new one.  The temporary name
    # does not end in .png/.svg, so the format is named.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix[1:], dpi=150 if suffix == ".png" else None)


# ---------------------------------------------------------------------- taste map
def _main_genres(data: Interactions, column: str, rows: np.ndarray, n_genres: int):
    """(main genre per row, coloured genres): the ``n_genres`` most frequent genres among
    ``rows`` get colours, and each item's main genre is the rarest of its genres among
    those (Star Wars, "Action|Adventure|Romance|Sci-Fi|War", is Sci-Fi), else "".  Cells
    are ``|``-joined text or lists of names, read by one reader (``genre_label_lists``)."""
    table = data.item_features
    if table is None or column not in table.columns:
        return np.full(rows.size, "", dtype=object), []
    parts = genre_label_lists(table[column].iloc[rows].rename(column))
    freq: dict[str, int] = {}
    for labels in parts:
        for g in labels:
            if g and g != "unknown":
                freq[g] = freq.get(g, 0) + 1
    coloured = sorted(freq, key=lambda g: (-freq[g], g))[:n_genres]
    out = np.empty(rows.size, dtype=object)
    for n, labels in enumerate(parts):
        mine = [g for g in labels if g in coloured]
        out[n] = min(mine, key=lambda g: (freq[g], g)) if mine else ""
    return out, coloured


def taste_map(
    model,
    data: Interactions,
    path=None,
    *,
    users=None,
    min_ratings: int = 50,
    n_labels: int = 15,
    label_items=None,
    genre_column: str = "genres",
    n_genres: int = 8,
    title: str | None = None,
):
    """The item vectors projected on their first two principal components.

    ``data`` is the interactions the model was trained on (or a split of it); for a model
    that gained users or items after training, the training data without them
    (:func:`~latentrec.models.inputs.with_model_ids`), and an added user can be placed.
    Points are the items with at least ``min_ratings`` ratings in ``data``, coloured by
    genre: the ``n_genres`` (at most 9) most frequent genres get colours and each item
    takes the rarest of its genres among them, so Star Wars ("Action|Adventure|
    Romance|Sci-Fi|War", or the same names as a list) is Sci-Fi; items with none of them
    are grey.  The ``n_labels``
    most-rated items are labelled, skipping any too close to a label already placed or
    with no place beside its point where its label covers no other label nor the legend
    (or exactly ``label_items`` when given: an id the data does not know is an
    :class:`~latentrec.UnknownIdError` naming it, and one with fewer than
    ``min_ratings`` ratings, so not on the map, a warning naming it).  Each of
    ``users`` is drawn as a star at the projection p_u·V of its vector on the same two
    axes (all users scaled by one common factor to the items' extent), so an item lying
    far in a user's direction scores high for that user on these two components.

    Example:
        >>> from latentrec import datasets
        >>> from latentrec.models import BiasedMF
        >>> data = datasets.movielens("100k")  # doctest: +SKIP
        >>> model = BiasedMF(n_factors=20, random_state=0).fit(data)  # doctest: +SKIP
        >>> fig = taste_map(model, data, "map.png", users=[1, 405])  # doctest: +SKIP
    """
    model.check_fitted()
    if getattr(model, "item_factors_", None) is None:
        raise ValueError(
            f"a taste map needs a model with item factors; {type(model).__name__} has none"
        )
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be latentrec.Interactions, got {type(data).__name__}")
    data = with_model_ids(model, data)
    Q = np.asarray(model.item_factors_, dtype=np.float64)
    if Q.shape[1] < 2:
        raise ValueError("a taste map needs a model with at least 2 factors")
    counts = data.item_counts()
    rows = np.flatnonzero(counts >= min_ratings)
    if rows.size < 3:
        raise ValueError(f"fewer than 3 items have {min_ratings} ratings; lower min_ratings")
    mean = Q[rows].mean(axis=0)
    _, s, vt = np.linalg.svd(Q[rows] - mean, full_matrices=False)
    V = vt[:2].T
    xy = (Q[rows] - mean) @ V
    share = s[:2] ** 2 / (s**2).sum()

    fig, ax = _figure(11, 8.5)
    genres, coloured = _main_genres(data, genre_column, rows, min(n_genres, len(_PALETTE)))
    other = genres == ""
    if other.any():
        # Without genres every point is "other": a legend "genre: other" said nothing.
        label = "other" if len(coloured) else "_nolegend_"
        ax.scatter(*xy[other].T, s=14, c="#c7c7c7", alpha=0.6, linewidths=0, label=label)
    for g, colour in zip(coloured, _PALETTE, strict=False):
        sel = genres == g
        ax.scatter(*xy[sel].T, s=18, c=colour, alpha=0.75, linewidths=0, label=g)

    if users is not None:
        u_idx = model.users_.index(np.atleast_1d(np.asarray(users)))
        uxy = np.asarray(model.user_factors_, dtype=np.float64)[u_idx] @ V
        reach = np.abs(xy).max()
        scale = 0.85 * reach / max(np.abs(uxy).max(), 1e-12)
        uxy = uxy * scale
        ax.scatter(
            *uxy.T,
            marker="*",
            s=260,
            c="gold",
            edgecolors="black",
            zorder=5,
            label=f"users (vectors ×{scale:.2g})",
        )
        for uid, (x, y) in zip(np.atleast_1d(np.asarray(users)), uxy, strict=True):
            ax.annotate(
                f"user {uid}",
                (x, y),
                xytext=(8, -10),
                textcoords="offset points",
                fontsize=10,
                fontweight="bold",
                zorder=6,
            )
    ax.axhline(0, color="#999999", lw=0.6, zorder=0)
    ax.axvline(0, color="#999999", lw=0.6, zorder=0)
    ax.set_xlabel(f"principal component 1 of the item vectors ({share[0]:.0%} of variance)")
    ax.set_ylabel(f"principal component 2 ({share[1]:.0%} of variance)")
    ax.set_title(
        title
        or f"Taste map: {rows.size} items with ≥{min_ratings} ratings, "
        f"{type(model).__name__} k={Q.shape[1]}"
    )
    if ax.get_legend_handles_labels()[0]:
        legend = ax.legend(
            title="genre" if len(coloured) else None,
            loc="best",
            fontsize=8.5,
            title_fontsize=9,
            framealpha=0.85,
        )
        for handle in legend.legend_handles:
            handle.set_sizes([45])
    titles = data.item_titles()[rows]
    if label_items is not None:
        order = _chosen_labels(data, rows, label_items, min_ratings)
    else:
        order = np.argsort(-counts[rows], kind="stable")
    _label_items(ax, xy, order, [_short(str(t)) for t in titles], n_labels, label_items is None)
    _save(fig, path)
    return fig


def _chosen_labels(data: Interactions, rows: np.ndarray, label_items, min_ratings: int):
    """Positions in ``rows`` (the mapped items) of ``label_items``, in the order given.

    An id the data does not know is an :class:`~latentrec.UnknownIdError` naming it (it
    was silently left unlabelled); a known item with fewer than ``min_ratings`` ratings
    is not on the map, and a warning names it.

    Example:
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 0]]))
        >>> _chosen_labels(data, np.array([0, 1]), [1, 0], 1).tolist()
        [1, 0]
    """
    import warnings

    wanted = np.atleast_1d(np.asarray(label_items, dtype=object))
    idx = data.items.index(wanted)  # UnknownIdError naming every unknown id
    where = {int(r): n for n, r in enumerate(rows)}
    off = [i for i, r in zip(wanted.tolist(), idx.tolist(), strict=True) if r not in where]
    if off:
        warnings.warn(
            f"label_items {off} have fewer than min_ratings={min_ratings} ratings, so they "
            "are not on the map and get no label; lower min_ratings to show them",
            UserWarning,
            stacklevel=3,
        )
    return np.array([where[r] for r in dict.fromkeys(idx.tolist()) if r in where], dtype=np.int64)


# Where an item's label may sit beside its point, in points: up-right first.
_ITEM_LABEL_PLACES = [(4, 3), (-4, 3), (4, -3), (-4, -3)]


def _label_items(ax, xy, order, titles, n_labels: int, choose: bool) -> None:
    """Label the taste map's items in ``order``: each beside its point where it covers no
    label already there (the users' included) nor the legend, and stays inside the axes.

    With ``choose`` (no ``label_items`` given), labels go to the first ``n_labels`` items
    that have such a place and lie apart from the labelled ones (9% of the map's span);
    the others are left out rather than drawn over a label.  Items the caller chose are
    all labelled, each where it overlaps least.

    Example:
        >>> fig, ax = _figure(3, 2)
        >>> xy = np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 1.0]])
        >>> _ = ax.scatter(*xy.T)
        >>> _label_items(ax, xy, np.arange(3), ["a long title", "another title", "c"], 3, True)
        >>> sorted(t.get_text() for t in ax.texts)
        ['a long title', 'c']
    """
    ax.figure.canvas.draw()  # the layout settled: boxes are measured where they will be
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.bbox.padded(-1)
    taken = [_label_box(t, renderer).padded(1) for t in ax.texts]
    if ax.get_legend() is not None:
        taken.append(ax.get_legend().get_window_extent(renderer))
    span = np.ptp(xy, axis=0).max()
    picked: list[int] = []
    for r in order:
        if choose and len(picked) >= n_labels:
            break
        if choose and any(np.linalg.norm(xy[r] - xy[p]) <= 0.09 * span for p in picked):
            continue
        best = None
        for dx, dy in _ITEM_LABEL_PLACES:
            note = ax.annotate(
                titles[r], xy[r], xytext=(dx, dy), textcoords="offset points",
                ha="left" if dx > 0 else "right", va="bottom" if dy > 0 else "top",
                fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
            )  # fmt: skip
            note.set_in_layout(False)
            box = _label_box(note, renderer).padded(1)
            cost = sum(box.overlaps(t) for t in taken) + (
                not (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1))
            )
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, note, box)
            else:
                note.remove()
            if cost == 0:
                break
        cost, note, box = best
        if choose and cost:
            note.remove()
            continue
        taken.append(box)
        picked.append(r)
        ax.scatter(*xy[r], s=30, facecolors="none", edgecolors="black", linewidths=0.8)


def _whole_numbers():
    """A tick locator that puts ticks on whole numbers only (counts, ranks)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _epoch_ticks(epochs) -> np.ndarray:
    """Whole epochs within the run for the x axis: every one on a short run, else the
    round ones a tick locator picks, less any outside the run.

    Example:
        >>> _epoch_ticks([1]).tolist(), _epoch_ticks([1, 2]).tolist()
        ([1], [1, 2])
        >>> _epoch_ticks(range(1, 41)).tolist()
        [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    """
    from matplotlib.ticker import MaxNLocator

    epochs = np.asarray(epochs, dtype=float)
    low, high = int(np.ceil(epochs.min())), int(np.floor(epochs.max()))
    if high - low <= 10:
        return np.arange(low, high + 1)
    ticks = MaxNLocator(integer=True).tick_values(low, high)
    return ticks[(ticks >= low) & (ticks <= high)].astype(int)


def _plain_log_ticks(axis, low: float, high: float) -> None:
    """Ticks at 1, 2, 5, 10, ... (1, 3, 10, ... over wide ranges) as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if high / low < 10:
        # Within one decade LogLocator falls back to linear ticks such as 5.25 ratings
        # per user (the 6x6 example): counts are whole numbers.
        axis.set_major_locator(_whole_numbers())
    else:
        subs = (1.0, 2.0, 5.0) if np.log10(high / low) < 2.5 else (1.0, 3.0)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------- learning curves
# What each model's ``train_loss`` / ``valid_loss`` measures, for the loss axis: "loss"
# alone leaves a reader guessing which objective fell.
_LOSS_NAMES = {
    "ImplicitALS": r"weighted squared loss + L2, $\div\ \Sigma\, c_{ui}$",
    "BPR": r"mean BPR loss $-\ln\sigma(x_{uij})$",
    "WARP": "mean weighted hinge loss per positive",
    "HybridMF": r"mean BPR loss $-\ln\sigma(x)$",
}
# Models whose fit takes validation data but draws no curve from it.
_IGNORES_VALIDATION = {"ImplicitALS"}


def _loss_name(model) -> str:
    r"""The y-axis label of a model's loss history (``"loss"`` for a model not known here).

    Example:
        >>> from latentrec.models import BPR
        >>> _loss_name(BPR())
        'mean BPR loss $-\\ln\\sigma(x_{uij})$'
    """
    name = type(model).__name__
    if name == "HybridMF" and getattr(model, "loss", "bpr") == "warp":
        return "mean WARP rank-weighted hinge loss"
    return _LOSS_NAMES.get(name, "loss")


def _held_out_share(model) -> float | None:
    """The share ``latentrec train --test-size ... --no-refit`` held out of the model's
    data and watched per epoch, from the figures it recorded; None for any other model.

    Such a model's validation column is the test part whose figures ``train`` printed:
    it chose nothing, so calling it "validation" or marking a best epoch on it misleads.

    Example:
        >>> class Saved:
        ...     metrics_ = {"holdout_share": 0.2, "refit": False}
        >>> _held_out_share(Saved()), _held_out_share(object())
        (0.2, None)
    """
    metrics = getattr(model, "metrics_", None) or {}
    share = metrics.get("holdout_share")
    if share is None or metrics.get("refit") is not False:
        return None
    return float(share)


def learning_curves(history, path=None, *, title: str | None = None):
    """Training (and validation) error per epoch, from ``model.history_`` or a model.

    Uses ``train_rmse`` / ``valid_rmse`` (rating models) or ``train_loss`` /
    ``valid_loss`` (ranking models); BPR's and WARP's ``valid_auc`` (with their
    ``train_auc``) goes on a second y axis, labelled AUC.  The best validation epoch is
    marked: the model's ``best_epoch`` for an error, the epoch of the highest AUC (those
    models choose no epoch themselves, so their ``best_epoch`` is the last one).
    Given a model, the title names it and a loss axis names the loss the model records
    (ImplicitALS: its weighted squared loss + L2 divided by the total confidence).
    A model saved by ``latentrec train --test-size ... --no-refit`` watched its test
    part, not a validation set: that curve is labelled as the held-out test part and
    no best epoch is marked on it (nothing was chosen by it).
    Without a validation curve the plot says how to get one (``latentrec train
    --test-size ... --no-refit`` records one for rating models; for a ranking model,
    ``fit(train, validation)``).  Epochs are whole numbers on the x axis.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GradientDescentMF
        >>> R = np.array([[5, 4, 0], [4, 0, 1], [1, 1, 5]])
        >>> model = GradientDescentMF(n_epochs=50).fit(Interactions.from_dense(R))
        >>> learning_curves(model).axes[0].get_xlabel()
        'epoch'
    """
    name = None
    loss_label = "loss"
    test_share = None
    if hasattr(history, "history_"):
        name = type(history).__name__
        loss_label = _loss_name(history)
        test_share = _held_out_share(history)
        history = history.history_
    elif hasattr(history, "check_fitted"):  # a model that keeps no per-epoch history
        raise ValueError(
            f"{type(history).__name__} records no per-epoch history; learning curves need "
            "a model that does, e.g. BiasedMF"
        )
    if not isinstance(history, dict) or "epoch" not in history:
        raise ValueError("history must be a fitted model or its history_ dict (with 'epoch')")
    kind = "rmse" if "train_rmse" in history else "loss"
    if f"train_{kind}" not in history:
        raise ValueError("history has neither train_rmse nor train_loss")
    epochs = np.asarray(history["epoch"])
    marker = "." if epochs.size < 60 else None
    fig, ax = _figure(7.5, 4.8)
    ax.plot(epochs, history[f"train_{kind}"], marker=marker, label="training")
    watched = "validation"
    if test_share is not None:
        watched = f"held-out test part ({test_share:.0%} of ratings)"
    valid = _finite_column(history, f"valid_{kind}")
    auc = _finite_column(history, "valid_auc")
    if valid is not None:
        ax.plot(epochs, valid, marker=marker, label=watched)
        best = history.get("best_epoch")
        if best and test_share is None and best in list(epochs):
            _mark_best(ax, epochs, valid, int(best), "best epoch")
    other = None
    if auc is not None:
        # AUC is a share in [0, 1], higher is better: on the loss's axis it would be
        # flattened against the loss and read upside down, so it gets its own.
        other = ax.twinx()
        colour = "#d62728"
        train_auc = _finite_column(history, "train_auc")
        if train_auc is not None:
            other.plot(
                epochs, train_auc, marker=marker, ls="--", color=colour, alpha=0.55,
                label="training AUC",
            )  # fmt: skip
        other.plot(epochs, auc, marker=marker, color=colour, label=f"{watched} AUC")
        other.set_ylabel("AUC (positive above a sampled negative)", color=colour)
        other.tick_params(axis="y", colors=colour)
        if test_share is None:
            best = int(epochs[int(np.nanargmax(auc))])
            _mark_best(other, epochs, auc, best, "best validation AUC, epoch")
    if valid is not None or auc is not None:
        hint = None
    elif name in _IGNORES_VALIDATION:
        hint = f"no validation curve: {name}'s fit does not use validation data"
    elif kind == "rmse":
        # A lone training curve says nothing about over-fitting; say how to see one.
        hint = (
            "no validation curve: fit with validation data,\nmodel.fit(train, validation);"
            "\nlatentrec train --test-size 0.2 --no-refit\nrecords a held-out test curve instead"
        )
    else:
        # `latentrec train` watches a held-out share for rating models only.
        hint = (
            "no validation curve: fit with validation data,\nmodel.fit(train, validation)"
            "\n(latentrec train records none for ranking models)"
        )
    ax.set_xlabel("epoch")
    if epochs.size:
        # Set, not located: on a run of 1 or 2 epochs MaxNLocator(integer=True) falls
        # back to fractions (0.945 ... 1.050) or to ticks outside the run (0 and 3).
        ax.set_xticks(_epoch_ticks(epochs))
    ax.set_ylabel("RMSE" if kind == "rmse" else loss_label)
    auto = "Learning curves" + (f" of {name}" if name else "")
    if history.get("stopped_early"):
        auto += " (stopped early)"
    ax.set_title(title or auto)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if other is not None:  # one legend for both axes, drawn above the AUC lines
        more = other.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
        ax.set_zorder(other.get_zorder() + 1)
        ax.patch.set_visible(False)
    # The hint is the legend's title: it stays beside the curve it explains, over no data.
    # With a second axis "best" sees only the first axis's lines, and the legend covered
    # the AUC curves and the best-epoch label: it goes under the axes instead.
    where = {} if other is None else {"loc": "upper center", "bbox_to_anchor": (0.5, -0.13)}
    legend = ax.legend(
        handles, labels, title=hint, title_fontsize=8.5, ncols=1 if other is None else 3, **where
    )
    legend.get_title().set_color("#555555")
    _save(fig, path)
    return fig


def _finite_column(history: dict, key: str):
    """``history[key]`` as floats, or None when absent or without a finite value.

    Example:
        >>> _finite_column({"a": [1, float("nan")], "b": [float("nan")]}, "a").tolist()
        [1.0, nan]
        >>> _finite_column({"b": [float("nan")]}, "b") is None
        True
    """
    values = history.get(key)
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    return values if np.isfinite(values).any() else None


def _mark_best(ax, epochs, values, best: int, what: str) -> None:
    """A dashed line at epoch ``best`` and its value, labelled ``"{what} {best}: v"``."""
    v = float(values[list(epochs).index(best)])
    ax.axvline(best, color="#777777", ls="--", lw=1)
    right_half = best > (epochs[0] + epochs[-1]) / 2
    ax.annotate(
        f"{what} {best}: {v:.4f}",
        (best, v),
        xytext=(-6 if right_half else 6, 10),
        textcoords="offset points",
        ha="right" if right_half else "left",
        fontsize=9,
    )


# ---------------------------------------------------------------------- spectrum
def _centred(data: Interactions, center: bool) -> sp.csr_matrix:
    M = data.matrix.astype(np.float64)
    if center:
        # Subtracting μ from the observed cells only is the mean-imputed matrix minus μ:
        # every blank cell is μ − μ = 0, so the matrix stays sparse.
        M = M.copy()
        M.data -= data.global_mean()
    return M


def singular_spectrum(
    data: Interactions,
    path=None,
    *,
    k: int | None = None,
    n_values: int | None = None,
    center: bool = True,
    title: str | None = None,
):
    """The largest singular values of the rating matrix and the energy they keep.

    Computes the ``n_values`` largest singular values (by default 50, or ``k`` when
    larger; at most min(users, items) − 1) with :func:`scipy.sparse.linalg.svds` of the
    sparse matrix (a dense SVD when most values of a small matrix are asked for), by
    default after subtracting the global mean from the observed cells (= the
    mean-imputed matrix, centred).  The
    right axis shows the cumulative share of the squared Frobenius norm
    Σ_{j≤r} σ_j² / ‖R‖_F² (the total is exact, from all cells); ``k`` is marked with the
    share its first k values keep.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> rng = np.random.default_rng(0)
        >>> data = Interactions.from_dense(rng.integers(1, 6, (30, 20)))
        >>> fig = singular_spectrum(data, k=3, n_values=10)
        >>> fig.axes[0].get_xlabel(), fig.spectrum_["singular_values"].size
        ('rank r', 10)
    """
    from scipy.sparse.linalg import svds

    if not isinstance(data, Interactions):
        raise TypeError("data must be latentrec.Interactions")
    if isinstance(path, (int, np.integer)) and not isinstance(path, bool):
        # The path comes second, as in every plot here; k used to, and is keyword-only now.
        raise TypeError(f"path must be a file name, got {path!r}; pass k as k={path!r}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer))):
        raise TypeError(f"k must be a whole number of factors, got {k!r}")
    M = _centred(data, center)
    limit = min(M.shape) - 1
    if limit < 1:
        raise ValueError("the matrix is too small for a spectrum")
    if k is not None and not 1 <= k <= limit:
        raise ValueError(
            f"k must lie in [1, {limit}] (min(users, items) - 1 of this "
            f"{M.shape[0]}×{M.shape[1]} matrix), got {k!r}"
        )
    if n_values is None:  # as many as k asks for, so marking k never needs a second knob
        n_values = max(50, k or 0)
    n_values = max(1, min(int(n_values), limit))
    if k is not None and k > n_values:
        raise ValueError(f"k must lie in [1, {n_values}] (n_values), got {k!r}")
    if n_values > limit // 4 and M.shape[0] * M.shape[1] <= 25_000_000:
        # ARPACK is slow and fragile when asked for most of the spectrum; a small
        # matrix's dense SVD is exact and quick.
        s = np.linalg.svd(M.toarray(), compute_uv=False)[:n_values]
    else:
        s = svds(M, k=n_values, return_singular_vectors=False, random_state=0)
    s = np.sort(s)[::-1]
    total = float((M.data**2).sum())
    cum = np.cumsum(s**2) / total
    ranks = np.arange(1, s.size + 1)

    fig, ax = _figure(8, 4.8)
    ax.plot(ranks, s, marker="o", ms=3.5, color="#1f77b4", label=r"singular value $\sigma_r$")
    ax.set_xlabel("rank r")
    ax.xaxis.set_major_locator(_whole_numbers())  # no rank 1.5 on short spectra
    ax.set_ylabel(r"singular value $\sigma_r$")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(
        ranks,
        cum * 100,
        color="#d62728",
        lw=1.8,
        label=r"cumulative $\sum_{j \leq r} \sigma_j^2 \,/\, \|R\|_F^2$",
    )
    right.set_ylabel(r"cumulative share of $\|R\|_F^2$ (%)", color="#d62728")
    right.tick_params(axis="y", colors="#d62728")
    right.set_ylim(0, 100)
    if k is not None:
        ax.axvline(k, color="#555555", ls="--", lw=1)
        # Left of and well below its point (clear of the legend) when k lies in the right
        # half: -k beyond 50 computes k values, so the mark sits at the right edge, where a
        # label up-right would leave the figure.
        # Below its point too when the share is high: up-right, a mark keeping 95% (the
        # 6x6 example at k = 2) left the axes and covered the title.
        right_half = k > (1 + s.size) / 2
        below = right_half or cum[k - 1] > 0.8
        right.annotate(
            f"first {k} keep {cum[k - 1]:.1%}",
            (k, cum[k - 1] * 100),
            xytext=(-10, -70) if right_half else (10, -24) if below else (10, 16),
            ha="right" if right_half else "left",
            va="top" if below else "baseline",
            textcoords="offset points",
            fontsize=10,
            color="#d62728",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#d62728", "alpha": 0.9},
            arrowprops={"arrowstyle": "-", "color": "#d62728"},
        )
        right.plot([k], [cum[k - 1] * 100], "o", color="#d62728")
    what = "mean-centred" if center else "raw"
    ax.set_title(
        title
        or f"Singular spectrum of the {what} rating matrix "
        f"({data.n_users}×{data.n_items}, {data.nnz} ratings)"
    )
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    # A spectrum that keeps most of the norm ends high on the right: the legend goes below it.
    where = "center right" if cum[-1] > 0.75 else "upper right"
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc=where)
    _save(fig, path)
    fig.spectrum_ = {"singular_values": s, "cumulative_share": cum}
    return fig


# ---------------------------------------------------------------------- distributions
def rating_distribution(data: Interactions, path=None, *, title: str | None = None):
    """Three panels: the rating values, ratings per user and ratings per item (long tail).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> fig = rating_distribution(Interactions.from_dense(np.array([[5, 3], [4, 0]])))
        >>> [ax.get_title() for ax in fig.axes][:1]
        ['Rating values']
    """
    if not isinstance(data, Interactions):
        raise TypeError("data must be latentrec.Interactions")
    fig, (a, b, c) = _figure(13, 4.2, ncols=3)
    values, counts = np.unique(data.ratings, return_counts=True)
    if values.size <= 20:
        a.bar([f"{v:g}" for v in values], counts, color="#1f77b4")
        for x, n in enumerate(counts):
            share = n / counts.sum()
            # A few ratings are not "0%": that would say the bar beside it is empty.
            label = "<1%" if share < 0.005 else f"{share:.0%}"
            a.annotate(label, (x, n), ha="center", va="bottom", fontsize=9)
        # Room above the tallest bar for its label and, top left, the mean (they overlapped
        # when the first value was the commonest: implicit data, or low ratings).
        a.set_ylim(0, counts.max() * 1.25)
    else:
        a.hist(data.ratings, bins=30, color="#1f77b4")
    a.set_xlabel("rating")
    a.set_ylabel("number of ratings")
    a.set_title("Rating values")
    mean = data.global_mean()
    a.text(0.02, 0.97, f"mean {mean:.2f}", transform=a.transAxes, va="top", fontsize=9)
    for ax, per, what in ((b, data.user_counts(), "user"), (c, data.item_counts(), "item")):
        per = per[per > 0]
        bins = np.unique(np.geomspace(per.min(), per.max() + 1, 30).round())
        ax.hist(per, bins=bins, color="#2ca02c" if what == "user" else "#ff7f0e")
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis, bins[0], bins[-1])
        ax.set_xlabel(f"ratings per {what} (log scale)")
        ax.set_ylabel(f"number of {what}s")
        ax.yaxis.set_major_locator(_whole_numbers())  # no "1.5 users"
        ax.set_title(f"Ratings per {what}")
        ax.text(
            0.97,
            0.97,
            f"median {np.median(per):g}\nmax {per.max():g}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
        )
    if title:
        fig.suptitle(title)
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------- trade-off
def tradeoff_curve(
    curve, path=None, *, k: int = 10, about: str | None = None, title: str | None = None
):
    """NDCG against intra-list diversity and against catalogue coverage, one point per λ.

    ``curve`` is a table with columns ``lambda``, ``ndcg``, ``diversity`` and
    ``coverage`` (what :func:`latentrec.pipeline.tradeoff` returns); the line joins the
    points in order of λ, so the picture shows what each step away from pure relevance
    (λ = 1) costs and buys. Each point is labelled with its λ where the label covers no
    other label, point or part of the line: beside the point, else a little away on a
    thin line; the two ends always get theirs first, and where points crowd too closely
    some labels are left out rather than drawn over each other (``curve`` has them all).

    The NDCG axis starts at 0: on ML-100K NDCG@10 moves in its third decimal (0.190 to
    0.195) as λ goes from 1 to 0.3, and an axis cut to that band draws noise as a cliff.
    The range and the change from the largest λ to the smallest are written under the
    panels, so the size of the cost is read in numbers, not guessed from a slope.
    ``about`` (what was measured: model, data, hold-out) completes the default title.

    Example:
        >>> import pandas as pd
        >>> curve = pd.DataFrame({"lambda": [1.0, 0.7, 0.4], "ndcg": [0.30, 0.29, 0.25],
        ...                       "diversity": [0.40, 0.55, 0.70], "coverage": [0.1, 0.2, 0.3]})
        >>> [ax.get_xlabel() for ax in tradeoff_curve(curve).axes]
        ['intra-list diversity (1 - cos, latent)', 'catalogue coverage']
    """
    import pandas as pd

    table = pd.DataFrame(curve)
    missing = [c for c in ("lambda", "ndcg", "diversity", "coverage") if c not in table.columns]
    if missing:
        raise ValueError(f"curve needs the columns {missing} (see latentrec.pipeline.tradeoff)")
    if table.empty:
        raise ValueError("curve has no rows")
    table = table.sort_values("lambda", ascending=False)
    fig, axes = _figure(11, 4.6, ncols=2)
    ndcg = table["ndcg"].to_numpy(dtype=float)
    top = 1.15 * np.nanmax(ndcg) if np.isfinite(ndcg).any() and np.nanmax(ndcg) > 0 else 1.0
    panels = []
    for ax, column, label in (
        (axes[0], "diversity", "intra-list diversity (1 - cos, latent)"),
        (axes[1], "coverage", "catalogue coverage"),
    ):
        (line,) = ax.plot(table[column], table["ndcg"], marker="o", color=_PALETTE[0])
        ax.margins(0.08, 0.12)  # room for labels beside the outermost points
        ax.set_ylim(0, top)
        ax.set_xlabel(label)
        ax.set_ylabel(f"NDCG@{k}")
        ax.grid(alpha=0.3)
        panels.append((ax, line))
    auto = "Accuracy against diversity as MMR's λ moves"
    fig.suptitle(title or (f"{auto}\n{about}" if about else auto))
    fig.supxlabel(_ndcg_note(table, k), fontsize=9, color="#444444")
    # Labels go where they cover nothing, which needs the axes where they will be drawn.
    fig.canvas.draw()
    for ax, line in panels:
        _label_points(ax, line, [f"λ={lam:g}" for lam in table["lambda"]])
    _save(fig, path)
    return fig


def _ndcg_note(table, k: int) -> str:
    """The NDCG range of a trade-off table and its change from the largest λ to the smallest.

    Example:
        >>> import pandas as pd
        >>> _ndcg_note(pd.DataFrame({"lambda": [1.0, 0.3], "ndcg": [0.2, 0.19]}), 10)
        'NDCG@10 spans 0.1900–0.2000; λ=1 → λ=0.3: −5.0%'
    """
    table = table.sort_values("lambda", ascending=False)
    ndcg = table["ndcg"].to_numpy(dtype=float)
    lams = table["lambda"].to_numpy(dtype=float)
    note = f"NDCG@{k} spans {np.nanmin(ndcg):.4f}–{np.nanmax(ndcg):.4f}"
    if ndcg.size > 1 and ndcg[0] > 0 and np.isfinite(ndcg[[0, -1]]).all():
        change = (ndcg[-1] / ndcg[0] - 1) * 100
        sign = "−" if change < 0 else "+"
        note += f"; λ={lams[0]:g} → λ={lams[-1]:g}: {sign}{abs(change):.1f}%"
    return note


# Where a label may sit around its point, in points: right beside it first, then further
# out on a leader line; up-right first, as a reader expects.
_LABEL_DIRECTIONS = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
_LABEL_DISTANCES = [5, 14, 26, 40]


def _label_points(ax, line, labels: list[str], fontsize: float = 8) -> list:
    """Annotate each point of ``line`` with its label where the label overlaps no other
    label, no point, no part of the line and stays inside ``ax``; returns the annotations.

    The two ends are placed first, then the points in order; a label with no free place
    among the candidates (beside its point, or further out on a thin leader line) is
    left out, so crowded points show some labels rather than a pile. The figure must
    have been drawn once (its layout settled).

    Example:
        >>> fig, ax = _figure(4, 3)
        >>> (line,) = ax.plot([0.0, 0.01, 1.0], [1.0, 1.0, 0.0], marker="o")
        >>> fig.canvas.draw()
        >>> sorted(a.get_text() for a in _label_points(ax, line, ["a", "b", "c"]))
        ['a', 'b', 'c']
    """
    from matplotlib.path import Path as Curve
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    xy = line.get_xydata()
    points = ax.transData.transform(xy)
    drawn = np.isfinite(points).all(axis=1)  # matplotlib leaves out a NaN point
    # The line as drawn: a MOVETO after each gap, so no segment bridges a missing point.
    codes = np.where(np.r_[True, ~drawn[:-1]], Curve.MOVETO, Curve.LINETO)[drawn]
    curve = Curve(points[drawn], codes if drawn.any() else None)
    inside = ax.bbox.padded(-2)
    radius = line.get_markersize() / 72 * ax.figure.dpi / 2 + 1
    dots = [
        Bbox.from_extents(x - radius, y - radius, x + radius, y + radius)
        for x, y in np.where(drawn[:, None], points, -1e9)  # a missing point: far away
    ]
    taken: list = []
    placed = []
    n = len(labels)

    def others(j: int) -> list:
        return dots[:j] + dots[j + 1 :]

    for j in [0, n - 1, *range(1, n - 1)] if n > 1 else range(n):
        if not drawn[j]:
            continue
        for distance, (dx, dy) in ((d, way) for d in _LABEL_DISTANCES for way in _LABEL_DIRECTIONS):
            place = {
                "xytext": (dx * distance, dy * distance),
                "textcoords": "offset points",
                "ha": {1: "left", -1: "right", 0: "center"}[dx],
                "va": {1: "bottom", -1: "top", 0: "center"}[dy],
                "fontsize": fontsize,
            }
            note = ax.annotate(labels[j], tuple(xy[j]), **place)
            box = _label_box(note, renderer).padded(1.5)
            note.remove()
            # Right beside its point a label must be nearer it than any other point;
            # further out, a thin line joins it to its point.
            lead = distance > _LABEL_DISTANCES[0]
            if not lead and _nearest(box, points) != j:
                continue
            if lead:  # from the point's marker towards the label's centre, as drawn
                end = np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2
                way = (end - points[j]) / max(float(np.hypot(*(end - points[j]))), 1e-9)
                line_to = Curve([points[j] + way * (radius + 1), end])
            if (
                inside.contains(box.x0, box.y0)
                and inside.contains(box.x1, box.y1)
                and not curve.intersects_bbox(box, filled=False)
                and not any(box.overlaps(d) for d in dots)
                and not any(box.overlaps(t) for t in taken)
                and not (
                    lead
                    and (
                        line_to.intersects_path(curve)
                        or any(line_to.intersects_bbox(b) for b in [*taken, *others(j)])
                    )
                )
            ):
                if lead:
                    place["arrowprops"] = {"arrowstyle": "-", "lw": 0.5, "color": "0.5"}
                note = ax.annotate(labels[j], tuple(xy[j]), **place)
                note.set_in_layout(False)  # inside the axes: the layout need not move
                taken.append(box)
                placed.append(note)
                break
    return placed


def _label_box(note, renderer=None):
    """The window extent of an annotation's text alone (without its leader line).

    Example:
        >>> fig, ax = _figure(4, 3)
        >>> note = ax.annotate("λ=1", (0.5, 0.5), arrowprops={"arrowstyle": "-"})
        >>> bool(_label_box(note).width > 0)
        True
    """
    from matplotlib.text import Text

    renderer = renderer or note.figure.canvas.get_renderer()
    note.update_positions(renderer)  # where its offset puts it, as drawing would
    return Text.get_window_extent(note, renderer)


def _nearest(box, points) -> int:
    """Index of the point nearest ``box`` (0 for every point inside it).

    Example:
        >>> from matplotlib.transforms import Bbox
        >>> _nearest(Bbox.from_extents(0, 0, 2, 2), np.array([[5.0, 5.0], [3.0, 1.0]]))
        1
    """
    gaps = np.maximum(np.maximum(box.x0 - points[:, 0], points[:, 0] - box.x1), 0) ** 2
    gaps += np.maximum(np.maximum(box.y0 - points[:, 1], points[:, 1] - box.y1), 0) ** 2
    return int(np.argmin(np.where(np.isnan(gaps), np.inf, gaps)))
