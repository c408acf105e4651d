"""The `make demo` job: learn real tastes from MovieLens-100K and show them."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .data.splits import random_split
from .datasets import movielens
from .evaluation import evaluate_ratings
from .models import BiasedMF, Biases, GlobalMean

# A title rated by a handful of people gets its bias and factors from those few ratings
# (one 5-star rating makes an unknown film look excellent), so the lists shown to a
# person draw from titles with at least this many training ratings.  The model itself
# keeps every title; the filter is the recommend(items=...) candidate list.
MIN_SUPPORT = 20


def _say(text: str = "") -> None:
    print(text, flush=True)


def _heading(text: str) -> None:
    _say()
    _say(text)
    _say("-" * len(text))


def run_demo(output_dir="out", user_id: int = 1, random_state: int = 42) -> dict:
    """Train on an 80/20 split of MovieLens-100K and print what the model learned.

    Prints held-out RMSE/MAE against the baselines, one user's favourite and recommended
    titles, "Because you watched" neighbours and a decomposed prediction; writes the
    model file to ``output_dir``, seeds the ratings store ``output_dir/ratings.db`` with
    all of MovieLens-100K (titles and genres as the catalogue; see :func:`seed_store`),
    and ends with the command that serves both.  Returns the measured figures.

    Example:
        >>> run_demo("out", user_id=1)  # doctest: +SKIP
    """
    started = time.perf_counter()
    _heading("1. MovieLens-100K: real ratings of real films")
    data = movielens("100k")
    _say(repr(data))
    train, test = random_split(data, 0.2, random_state=random_state)
    _say(
        f"random 80/20 split (seed {random_state}): {train.nnz} training ratings, "
        f"{test.nnz} held out"
    )

    _heading("2. Training and held-out accuracy")
    rows = []
    models = {
        "global mean (μ)": GlobalMean(),
        "biases (μ + b_u + b_i)": Biases(),
        "biased MF by SGD": BiasedMF(random_state=random_state, verbose=True),
    }
    for name, model in models.items():
        _say(f"training {name} ...")
        t0 = time.perf_counter()
        # The held-out ratings are recorded per epoch for the learning curve only: there
        # is no early stopping, so nothing is chosen by looking at them.
        model.fit(train, validation=test if isinstance(model, BiasedMF) else None)
        seconds = time.perf_counter() - t0
        scores = evaluate_ratings(model, test)
        rows.append(
            {"model": name, "RMSE": scores["rmse"], "MAE": scores["mae"], "fit seconds": seconds}
        )
    table = pd.DataFrame(rows)
    _say(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    mf = models["biased MF by SGD"]
    _say(
        f"(biased MF: {mf.n_factors_} factors, {len(mf.history_['epoch'])} epochs; the first "
        "fit includes compiling the numba kernel once — later runs use the cache)"
    )

    titles = data.item_titles()
    u = data.users.index([user_id])[0]
    row = train.matrix[u]
    _heading(f"3. User {user_id}: what they rated highest (training data)")
    rated = pd.DataFrame(
        {
            "item_id": data.items.ids[row.indices],
            "rating": row.data,
            "title": titles[row.indices],
            "ratings of title": train.item_counts()[row.indices],
        }
    )
    favourites = rated.sort_values(["rating", "ratings of title"], ascending=False)
    _say(f"user {user_id} rated {len(rated)} titles in training; their top ten:")
    _say(favourites.head(10).to_string(index=False))

    counts = train.item_counts()
    well_known = data.items.ids[counts >= MIN_SUPPORT]
    _heading(f"4. Top-10 recommendations for user {user_id} (seen titles excluded)")
    _say(f"drawn from the {well_known.size} titles with at least {MIN_SUPPORT} training ratings")
    rec = mf.recommend(user_id, n=10, items=well_known)
    shown = rec.to_frame()
    shown["predicted"] = np.clip(shown["score"], *data.rating_scale)
    _say(
        shown[["rank", "item_id", "predicted", "title"]].to_string(
            index=False, float_format=lambda x: f"{x:.2f}"
        )
    )

    anchor_id = favourites[favourites["ratings of title"] >= MIN_SUPPORT]["item_id"].iloc[0]
    anchor_title = mf.item_title(anchor_id)
    _heading(f"5. Because you watched {anchor_title}")
    sims = mf.similar_items(anchor_id, n=10, items=well_known)
    _say(f"nearest titles by cosine of factor vectors (same {well_known.size} titles):")
    _say(sims.to_frame().to_string(index=False, float_format=lambda x: f"{x:.3f}"))

    _heading("6. One prediction, decomposed")
    top_item = rec.ids[0]
    explanation = mf.explain(user_id, top_item, ratings=train)
    _say(str(explanation))

    out = Path(output_dir)
    path = out / "biased_mf_ml100k.npz"
    mf.record_metrics(rmse=float(table.loc[2, "RMSE"]), mae=float(table.loc[2, "MAE"]))
    mf.save(path)
    _heading("7. Saved")
    _say(f"model file: {path}")
    pictures = _pictures(mf, data, train, out, user_id)
    for picture in pictures:
        _say(f"picture: {picture}")
    _say("try next:")
    _say(f"  {command_name()} recommend {path} --user {user_id}")
    _say(f"  {command_name()} similar {path} --item {anchor_id}")
    _say(f"  {command_name()} explain {path} --user {user_id} --item {top_item}")
    _say(f"  {command_name()} evaluate ml-100k --cv 5")

    _heading("8. The ratings store the service reads and writes")
    store_url, serve = store_section(data, out, path)
    elapsed = time.perf_counter() - started
    _say(f"\ndemo finished in {elapsed:.1f}s")
    if serve is not None:
        _say("serve the model and its ratings store, and open the page (http://127.0.0.1:8000):")
        _say(f"  {serve}")
    return {
        "table": table,
        "model_path": str(path),
        "pictures": [str(p) for p in pictures],
        "seconds": elapsed,
        "store_url": store_url,
        "serve_command": serve,
    }


def command_name() -> str:
    """How to run ``latentrec`` again from the working folder, for the demo's hints: the
    command beside this interpreter, relative where it lies inside the folder
    (``.venv/bin/latentrec`` after ``make demo``), ``latentrec`` where the shell finds that
    one, else its full path.  The hints said ``.venv/bin/latentrec`` everywhere, a path
    that does not exist for a latentrec installed from a wheel.

    Example:
        >>> command_name().endswith("latentrec")
        True
    """
    script = Path(sys.executable).parent / "latentrec"
    if not script.exists():
        return "latentrec"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        pass
    found = shutil.which("latentrec")
    if found and Path(found).resolve() == script.resolve():
        return "latentrec"
    return str(script)


def store_section(data, out: Path, model_path: Path) -> tuple[str | None, str | None]:
    """Seed ``out/ratings.db`` and say so; returns its URL and the serve command, or
    ``(None, None)`` (with a line saying what to install) without the ``serve`` extra.

    Example:
        >>> import numpy as np, tempfile
        >>> from latentrec import Interactions
        >>> out = Path(tempfile.mkdtemp())
        >>> data = Interactions.from_dense(np.eye(2))
        >>> url, command = store_section(data, out, out / "m.npz")  # doctest: +ELLIPSIS
        /.../ratings.db: 2 ratings of 2 users, 0 titles with genres (seeded it)
        >>> command == f"{command_name()} serve --model {out / 'm.npz'} --store {url} --open"
        True
    """
    store_path = out / "ratings.db"
    try:
        store_url, imported, counts = seed_store(data, store_path)
    except ImportError as err:
        _say(
            f"(no ratings store: {err}; install the 'serve' extra: pip install 'latentrec[serve]')"
        )
        return None, None
    done = "seeded it" if imported else "it already held them"
    _say(
        f"{store_path}: {counts['ratings']} ratings of {counts['users']} users, "
        f"{counts['items']} titles with genres ({done})"
    )
    return store_url, f"{command_name()} serve --model {model_path} --store {store_url} --open"


def seed_store(data, path) -> tuple[str, int, dict]:
    """Seed a SQLite ratings store at ``path`` with ``data`` (ratings, titles, genres).

    Skipped when the store already holds at least as many ratings and items (a second
    demo run, or ratings added since through the service, are kept).  Returns the store's
    URL, the number of ratings imported (0 when skipped) and the store's counts.  Needs
    the ``serve`` extra (SQLAlchemy); raises ``ImportError`` without it.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from latentrec import Interactions
        >>> path = os.path.join(tempfile.mkdtemp(), "ratings.db")
        >>> data = Interactions.from_dense(np.eye(2))
        >>> seed_store(data, path)[1], seed_store(data, path)[1]
        (2, 0)
    """
    from .store import open_store  # the serve extra; the rest of the demo runs without

    url = f"sqlite:///{path}"
    with open_store(url) as store:
        counts = store.counts()
        imported = 0
        catalogue = 0 if data.item_features is None else len(data.item_features)
        if counts["ratings"] < data.nnz or counts["items"] < catalogue:
            imported = store.import_interactions(data).n_written
            counts = store.counts()
    return url, imported, counts


def _pictures(model, data, train, out: Path, user_id) -> list[Path]:
    """The taste map and the learning curve as PNGs (skipped without matplotlib)."""
    try:
        from . import plots

        taste = out / "taste_map.png"
        plots.taste_map(model, data, taste, users=[user_id])
        curve = out / "learning_curve.png"
        plots.learning_curves(
            model.history_, curve, title="Biased MF on MovieLens-100K: train vs held-out RMSE"
        )
    except ImportError as err:
        _say(f"(no pictures: {err})")
        return []
    return [taste, curve]
