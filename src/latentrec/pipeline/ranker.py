"""The learned ranker: LightGBM's LambdaRank over the candidate features.

:class:`LearnedRanker` holds LightGBM's hyperparameters and, once fitted, its booster;
it is saved as LightGBM's own model text (never a pickle). ``Pipeline.fit`` trains it on
the candidate pools of a later time slice than the candidate models saw, the slice's
interactions being the labels (see :mod:`latentrec.pipeline.features` for the columns).
LightGBM is the optional ``rank`` extra: ``pip install 'latentrec[rank]'``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import NotFittedError
from ..evaluation.metrics import check_count
from .params import Knobs

__all__ = ["LearnedRanker", "RankerDataError"]


def _lightgbm():
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the learned ranker needs lightgbm; install the rank extra: "
            "pip install 'latentrec[rank]'"
        ) from None
    return lightgbm


class RankerDataError(ValueError):
    """The ranker's later time slice gives it nothing to learn from (no user there has an
    earlier history, or none of their items is among their candidates).

    A ``ValueError``; retraining reports it as the reason nothing was published.

    Example:
        >>> issubclass(RankerDataError, ValueError)
        True
    """


class LearnedRanker(Knobs):
    """Gradient-boosted trees with the LambdaRank objective (LightGBM), NDCG@``eval_at``.

    Hyperparameters are LightGBM's (``n_estimators`` boosting rounds, ``learning_rate``,
    ``num_leaves``, ``min_child_samples``, ``subsample`` of the rows per round and
    ``colsample`` of the features per tree); ``random_state`` seeds it and
    ``num_threads`` (None: LightGBM's default) sets its threads. Training is
    deterministic for a fixed seed and thread count.

    The defaults (200 trees, ``learning_rate=0.05``, 15 leaves, ``min_child_samples=50``,
    ``subsample`` and ``colsample`` 0.8) are fixed, untuned: no search chose them.
    ``benchmarks/ranking_stage.py`` runs them as they are on MovieLens-100K (22,209
    candidate rows of 77 users), where the ranker's NDCG@10 is 0.2082 against the best
    single model's 0.1941 (docs/benchmarks.md, "Two-stage ranking"). A leaf needs
    ``min_child_samples`` rows, so on far fewer rows the trees barely split: lower it
    (the examples here use 5).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0.5).astype(int)
        >>> ranker = LearnedRanker(n_estimators=20, min_child_samples=5, num_threads=1)
        >>> ranker = ranker.fit(X, y, [20] * 10, ["a", "b", "c"])
        >>> scores = ranker.predict(X)
        >>> bool(scores[y == 1].mean() > scores[y == 0].mean())
        True
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample: float = 0.8,
        eval_at: int = 10,
        random_state: int = 0,
        num_threads: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample = colsample
        self.eval_at = eval_at
        self.random_state = random_state
        self.num_threads = num_threads

    @property
    def is_fitted(self) -> bool:
        """Whether the ranker has a booster."""
        return getattr(self, "booster_", None) is not None

    def _check_params(self) -> None:
        for name in ("n_estimators", "num_leaves", "min_child_samples", "eval_at"):
            check_count(getattr(self, name), f"LearnedRanker {name}")
        for name in ("learning_rate", "subsample", "colsample"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
                raise ValueError(f"LearnedRanker {name} must be a number in (0, 1], got {value!r}")

    def _lgb_params(self) -> dict:
        params = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [int(self.eval_at)],
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": float(self.colsample),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if self.num_threads is not None:
            params["num_threads"] = int(self.num_threads)
        return params

    def fit(self, features, labels, group_sizes, feature_names=None) -> LearnedRanker:
        """Train on rows grouped by query (user): ``group_sizes`` rows each, in order.

        ``labels`` are relevance grades (0 = not relevant), one per row.

        Example (two queries of three rows; the first feature marks the relevant row):
            >>> import numpy as np
            >>> X = np.array([[1.0], [0.0], [0.0], [0.0], [1.0], [0.0]] * 5)
            >>> y = (X[:, 0] > 0).astype(int)
            >>> ranker = LearnedRanker(n_estimators=5, min_child_samples=1, num_threads=1)
            >>> ranker.fit(X, y, [3] * 10, ["marked"]).feature_names_
            ['marked']
            >>> ranker.fit(X, np.zeros(30), [3] * 10)
            Traceback (most recent call last):
                ...
            ValueError: no row has a positive label: there is nothing to learn to rank
        """
        self._check_params()
        lgb = _lightgbm()
        X = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        groups = np.asarray(group_sizes, dtype=np.int64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(
                f"features must be 2-D with one label per row; got {X.shape} and {y.shape}"
            )
        if groups.sum() != X.shape[0] or (groups < 1).any():
            raise ValueError(
                f"group_sizes must be positive and sum to the {X.shape[0]} rows, "
                f"got a sum of {int(groups.sum())}"
            )
        if not (y > 0).any():
            raise ValueError("no row has a positive label: there is nothing to learn to rank")
        names = list(feature_names) if feature_names is not None else None
        data = lgb.Dataset(X, label=y, group=groups, feature_name=names or "auto")
        self.booster_ = lgb.train(self._lgb_params(), data, num_boost_round=int(self.n_estimators))
        self.feature_names_ = self.booster_.feature_name()
        return self

    def predict(self, features) -> np.ndarray:
        """The ranking score of each row (higher is better; only the order matters).

        Example:
            >>> import numpy as np
            >>> X = np.array([[1.0], [0.0], [0.0]] * 10); y = (X[:, 0] > 0).astype(int)
            >>> ranker = LearnedRanker(n_estimators=5, min_child_samples=1, num_threads=1)
            >>> scores = ranker.fit(X, y, [3] * 10).predict([[0.0], [1.0]])
            >>> bool(scores[1] > scores[0])
            True
        """
        if not self.is_fitted:
            raise NotFittedError("this LearnedRanker is not fitted yet; fit it (or the pipeline)")
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_):
            raise ValueError(
                f"features must have {len(self.feature_names_)} columns "
                f"({', '.join(self.feature_names_)}), got shape {X.shape}"
            )
        if X.shape[0] == 0:
            return np.empty(0)
        kwargs = {} if self.num_threads is None else {"num_threads": int(self.num_threads)}
        return np.asarray(self.booster_.predict(X, **kwargs), dtype=np.float64)

    def to_text(self) -> str:
        """The booster as LightGBM's model text (what a pipeline file stores).

        Example:
            >>> import numpy as np
            >>> X = np.array([[1.0], [0.0], [0.0]] * 10); y = (X[:, 0] > 0).astype(int)
            >>> ranker = LearnedRanker(n_estimators=2, min_child_samples=1, num_threads=1)
            >>> ranker.fit(X, y, [3] * 10).to_text().splitlines()[0]
            'tree'
        """
        if not self.is_fitted:
            raise NotFittedError("this LearnedRanker is not fitted yet")
        return self.booster_.model_to_string()

    @classmethod
    def from_text(cls, text: str, **params) -> LearnedRanker:
        """A fitted ranker from LightGBM model text and the hyperparameters.

        Example:
            >>> import numpy as np
            >>> X = np.random.default_rng(1).normal(size=(60, 2)); y = (X[:, 1] > 0).astype(int)
            >>> r = LearnedRanker(n_estimators=5, min_child_samples=5).fit(X, y, [6] * 10)
            >>> back = LearnedRanker.from_text(r.to_text(), **r.get_params())
            >>> bool(np.array_equal(back.predict(X), r.predict(X)))
            True
        """
        lgb = _lightgbm()
        ranker = cls(**params)
        ranker.booster_ = lgb.Booster(model_str=text)
        ranker.feature_names_ = ranker.booster_.feature_name()
        return ranker
