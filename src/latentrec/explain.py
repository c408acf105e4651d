"""Prediction decomposition: r̂ = μ + b_u + b_i + Σ_f p_uf·q_if, term by term."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Explanation:
    """One prediction split into its parts.

    ``prediction`` equals ``global_mean + user_bias + item_bias + interaction`` exactly
    (before any clipping, which ``clipped`` reports separately).

    Example:
        >>> import numpy as np
        >>> e = Explanation("u1", "i9", 3.5, 0.2, -0.1, np.array([0.3, -0.1]))
        >>> round(e.prediction, 2), round(e.interaction, 2)
        (3.8, 0.2)
    """

    user_id: object
    item_id: object
    global_mean: float
    user_bias: float
    item_bias: float
    factor_contributions: np.ndarray = field(repr=False)
    item_title: str | None = None
    rating_scale: tuple[float, float] | None = None
    supporting: object = field(default=None, repr=False)
    """The user's rated items most similar to this one (a DataFrame), when known."""

    @property
    def interaction(self) -> float:
        """p_u · q_i, the sum of the per-factor contributions."""
        return float(np.sum(self.factor_contributions, dtype=np.float64))

    @property
    def prediction(self) -> float:
        """μ + b_u + b_i + p_u · q_i."""
        return self.global_mean + self.user_bias + self.item_bias + self.interaction

    @property
    def clipped(self) -> float:
        """The prediction clipped to the rating scale (unchanged when there is none)."""
        if self.rating_scale is None:
            return self.prediction
        return float(np.clip(self.prediction, *self.rating_scale))

    def top_factors(self, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` factors with the largest absolute contribution, as (factor, value).

        Example:
            >>> import numpy as np
            >>> Explanation(1, 2, 3.0, 0, 0, np.array([0.1, -0.5, 0.2])).top_factors(2)
            [(1, -0.5), (2, 0.2)]
        """
        contrib = np.asarray(self.factor_contributions, dtype=np.float64)
        order = np.argsort(-np.abs(contrib), kind="stable")[:n]
        return [(int(f), round(float(contrib[f]), 6)) for f in order]

    def to_dict(self) -> dict:
        """Plain-Python form (for JSON output).

        Example:
            >>> import numpy as np
            >>> sorted(Explanation(1, 2, 3.0, 0, 0, np.zeros(1)).to_dict())[:3]
            ['clipped', 'factor_contributions', 'global_mean']
        """
        return {
            "user_id": _plain(self.user_id),
            "item_id": _plain(self.item_id),
            "item_title": self.item_title,
            "global_mean": self.global_mean,
            "user_bias": self.user_bias,
            "item_bias": self.item_bias,
            "interaction": self.interaction,
            "prediction": self.prediction,
            "clipped": self.clipped,
            "factor_contributions": [float(x) for x in self.factor_contributions],
            "top_factors": self.top_factors(),
            "supporting_items": []
            if self.supporting is None
            else [
                {k: _plain(v) for k, v in row.items()}
                for row in self.supporting.to_dict(orient="records")
            ],
        }

    def __str__(self) -> str:
        name = f" ({self.item_title})" if self.item_title else ""
        lines = [
            f"user {_plain(self.user_id)!r}, item {_plain(self.item_id)!r}{name}",
            f"  global mean μ        {self.global_mean:+.4f}",
            f"  user bias b_u        {self.user_bias:+.4f}",
            f"  item bias b_i        {self.item_bias:+.4f}",
            f"  interaction p_u·q_i  {self.interaction:+.4f}",
            f"  = prediction         {self.prediction:.4f}",
        ]
        if self.rating_scale is not None and self.clipped != self.prediction:
            lines.append(f"  clipped to scale     {self.clipped:.4f}")
        if len(self.factor_contributions):
            tops = ", ".join(f"f{f} {v:+.3f}" for f, v in self.top_factors())
            lines.append(f"  largest factor terms {tops}")
        if self.supporting is not None and len(self.supporting):
            named = self.supporting.get("title", self.supporting["item_id"]).astype(str)
            shown = ", ".join(
                f"{name} ({sim:.2f})"
                for name, sim in zip(named, self.supporting["similarity"], strict=True)
            )
            lines.append(f"  because they rated   {shown}")
        return "\n".join(lines)


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x


def supporting_items(model, user_id, item_id, n: int = 3):
    """The user's own rated items closest to ``item_id`` in factor space ("because you rated").

    Looks through the items the user has in training (``model.seen_``) and returns the
    ``n`` with the highest cosine similarity between their factor vector and the target
    item's, best first, as a DataFrame with ``item_id``, ``similarity`` (and ``title``
    when the model has titles).  The target itself is left out; items without a vector
    (all-zero factors) have no similarity and are left out too.  A user with no rated
    items gets an empty table.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import GradientDescentMF
        >>> R = np.array([[5, 5, 0, 1, 1], [4, 5, 4, 1, 2], [1, 1, 1, 5, 4], [2, 1, 2, 4, 5]])
        >>> model = GradientDescentMF(n_epochs=3000, random_state=0)
        >>> model = model.fit(Interactions.from_dense(R))
        >>> table = supporting_items(model, 0, 2, n=4)  # why item 2 for user 0?
        >>> table["item_id"].tolist()[:2] in ([0, 1], [1, 0])  # the films like it come first
        True
    """
    import pandas as pd

    model._check_fitted()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    u = model.users_.index([user_id])[0]
    i = model.items_.index([item_id])[0]
    Q = np.asarray(model.item_factors_, dtype=np.float64)
    if Q.shape[1] == 0:
        raise ValueError(f"{type(model).__name__} has no latent factors, so no similar items")
    rated = model.seen_.indices[model.seen_.indptr[u] : model.seen_.indptr[u + 1]]
    rated = rated[rated != i]
    target = Q[i]
    norms = np.linalg.norm(Q[rated], axis=1) * np.linalg.norm(target)
    keep = norms > 0
    rated, norms = rated[keep], norms[keep]
    sims = (Q[rated] @ target) / norms if rated.size else np.empty(0)
    # Stable order: ties go to the lower item index, so results do not depend on sorting.
    order = np.lexsort((rated, -sims))[:n]
    out = pd.DataFrame({"item_id": model.items_.ids[rated[order]], "similarity": sims[order]})
    titles = getattr(model, "item_titles_", None)
    if titles is not None:
        out["title"] = np.asarray(titles)[rated[order]]
    return out
