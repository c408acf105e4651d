"""What the explicit-rating benchmarks share: one fold handed to Surprise, and a model's
fit and test timed and scored alike whichever library it comes from.

Imported by the benchmark scripts beside it (``from _explicit_folds import run_latentrec``;
a script's own folder is on ``sys.path`` when it runs).  Surprise is the ``bench`` extra
(``pip install 'latentrec[bench]'``) and is imported only by the functions that need it.

- :func:`surprise_fold` hands Surprise exactly the cells of a latentrec fold: the training
  cells as a trainset (``Dataset.load_from_df(...).build_full_trainset()``), the test
  cells as ``(user_id, item_id, rating)`` tuples.
- :func:`run_latentrec` and :func:`run_surprise` time the fit and the test apart and
  score both libraries by latentrec's ``rmse`` / ``mae`` on the same cells; both clip
  predictions to the rating scale (``evaluate_ratings`` does, and so does Surprise).
"""

from __future__ import annotations

import time

import numpy as np

from latentrec import Interactions
from latentrec.evaluation import evaluate_ratings
from latentrec.evaluation import metrics as M


def surprise_fold(train: Interactions, test: Interactions):
    """A Surprise trainset and testset holding exactly the cells of ``train`` and ``test``.

    Example:
        >>> from latentrec.data.splits import random_split
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [1, 2, 5]]))
        >>> train, test = random_split(data, 0.3, random_state=0)
        >>> trainset, testset = surprise_fold(train, test)
        >>> (trainset.n_ratings, len(testset)) == (train.nnz, test.nnz)
        True
    """
    import surprise

    frame = train.to_frame()[["user_id", "item_id", "rating"]]
    reader = surprise.Reader(rating_scale=train.rating_scale or (1, 5))
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
    t = test.to_frame()
    testset = list(zip(t["user_id"], t["item_id"], t["rating"].astype(float), strict=True))
    return trainset, testset


def run_latentrec(model, train: Interactions, test: Interactions) -> dict:
    """Fit the unfitted ``model`` on ``train`` and score it on ``test``: RMSE, MAE, seconds.

    Example:
        >>> from latentrec.data.splits import random_split
        >>> from latentrec.models import GlobalMean
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [1, 2, 5]]))
        >>> train, test = random_split(data, 0.3, random_state=0)
        >>> sorted(run_latentrec(GlobalMean(), train, test))
        ['fit_s', 'mae', 'rmse', 'test_s']
    """
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = evaluate_ratings(model, test)
    test_s = time.perf_counter() - start
    return {"rmse": scores["rmse"], "mae": scores["mae"], "fit_s": fit_s, "test_s": test_s}


def run_surprise(algo, trainset, testset) -> dict:
    """Fit the Surprise algorithm ``algo`` on ``trainset``, test it on ``testset`` (from
    :func:`surprise_fold`): RMSE, MAE and seconds, scored as :func:`run_latentrec` scores.

    Example:
        >>> import surprise
        >>> from latentrec.data.splits import random_split
        >>> data = Interactions.from_dense(np.array([[5, 3, 0], [4, 0, 1], [1, 2, 5]]))
        >>> fold = surprise_fold(*random_split(data, 0.3, random_state=0))
        >>> sorted(run_surprise(surprise.BaselineOnly(verbose=False), *fold))
        ['fit_s', 'mae', 'rmse', 'test_s']
    """
    start = time.perf_counter()
    algo.fit(trainset)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    preds = algo.test(testset)  # estimates clipped to the rating scale by Surprise
    test_s = time.perf_counter() - start
    est = np.array([p.est for p in preds])
    truth = np.array([p.r_ui for p in preds])
    return {"rmse": M.rmse(truth, est), "mae": M.mae(truth, est), "fit_s": fit_s, "test_s": test_s}
