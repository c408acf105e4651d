"""The knobs of the pipeline's stages and ranker: read from ``__init__``, listed, shown.

A stage (:class:`~latentrec.pipeline.Reranker`) or the
:class:`~latentrec.pipeline.LearnedRanker` stores each keyword argument of its
``__init__`` under the same name, as a scikit-learn estimator does. :class:`Knobs`
reads those names from the signature once, so ``get_params`` (what a saved pipeline
writes and what ``from_saved`` passes back to ``__init__``) and the repr never drift
from the constructor.
"""

from __future__ import annotations

import inspect

__all__ = ["Knobs"]


class Knobs:
    """Base of objects whose knobs are their ``__init__``'s arguments, stored as given.

    Example:
        >>> class Stage(Knobs):
        ...     def __init__(self, weight=0.5, pool=None):
        ...         self.weight = weight
        ...         self.pool = pool
        >>> Stage.param_names()
        ['weight', 'pool']
        >>> Stage(0.2)
        Stage(weight=0.2, pool=None)
    """

    @classmethod
    def param_names(cls) -> list[str]:
        """The names ``__init__`` takes, in order.

        Example:
            >>> from latentrec.pipeline import Freshness
            >>> Freshness.param_names()
            ['weight', 'half_life_days']
        """
        return [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self) -> dict:
        """The knobs, as given to ``__init__``.

        Example:
            >>> from latentrec.pipeline import Calibrate
            >>> Calibrate(0.3).get_params()
            {'weight': 0.3, 'alpha': 0.01, 'relevance': 'minmax'}
        """
        return {name: getattr(self, name) for name in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
