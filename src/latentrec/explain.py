"""Prediction decomposition: r̂ = μ + b_u + b_i + Σ_f p_uf·q_if, term by term.

The types live with the models that produce them; this module is their public home for
notebooks (``from latentrec.explain import Explanation, supporting_items``).

Example:
    >>> import numpy as np
    >>> from latentrec import Interactions
    >>> from latentrec.models import Biases
    >>> e = Biases().fit(Interactions.from_dense(np.array([[5, 3], [4, 1]]))).explain(0, 1)
    >>> isinstance(e, Explanation)
    True
"""

from .models.factor import supporting_items
from .models.results import Explanation

__all__ = ["Explanation", "supporting_items"]
