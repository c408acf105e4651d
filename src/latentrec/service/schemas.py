"""The JSON the API takes and gives: pydantic models, shown in the OpenAPI page at /docs.

Conventions, the same on every route: every id is a string (``"50"``, never ``50``),
every response body carries ``model_version``, a score the model cannot give is
``null``, and an error body is ``{"detail": "<one line>"}`` (422s add ``errors``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["explicit", "event"]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- requests
class RatingIn(Strict):
    """One rating (explicit stars) or one implicit event (a play, a click)."""

    user_id: str = Field(description="The user's id (any text).")
    item_id: str = Field(description="The item's id, as in GET /items.")
    rating: float = Field(
        1.0,
        description="Stars for an explicit rating (within the model's scale); for an event, "
        "the weight added to the stored one (default 1).",
    )
    kind: Kind = Field("explicit", description="'explicit' (stars) or 'event' (implicit).")
    timestamp: float | None = Field(None, description="Unix seconds; default: now.")


class RatingsIn(Strict):
    """Several ratings in one request, written in one transaction."""

    ratings: list[RatingIn] = Field(description="The ratings, any users.")


class AnswerIn(Strict):
    """One answer to an onboarding question."""

    item_id: str
    rating: float = Field(description="Stars (within the model's scale), or 1 for 'seen it'.")


class OnboardingIn(Strict):
    """A new user's answers; they are stored as the user's explicit ratings."""

    answers: list[AnswerIn]
    n: int = Field(10, ge=1, description="How many recommendations to return.")


class ItemIn(Strict):
    """A new (or updated) title for the catalogue."""

    item_id: str
    title: str | None = None
    genres: list[str] = Field(default_factory=list)
    features: dict[str, float] | None = Field(
        None, description="Numeric features by name (e.g. {'year': 1999})."
    )


# ---------------------------------------------------------------------------- responses
class Versioned(BaseModel):
    """Every response names the model version that produced it."""

    model_config = ConfigDict(protected_namespaces=())
    model_version: str


class ScoredItem(BaseModel):
    """An item in a ranked list."""

    item_id: str
    title: str | None = None
    genres: list[str] = Field(
        default_factory=list, description="The item's genres in the catalogue (may be empty)."
    )
    score: float | None = Field(None, description="The model's score; null when it has none.")


class Recommendations(Versioned):
    """A user's top items; ``fallback`` when they could not be personalised (popularity)."""

    user_id: str
    fallback: bool
    items: list[ScoredItem]


class Similar(Versioned):
    """Items closest to one item in the model's factor space (score: cosine)."""

    item_id: str
    title: str | None = None
    items: list[ScoredItem]


class Predictions(Versioned):
    """The user's scores for the items asked about, in the order asked."""

    user_id: str
    fallback: bool
    predictions: list[ScoredItem]


class Supporting(BaseModel):
    """One of the user's own rated titles close to the explained one."""

    item_id: str
    title: str | None = None
    similarity: float


class Explanation(Versioned):
    """A score split into μ + b_u + b_i + p_u·q_i, and the user's titles that support it."""

    user_id: str
    item_id: str
    item_title: str | None = None
    fallback: bool
    global_mean: float
    user_bias: float
    item_bias: float
    interaction: float
    prediction: float
    clipped: float
    factor_contributions: list[float]
    top_factors: list[tuple[int, float]]
    supporting_items: list[Supporting]


class WriteAck(Versioned):
    """What a write did, after its transaction committed."""

    written: int
    users: dict[str, int] = Field(description="Each user written and their new store version.")


class StoredRating(BaseModel):
    """A rating as the store holds it."""

    item_id: str
    title: str | None = None
    rating: float
    kind: Kind
    timestamp: float | None = None
    rated_at: str | None = Field(None, description="The timestamp as ISO 8601 (UTC).")


class UserRatings(Versioned):
    """Everything the store holds for one user."""

    user_id: str
    ratings: list[StoredRating]


class Deleted(Versioned):
    """What a deletion removed."""

    user_id: str
    item_id: str | None = None
    deleted: int


class Question(BaseModel):
    """An onboarding question: a title to rate."""

    item_id: str
    title: str | None = None
    popularity: int


class Questions(Versioned):
    """The titles to ask a new user about, in asking order."""

    questions: list[Question]


class ItemOut(BaseModel):
    """A catalogue entry."""

    item_id: str
    title: str | None = None
    genres: list[str] = Field(default_factory=list)
    features: dict[str, float] | None = None
    in_model: bool = Field(description="Whether the served model can recommend it.")


class ItemDetail(Versioned, ItemOut):
    """One catalogue entry, with the version of the model that says whether it is in it."""


class ItemList(Versioned):
    """A page of the catalogue."""

    items: list[ItemOut]
    n: int
    offset: int


class Genres(Versioned):
    """Every genre in the catalogue."""

    genres: list[str]


class ItemAdded(Versioned):
    """A title added: ``vector`` says how it is recommendable now."""

    item: ItemOut
    vector: Literal["model", "features", "zero", "none"] = Field(
        description="'model': the model knows it (its learned vector is kept); "
        "'features': a vector from its features (HybridMF); 'zero': a zero "
        "vector (ranks like an average title until retrained); 'none': the model cannot "
        "hold this id (text id, integer model)."
    )


class Health(Versioned):
    """The worker's state."""

    status: Literal["ok"]
    model_created: float
    model_loaded: float
    model_age_seconds: float
    model_source: str
    store: str
    worker_pid: int
    cached_users: int = Field(description="Users whose vectors this worker holds.")
    warm: bool = Field(
        description="Whether this worker has folded in every stored user (it answers "
        "before that too, folding users in on their first request)."
    )


class Reloaded(Versioned):
    """The outcome of POST /admin/reload."""

    reloaded: bool
    previous_version: str
