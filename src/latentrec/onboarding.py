"""Onboarding: which few items to ask a new user about, and recommendations from the answers.

The functions live with the factor models that call them (``latentrec.models.onboarding``);
this module is their public home.  The held-out-users benchmark of the questions is
``benchmarks/onboarding_harness.py``.

Example:
    >>> import numpy as np
    >>> from latentrec import Interactions
    >>> from latentrec.models import BiasedMF
    >>> R = np.array([[5, 5, 1, 1], [4, 5, 1, 2], [1, 1, 5, 4], [2, 1, 4, 5]])
    >>> model = BiasedMF(n_factors=2, n_epochs=200, random_state=0)
    >>> model = model.fit(Interactions.from_dense(R))
    >>> len(onboarding_items(model, k=2, min_ratings=1))
    2
"""

from .models.onboarding import (
    CRITERIA,
    POPULAR_SHARE,
    PRIOR_SCALE,
    design_gain,
    onboard,
    onboarding_items,
)

__all__ = ["CRITERIA", "POPULAR_SHARE", "PRIOR_SCALE", "design_gain", "onboard", "onboarding_items"]
