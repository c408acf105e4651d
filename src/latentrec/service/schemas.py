"""The JSON the API takes and gives: pydantic models, shown in the OpenAPI page at /docs.

Conventions, the same on every route: every id is a string (``"50"``, never ``50``),
every response body carries ``model_version``, a score the model cannot give is
``null``, and an error body is ``{"detail": "<one line>"}`` (422s add ``errors``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    create_model,
    model_validator,
)

Kind = Literal["explicit", "event"]

# What a catalogue entry posted to the service may hold.  The store keeps text of any
# length (a data file's titles load whole), but a client's title is a line on a page:
# MovieLens' longest titles run to about 160 characters, and without a cap one request
# could store a megabyte in a title that every search and list then carries.
MAX_TITLE_CHARS = 500
MAX_GENRES = 50
MAX_GENRE_CHARS = 100
MAX_FEATURES = 100
MAX_FEATURE_NAME_CHARS = 100

GenreName = Annotated[str, StringConstraints(max_length=MAX_GENRE_CHARS)]
FeatureName = Annotated[str, StringConstraints(max_length=MAX_FEATURE_NAME_CHARS)]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped, and values are
    of their field's JSON type (``"rating": true`` or ``"4"`` is a 422, not 1 or 4 stars;
    a whole number is a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------------------ errors
class FieldError(BaseModel):
    """One field a request's schema refused.

    Example:
        >>> FieldError(loc=["body", "answers", "0", "rating"], msg="Field required").loc[0]
        'body'
    """

    loc: list[str] = Field(
        description="Where: 'body', 'query' or 'path', then the field's path in it."
    )
    msg: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    """Every error's body: one line saying what is wrong.

    Example:
        >>> ErrorBody(detail="unknown item '7'").detail
        "unknown item '7'"
    """

    detail: str = Field(description="What is wrong, on one line.")


class InvalidRequest(ErrorBody):
    """A 422: the request is well-formed but its content is refused.

    Example:
        >>> InvalidRequest(detail="query n: Input should be greater than 0").errors is None
        True
    """

    errors: list[FieldError] | None = Field(
        None,
        description="Where the request's schema refused it, field by field; absent when "
        "the content was refused for another reason (a rating outside the model's scale, "
        "say).",
    )


# The error answers of every route, in the OpenAPI document as they are sent
# (hardening.install_error_handlers): FastAPI's own 422 schema has a list for ``detail``.
ERROR_RESPONSES = {
    422: {"model": InvalidRequest, "description": "The request's content is refused."},
    "default": {
        "model": ErrorBody,
        "description": "Any other error: 401 (no token), 404 (unknown user or item), "
        "409, 413 (body too large), 415 (an encoded body), 421 (Host not allowed), 429, "
        "503 (the store is unavailable, or the service stopping), 500.",
    },
}


# ---------------------------------------------------------------------------- requests
class RatingIn(Strict):
    """One rating (explicit stars) or one implicit event (a play, a click).

    Example:
        >>> RatingIn(user_id="u", item_id="7", kind="event").rating
        1.0
        >>> RatingIn(user_id="u", item_id="7")
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for RatingIn
        rating
          Field required ...
    """

    user_id: str = Field(description="The user's id (any text).")
    item_id: str = Field(description="The item's id, as in GET /items.")
    rating: float = Field(
        description="Stars for an explicit rating (within the model's scale), required; for "
        "an event, the weight added to the stored one (may be left out: 1).",
    )
    kind: Kind = Field("explicit", description="'explicit' (stars) or 'event' (implicit).")
    timestamp: float | None = Field(None, description="Unix seconds; default: now.")

    @model_validator(mode="before")
    @classmethod
    def event_weight_defaults_to_one(cls, data):
        # Only an event has a natural value (one play, one click); an explicit rating
        # without its stars is a mistake, which a default stored as 1 star hid.
        if isinstance(data, dict) and data.get("kind") == "event" and "rating" not in data:
            return {**data, "rating": 1.0}
        return data


class RatingsIn(Strict):
    """Several ratings in one request, written in one transaction."""

    ratings: list[RatingIn] = Field(description="The ratings, any users.")


def ratings_form(body) -> str:
    """Which form a ``POST /ratings`` body is: ``"batch"`` with a ``ratings`` field,
    else ``"single"``; it is validated as that form only, so a 422 is about it.

    Example:
        >>> ratings_form({"ratings": []}), ratings_form({"user_id": "u"}), ratings_form([])
        ('batch', 'single', 'single')
    """
    if isinstance(body, dict):
        return "batch" if "ratings" in body else "single"
    return "batch" if isinstance(body, RatingsIn) else "single"


# The body of POST /ratings: one rating or many.  A plain union reported the errors of
# both forms at once (five for one bad star value); a tagged union validates one.
RatingsBody = Annotated[
    Annotated[RatingIn, Tag("single")] | Annotated[RatingsIn, Tag("batch")],
    Discriminator(ratings_form),
]


class AnswerIn(Strict):
    """One answer to an onboarding question."""

    item_id: str
    rating: float = Field(description="Stars (within the model's scale), or 1 for 'seen it'.")


class OnboardingIn(Strict):
    """A new user's answers; they are stored as the user's explicit ratings."""

    answers: list[AnswerIn]
    n: int = Field(10, ge=1, description="How many recommendations to return.")


def onboarding_in(max_n: int) -> type[OnboardingIn]:
    """:class:`OnboardingIn` with ``n`` at most ``max_n`` (the service's limit on
    ``n``), so that its OpenAPI schema states the limit the server applies.

    Example:
        >>> onboarding_in(100).model_json_schema()["properties"]["n"]["maximum"]
        100
    """
    return create_model(
        "OnboardingIn",
        __base__=OnboardingIn,
        __doc__=OnboardingIn.__doc__,
        n=(int, Field(10, ge=1, le=max_n, description="How many recommendations to return.")),
    )


class ItemIn(Strict):
    """A new title for the catalogue, or new details of one: on a title the catalogue
    has, a field left out keeps its stored value and a field given (``[]`` and ``null``
    included) replaces it."""

    item_id: str
    title: str | None = Field(
        None, max_length=MAX_TITLE_CHARS, description=f"At most {MAX_TITLE_CHARS} characters."
    )
    genres: list[GenreName] = Field(
        default_factory=list,
        max_length=MAX_GENRES,
        description=f"At most {MAX_GENRES} names of at most {MAX_GENRE_CHARS} characters each.",
    )
    features: dict[FeatureName, float] | None = Field(
        None,
        max_length=MAX_FEATURES,
        description="Numeric features by name (e.g. {'year': 1999}): at most "
        f"{MAX_FEATURES}, names of at most {MAX_FEATURE_NAME_CHARS} characters.",
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
    rating: float | None = Field(
        None,
        description=(
            "The user's stored rating of it; null where the model's fit stood in (no "
            "stored stars, or a title of their training row the store lacks)."
        ),
    )


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
    prediction: float = Field(
        description="The score, as /predictions gives it: for a user the model cannot "
        "personalise (fallback), a rating model's baseline μ + b_i.  A ranking model has "
        "no score for such a user, and the route answers 409 saying so."
    )
    clipped: float = Field(description="The prediction clipped to the model's rating scale.")
    factor_contributions: list[float]
    top_factors: list[tuple[int, float]]
    supporting_items: list[Supporting]
    supporting_from: Literal["ratings", "model"] = Field(
        "model",
        description=(
            "How the supporting titles were chosen: 'ratings', those the user rated at or "
            "above their mean stored rating; 'model', those the model's fit of the user "
            "rates at or above its mean (the user has no stored stars)."
        ),
    )


class WriteAck(Versioned):
    """What a write did, after its transaction committed."""

    written: int = Field(description="Ratings and events now stored.")
    superseded: int = Field(
        0,
        description="Explicit ratings not stored because the store holds a newer rating "
        "of their user and item (a later `timestamp`, or one given before them in the same "
        "request), which stays: the latest rating wins.  `written` + `superseded` is the "
        "number of ratings sent.",
    )
    users: dict[str, int] = Field(description="Each user written and their new store version.")


class StoredRating(BaseModel):
    """A rating as the store holds it.

    Example:
        >>> StoredRating(item_id="7", rating=4.0, kind="explicit").unusable is None
        True
    """

    item_id: str
    title: str | None = None
    genres: list[str] = Field(default_factory=list)
    rating: float | None = Field(
        description="The stored stars, or an event's summed weight; null only where the "
        "stored value is not a finite number, which JSON cannot carry (`unusable` says "
        "so)."
    )
    unusable: str | None = Field(
        None,
        description="Set only where the stored value is not a finite number (NaN, Infinity "
        "or -Infinity, written past the service's checks, by hand in the database): which "
        "it is, and that it is left out of the user's recommendations (their fold-in; the "
        "item still counts as rated, so it is never recommended back) until it is "
        "corrected or deleted.  Null for every usable value.",
    )
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
    deleted: int = Field(
        description="Rows removed: for one item, its explicit rating and its event weight "
        "count one each."
    )


class Question(BaseModel):
    """An onboarding question: a title to rate."""

    item_id: str
    title: str | None = None
    genres: list[str] = Field(default_factory=list)
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
    has_more: bool = Field(False, description="Whether another page follows this one.")
    total: int = Field(
        description="How many catalogue entries match the search and genre, on all pages."
    )


class Genres(Versioned):
    """Every genre in the catalogue."""

    genres: list[str]


class UnusedFeatures(BaseModel):
    """What of a new title's genres and features the served model cannot use."""

    title: str | None = Field(
        None,
        description="The title, when the model uses titles as features and does not "
        "know this one; else null.",
    )
    genres: list[str] = Field(
        default_factory=list,
        description="The genres it cannot use: those it never saw (or all of them, when it "
        "has no genres), as posted.  A genre that differs from one of the model's only in "
        "case, surrounding blanks or how an accent was typed is read as the model's "
        "('sci-fi' is 'Sci-Fi'), as the catalogue's genre filter reads it, and is not "
        "listed; a model of one genre per title places a title with several it knows at "
        "their mean.",
    )
    features: list[str] = Field(
        default_factory=list,
        description="The names of the features that are not among the model's.",
    )


