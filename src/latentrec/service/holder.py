"""The model holder: one reference to the served model, replaced whole on a reload.

Owns :class:`Served` (a loaded model and what serving it needs, built once per
version: string-id indexes, titles, whether it predicts ratings), the model sources
(:class:`FileSource` for a model file, :class:`DirectorySource` for a model directory of
versions, :class:`FixedSource` for a model in memory) and :class:`ModelHolder`, which
loads a new version aside and swaps one reference, so a request in flight finishes on
the version it started with and the next one gets the new.  Titles added to the store
after training (``POST /items``) are appended to a served model here
(:func:`with_new_items`), with vectors from their features when the model has them.

A saved :class:`~latentrec.pipeline.Pipeline` is served too: :class:`Served` then
carries it (``pipeline``), lists come from it, and ``model`` is its first candidate
that is a factor model (whose rules fold users in and check ratings).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .. import ModelFileError, load
from ..errors import CannotRankError, CannotServeError
from ..models import FactorModel
from ..models.hybrid import encode_features
from ..pipeline import Pipeline
from ..store.records import GENRE_SEP, genre_key
from .hardening import ERROR_LOGGER
from .versions import cannot_serve

# A counter shared by every Served in the process: a user's cached vector names the one it
# was folded against.
_SERIAL = itertools.count(1)

# Reads of a model file that a replacement overlapped, before a load gives up (the model
# already served stays).
LOAD_TRIES = 5

# Titles named in the log line that says which new titles' features the model cannot use
# (a refresh may add thousands from the store at once).
LOGGED_TITLES = 5


def id_text(raw) -> str:
    """A model id as the text the API and the store use (``42`` -> ``"42"``).

    Example:
        >>> id_text(np.int64(42)), id_text("a/b")
        ('42', 'a/b')
    """
    return str(raw.item() if isinstance(raw, np.generic) else raw)


@dataclass(frozen=True, eq=False)
class Served:
    """A model version as served: the model and the lookups every request needs.

    ``model`` is a fitted :class:`~latentrec.models.FactorModel` that nobody changes
    (a change makes a new ``Served``); ``pipeline`` is a fitted
    :class:`~latentrec.pipeline.Pipeline` when the version is one (``model`` is then
    its first factor-model candidate), else None; ``version`` names it in every response;
    ``created`` is when it was trained or published (Unix seconds), ``loaded`` when this
    process loaded it.  ``item_index`` / ``user_index`` map the text form of an id to the
    model's index; ``item_ids`` is every item id as text.  ``store_catalogue_seen`` is
    the store's catalogue version (:meth:`~latentrec.store.RatingsStore.catalogue_version`)
    read before the store's titles were last added to it, -1 before they ever were.
    ``titles`` are the names served (the catalogue's, once taken in); ``own_titles``
    those a worker loading the model now would serve before the catalogue's: the model
    file's, and a title added since training has its id.  A title whose name the
    catalogue clears goes back to its own (:func:`with_store_titles`).

    Example:
        >>> from latentrec.models import FactorModel
        >>> m = FactorModel.from_factors(([1], [10, 20]), np.eye(2), [[1.0, 0.0]])
        >>> s = Served.build(m, "v1")
        >>> s.item_index["20"], s.user_index["1"], s.n_items
        (1, 0, 2)
    """

    model: FactorModel
    version: str
    created: float
    loaded: float
    item_index: dict
    user_index: dict
    item_ids: np.ndarray
    titles: np.ndarray | None
    serial: int = field(default_factory=lambda: next(_SERIAL))
    store_catalogue_seen: int = -1
    source_token: str | None = None
    pipeline: Pipeline | None = None
    own_titles: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        model,
        version: str,
        created: float | None = None,
        source_token: str | None = None,
        *,
        check_ranks: bool = True,
    ) -> Served:
        """Check that ``model`` (a factor model or a pipeline) can be served and index it.

        A factor model whose scores cannot order items (``GlobalMean``:
        :attr:`~latentrec.models.FactorModel.orders_items` false) is refused with
        :class:`~latentrec.errors.CannotRankError`, as the library refuses its lists: its
        recommendations would be the catalogue in index order.  So is a pipeline none of
        whose candidate models can order items
        (:func:`latentrec.pipeline.cannot_rank`).
        ``check_ranks=False`` skips that for a served model grown by new titles
        (:func:`with_new_items`).

        Example:
            >>> from latentrec.models import FactorModel
            >>> flat = FactorModel.from_factors(([1], [7, 8]), np.ones((2, 1)), [[1.0]])
            >>> try:
            ...     Served.build(flat, "v1")
            ... except CannotRankError as err:
            ...     print(str(err)[:60])
            cannot serve this model: FactorModel gives every item the sa
        """
        pipeline = None
        if isinstance(model, Pipeline):
            pipeline = model
            pipeline.check_fitted()
        elif isinstance(model, FactorModel):
            model.check_fitted()
        refused = cannot_serve(model)
        # Unchecked ranks (a model grown by new titles) still need a factor model.
        if refused is not None and (check_ranks or isinstance(refused, CannotServeError)):
            raise refused
        if pipeline is not None:
            model = next(m for m in pipeline.models if isinstance(m, FactorModel))
            model.check_fitted()
        model = model.pinned()
        item_ids = np.array([id_text(x) for x in model.items_.ids], dtype=object)
        user_ids = [id_text(x) for x in model.users_.ids]
        titles = model.item_titles_
        if titles is not None:
            titles = np.asarray(titles, dtype=object)
        return cls(
            model=model,
            version=str(version),
            created=time.time() if created is None else float(created),
            loaded=time.time(),
            item_index={x: i for i, x in enumerate(item_ids)},
            user_index={x: i for i, x in enumerate(user_ids)},
            item_ids=item_ids,
            titles=titles,
            source_token=source_token,
            pipeline=pipeline,
            own_titles=titles,
        )

    @property
    def n_items(self) -> int:
        """Items in the served model (those added since training included)."""
        return len(self.item_ids)

    def first_candidate_problem(self) -> str | None:
        """Why the per-model routes (predictions, explanations, similar items) cannot
        answer for this version, or None: a pipeline answers them through its first
        candidate, which must be a factor model whose scores order items: a GlobalMean
        first (published beside a model that ranks) answered every prediction with the
        mean, marked personal, and every similar-items request with an empty list."""
        if self.pipeline is None:
            return None
        first = self.pipeline.models[0]
        if not isinstance(first, FactorModel):
            return (
                "this version is a pipeline whose first candidate is a "
                f"{type(first).__name__}, not a factor model; this route answers only "
                "through a factor model"
            )
        if not first.orders_items:
            return (
                "this version is a pipeline whose first candidate is a "
                f"{type(first).__name__}, which gives every item the same score; this route "
                "answers only through a factor model whose scores order items"
            )
        return None

    @property
    def predicts_ratings(self) -> bool:
        """Whether the model's scores are ratings (else they only rank)."""
        return bool(self.model.predicts_ratings)

    @property
    def rating_scale(self) -> tuple[float, float] | None:
        """The training data's rating scale, when it had one."""
        return self.model.rating_scale_

    def title(self, idx: int) -> str | None:
        """The title of item ``idx``, when the model has titles."""
        return None if self.titles is None else str(self.titles[idx])

    def model_item_id(self, idx: int):
        """Item ``idx``'s id as the model keeps it (an int for integer vocabularies)."""
        return self.model.items_.ids[idx]

    def has_item_features(self) -> bool:
        """Whether a new title gets a vector from its features (HybridMF item features)."""
        return (
            hasattr(self.model, "item_vector_from_features")
            and getattr(self.model, "item_feature_spec_", None) is not None
        )


def with_new_items(served: Served, items) -> Served:
    """``served`` with store items it lacks appended, as one new model swapped whole.

    A model with item features (:class:`~latentrec.models.HybridMF`) gives each new
    title its vector and bias from its genres and numeric features (:func:`feature_uses`,
    one encoding for them all), so it is recommendable at once; any other model
    gives it a zero vector and bias: it ranks like an average title until a retrain
    learns it.  Items whose id the model cannot hold (text ids for a model whose ids are
    integers) are skipped, and a pipeline gets none: its candidates, ranker and
    context know their items only (a new title waits for the next pipeline).  The
    titles whose genres or features the model cannot use (:func:`feature_use`) are
    named in one line of the service's log, not in Python warnings.

    Example:
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import Item
        >>> m = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2), [[1.0, 0.0]])
        >>> s = with_new_items(Served.build(m, "v1"), [Item("c", "Cee")])
        >>> s.item_index["c"], s.model.similar_items("a", n=5).ids.tolist()
        (2, ['b'])
    """
    if served.pipeline is not None:
        return served
    model = served.model
    new = [it for it in items if it.item_id not in served.item_index and accepts_item(served, it)]
    if not new:
        return served
    ids = [model_id_of(served, it.item_id) for it in new]
    m, k = len(new), model.n_factors_
    factors = np.zeros((m, k), np.float32)
    bias = np.zeros(m, np.float32)
    if served.has_item_features():
        uses = feature_uses(served, new)
        for row, use in enumerate(uses):
            factors[row], bias[row] = use.vector, use.bias
        log_unused([(item.item_id, use) for item, use in zip(new, uses, strict=True)])
    n_old = model.n_items
    catalog = model.catalog_.with_rows(
        "item", np.arange(n_old, n_old + m), np.zeros(m + 1, np.int64), [], new_ids=ids
    )
    if catalog.item_titles is not None:
        # The served titles: the catalogue's (with_store_titles), not the file's.
        held = model.item_titles_ if served.titles is None else served.titles
        titles = np.concatenate(
            [
                np.asarray(held, dtype=object),
                np.array([it.title or it.item_id for it in new], dtype=object),
            ]
        ).astype(str)
        catalog = replace(catalog, item_titles=titles)
    fitted = model.fitted_.evolve(
        catalog,
        item_factors_=np.vstack([model.item_factors_, factors]),
        item_bias_=np.concatenate([model.item_bias_, bias]),
    )
    grown = type(model).from_fitted(fitted, **model.get_params())
    # Unchecked: a new title's zero terms may match the one item of a one-item model,
    # and a title must be taken in whatever it does to the order (a retrain learns it).
    out = Served.build(
        grown, served.version, served.created, served.source_token, check_ranks=False
    )
    own = out.own_titles
    if own is not None:
        # A worker loading the model now gives a new title its id until the catalogue
        # names it: what a cleared name goes back to.
        held_own = next(
            t for t in (served.own_titles, served.titles, model.item_titles_) if t is not None
        )
        own = np.concatenate(
            [np.asarray(held_own, dtype=object), np.array([it.item_id for it in new], dtype=object)]
        )
        own.flags.writeable = False
    return replace(
        out,
        loaded=served.loaded,
        store_catalogue_seen=served.store_catalogue_seen,
        own_titles=own,
    )


def with_store_titles(served: Served, items) -> Served:
    """``served`` with the titles of the catalogue's ``items`` (each with ``item_id``
    and ``title``) in place of those it holds, as a new ``Served`` (the same serial: the
    model and its users' vectors are unchanged); ``served`` itself when none differs, or
    when the model has no titles.  The catalogue holds a title's current name (an edit
    through ``POST /items``), the model file the one it was trained with.  An entry
    without a title serves the title's own name (``own_titles``: the model file's, or
    the id of a title added since training), as a worker started now would: an import
    whose side table has no titles stores none, and a name cleared through
    ``POST /items`` goes back to the model's, in running workers as in new ones.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> from latentrec.store import Item
        >>> cat = Catalog.from_ids([1], ["a", "b"], item_titles=["Fargo", "Heat"])
        >>> s = Served.build(FactorModel.from_factors(cat, np.eye(2)), "v")
        >>> t = with_store_titles(s, [Item("a", "Fargo (1996)"), Item("b"), Item("c", "Up")])
        >>> t.title(0), t.title(1), t.serial == s.serial
        ('Fargo (1996)', 'Heat', True)
        >>> with_store_titles(t, [Item("a", "Fargo (1996)")]) is t
        True
        >>> with_store_titles(t, [Item("a", None)]).title(0)
        'Fargo'
    """
    return with_titles(served, title_changes(served, {it.item_id: it.title for it in items}))


def title_changes(served: Served, titles: dict) -> list[tuple[int, str]]:
    """The ``(index, title)`` pairs that bring ``served`` to the catalogue's ``titles``
    (title or None by item id, as :meth:`~latentrec.store.RatingsStore.item_titles`
    reads them): only the titles it has whose name differs, a None meaning the title's
    own name (see :func:`with_store_titles`).  Ids it lacks are left out.  Empty when
    the model has no titles.

    One pass over plain pairs, no object per title: a refresh compares the whole
    catalogue (tens of thousands of titles) after any catalogue write.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> cat = Catalog.from_ids([1], ["a", "b"], item_titles=["Fargo", "Heat"])
        >>> s = Served.build(FactorModel.from_factors(cat, np.eye(2)), "v")
        >>> title_changes(s, {"a": "Fargo", "b": "Heat 2", "c": "Up"})
        [(1, 'Heat 2')]
    """
    if served.titles is None:
        return []
    held = served.titles
    own = served.own_titles if served.own_titles is not None else held
    index = served.item_index
    changes = []
    for item_id, title in titles.items():
        idx = index.get(item_id)
        if idx is None:
            continue
        wanted = own[idx] if title is None else title
        if held[idx] != wanted:
            changes.append((idx, wanted))
    return changes


def with_titles(served: Served, changes) -> Served:
    """``served`` with the ``(index, title)`` pairs of ``changes``
    (:func:`title_changes`) in place, as a new ``Served`` with the same serial;
    ``served`` itself when there are none.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> cat = Catalog.from_ids([1], ["a"], item_titles=["Fargo"])
        >>> s = Served.build(FactorModel.from_factors(cat, np.eye(1)), "v")
        >>> with_titles(s, [(0, "Fargo (1996)")]).title(0), with_titles(s, []) is s
        ('Fargo (1996)', True)
    """
    if not changes or served.titles is None:
        return served
    titles = served.titles.copy()
    for idx, title in changes:
        titles[idx] = title
    titles.flags.writeable = False
    return replace(served, titles=titles)


def accepts_item(served: Served, item) -> bool:
    """Whether the served model can hold an item with this id (see :func:`model_id_of`).

    Example:
        >>> from latentrec.models import FactorModel
        >>> from latentrec.store import Item
        >>> s = Served.build(FactorModel.from_factors(([1], [7]), np.eye(1)), "v1")
        >>> accepts_item(s, Item("8")), accepts_item(s, Item("eight")), accepts_item(s, Item("08"))
        (True, False, False)
    """
    try:
        model_id_of(served, item.item_id)
    except ValueError:
        return False
    return True


def model_id_of(served: Served, item_id: str):
    """The id a model keeps for ``item_id``: an int when its item ids are integers.

    Raises ``ValueError`` when the model cannot hold the id: its ids are integers and
    ``item_id`` is not one written the plain way (``"8"``, not ``"08"`` or ``"8.0"``).

    Example:
        >>> from latentrec.models import FactorModel
        >>> model_id_of(Served.build(FactorModel.from_factors(([1], [7]), np.eye(1)), "v"), "8")
        8
    """
    if not served.model.items_.is_integer:
        return item_id
    try:
        value = int(item_id)
    except ValueError:
        value = None
    if value is None or str(value) != item_id or not -(2**63) <= value < 2**63:
        raise ValueError(
            f"this model's item ids are integers, so a new item id must be one; got {item_id!r}"
        )
    return value


def feature_row(item, columns, sep: str = GENRE_SEP) -> dict:
    """An item's side-table row for the model's feature columns, its genres joined by
    ``sep`` (the separator the model's genres column was fitted with: see
    :func:`genre_sep`).

    The title and the genres are the item's own: a feature of the same name (which the
    store refuses, but a catalogue row written by another program may hold) never
    stands in for them.

    Example:
        >>> from latentrec.store import Item
        >>> feature_row(Item("1", "T", ("A", "B"), {"year": 1999.0}), ["genres", "year", "x"])
        {'genres': 'A|B', 'year': 1999.0, 'x': None}
        >>> feature_row(Item("1", "T", ("A", "B"), {"genres": 1.0}), ["genres"], sep=",")
        {'genres': 'A,B'}
    """
    values = dict(item.features or {})
    values["title"] = item.title
    values["genres"] = sep.join(item.genres) if item.genres else None
    return {c: values.get(c) for c in columns}


def genre_sep(spec: dict) -> str:
    """The separator with which the model's ``genres`` column joins names (its
    multi-label ``sep``); ``|`` (the catalogue's) where it has no such column, or reads
    one value per title (a one-hot column, given a title's genres one at a time by
    :func:`feature_uses`).

    Example:
        >>> genre_sep({"columns": [{"column": "genres", "kind": "multilabel",
        ...                         "values": ["A", "B"], "sep": ","}]})
        ','
        >>> genre_sep({"columns": [{"column": "genres", "kind": "onehot", "values": ["A"]}]})
        '|'
    """
    for column in spec["columns"]:
        if column["column"] == "genres" and column.get("kind") == "multilabel":
            return column.get("sep", GENRE_SEP)
    return GENRE_SEP


@dataclass(frozen=True)
class FeatureUse:
    """How a new title's genres and features place it in a model with item features.

    ``vector`` and ``bias`` come from the values the model knows; ``unused`` names, in
    the terms of ``POST /items``, what adds nothing: ``title`` (when the model uses
    titles as features and does not know this one, else None), ``genres`` and
    ``features`` (the names of those it cannot use); ``known`` is False when nothing
    given is known to the model: the vector is zero and the bias 0.

    Example:
        >>> use = FeatureUse(np.zeros(2), 0.0, {"title": None, "genres": ["Space"],
        ...                  "features": []}, known=False)
        >>> use.unused["genres"], use.known
        (['Space'], False)
    """

    vector: np.ndarray
    bias: float
    unused: dict
    known: bool

    @property
    def has_unused(self) -> bool:
        """Whether anything the title gives adds nothing to its vector.  (A title that
        gives nothing has a zero vector with nothing unused: nothing was dropped.)"""
        u = self.unused
        return bool(u["title"] is not None or u["genres"] or u["features"])


def feature_use(served: Served, item) -> FeatureUse:
    """The vector of a title new to ``served`` (a model with item features) from its
    genres and features, and what of them the model cannot use (:class:`FeatureUse`):
    :func:`feature_uses` of the one title.

    A genre is read as the catalogue reads it: surrounding blanks aside, and as the
    model's when the model knows it only in another case (``sci-fi`` for ``Sci-Fi``,
    unless the model has several such spellings); a genre named twice so counts once.
    One it never saw (a name holding the separator its genres were read with,
    ``Drama,Comedy`` for ``sep=","``, is one), a feature that is not one of the model's
    columns and a value its column never saw are named in ``unused`` (they add nothing),
    and no Python warning is given.  A model fitted on one genre per title (a one-hot
    ``genres`` column) places a title with several genres it knows at their mean: the
    mean of the vectors (and biases) the title would have with each one alone.

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.models import HybridMF
        >>> from latentrec.store import Item
        >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
        >>> films = pd.DataFrame({"genres": ["Drama|Sci-Fi", "Drama"]})
        >>> data = Interactions.from_frame(df, item_features=films)
        >>> s = Served.build(HybridMF(n_factors=2, n_epochs=2).fit(data), "v1")
        >>> use = feature_use(s, Item("7", "New", ("sci-fi", " Space "), {"budget": 3.0}))
        >>> use.unused, use.known
        ({'title': None, 'genres': [' Space '], 'features': ['budget']}, True)
    """
    return feature_uses(served, [item])[0]


def feature_uses(served: Served, items) -> list[FeatureUse]:
    """:func:`feature_use` of each of ``items`` (titles new to ``served``, a model with
    item features), from one encoding of them all: a refresh may add thousands at once.

    Example:
        >>> import pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.models import HybridMF
        >>> from latentrec.store import Item
        >>> df = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 1], "rating": [5, 5]})
        >>> films = pd.DataFrame({"genres": ["Drama", "Sci-Fi"]})  # one genre per title
        >>> s = Served.build(HybridMF(n_factors=2, n_epochs=2).fit(Interactions.from_frame(
        ...     df, item_features=films)), "v1")
        >>> both, drama = feature_uses(s, [Item("7", genres=("Drama", "sci-fi", "War")),
        ...                                Item("8", genres=("Drama",))])
        >>> both.unused["genres"], both.known
        (['War'], True)
        >>> drama.vector.tolist() == s.model.item_vector_from_features({"genres": "Drama"})[
        ...     0].tolist()
        True
    """
    model = served.model
    spec = model.item_feature_spec_
    columns = [c["column"] for c in spec["columns"]]
    of_column = {c["column"]: c for c in spec["columns"]}
    # Sets: a model with titles as a feature has thousands of values to look in.
    seen = {c["column"]: frozenset(c.get("values", ())) for c in spec["columns"]}
    genre_spec = of_column.get("genres")
    sep = genre_sep(spec)
    one_each = genre_spec is not None and genre_spec.get("kind") == "onehot"
    items = list(items)
    rows, owner, unused = [], [], []
    for n, item in enumerate(items):
        given = tuple(item.genres or ())
        # The encoder strips each name, and the catalogue reads names without their
        # blanks: compared unstripped, " Space " was neither used nor named unused.
        spelled = [model_genre(spec, g.strip()) for g in given]
        if genre_spec is None:
            usable = []
        elif one_each:
            usable = [m for m in spelled if m in seen["genres"]]
        else:
            # A genre holding the model's separator (the catalogue's is only "|":
            # "Drama,Comedy" is one genre to it) would be read by a model fitted with
            # sep="," as the genres around the commas: one it never saw, left out.
            usable = [m for m in spelled if sep not in m and m in seen["genres"]]
        unused_genres = [g for g, m in zip(given, spelled, strict=True) if m and m not in usable]
        # "Drama" and "drama" are one genre: counted twice, a one-genre model read
        # "Drama|Drama" as a value it never saw.
        usable = list(dict.fromkeys(usable))
        base = feature_row(item, columns)
        if one_each and len(usable) > 1:
            # One row per genre: the title is the mean of what each alone would make it.
            rows += [{**base, "genres": m} for m in usable]
            owner += [n] * len(usable)
        else:
            rows.append({**base, "genres": sep.join(usable) if usable else None})
            owner.append(n)
        features = item.features or {}
        unused.append(
            {
                "title": (
                    item.title
                    if "title" in of_column and _unseen(of_column["title"], seen, item.title)
                    else None
                ),
                "genres": unused_genres,
                "features": [
                    f
                    for f in features
                    if f not in of_column or _unseen(of_column[f], seen, features[f])
                ],
            }
        )
    if not rows:
        return []
    # Indexed by id, so that an unreadable cell is named by its title's id.
    frame = pd.DataFrame(rows, columns=columns, index=[items[n].item_id for n in owner])
    x = encode_features(spec, frame, what="item")
    # As item_vector_from_features computes them, from the one encoding.
    vectors = np.asarray(x @ model.item_feature_factors_, dtype=np.float32)
    biases = np.asarray(x @ model.item_feature_bias_, dtype=np.float32)
    filled = np.diff(x.indptr) > 0
    owner = np.asarray(owner)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    out = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(owner)
        if end - start == 1:
            vector, bias = vectors[start], float(biases[start])
        else:
            vector = vectors[start:end].mean(axis=0, dtype=np.float64).astype(np.float32)
            bias = float(biases[start:end].mean(dtype=np.float64))
        out.append(FeatureUse(vector, bias, unused[n], known=bool(filled[start:end].any())))
    return out


def _unseen(column: dict, seen: dict, value) -> bool:
    """Whether ``value`` of a feature column (``seen``: each column's values as a set)
    adds nothing: a name its one-hot or multi-label column never saw, read as the
    encoder reads it (stripped; split by the column's separator).  A number counts, and
    a missing value gives nothing to lose.

    Example:
        >>> tags = {"column": "t", "kind": "multilabel", "values": ["A", "B"], "sep": "|"}
        >>> [_unseen(tags, {"t": {"A", "B"}}, v) for v in ("B | A", "A|C", None, float("nan"))]
        [False, True, False, False]
    """
    if column["kind"] not in ("onehot", "multilabel") or pd.isna(value):
        return False
    text = str(value)
    parts = text.split(column["sep"]) if column["kind"] == "multilabel" else [text]
    return any(p.strip() not in seen[column["column"]] for p in parts if p.strip())


def model_genre(spec: dict, genre: str) -> str:
    """``genre`` as the model's item features spell it: itself when the model has it or
    nothing like it, else the one genre it has that is the same genre for the catalogue
    (:func:`~latentrec.store.records.genre_key`: differing only in case, surrounding
    blanks or how an accent was typed; the store keeps a genre composed, a model trained
    on a file may have it decomposed).

    Example:
        >>> spec = {"columns": [{"column": "genres", "kind": "multilabel",
        ...                      "values": ["Drama", "Sci-Fi", "E\u0301be\u0300ne"],
        ...                      "sep": "|"}]}
        >>> model_genre(spec, "sci-fi"), model_genre(spec, "Drama"), model_genre(spec, "Space")
        ('Sci-Fi', 'Drama', 'Space')
        >>> model_genre(spec, "\u00c9b\u00e8ne") == "E\u0301be\u0300ne"
        True
    """
    known = next(
        (c["values"] for c in spec["columns"] if c["column"] == "genres" and "values" in c), []
    )
    if genre in known:
        return genre
    folded = genre_key(genre)
    alike = [v for v in known if genre_key(str(v)) == folded]
    # Two spellings the model tells apart: no telling which one is meant.
    return alike[0] if len(alike) == 1 else genre


def log_unused(uses) -> None:
    """One line in the service's log naming the titles (``(item_id, FeatureUse)`` pairs)
    whose genres or features the model cannot use (and which of them got a zero vector
    for it); nothing when every title's are used.

    Example:
        >>> use = FeatureUse(np.zeros(2), 0.0, {"title": None, "genres": ["Space"],
        ...                  "features": []}, known=False)
        >>> log_unused([("7", use)])  # logged as a warning by latentrec.service
    """
    said = [(item_id, use) for item_id, use in uses if use.has_unused]
    if not said:
        return
    parts = [f"{item_id!r} ({describe_unused(use)})" for item_id, use in said[:LOGGED_TITLES]]
    more = f" and {len(said) - LOGGED_TITLES} more" if len(said) > LOGGED_TITLES else ""
    noun = "new title" if len(said) == 1 else f"{len(said)} new titles"
    logging.getLogger(ERROR_LOGGER).warning(
        "%s with genres or features the served model cannot use (they add nothing to the "
        "vector): %s%s",
        noun,
        "; ".join(parts),
        more,
    )


def describe_unused(use: FeatureUse) -> str:
    """What of one title the model cannot use, for the log.

    Example:
        >>> use = FeatureUse(np.zeros(2), 0.0, {"title": None, "genres": ["Space"],
        ...                  "features": ["budget"]}, known=False)
        >>> describe_unused(use)
        "genres ['Space'], features ['budget']; nothing known: zero vector"
    """
    u = use.unused
    named = [f"title {u['title']!r}"] if u["title"] is not None else []
    named += [f"{k} {u[k]}" for k in ("genres", "features") if u[k]]
    out = ", ".join(named)
    if not use.known:
        out += ("; " if out else "") + "nothing known: zero vector"
    return out


# ---------------------------------------------------------------------------- sources
class FixedSource:
    """A model already in memory (tests, notebooks); reloading gives the same model.

    Example:
        >>> from latentrec.models import FactorModel
        >>> src = FixedSource(FactorModel.from_factors(([1], [7]), np.eye(1)), "mine")
        >>> src.load().version, src.token()
        ('mine', 'mine')
    """

    def __init__(self, model, version: str = "in-memory"):
        self.model = model
        self.version = version
        self.created = time.time()

    def token(self) -> str:
        """Changes when the source has a new model: never, for a fixed one."""
        return self.version

    def load(self) -> Served:
        """The model as served."""
        return Served.build(self.model, self.version, self.created, self.token())

    def kept_refusal(self, err: Exception) -> str | None:
        """Never: a model in memory is built again at each load (see
        :meth:`FileSource.kept_refusal`)."""
        return None

    def describe(self) -> str:
        """Where the model comes from, for messages."""
        return f"a model in memory ({self.version})"


class FileSource:
    """A model file; its version name is the file name and the start of its SHA-256.

    A reload reads the file again when it changed (a new model written over it, which
    ``save`` does atomically: a new inode).  The label is the hash of the very file the
    served model was read from: a load that overlapped a replacement (the file's inode,
    size or modification time moved while it was hashed and read) is done again, up to
    :data:`LOAD_TRIES` times.  A file refused for what it holds (damaged, or a model that
    cannot rank items) is refused again without reading it until it changes, as
    :class:`DirectorySource` does for a refused version.

    Example:
        >>> import tempfile, os
        >>> from latentrec.models import FactorModel
        >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
        >>> FactorModel.from_factors(([1], [7]), np.eye(1)).save(path)
        >>> FileSource(path).load().version.startswith("m.npz@")
        True
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"model file {self.path} does not exist")
        # (the file's identity, the error): the last load refused for what the file
        # holds.  The holder asks again every poll round while the token differs from
        # what it serves; the same file would be read and hashed again (seconds for a
        # model of gigabytes) only to be refused again.
        self._refused = None

    def token(self) -> str:
        """Inode, size and modification time of the file (one ``stat``)."""
        st = self.path.stat()
        return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"

    def _identity(self, st=None) -> tuple:
        """(inode, size, mtime, ctime) of the file: ctime too, as
        :meth:`DirectorySource._current_file` keeps it (a file written in place and given
        its old mtime back still moves it)."""
        st = self.path.stat() if st is None else st
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def load(self) -> Served:
        """Read and index the file's model, labelled with the hash of what was read.

        A file refused for what it holds (:class:`~latentrec.ModelFileError`, or
        :class:`~latentrec.errors.CannotRankError` for a model that cannot rank items)
        is refused again, with the same error, without reading it while its identity
        (inode, size, modification and change times) stays the same.
        """
        refused = self._refused
        if refused is not None and refused[0] == self._identity():
            # The same error again, its traceback dropped: raised as it is, each round's
            # frames would pile up on it for as long as the file stays refused.
            raise refused[1].with_traceback(None)
        for _ in range(LOAD_TRIES):
            before = self.path.stat()
            token = f"{before.st_ino}-{before.st_size}-{before.st_mtime_ns}"
            digest = hashlib.sha256()
            with open(self.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            try:
                model = load(self.path)
            except ModelFileError as err:
                if self.token() != token:
                    continue  # read half from the file that replaced it
                self._refuse(before, err)
                raise
            if self.token() != token:
                continue  # replaced meanwhile: the hash may name the other file
            version = f"{self.path.name}@{digest.hexdigest()[:12]}"
            try:
                served = Served.build(model, version, before.st_mtime, token)
            except (CannotRankError, CannotServeError) as err:
                self._refuse(before, err)
                raise
            self._refused = None
            return served
        raise ModelFileError(
            f"model file {self.path} was replaced during each of {LOAD_TRIES} reads; "
            "keeping the model served"
        )

    def kept_refusal(self, err: Exception) -> str | None:
        """What must change before the file is read again, when ``err`` (raised by
        :meth:`load`) is kept as the verdict on the file as it is; None when the next
        load reads it again (an error reading it, or a file replaced while it was read).

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
            >>> _ = open(path, "wb").write(b"cut")
            >>> source = FileSource(path)
            >>> try:
            ...     source.load()
            ... except Exception as err:
            ...     print(source.kept_refusal(err))
            the file
        """
        refused = self._refused
        return "the file" if refused is not None and refused[1] is err else None

    def _refuse(self, before, err: Exception) -> None:
        """Keep ``err`` as the verdict on the file ``before`` was the ``stat`` of, when
        the file is still that one: one replaced meanwhile (a race) is no verdict on the
        file that replaced it."""
        try:
            same = self._identity() == self._identity(before)
        except OSError:
            same = False
        self._refused = (self._identity(before), err) if same else None

    def describe(self) -> str:
        """Where the model comes from, for messages."""
        return f"model file {self.path}"

    def label(self) -> str:
        """What ``/health`` shows of the source to anyone: the file's name, not where the
        server keeps it (:func:`public_text`).

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
            >>> open(path, "wb").close()
            >>> FileSource(path).label()
            'model file m.npz'
        """
        return f"model file {self.path.name}"

    def public_text(self, text: str) -> str:
        """``text`` (a reason shown by ``/health``) with the file's folder left out."""
        return public_text(text, self.path.parent, "")


class DirectorySource:
    """The current version of a model directory (:class:`ModelDirectory`).

    Example:
        >>> import tempfile
        >>> from latentrec.models import FactorModel
        >>> from latentrec.service.versions import ModelDirectory
        >>> md = ModelDirectory(tempfile.mkdtemp())
        >>> _ = md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
        >>> DirectorySource(md).load().version
        'v000001'
    """

    def __init__(self, directory):
        self.directory = directory
        # (pointer token, the current file's identity, the error): the last load refused
        # for its file. The holder asks again every poll round while the token differs
        # from what it serves; the same file would be hashed again (seconds for a model of
        # gigabytes) only to be refused again.
        self._refused = None

    def token(self) -> str:
        """The directory's pointer token: changes whenever the current version does."""
        return self.directory.pointer_token()

    def load(self) -> Served:
        """Load and index the current version.

        A current version refused for its file (written over since its publish,
        damaged, or a model that cannot rank items) is refused again without reading it
        while neither ``CURRENT`` nor the file changes.
        """
        token = self.token()
        before = self._current_file()
        refused = self._refused
        if refused is not None and before is not None and refused[:2] == (token, before):
            # The same error again, its traceback dropped: raised as it is, each round's
            # frames would pile up on it for as long as the version stays refused.
            raise refused[2].with_traceback(None)
        version = None
        try:
            version, model = self.directory.load_current()
            served = Served.build(model, version.name, version.created, token)
        except (ModelFileError, CannotRankError, CannotServeError) as err:
            if version is not None and not isinstance(err, ModelFileError):
                # Said with the version and the way out: "got Popularity" alone named
                # neither which version to leave nor how (one published before publish
                # refused its kind).
                err = type(err)(
                    f"the current version {version.name} cannot be served: {err}; make "
                    "one it serves current (latentrec models rollback --to VERSION)"
                )
            # Kept only for a file that did not change while it was read: one replaced
            # meanwhile (a race) is no verdict on the file that replaced it.
            after = self._current_file()
            kept = before is not None and after == before and self.token() == token
            self._refused = (token, before, err) if kept else None
            raise err from None
        self._refused = None
        return served

    def kept_refusal(self, err: Exception) -> str | None:
        """What must change before the current version is read again, when ``err``
        (raised by :meth:`load`) is kept as the verdict on its file; None when the next
        load reads it again (see :meth:`FileSource.kept_refusal`)."""
        refused = self._refused
        if refused is not None and refused[2] is err:
            return "the current version or its file"
        return None

    def _current_file(self):
        """(version, inode, size, mtime, ctime) of the current version's model file; None when
        there is none to stat (a prune or a publish moving it: ask again next time)."""
        try:
            version = self.directory.version(self.directory.read_pointer())
            st = version.path.stat()
        except (OSError, LookupError, TypeError, ModelFileError):
            return None
        # ctime too: a file written in place and given its old mtime back still moves it.
        return (version.name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def describe(self) -> str:
        """Where the model comes from, for messages."""
        return f"model directory {self.directory.path}"

    def label(self) -> str:
        """What ``/health`` shows of the source to anyone: the directory's name, not
        where the server keeps it (:func:`public_text`).

        Example:
            >>> import tempfile, os
            >>> from latentrec.service.versions import ModelDirectory
            >>> md = ModelDirectory(os.path.join(tempfile.mkdtemp(), "models"))
            >>> DirectorySource(md).label()
            'model directory models'
        """
        return f"model directory {folder_name(self.directory.path)}"

    def public_text(self, text: str) -> str:
        """``text`` (a reason shown by ``/health``) with paths in the model directory
        written relative to it (``models/CURRENT``, not ``/srv/.../models/CURRENT``)."""
        folder = self.directory.path
        return public_text(text, folder, folder_name(folder))


def folder_name(path: Path) -> str:
    """The name of the folder at ``path``, ``.`` and ``..`` resolved.

    Example:
        >>> folder_name(Path("/srv/app/models")), folder_name(Path("/"))
        ('models', '/')
    """
    return path.name if path.name not in ("", ".", "..") else (path.resolve().name or "/")


def public_text(text: str, folder: Path, shown: str) -> str:
    """``text`` with ``folder`` (its absolute path, and that with links resolved) written
    as ``shown`` (``""``: left out, with the separator after it):
    what an unauthenticated ``/health`` caller may see of a reason that names files,
    without the server's file-system layout.  The full paths stay in the log.

    Example:
        >>> public_text("/srv/app/models/CURRENT is damaged", Path("/srv/app/models"), "models")
        'models/CURRENT is damaged'
        >>> public_text("model file /srv/m.npz is cut short", Path("/srv"), "")
        'model file m.npz is cut short'
        >>> public_text("no store at /data/srv/r.db", Path("/srv"), "")  # another folder
        'no store at /data/srv/r.db'
    """
    # Absolute forms only: a relative path tells nothing of the layout, and replacing a
    # short one ("out/") could hit a word that merely ends with it.  Only where a path
    # starts, and up to a whole name: a plain replace turned /data/srv/r.db into
    # "/datar.db" and /var/lib/models/r.db into "/var/libmodels/r.db".
    forms = {str(folder.absolute()), str(folder.resolve())}
    for form in sorted((f for f in forms if f != "/"), key=len, reverse=True):
        start = _PATH_START + re.escape(form.rstrip("/"))
        if shown:
            text = re.sub(start + _NAME_END, lambda _: shown, text)
        else:
            text = re.sub(start + "/", "", text)
    return text


# Where an absolute path may start in a message (the text's start, after a space, a
# quote, a bracket or "=", or a SQLite URL's "sqlite:///"), and where a folder's name
# ends (a "/", a space, a quote or a bracket, punctuation before a space, the end).
_PATH_START = r"""(?:^|(?<=[\s'"(=`\[])|(?<=:///))"""
_NAME_END = r"""(?=/|[\s'"`)\]]|[.,:;](?:\s|$)|$)"""


# An absolute path (two components or more) where a word starts, or after a SQLite URL's
# "sqlite:///": what short_paths writes as its last component.
_ABSOLUTE = re.compile(r"""(?:^|(?<=[\s'"(=`\[])|(?<=:///))/(?:[^\s/'"`]+/)+([^\s/'"`]+)""")


def short_paths(text: str) -> str:
    """``text`` with every absolute path that :func:`public_text` left (one outside the
    model directory: a store's file a retrain did not find, say) written as its last
    component, for an unauthenticated ``/health`` caller.  The full text stays in the
    log, or in the model directory's ``last-retrain.json``.

    Example:
        >>> short_paths("no store at /srv/data/typo.db: no folder /srv/data")
        'no store at typo.db: no folder data'
        >>> short_paths("sqlite:////srv/r.db; models/CURRENT; postgresql://u@h/db")
        'sqlite:///r.db; models/CURRENT; postgresql://u@h/db'
    """
    return _ABSOLUTE.sub(r"\1", text)


class ModelHolder:
    """The one reference to the served model, swapped whole.

    ``current`` is read without a lock (one attribute read); :meth:`reload` and
    :meth:`update` build the new :class:`Served` aside and assign it, under a lock that
    only writers take, so two reloads never interleave.  ``prepare`` is applied to each
    model loaded (the first one too, unless ``prepare_first`` is False: the caller then
    applies it through :meth:`update`).

    Example:
        >>> from latentrec.models import FactorModel
        >>> holder = ModelHolder(FixedSource(FactorModel.from_factors(([1], [7]), np.eye(1))))
        >>> holder.current.version, holder.reload(force=False)
        ('in-memory', False)
    """

    def __init__(self, source, prepare=None, *, prepare_first: bool = True):
        self.source = source
        self.prepare = prepare or (lambda served: served)
        self.lock = threading.Lock()
        self.reloads = 0
        # prepare_first=False: the first model is served as loaded, and its caller
        # prepares it with update() once it can (the service's take-in of the store's
        # titles, which must not keep a worker from starting while the store is down).
        loaded = source.load()
        self.current: Served = self.prepare(loaded) if prepare_first else loaded

    def reload(self, force: bool = False) -> bool:
        """Load the source's model again if it changed (or ``force``); True if swapped.

        The old model keeps serving while the new one loads; a failed load leaves it in
        place and raises.
        """
        with self.lock:
            if not force and self.source.token() == self.current.source_token:
                return False
            new = self.prepare(self.source.load())
            self.current = new
            self.reloads += 1
            return True

    def update(self, change) -> Served:
        """Replace the served model by ``change(current)`` (for example new items)."""
        with self.lock:
            self.current = change(self.current)
            return self.current
