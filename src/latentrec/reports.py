"""Factor reports: what each latent factor means, in titles and in item metadata.

:func:`factor_report` lists, per factor, the items with the highest and lowest loadings
q_if (among items with enough ratings for a reliable vector), correlates each factor with
the item side table (one-hot genres, year, ...) and names each pole after its most
correlated genre — "Sci-Fi vs Romance" — when that genre's association is real (above
what a factor of shuffled loadings reaches, and shared by the pole's top titles); a
factor with no such genre stays "factor 4".  :func:`user_profile` describes one user in
the same terms.

Factors of a matrix factorisation are only defined up to a rotation (P Qᵀ = (PV)(QV)ᵀ
for any orthogonal V), so single factors of a large model are often mixtures.
``rotate=True`` first rotates both P and Q onto the principal axes of the item vectors
(factor 0 = the direction along which items differ most); predictions are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data.interactions import Interactions
from .models.hybrid import FeatureEncoder
from .models.inputs import with_model_ids


@dataclass
class FactorReport:
    """The result of :func:`factor_report`.

    Attributes:
        summary: one row per factor: ``factor``, ``name``, ``positive`` / ``negative``
            (the pole labels), ``positive_corr`` / ``negative_corr``, ``top`` /
            ``bottom`` (titles, highest and lowest loading first), ``spread`` (standard
            deviation of the loadings).
        items: long table ``factor``, ``pole`` (``"+"``/``"-"``), ``rank``,
            ``item_id``, ``title``, ``loading``.
        correlations: factors x metadata features (Pearson correlation over the
            reported items).
        rotation: the k x k orthogonal matrix applied to the factors (identity unless
            ``rotate=True``).
        threshold: the correlation a genre must exceed to name a pole (the permutation
            bound of :func:`factor_report`; NaN without genres).
    """

    summary: pd.DataFrame
    items: pd.DataFrame
    correlations: pd.DataFrame
    rotation: np.ndarray = field(repr=False)
    min_ratings: int = 0
    n_items: int = 0
    threshold: float = float("nan")

    def to_frame(self) -> pd.DataFrame:
        """The per-factor summary table (a copy)."""
        return self.summary.copy()

    def name(self, factor: int) -> str:
        """The name of one factor ("Sci-Fi vs Romance", or "factor 3" without metadata)."""
        return str(self.summary["name"].iloc[factor])

    def __str__(self) -> str:
        lines = [
            f"Latent factors ({len(self.summary)}), over {self.n_items} items with at least "
            f"{self.min_ratings} ratings"
        ]
        if np.isfinite(self.threshold):
            lines.append(
                f"a genre names a pole when its correlation exceeds {self.threshold:.2f} "
                "(the 99th percentile of shuffled factors)\n"
                f"and {AGREE} of the pole's top {TOP_TITLES} titles carry it"
            )
        for row in self.summary.itertuples(index=False):
            lines.append("")
            head = f"factor {row.factor}: {row.name}"
            said = [
                f"{label} {corr:+.2f}"
                for label, corr in (
                    (row.positive, row.positive_corr),
                    (row.negative, row.negative_corr),
                )
                if isinstance(label, str)  # an unnamed pole reads back as None or NaN
            ]
            if said:
                head += f"   (corr. {', '.join(said)})"
            lines.append(head)
            lines.append("  + " + "; ".join(row.top))
            lines.append("  - " + "; ".join(row.bottom))
        return "\n".join(lines)


@dataclass
class UserProfile:
    """The result of :func:`user_profile`: one user's vector in named-factor terms.

    ``frame`` has one row per factor: ``factor``, ``name``, ``value`` (p_uf after the
    report's rotation), ``z`` (value standardised over all users with ratings),
    ``leaning`` (the pole label of the side ``z`` points to: the user leans there
    compared with the other users) and ``top_rated`` (the user's own highest-rated
    titles loading on that side of the factor).  ``from_model`` is True when the data
    has no ratings of the user and their items come from the model's own record (a
    user added by onboarding or fold-in): ``n_rated`` then counts those items.
    """

    user_id: object
    frame: pd.DataFrame
    n_rated: int
    from_model: bool = False

    def to_frame(self) -> pd.DataFrame:
        """The per-factor table (a copy)."""
        return self.frame.copy()

    def __str__(self) -> str:
        if self.from_model:
            had = f"{self.n_rated} items the model keeps for them; none in the data"
        else:
            had = f"{self.n_rated} ratings"
        lines = [f"user {self.user_id!r} ({had}), strongest factors first"]
        order = np.argsort(-np.abs(self.frame["z"].to_numpy()), kind="stable")
        for row in self.frame.iloc[order].itertuples(index=False):
            # An unnamed pole reads back as NaN (pandas' string columns), which is truthy:
            # it printed "leans nan".  The sign of z (the rows are ranked by it) names the
            # side the report lists as + / -; the raw value's sign said "leans Action" of
            # a user below the users' mean.
            named = isinstance(row.leaning, str) and row.leaning
            if row.z == 0:
                side = "at the users' mean"
            elif named:
                side = f"leans {row.leaning}"
            else:
                side = f"leans {'+' if row.z > 0 else '-'} side"
            lines.append(
                f"  factor {row.factor} ({row.name}): {row.value:+.3f} (z {row.z:+.2f}), "
                f"{side}" + (f" — e.g. {'; '.join(row.top_rated)}" if row.top_rated else "")
            )
        return "\n".join(lines)


def _check(model, data: Interactions) -> Interactions:
    """``data`` over the model's id maps (:func:`~latentrec.models.inputs.with_model_ids`:
    the training data of a model that grew since is accepted), or an error."""
    model.check_fitted()
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be latentrec.Interactions, got {type(data).__name__}")
    factors = getattr(model, "item_factors_", None)
    if factors is None or factors.shape[1] == 0:
        raise ValueError(f"{type(model).__name__} has no latent factors to report on")
    return with_model_ids(model, data)


def _rotation(Q: np.ndarray) -> np.ndarray:
    """Orthogonal V whose columns are the principal axes of the rows of ``Q``.

    Each axis is signed so that its largest loading is positive, making the result
    deterministic.
    """
    centred = Q - Q.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    V = vt.T
    proj = Q @ V
    flip = np.abs(proj.max(axis=0)) < np.abs(proj.min(axis=0))
    V[:, flip] *= -1
    return V


def _metadata(data: Interactions, rows: np.ndarray):
    """Encoded item side table for ``rows``: (matrix, names, categorical flags).

    The ``title`` column names items and is never a feature: the encoder's automatic
    rule skips text with more than 100 distinct values only, so on a catalogue of 100
    items or fewer each title became a one-hot "genre" of one item, which filled the
    correlations and raised the chance bound.
    """
    table = data.item_features
    if table is not None:
        table = table.drop(columns=["title"], errors="ignore")
    if table is None or table.shape[1] == 0:
        return np.zeros((rows.size, 0)), [], np.zeros(0, bool)
    # Genres as "A|B" text or as lists of names are one multi-label column either way.
    enc = FeatureEncoder(numeric="standardize").fit(table, what="item")
    X = enc.transform(table.iloc[rows], what="item").toarray()
    kinds = []
    for spec in enc.spec_["columns"]:
        n = len(spec["values"]) if spec["kind"] in ("onehot", "multilabel") else 1
        kinds += [spec["kind"] in ("onehot", "multilabel")] * n
    return X, enc.names_, np.array(kinds, dtype=bool)


def _corr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of A with every column of B (NaN if constant)."""
    a = A - A.mean(axis=0)
    b = B - B.mean(axis=0)
    na = np.sqrt((a**2).sum(axis=0))
    nb = np.sqrt((b**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a.T @ b) / np.outer(na, nb)
    out[~np.isfinite(out)] = np.nan
    return out


# A pole's genre must be carried by at least AGREE_MIN of the pole's TOP_TITLES titles,
# and by a larger share of them than of all reported items.
TOP_TITLES = 10
AGREE_MIN = 2
AGREE = f"at least {AGREE_MIN}"
# Shuffles of the loadings behind the chance bound: enough pooled maxima (shuffles x
# factors x 2 poles) for a stable 99th percentile, few enough to stay quick on big data.
_MIN_NULL_DRAWS = 4000


def _chance_bound(Q: np.ndarray, G: np.ndarray, quantile: float = 0.99, seed: int = 0) -> float:
    """The correlation a pole's best genre exceeds by chance only ``1 - quantile`` of
    the time: the ``quantile`` of max_g r(q_f, g) over factors whose loadings are
    shuffled across items (both signs, all factors pooled, a fixed seed).

    Shuffling keeps each factor's spread and each genre's frequency and breaks only
    their link, so the bound grows as items get fewer and genres more: on ML-100K
    (939 items with 20 ratings, 19 genres, BiasedMF k=32) it is 0.107, while a factor
    of random loadings reaches 0.07 in a typical draw.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> G = (rng.random((900, 19)) < 0.1).astype(float)
        >>> 0.08 < _chance_bound(rng.normal(size=(900, 8)), G) < 0.14
        True
    """
    a = Q - Q.mean(axis=0)
    a /= np.maximum(np.sqrt((a**2).sum(axis=0)), 1e-300)
    b = G - G.mean(axis=0)
    norms = np.sqrt((b**2).sum(axis=0))
    b = b[:, norms > 0] / norms[norms > 0]
    if b.shape[1] == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    shuffles = max(20, -(-_MIN_NULL_DRAWS // (2 * a.shape[1])))
    tops = []
    for _ in range(shuffles):
        r = a[rng.permutation(a.shape[0])].T @ b
        tops += [r.max(axis=1), (-r).max(axis=1)]
    return float(np.quantile(np.concatenate(tops), quantile))


def _pole_genre(c: np.ndarray, q: np.ndarray, G: np.ndarray, bound: float):
    """Index (into ``G``'s columns) of the genre that names the pole whose loadings
    are ``q`` (high first), or None: the most correlated genre ``c`` whose correlation
    exceeds ``bound`` and that the pole's top titles carry (:data:`AGREE_MIN` of the
    :data:`TOP_TITLES` highest, and a larger share than among all items).

    Example:
        >>> G = np.array([[1, 0], [1, 0], [0, 1], [0, 1]] * 5, dtype=float)
        >>> q = np.array([2.0, 1.0, -1.0, -2.0] * 5)
        >>> _pole_genre(np.array([0.9, -0.9]), q, G, 0.3)
        0
        >>> _pole_genre(np.array([0.2, -0.9]), q, G, 0.3) is None  # below the bound
        True
    """
    top = np.argsort(-q, kind="stable")[:TOP_TITLES]
    for j in np.argsort(-np.nan_to_num(c, nan=-np.inf), kind="stable"):
        if not c[j] > bound:
            return None
        carried = G[top, j] > 0
        if carried.sum() >= AGREE_MIN and carried.mean() > (G[:, j] > 0).mean():
            return int(j)
    return None


def _label(name: str) -> str:
    return name.split("=", 1)[1] if "=" in name else name


def factor_report(
    model, data: Interactions, n: int = 5, *, min_ratings: int = 20, rotate: bool = False
) -> FactorReport:
    """Describe every latent factor of ``model`` by its extreme items and item metadata.

    Args:
        model: a fitted factor model.
        data: the interactions it was trained on (for rating counts, titles and the
            item side table; ``data.item_features`` may be absent).  For a model that
            gained users or items after training (fold-in, onboarding), the training
            data without them (:func:`~latentrec.models.inputs.with_model_ids`); the
            added items have no ratings in it, so ``min_ratings`` leaves them out.
        n: titles listed at each pole.
        min_ratings: only items with at least this many ratings in ``data`` are listed
            and correlated (vectors of rarely rated items are mostly noise).
        rotate: rotate the factors onto the principal axes of the item vectors first.

    A pole's label is the one-hot/multi-label feature (a genre) most positively
    (most negatively) correlated with the factor among those whose association is
    real, by two tests: (1) the correlation exceeds the 99th percentile of what the
    best genre reaches against the same factors with their loadings shuffled across
    items (:func:`_chance_bound`; on ML-100K with 939 items and 19 genres about 0.11,
    where the reviewer's "Film-Noir" at 0.10 and "Drama vs War" at 0.07 / 0.09 fall);
    (2) the pole's titles agree: at least 2 of its 10 top-loading titles carry the genre,
    a larger share than among all reported items (a "Children's" pole topped by
    Scream fails).  The factor's name is ``"<positive> vs <negative>"``, ``"<positive>
    vs (no genre)"`` (or the other way) when one pole passes, and ``"factor f"`` when
    neither does; an unnamed pole's label and correlation are None and NaN.  Genres may
    be ``"A|B"`` text or lists of names (see
    :class:`~latentrec.models.hybrid.FeatureEncoder`).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.models import GradientDescentMF
        >>> rng = np.random.default_rng(0)
        >>> genres = ["Sci-Fi", "Romance"] * 10
        >>> fan = rng.choice([-1.0, 1.0], 30)  # each user likes Sci-Fi (+1) or Romance
        >>> side = np.where(np.array(genres) == "Sci-Fi", 1.0, -1.0)
        >>> noise = rng.normal(0, 0.5, (30, 20))
        >>> R = np.clip(np.round(3 + 1.5 * np.outer(fan, side) + noise), 1, 5)
        >>> df = pd.DataFrame([(u, i, R[u, i]) for u in range(30) for i in range(20)],
        ...                   columns=["user_id", "item_id", "rating"])
        >>> meta = pd.DataFrame({"title": [f"{g} film {i}" for i, g in enumerate(genres)],
        ...                      "genres": genres})
        >>> data = Interactions.from_frame(df, item_features=meta)
        >>> model = GradientDescentMF(n_epochs=500, random_state=0).fit(data)
        >>> report = factor_report(model, data, n=2, min_ratings=1, rotate=True)
        >>> report.name(0) in ("Sci-Fi vs Romance", "Romance vs Sci-Fi")
        True
    """
    data = _check(model, data)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    counts = data.item_counts()
    rows = np.flatnonzero(counts >= min_ratings)
    if rows.size == 0:
        raise ValueError(
            f"no item has at least min_ratings={min_ratings} ratings; lower min_ratings"
        )
    Q_all = np.asarray(model.item_factors_, dtype=np.float64)
    k = Q_all.shape[1]
    V = _rotation(Q_all[rows]) if rotate else np.eye(k)
    Q = Q_all[rows] @ V
    titles = data.item_titles()[rows]
    ids = data.items.ids[rows]

    X, feat_names, categorical = _metadata(data, rows)
    C = _corr(Q, X) if X.shape[1] else np.zeros((k, 0))
    cat = np.flatnonzero(categorical)
    G = X[:, cat]
    bound = _chance_bound(Q, G) if cat.size else float("nan")
    correlations = pd.DataFrame(C, columns=feat_names)
    correlations.index.name = "factor"

    summary, long = [], []
    for f in range(k):
        order = np.lexsort((rows, -Q[:, f]))
        top, bottom = order[:n], order[::-1][:n]
        for pole, picks in (("+", top), ("-", bottom)):
            for rank, r in enumerate(picks, start=1):
                long.append((f, pole, rank, ids[r], titles[r], Q[r, f]))
        pos = neg = None
        pos_c = neg_c = np.nan
        if cat.size and np.isfinite(bound):
            best = _pole_genre(C[f, cat], Q[:, f], G, bound)
            worst = _pole_genre(-C[f, cat], -Q[:, f], G, bound)
            if best is not None:
                pos, pos_c = _label(feat_names[cat[best]]), float(C[f, cat[best]])
            if worst is not None:
                neg, neg_c = _label(feat_names[cat[worst]]), float(C[f, cat[worst]])
        if pos is None and neg is None:
            name = f"factor {f}"
        else:
            name = f"{pos or '(no genre)'} vs {neg or '(no genre)'}"
        summary.append(
            {
                "factor": f,
                "name": name,
                "positive": pos,
                "positive_corr": pos_c,
                "negative": neg,
                "negative_corr": neg_c,
                "top": [str(titles[r]) for r in top],
                "bottom": [str(titles[r]) for r in bottom],
                "spread": float(Q[:, f].std()),
            }
        )
    items = pd.DataFrame(long, columns=["factor", "pole", "rank", "item_id", "title", "loading"])
    return FactorReport(
        pd.DataFrame(summary), items, correlations, V, int(min_ratings), int(rows.size), bound
    )


def user_profile(
    model,
    user_id,
    data: Interactions,
    *,
    report: FactorReport | None = None,
    n: int = 2,
    min_ratings: int = 20,
    rotate: bool = False,
) -> UserProfile:
    """One user's factor vector with each factor named, standardised and illustrated.

    ``report`` (from :func:`factor_report`) supplies the factor names and rotation;
    without it one is computed with ``min_ratings`` and ``rotate``.  For each factor the
    profile gives the user's value, its z-score among all users with ratings, the pole
    the user leans to (the side the z-score points to: a value above 0 but below the
    users' mean leans to the negative pole), and up to ``n`` of the user's own
    highest-rated titles whose loading lies on that side.  A user without ratings in
    ``data`` (one added by onboarding or fold-in after training) is described by the
    items the model keeps for them (``model.seen_``), strongest loading first, since the
    model keeps no stars.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.models import GradientDescentMF
        >>> rng = np.random.default_rng(0)
        >>> genres = ["Sci-Fi", "Romance"] * 10
        >>> fan = rng.choice([-1.0, 1.0], 30)  # each user likes Sci-Fi (+1) or Romance
        >>> side = np.where(np.array(genres) == "Sci-Fi", 1.0, -1.0)
        >>> noise = rng.normal(0, 0.5, (30, 20))
        >>> R = np.clip(np.round(3 + 1.5 * np.outer(fan, side) + noise), 1, 5)
        >>> df = pd.DataFrame([(u, i, R[u, i]) for u in range(30) for i in range(20)],
        ...                   columns=["user_id", "item_id", "rating"])
        >>> meta = pd.DataFrame({"title": [f"{g} film {i}" for i, g in enumerate(genres)],
        ...                      "genres": genres})
        >>> data = Interactions.from_frame(df, item_features=meta)
        >>> model = GradientDescentMF(n_epochs=500, random_state=0).fit(data)
        >>> profile = user_profile(model, 0, data, min_ratings=1, rotate=True)
        >>> profile.to_frame()["leaning"].iloc[0], float(fan[0])  # user 0 is a Sci-Fi fan
        ('Sci-Fi', 1.0)
    """
    data = _check(model, data)
    if report is None:
        report = factor_report(model, data, n=1, min_ratings=min_ratings, rotate=rotate)
    u = model.users_.index([user_id])[0]
    V = report.rotation
    P = np.asarray(model.user_factors_, dtype=np.float64) @ V
    Q = np.asarray(model.item_factors_, dtype=np.float64) @ V
    active = data.user_counts() > 0
    mean = P[active].mean(axis=0)
    std = P[active].std(axis=0)
    z = np.divide(P[u] - mean, std, out=np.zeros_like(std), where=std > 0)

    start, end = data.matrix.indptr[u], data.matrix.indptr[u + 1]
    rated = data.matrix.indices[start:end]
    stars = data.matrix.data[start:end]
    from_model = False
    if rated.size == 0:
        # A user added after training (onboarding, fold-in) has no cells in the training
        # data, but the model keeps the items their vector was folded in from.
        seen = model.seen_
        rated = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
        stars = np.ones(rated.size, dtype=np.float32)  # seen items: no stars kept
        from_model = rated.size > 0
    titles = data.item_titles()
    rows = []
    for f, srow in enumerate(report.summary.itertuples(index=False)):
        value = float(P[u, f])
        # The side follows z, by which the factors are ranked: compared with the other
        # users, not with 0 (a user at +0.002 where the mean is +0.05 leans negative).
        side = float(np.sign(z[f]))
        label = srow.positive if side > 0 else srow.negative if side < 0 else None
        label = label if isinstance(label, str) else None  # an unnamed pole
        same_side = rated[side * Q[rated, f] > 0]
        their = stars[side * Q[rated, f] > 0]
        # Highest stars first, then the strongest loading on this side.
        pick = np.lexsort((-side * Q[same_side, f], -their))[:n]
        rows.append(
            {
                "factor": f,
                "name": srow.name,
                "value": value,
                "z": float(z[f]),
                "leaning": label,
                "top_rated": [str(titles[i]) for i in same_side[pick]],
            }
        )
    return UserProfile(user_id, pd.DataFrame(rows), int(rated.size), from_model)