class ItemAdded(Versioned):
    """A title added: ``vector`` says how it is recommendable now, ``unused`` what of its
    genres and features the model could not use for it."""

    item: ItemOut
    vector: Literal["model", "features", "zero", "none"] = Field(
        description="'model': the model knows it (its learned vector is kept); "
        "'features': a vector from its genres and features (HybridMF), from those the "
        "model knows; 'zero': a zero vector (ranks like an average title until "
        "retrained): the model has no item features, or none of the title's genres and "
        "features is one it knows (see `unused`); 'none': the model cannot hold this id "
        "(text id, integer model)."
    )
    unused: UnusedFeatures = Field(
        default_factory=UnusedFeatures,
        description="What of the title's genres and features adds nothing to its vector "
        "because the model with item features cannot use it (a new genre, a misspelt one, "
        "a feature it was not trained on): fix it and post the title again, or retrain.  "
        "Empty when every one is used, and unless `vector` is 'features' or 'zero' from a "
        "model with item features (a model without them uses none: 'zero' says so).",
    )


class LastRetrain(BaseModel):
    """How the last retrain of the model directory ended, whoever ran it."""

    time: float | None = Field(
        description="When it ended (Unix seconds); null when its record cannot be read."
    )
    ok: bool = Field(
        description="Whether it ran to its end (publishing or not); false: it failed, and "
        "`reason` says why."
    )
    published: bool = Field(description="Whether it published a new version.")
    version: str | None = Field(description="The version it published, or null.")
    reason: str = Field(description="Its one line: why it published or not, or why it failed.")
    by: Literal["scheduled", "command", "python"] | None = Field(
        None,
        description="Who ran it: 'scheduled' (serve --retrain-every), 'command' (latentrec "
        "retrain, by hand or from cron), 'python' (retrain() or retrain_on()); null when "
        "its record does not say (written before records said, or unreadable).",
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
        description="Whether this worker has folded in every stored user and run once "
        "what its first requests run, compiling their kernels (it answers before that "
        "too, folding users in on their first request)."
    )
    rating_scale: tuple[float, float] | None = Field(
        None, description="The (low, high) stars the served model predicts; null for none."
    )
    predicts_ratings: bool = Field(
        True, description="Whether scores are ratings (explicit model) or rankings only."
    )
    reload_error: str | None = Field(
        None,
        description="Why this worker cannot load the model source now (a damaged model "
        "directory pointer, an unreadable file), while it keeps serving `model_version`; "
        "null when the source reads.",
    )
    last_retrain: LastRetrain | None = Field(
        None,
        description="How the last retrain of the model directory ended (scheduled by "
        "`serve --retrain-every`, or `latentrec retrain` / retrain() run by hand or from "
        "cron; `by` says which); null when none has ended yet, or no directory is served.",
    )
    store_takein_error: str | None = Field(
        None,
        description="Why this worker has not yet taken the ratings store in (the titles "
        "added to the store since training, the seed of its catalogue with the model's "
        "titles): the store's error at the worker's start.  The worker serves the model "
        "meanwhile, the routes that need the store answer 503, and the take-in is tried "
        "again every `poll_seconds`; null once it is done.",
    )


class Reloaded(Versioned):
    """The outcome of POST /admin/reload."""

    reloaded: bool
    previous_version: str
