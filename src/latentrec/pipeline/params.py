"""The knobs of the pipeline's stages and ranker: read from ``__init__``, listed, shown, checked.

A stage (:class:`~latentrec.pipeline.Reranker`) or the
:class:`~latentrec.pipeline.LearnedRanker` stores each keyword argument of its
``__init__`` under the same name, as a scikit-learn estimator does. :class:`Knobs`
reads those names from the signature once, so ``get_params`` (what a saved pipeline
writes and what ``from_saved`` passes back to ``__init__``) and the repr never drift
from the constructor. The ``check_*`` functions are the checks the stages and the
re-ranking functions share, each raising a ``ValueError`` that names the knob (a count
is :func:`latentrec.evaluation.metrics.check_count`; one that reaches NumPy as a C long,
:func:`check_count_at_most`).
"""

from __future__ import annotations

import inspect
import math
import numbers

from ..evaluation.metrics import check_count
from ..models._training import MAX_COUNT

__all__ = [
    "MAX_COUNT",
    "Knobs",
    "check_count_at_most",
    "check_positive",
    "check_seed",
    "check_share",
]


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


def check_share(value, name: str) -> float:
    """``value`` as a float if it is a number in [0, 1], else a ValueError naming ``name``.

    Example:
        >>> check_share(1, "MMR lambda_")
        1.0
        >>> check_share(1.5, "MMR lambda_")
        Traceback (most recent call last):
        ValueError: MMR lambda_ must be a number in [0, 1], got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_positive(value, name: str, *, zero: bool = False, none: bool = False):
    """``value`` as a float if it is a finite number above 0 (``zero``: at least 0).

    With ``none``, ``None`` is allowed too (and returned).

    Example:
        >>> check_positive(0, "Freshness weight", zero=True), check_positive(None, "d", none=True)
        (0.0, None)
        >>> check_positive(-1, "Thompson new_days", zero=True, none=True)
        Traceback (most recent call last):
        ValueError: Thompson new_days must be a non-negative number or None, got -1
    """
    if none and value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    # float(), not np.isfinite: NumPy cannot take an int wider than 64 bits (a TypeError
    # about ufuncs), and one too wide for a float is an OverflowError here, so refused.
    try:
        ok = ok and math.isfinite(float(value))
    except OverflowError:
        ok = False
    if not ok or not (value >= 0 if zero else value > 0):
        raise ValueError(
            f"{name} must be a {'non-negative' if zero else 'positive'} number"
            f"{' or None' if none else ''}, got {value!r}"
        )
    return float(value)


def check_seed(value, name: str, *, none: bool = False):
    """``value`` as an int if it is a non-negative integer (a numpy seed); ``none``: or None.

    Checked when a stage is fitted, so that a bad seed is reported once, not per user.

    Example:
        >>> check_seed(7, "Explore random_state"), check_seed(None, "s", none=True)
        (7, None)
        >>> check_seed(-1, "Thompson random_state")
        Traceback (most recent call last):
        ValueError: Thompson random_state must be a non-negative int, got -1
    """
    if none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"{name} must be a non-negative int{' or None' if none else ''}, got {value!r}"
        )
    return int(value)


def check_count_at_most(value, name: str, maximum: int = MAX_COUNT) -> int:
    """``value`` as an int if it is a positive integer no larger than ``maximum`` (that
    of the models' counts), else a ValueError naming ``name`` and the range.

    A count past it (``n_candidates=2**70`` in a pipeline file) would fail inside NumPy
    as an OverflowError about C longs rather than name the knob.

    Example:
        >>> check_count_at_most(200, "n_candidates")
        200
        >>> check_count_at_most(2**40, "n_candidates")
        Traceback (most recent call last):
        ValueError: n_candidates must be a positive integer <= 2147483647, got 1099511627776
    """
    count = check_count(value, name)
    if count > maximum:
        raise ValueError(f"{name} must be a positive integer <= {maximum}, got {value!r}")
    return count
