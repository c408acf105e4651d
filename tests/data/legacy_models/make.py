"""Write the legacy model files and ``expected.json`` with latentrec as it was at 810b89b.

The files are the format from before the core reshape; ``tests/models/test_fitted_state.py``
loads them with today's code and checks that they give the lists and predictions the old
code gave.  Run it with the old tree on the path (today's tree cannot write this format):

    git worktree add /tmp/legacy 810b89b
    PYTHONPATH=/tmp/legacy/src .venv/bin/python tests/data/legacy_models/make.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from latentrec import Interactions
from latentrec.models import (
    ALS,
    BPR,
    NMF,
    BiasedMF,
    Biases,
    GlobalMean,
    ImplicitALS,
    ItemKNN,
    Popularity,
    SVDpp,
    TruncatedSVD,
)

HERE = Path(__file__).resolve().parent
# The tests' six-by-six seed table (0 = not rated): user 0 has not seen item 4.
sys.path.insert(0, str(HERE.parents[1]))
from conftest import SEED_MATRIX as RATINGS  # noqa: E402


def models() -> list:
    return [
        Biases(),
        GlobalMean(),
        Popularity(),
        BiasedMF(n_factors=2, n_epochs=20, random_state=0),
        SVDpp(n_factors=2, n_epochs=10, random_state=0),
        ALS(n_factors=2, n_epochs=5, random_state=0),
        ImplicitALS(n_factors=2, n_epochs=5, random_state=0, num_threads=1),
        BPR(n_factors=2, n_epochs=5, random_state=0, num_threads=1),
        ItemKNN(),
        TruncatedSVD(n_factors=2),
        NMF(n_factors=2, n_epochs=20, random_state=0),
    ]


def main() -> None:
    data = Interactions.from_dense(RATINGS.astype(float))
    expected = {}
    for model in models():
        name = type(model).__name__
        model.fit(data)
        model.save(HERE / f"{name}.npz")
        rec = model.recommend(0, n=3)
        got = {"recommend_0": rec.ids.tolist(), "scores_0": rec.scores.tolist()}
        if getattr(model, "predicts_ratings", False):
            got["predict"] = np.asarray(model.predict([0, 1, 2], [4, 5, 0])).tolist()
        expected[name] = got
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
