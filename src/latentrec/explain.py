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
        return "\n".join(lines)


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x
