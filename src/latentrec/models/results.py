"""Result types of the model operations: ranked lists, folded-in vectors, explanations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Recommendations:
    """Ranked items for one user (or one query item); unpacks as ``ids, scores``.

    ``fallback`` is True when the list could not be personalised (an unknown user or one
    with no history) and comes from item popularity instead.

    Example:
        >>> import numpy as np
        >>> ids, scores = Recommendations(np.array([3, 1]), np.array([0.9, 0.2]))
        >>> ids.tolist()
        [3, 1]
    """

    ids: np.ndarray
    scores: np.ndarray
    fallback: bool = False
    titles: np.ndarray | None = None

    def __iter__(self):
        yield self.ids
        yield self.scores

    def to_frame(self) -> pd.DataFrame:
        """The list as a table with ``rank``, ``item_id``, ``score`` (and ``title``).

        Example:
            >>> import numpy as np
            >>> Recommendations(np.array([3]), np.array([0.5])).to_frame().columns.tolist()
            ['rank', 'item_id', 'score']
        """
        out = pd.DataFrame(
            {"rank": np.arange(1, len(self.ids) + 1), "item_id": self.ids, "score": self.scores}
        )
        if self.titles is not None:
            out["title"] = self.titles
        return out


@dataclass(frozen=True)
class UserVector:
    """A user's bias and factors computed from ratings by :meth:`FactorModel.fold_in`.

    ``ignored`` lists the item ids that were dropped because the model does not know them
    (only with ``unknown="ignore"``).

    Example:
        >>> import numpy as np
        >>> UserVector(0.5, np.array([0.1, -0.2], np.float32)).ignored
        []
    """

    bias: float
    factors: np.ndarray
    ignored: list = field(default_factory=list)


@dataclass(frozen=True)
class Explanation:
    """One prediction split into its parts.

    ``prediction`` equals ``global_mean + user_bias + item_bias + interaction`` exactly,
    and is what ``predict`` answers by default (``clip=False``), bit for bit; ``clipped``
    is ``predict(..., clip=True)``'s answer, and the text shows it, with the amount cut
    off, only where the two differ.  For a ranking model
    (``predicts_ratings=False``) that sum is a score that orders items, and the text
    calls it so.

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
    """The items the user liked most similar to this one (a DataFrame, see
    :func:`~latentrec.models.factor.supporting_items`), when known."""
    predicts_ratings: bool = True
    """False for a ranking model: the sum is a score that orders items, not a rating."""
    user_known: bool = True
    """False when the model does not know the user: the baseline's answer, no user part."""
    supporting_left_out: int = 0
    """Ratings given to choose ``supporting`` by that the model never saw the user
    rate (not in its record), so not cited."""

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
        """The prediction clipped to the rating scale, as ``predict(..., clip=True)``
        answers it (unchanged when there is no scale, and for a ranking model, whose
        score is no rating to clip)."""
        if self.rating_scale is None or not self.predicts_ratings:
            return self.prediction
        return float(np.clip(self.prediction, *self.rating_scale))

    def top_factors(self, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` factors with the largest absolute contribution, as (factor, value);
        none for a user the model does not know (it has no user part).

        Example:
            >>> import numpy as np
            >>> Explanation(1, 2, 3.0, 0, 0, np.array([0.1, -0.5, 0.2])).top_factors(2)
            [(1, -0.5), (2, 0.2)]
            >>> Explanation(1, 2, 3.0, 0, 0, np.zeros(2), user_known=False).top_factors()
            []
        """
        if not self.user_known:
            return []  # no user part: the zeros held for it name no factor
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
            "user_known": bool(self.user_known),
            "supporting_left_out": int(self.supporting_left_out),
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
            f"  = prediction         {self.prediction:.4f}"
            if self.predicts_ratings
            # A ranking model's sum orders items; read as stars it would mislead.
            else f"  = ranking score      {self.prediction:.4f} (orders items; not a rating)",
        ]
        if self.clipped != self.prediction:
            # The line above is predict's default answer (clip=False); this one is
            # clip=True's, with the amount cut off, so neither reads as the other.
            low, high = self.rating_scale
            label = f"clipped to {low:g}-{high:g}"
            lines.append(
                f"  {label:<20} {self.clipped:.4f} (by {self.clipped - self.prediction:+.4f}, "
                "as predict(clip=True) answers)"
            )
        if not self.user_known:
            lines.append(
                "  (the model does not know this user: no b_u or p_u, the baseline answer "
                "of predict(unknown='baseline'))"
            )
        elif len(self.factor_contributions):
            tops = ", ".join(f"f{f} {v:+.3f}" for f, v in self.top_factors())
            lines.append(f"  largest factor terms {tops}")
        if self.supporting is not None and len(self.supporting):
            named = self.supporting.get("title", self.supporting["item_id"]).astype(str)
            # Their own stars where they were given (supporting_items' ``ratings``), so
            # that a reader sees each cited title is one they liked.
            stars = self.supporting.get("rating", pd.Series([None] * len(named)))
            shown = ", ".join(
                f"{name} ({'' if star is None else f'rated {star:g}, '}{sim:.2f})"
                for name, star, sim in zip(
                    named, stars.tolist(), self.supporting["similarity"], strict=True
                )
            )
            lines.append(f"  because they rated   {shown}")
        if self.supporting_left_out:
            lines.append(
                f"  not cited            {self.supporting_left_out} rated title(s) the model "
                "did not train on for this user (held out, or rated since)"
            )
        return "\n".join(lines)


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x
