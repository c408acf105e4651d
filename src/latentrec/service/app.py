"""The HTTP API: ``create_app(settings)`` builds a FastAPI app over a model and a store.

Nothing happens at import.  ``create_app`` opens (or is handed) the ratings store and the
model source, loads the model into a :class:`~latentrec.service.holder.ModelHolder` and
registers the routes; a background thread started with the app follows the model
directory (a new current version is loaded aside and swapped in) and titles added
through other workers.  ``app_from_env`` builds the app from settings in an environment
variable; ``latentrec serve --workers N`` runs ``latentrec.cli.serve:worker_app`` in each
worker process, which calls it (and reports a worker that cannot start).

Routes (JSON shapes in :mod:`latentrec.service.schemas` and at ``/docs``)::

    GET    /users/{user_id}/recommendations?n=&items=&exclude=&diversity=&calibrate=&boost_new=
    GET    /users/{user_id}/predictions?items=
    GET    /users/{user_id}/explain/{item_id}
    GET    /users/{user_id}/ratings
    DELETE /users/{user_id}/ratings/{item_id}        (token)
    DELETE /users/{user_id}                          (token)
    POST   /users/{user_id}/onboarding               (token)
    GET    /onboarding/questions?n=
    POST   /ratings                                  (token)
    GET    /items?search=&genre=&n=&offset=
    GET    /items/{item_id}
    GET    /items/{item_id}/similar?n=
    POST   /items                                    (token)
    GET    /genres
    GET    /health
    GET    /metrics
    POST   /admin/reload?force=                      (token)
    GET    /  and /static/...                        (the web page)
    GET    /docs, /redoc and /docs/assets/...        (the API's pages, served offline)

List parameters repeat: ``?items=1&items=2``.  An id in a path is one percent-encoded
segment, ``quote(id, safe="")`` (``/users/a%2Fb/ratings`` is user ``a/b``); a path with a
trailing slash is a 307 to the path without it (``SlashRedirect``).  Every GET route
answers HEAD; a path no route takes is a 404 naming it (``NoRoute``), and a method its
routes do not take a 405 whose ``Allow`` lists those they do.  "(token)":
with a token configured, the route needs ``Authorization: Bearer <token>``.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at
# run time, and some of them name limits local to create_app.
import asyncio
import functools
import logging
import os
import signal
import sys
import threading
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import numpy as np

from ..errors import needs_extra

# FastAPI comes with the 'serve' extra: without it, the error says which extra to install.
with needs_extra("serve", "the HTTP service (latentrec.service)"):
    import anyio
    from anyio.lowlevel import RunVar
    from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
    from fastapi import Path as PathPart
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool

from ..models.foldin import answer_range
from ..store import Item, Rating, StoreError, StoreUnavailableError, open_store
from ..store.engine import POOL_OVERFLOW, POOL_SIZE
from ..store.records import RESERVED_FEATURES, genre_key, rating_route
from . import schemas
from .apidocs import install_api_docs
from .batching import PipelineQueue
from .hardening import (
    ERROR_LOGGER,
    TOKEN_NEEDED,
    AccessLog,
    BodyLimit,
    CancelledAtShutdown,
    HostCheck,
    SecurityHeaders,
    TokenGate,
    check_text,
    install_error_handlers,
    one_line,
    read_id,
    token_matches,
)
from .holder import (
    DirectorySource,
    FileSource,
    ModelHolder,
    Served,
    accepts_item,
    feature_use,
    id_text,
    short_paths,
    with_new_items,
    with_store_titles,
)
from .knobs import MAX_BOOST, FactsCache, KnobError
from .knobs import reranked as rerank_list
from .live import (
    LiveUsers,
    explain,
    explain_refusal,
    explain_stars,
    pipeline_recommend_many,
    predictions,
    recommend,
)
from .metrics import ServiceMetrics
from .refresh import Refresher, TakeIn, add_store_items, store_catalogue
from .routing import CheckedRoute, NoRoute, SlashRedirect
from .settings import Settings

STATIC_DIR = Path(__file__).parent / "static"

# Users whose vectors a write re-folds at once (the rest are folded on their next request).
REFOLD_ON_WRITE = 64
# Up to this many, on the event loop (more, in a thread: they would hold up the reads).
LOOP_REFOLDS = 4
# A rating finding the store's write lock taken by another worker tries again after the
# loop's next round (WRITE_QUICK_TRIES times), then every WRITE_RETRY_S seconds, the loop
# answering other requests meanwhile, for at most WRITE_WAIT_S.
WRITE_RETRY_S = 0.001
WRITE_QUICK_TRIES = 50
WRITE_WAIT_S = 1.0
# Threads for the store calls of the routes that run off the loop over a database server
# (in_store_thread): one per connection of the store's pool, so that none queues there.
STORE_THREADS = POOL_SIZE + POOL_OVERFLOW

# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
SWITCH_INTERVAL_S = 0.0005

# How often a worker of `serve --workers N` tries again to open a store it cannot reach.
STORE_RETRY_S = 1.0
# The signals that end that wait (as they end the worker).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# The largest rating or event weight taken (events add up in the store).  The models
# compute in float32 (largest 3.4e38): two events of 1.7e308 summed to infinity in the
# store, and one of 1e300 overflowed the user's fold-in.
MAX_VALUE = 1e9

# The Unix seconds of 0001-01-01 and 9999-12-31T23:59:59 UTC: the dates Python can show.
EARLIEST_TS = -62_135_596_800
LATEST_TS = 253_402_300_799


# Ids in paths: one percent-encoded segment each (CheckedRoute.matches).  The examples
# with a slash say so in the OpenAPI document, and let a client generated from it (and
# the schemathesis contract test) send such ids.
UserId = Annotated[
    str,
    PathPart(
        description="The user's id, percent-encoded as one path segment (user `a/b` is `a%2Fb`).",
        examples=["196", "a/b"],
    ),
]
ItemId = Annotated[
    str,
    PathPart(
        description="The item's id, percent-encoded as one path segment (item `a/b` is `a%2Fb`).",
        examples=["242", "a/b"],
    ),
]


class HeldIds:
    """The ids :func:`read_id` keeps exactly as given: those of ``index`` (the served
    model's), then those ``*stored`` says the store holds (asked in that order, and only
    about an id that reading would change).

    Example:
        >>> held = HeldIds({" a": 0}, lambda i: i == " b")
        >>> " a" in held, " b" in held, " c" in held
        (True, True, False)
    """

    def __init__(self, index, *stored):
        self.index = index
        self.stored = [ask for ask in stored if ask is not None]

    def __contains__(self, value) -> bool:
        return value in self.index or any(ask(value) for ask in self.stored)


def create_app(settings: Settings, *, store=None, source=None, store_wait=False) -> FastAPI:
    """The service as a FastAPI app.

    ``store`` is an open :class:`~latentrec.store.RatingsStore` (default: opened from
    ``settings.store_location()``); ``source`` gives the model (default: a
    :class:`~latentrec.service.holder.FileSource` or
    :class:`~latentrec.service.holder.DirectorySource` from the settings).  The
    store's catalogue is completed with the model's titles it lacks, and titles the
    store has beyond the model are added to the served model (:class:`TakeIn`); when
    the store does not answer for that, the app starts all the same and its
    refresher does it once the store answers (``/health`` says why meanwhile).
    ``store_wait``: a store that cannot be reached when it is opened, an opening past
    its limit (``settings.store_timeout``) included, is waited for, not a failure: what
    :func:`app_from_env` asks, for each worker of ``serve --workers N``.  ``serve``
    itself builds its first app without it, so such a store fails its start in one
    line.

    Example (serves a real store, so not run here)::

        from latentrec.service import Settings, create_app
        app = create_app(Settings(model_path="model.npz"))   # then: uvicorn.run(app)
    """
    settings = settings.check()
    if source is None:
        source = source_from(settings)
    # The model is loaded (seconds, for a large one) before the store is opened, so that
    # the user cache's first reads follow the opening at once: a store that goes away
    # between the two still fails the start (a worker of `serve --workers N` waits for a
    # store it cannot open, not for one that fails its next read), and that is now a
    # window of milliseconds.
    holder = ModelHolder(
        source, prepare=lambda served: add_store_items(store, served), prepare_first=False
    )
    if store is None:
        # A write behind another process's (an upgrade behind a `store import`) is logged.
        opener = open_store_waiting if store_wait else open_store
        # A server that stops answering costs a request store_timeout seconds and a 503,
        # not a thread for good (Database.limit_waits); the opening's queries included.
        store = opener(
            settings.store_location(),
            on_wait=logging.getLogger(ERROR_LOGGER).warning,
            limit=settings.store_timeout,
        )
        # An upgrade rewrites stored rows (genre spellings, search keys): logged, not silent.
        for line in store.upgraded:
            logging.getLogger(ERROR_LOGGER).warning("upgraded the store: %s", line)
    metrics = ServiceMetrics()
    live = LiveUsers(store, settings.cache_users, on_fold_in=metrics.fold_ins.inc)
    # Taken in before the first request: left to the first refresh round, it replaced
    # the served model while requests ran on it (a pipeline's waiting lists then went in
    # two batches, one per served model).  A store that does not answer now puts it off
    # to the refresher's rounds, once, rather than fail the worker's start: a worker
    # replaced while the database restarted stopped every worker of `serve --workers N`.
    take_in = TakeIn(store, holder)
    take_in.run()
    # genres=: the store's genre column and change counter, so a new served version (a
    # retrain, a title added) or a genre edit costs the entries that changed, not a read
    # of every title (docs/benchmarks.md, "Genre facts after a catalogue change").
    facts = FactsCache(
        lambda: store_catalogue(store),
        store.item_first_seen,
        store.newest_timestamp,
        genres=store.genre_lists,
    )
    metrics.set_served(holder)
    refresher = Refresher(
        holder,
        store,
        metrics,
        settings.poll_seconds,
        live if settings.warm_users else None,
        facts=facts,
        retrain_folder=directory_of(source),
        take_in=take_in,
    )
    refresher.follow_retrain()  # shown from the first /health on

    @asynccontextmanager
    async def lifespan(app):
        # A thread (a `def` route, the refresher) gives up the GIL at every database call
        # and must win it back from the event loop, which holds it for whole reads: at
        # Python's default 5 ms switch interval each return could wait 5 ms (a store
        # write under a busy thread: 12 ms at 5 ms, 3.7 ms at 0.5 ms, docs/benchmarks.md).
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
        refresher.start()
        try:
            yield
        finally:
            refresher.stop()
            sys.setswitchinterval(interval)

    app = FastAPI(
        title="latentrec",
        summary="Recommendations from a matrix-factorization model, updated as people rate.",
        version=holder.current.version,
        lifespan=lifespan,
        responses=schemas.ERROR_RESPONSES,
        # /docs and /redoc are the service's own (apidocs.py): FastAPI's load from a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    # Query parameters a route does not take, and JSON keys given twice, are 422s.
    app.router.route_class = CheckedRoute
    app.state.settings = settings
    app.state.store = store
    app.state.holder = holder
    app.state.live = live
    app.state.facts = facts
    app.state.metrics = metrics
    app.state.refresher = refresher
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.request_timeout
    )
    # Outside the body limit: without the token, a request is refused before its body is
    # read (no 413 or 422 to learn the limits and the schema from).
    app.add_middleware(TokenGate, token=settings.token)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Added later is outer: the browser headers wrap the Host check, so its 421 carries
    # them as every other answer does.
    if settings.allowed_hosts:
        app.add_middleware(HostCheck, allowed=settings.allowed_hosts)
    # Outside the body's wait (BodyLimit), where a shutdown's cancel finds a request.
    app.add_middleware(CancelledAtShutdown)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog, metrics=metrics, log=settings.access_log)

    max_n, max_list, max_id = settings.max_n, settings.max_list, settings.max_id_chars
    # The routes that run on the event loop (the hot read and the rating write) call the
    # store there only over a SQLite file, whose reads never wait for a writer (WAL) and
    # whose writes there never wait for another's (write_soon).  Over a database server
    # every call waits on the network, up to store_timeout for a server that stops
    # answering: there they run in the thread pool, as every plain-function route does,
    # and the loop answers /health meanwhile.
    store_off_loop = getattr(store, "dialect", "sqlite") != "sqlite"
    # Those threads are the store's own, as many as its connection pool holds, not the
    # thread pool's shared limit (40) that every plain-function route also takes: while
    # the server stops answering, the store calls wait in them (up to store_timeout
    # each) and the routes that need no store still find a thread.  Per event loop, as
    # AnyIO's own default limiter is.
    store_threads = RunVar("latentrec_store_threads")

    async def in_store_thread(func, *args):
        try:
            limiter = store_threads.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(STORE_THREADS)
            store_threads.set(limiter)
        return await anyio.to_thread.run_sync(functools.partial(func, *args), limiter=limiter)

    error_log = logging.getLogger(ERROR_LOGGER)
    question_cache: dict = {}

    # A coroutine, so FastAPI calls it on the event loop: a plain function dependency
    # goes to the thread pool and back, and under a stream of reads that round trip
    # took a write's median from 2 ms to 18 ms (docs/benchmarks.md, Service load).
    async def authorised(request: Request) -> None:
        if settings.token is None:
            return
        if not token_matches(request.headers.get("authorization"), settings.token):
            raise HTTPException(401, TOKEN_NEEDED, headers={"WWW-Authenticate": "Bearer"})

    writes = [Depends(authorised)]
    # n's limit is this app's, in the schema the OpenAPI document shows.
    OnboardingBody = schemas.onboarding_in(max_n)

    def first_candidate(served: Served) -> None:
        # A pipeline answers the per-model routes through its first candidate model.
        problem = served.first_candidate_problem()
        if problem is not None:
            raise HTTPException(409, problem)

    # Ids are read as the file readers read them (read_id): " u1" is user u1, and where
    # the model's ids are integers "007" is 7, unless the model or the store holds the
    # id as given.  Before the service read ids so, it stored
    # a rating posted for " u9" under " u9": read as "u9", that user's rows could no
    # longer be listed, removed or erased (DELETE answered 0 rows and left them).  The
    # store is asked only about an id that read_id would change.
    def uid(user_id: str, served: Served | None = None) -> str:
        served = holder.current if served is None else served
        held = HeldIds(served.user_index, stored_user)
        return read_id(user_id, "user_id", max_id, held, served.model.users_.is_integer)

    def iid(served: Served, item_id: str, what: str = "item_id", also=None) -> str:
        held = HeldIds(served.item_index, stored_item, also)
        return read_id(item_id, what, max_id, held, served.model.items_.is_integer)

    def as_given(ids, index, integer: bool) -> bool:
        # Whether read_id keeps every id of ``ids`` without asking the store.
        for raw in ids or ():
            if raw in index:
                continue
            try:
                if read_id(raw, "id", max_id, (), integer) != raw:
                    return False
            except HTTPException:
                return False  # read again below, where the 422 is raised
        return True

    async def ids_read(func, ids, index, integer: bool, *args):
        # On the loop, unless read_id may ask a database server: then in a store thread.
        # The usual id (as given, or one the model holds) asks nothing, and stays here.
        if store_off_loop and not as_given(ids, index, integer):
            return await in_store_thread(func, *args)
        return func(*args)

    async def item_ids_read(served: Served, ids, what: str, strict: bool = True):
        integer = served.model.items_.is_integer
        return await ids_read(
            model_items, ids, served.item_index, integer, served, ids, what, strict
        )

    def stored_user(user_id: str) -> bool:
        return store.user_version(user_id) > 0

    def stored_item(item_id: str) -> bool:
        return bool(store.stored_item_ids([item_id]))

    def model_item(served: Served, item_id: str) -> int:
        item_id = iid(served, item_id)
        idx = served.item_index.get(item_id)
        if idx is None:
            raise HTTPException(404, f"unknown item {item_id!r}")
        return idx

    def model_items(served: Served, ids, what: str, strict: bool = True) -> np.ndarray | None:
        if ids is None:
            return None
        found = []
        for item_id in ids:
            item_id = iid(served, item_id, what)
            idx = served.item_index.get(item_id)
            if idx is None:
                if strict:
                    raise HTTPException(404, f"unknown item {item_id!r} in {what}")
                continue
            found.append(idx)
        return np.asarray(found, dtype=np.int64)

    def scored(served: Served, idx, scores) -> list[dict]:
        titles = served.titles
        ids = served.item_ids
        genres = facts.get(served).genres
        return [
            {
                "item_id": ids[i],
                "title": None if titles is None else titles[i],
                "genres": genres[i],
                "score": None if not np.isfinite(s) else float(s),
            }
            for i, s in zip(idx.tolist(), scores.tolist(), strict=True)
        ]

    def recommendations_body(served, state, n, items=None, exclude=None, knobs=None) -> dict:
        if knobs:
            top, scores, fallback = reranked(served, state, n, items, exclude, **knobs)
        else:
            top, scores, fallback = recommend(served, state, n, items, exclude)
        return list_body(served, state.user_id, top, scores, fallback)

    def list_body(served, user_id, top, scores, fallback) -> dict:
        if fallback:
            metrics.fallbacks.inc()
        return {
            "model_version": served.version,
            "user_id": user_id,
            "fallback": fallback,
            "items": scored(served, top, scores),
        }

    def pipeline_bodies(served: Served, asks: list) -> None:
        """Answer ``asks`` (:class:`PipelineAsk`, all for ``served``: the version each
        request started with) in a thread: each user resolved, then those asking the
        same ``n`` ranked in one ``recommend_histories`` call; each ask gets its body or
        its own error."""
        resolved = []
        for ask in asks:
            try:
                resolved.append((ask, live.resolve(served, ask.user_id)))
            except Exception as err:  # this user's error (the store, a fold-in) is theirs
                ask.error = err
        by_n: dict[int, list] = {}
        for ask, state in resolved:
            by_n.setdefault(ask.n, []).append((ask, state))
        for n, group in by_n.items():
            try:
                lists = pipeline_recommend_many(served, [(st, a.banned) for a, st in group], n)
            except Exception:
                # One user the batch cannot take fails it: rank them one at a time, so
                # that only that user gets the error.
                lists = None
            for k, (ask, state) in enumerate(group):
                try:
                    if lists is None:
                        one = pipeline_recommend_many(served, [(state, ask.banned)], n)[0]
                    else:
                        one = lists[k]
                    ask.body = list_body(served, state.user_id, *one)
                except Exception as err:
                    ask.error = err

    def reranked(served, state, n, items, exclude, diversity, calibrate, boost_new):
        """The model's top candidates for the user, re-ranked by the knobs (knobs.py)."""
        try:
            return rerank_list(
                served,
                facts.get(served),
                state,
                n,
                items,
                exclude,
                diversity=diversity,
                calibrate=calibrate,
                boost_new=boost_new,
                ages=facts.ages(served) if boost_new > 0 else None,
            )
        except KnobError as err:
            raise HTTPException(422, one_line(err)) from None

    pipeline_queue = PipelineQueue(pipeline_bodies)
    app.state.pipeline_queue = pipeline_queue

    # ------------------------------------------------------------------ reads
    @app.get(
        "/users/{user_id}/recommendations",
        response_model=schemas.Recommendations,
        tags=["recommendations"],
    )
    async def user_recommendations(
        user_id: UserId,
        n: int = Query(10, ge=1, le=max_n, description="How many items."),
        items: Annotated[
            list[str] | None,
            Query(max_length=max_list, description="Only these items (repeat the parameter)."),
        ] = None,
        exclude: Annotated[
            list[str] | None,
            Query(max_length=max_list, description="Never these items (unknown ids ignored)."),
        ] = None,
        diversity: float = Query(
            0.0,
            ge=0.0,
            le=1.0,
            allow_inf_nan=False,
            description="0-1: trade relevance for items unlike those already listed "
            "(maximal marginal relevance in the model's latent space); 0 is off.",
        ),
        calibrate: float = Query(
            0.0,
            ge=0.0,
            le=1.0,
            allow_inf_nan=False,
            description="0-1: match the list's genres to the genres of what the user rated "
            "(Steck's calibration); 0 is off.  Needs genres in the catalogue.",
        ),
        boost_new: float = Query(
            0.0,
            ge=0.0,
            le=MAX_BOOST,
            allow_inf_nan=False,
            description="Boost for recently added titles, on relevance rescaled to 0-1: a "
            "title first seen at the store's newest rating gains this much, one 30 days "
            "older half of it; 0 is off.",
        ),
    ):
        """Top-``n`` items for a user, their rated items excluded; ``fallback`` marks the
        popularity list given to a user the service cannot personalise.  ``diversity``,
        ``calibrate`` and ``boost_new`` re-rank the model's top candidates (200, or 5 per
        requested item past 40, as ``latentrec recommend`` re-ranks them) with the
        re-rankers of ``latentrec.pipeline``, in that order; a knob at 0 is off."""
        # The hot route runs on the event loop over a SQLite file: one indexed read of a
        # local file and one top-n over the items take less than handing the request to
        # a thread and back.  Over a database server it runs in a thread (store_off_loop).
        # Its body
        # is built as plain JSON (the shape of schemas.Recommendations) without a second
        # validation pass.  A pipeline's list goes to a thread (below).  An id read_id
        # would change asks the store whether it holds it as given: over a database
        # server, from a thread, as the rest.
        # Read once: everything after, in this coroutine or in the thread, answers from
        # this version, whatever a reload swaps in meanwhile.
        served = holder.current
        user_id = await ids_read(
            uid, [user_id], served.user_index, served.model.users_.is_integer, user_id, served
        )
        knobs = None
        if diversity > 0 or calibrate > 0 or boost_new > 0:
            knobs = {"diversity": diversity, "calibrate": calibrate, "boost_new": boost_new}
        if served.pipeline is not None:
            # Its stages were fitted and ordered when it was built; stacking the knobs'
            # re-rankers on them would answer something nobody evaluated.  Refused before
            # the ids are looked up and the user folded in: neither would change that.
            if knobs:
                raise HTTPException(
                    422,
                    "this version is a pipeline; it re-ranks as it was built "
                    "(diversity, calibrate and boost_new are for a plain model)",
                )
            if items is not None:
                raise HTTPException(
                    422, "this version is a pipeline; it ranks its own candidates (no items=)"
                )
            banned = await item_ids_read(served, exclude, "exclude", False)
            # A pipeline's list (every candidate model's pool, the ranker's features and
            # predictions, the re-rankers) takes milliseconds where a plain model's top-n
            # takes tens of microseconds (ML-100K: 2.7 ms against 0.05 ms, docs/benchmarks.md,
            # Service load).  On the loop it would hold up every other request meanwhile,
            # health checks and writes included; in a thread the loop answers them, and
            # the requests that queue meanwhile are ranked together (PipelineQueue).
            body = await pipeline_queue.answer(served, user_id, n, banned)
            return JSONResponse(body)
        cand = await item_ids_read(served, items, "items")
        banned = await item_ids_read(served, exclude, "exclude", False)

        def answer() -> dict:
            state = live.resolve(served, user_id)
            return recommendations_body(served, state, n, cand, banned, knobs)

        if store_off_loop:
            return JSONResponse(await in_store_thread(answer))
        return JSONResponse(answer())

    @app.get(
        "/users/{user_id}/predictions",
        response_model=schemas.Predictions,
        tags=["recommendations"],
    )
    def user_predictions(
        user_id: UserId,
        items: Annotated[
            list[str],
            Query(min_length=1, max_length=max_list, description="Items to score (repeat)."),
        ],
    ):
        """The model's score of each item for the user (null where it has none)."""
        user_id = uid(user_id)
        served = holder.current
        first_candidate(served)
        idx = model_items(served, items, "items")
        state = live.resolve(served, user_id)
        scores, fallback = predictions(served, state, idx)
        if fallback:
            metrics.fallbacks.inc()
        return {
            "model_version": served.version,
            "user_id": user_id,
            "fallback": fallback,
            "predictions": scored(served, idx, scores),
        }

    @app.get(
        "/users/{user_id}/explain/{item_id}",
        response_model=schemas.Explanation,
        tags=["recommendations"],
        responses={
            409: {
                "model": schemas.ErrorBody,
                "description": "The served model cannot explain this user: a ranking model "
                "(BPR, WARP, ImplicitALS) has no score for a user it cannot personalise, "
                "who gets the popularity list (the detail gives the library's reason); or "
                "a pipeline whose first candidate is not a factor model.",
            }
        },
    )
    def user_explain(user_id: UserId, item_id: ItemId):
        """Why the user gets this score: μ + b_u + b_i + Σ_f p_uf·q_if, the largest
        factor terms, and the user's own rated titles closest to the item (chosen by
        their stored stars, each with its rating, when the store holds any).  A user the
        model cannot personalise is explained by the baseline μ + b_i of a rating model
        (``fallback: true``); a ranking model has no score for them and answers 409 with
        the library's reason, as ``FactorModel.explain`` and ``latentrec explain``
        refuse them."""
        user_id = uid(user_id)
        served = holder.current
        first_candidate(served)
        item = model_item(served, item_id)
        state = live.resolve(served, user_id)
        refusal = explain_refusal(served, state, item)
        if refusal is not None:
            # Before the read of their stars below: nothing they stored would change it.
            raise HTTPException(409, refusal)
        # The state keeps which items were rated, not the stars: one more read here
        # (not on the hot routes) gives them.  Version 0: nothing was ever stored.
        cells = store.user_cells(user_id) if state.version else None
        body = explain(served, state, item, *explain_stars(served, state, cells))
        body["model_version"] = served.version
        body["fallback"] = not state.personal
        return body

    @app.get("/items/{item_id}/similar", response_model=schemas.Similar, tags=["items"])
    def similar(item_id: ItemId, n: int = Query(10, ge=1, le=max_n)):
        """Items closest to this one ("Because you watched X"); empty when the model has
        no vector for it (or no factors at all)."""
        served = holder.current
        first_candidate(served)
        item = model_item(served, item_id)
        item_id = served.item_ids[item]
        model = served.model
        if model.n_factors_ == 0 or not np.any(model.item_factors_[item]):
            top, scores = np.empty(0, np.int64), np.empty(0)
        else:
            rec = model.similar_items(served.model_item_id(item), n=n)
            top = np.array([served.item_index[id_text(x)] for x in rec.ids], dtype=np.int64)
            scores = np.asarray(rec.scores, dtype=np.float64)
        return {
            "model_version": served.version,
            "item_id": item_id,
            "title": served.title(item),
            "items": scored(served, top, scores),
        }

    @app.get("/onboarding/questions", response_model=schemas.Questions, tags=["onboarding"])
    def onboarding_questions(n: int = Query(5, ge=1, le=max_n)):
        """The titles to ask a new visitor to rate, in asking order: popular ones that
        together pin down their taste best."""
        served = holder.current
        key = (served.serial, n)
        cached = question_cache.get(key)
        # A renamed title (with_store_titles) keeps the serial: its questions are asked
        # again by the new names.
        if cached is None or cached[0] is not served.titles:
            question_cache.clear()
            cached = question_cache[key] = (served.titles, questions_for(served, n))
        # Genres as every other list carries them (the page shows them on each row).
        genres = facts.get(served).genres
        table = [{**q, "genres": genres[served.item_index[q["item_id"]]]} for q in cached[1]]
        return {"model_version": served.version, "questions": table}

    @app.get("/users/{user_id}/ratings", response_model=schemas.UserRatings, tags=["ratings"])
    def user_ratings(user_id: UserId):
        """Everything the store holds for the user, newest first.  A stored value that is
        not a finite number (written by hand in the database) is listed with ``rating``
        null and ``unusable`` saying which value it is and that it is left out of the
        user's recommendations."""
        user_id = uid(user_id)
        served = holder.current
        rows = sorted(store.user_ratings(user_id), key=lambda r: -(r.timestamp or 0))
        # Titles the model does not hold come from the store's catalogue, in one read.
        store_only = store.get_items(r.item_id for r in rows if r.item_id not in served.item_index)
        model_genres = facts.get(served).genres
        out = []
        for r in rows:
            idx = served.item_index.get(r.item_id)
            if idx is not None:
                title, genres = served.title(idx), model_genres[idx]
            else:
                stored = store_only.get(r.item_id)
                title = stored.title if stored is not None else None
                genres = list(stored.genres or ()) if stored is not None else []
            usable = bool(np.isfinite(r.value))
            out.append(
                {
                    "item_id": r.item_id,
                    "title": title,
                    "genres": genres,
                    # JSON has no NaN or infinity: a bare null said nothing of why.
                    "rating": r.value if usable else None,
                    "unusable": None if usable else unusable_value(r.value, user_id, r.item_id),
                    "kind": r.kind,
                    "timestamp": r.timestamp,
                    "rated_at": iso(r.timestamp),
                }
            )
        return {"model_version": served.version, "user_id": user_id, "ratings": out}

    @app.get("/items", response_model=schemas.ItemList, tags=["items"])
    def items_search(
        search: str | None = Query(None, max_length=200, description="Words in the title."),
        genre: str | None = Query(None, max_length=200),
        n: int = Query(20, ge=1, le=max_n, description="Page size."),
        offset: int = Query(0, ge=0, le=10_000_000),
    ):
        """Titles in the catalogue, filtered by text in the title (or id) and by genre:
        titles starting with the text first, then those with a word starting with it,
        then any other match, each the most rated first (in the served model's training
        data; a title it lacks counts 0), then by title."""
        served = holder.current
        if genre:
            genre = known_genre(genre, store.genres())
        # The count comes with the page: a text search reads every match to order it
        # by popularity anyway, and otherwise one COUNT over the same filter is cheap.
        found, total = store.search_page(
            search=search or None,
            genre=genre or None,
            limit=n,
            offset=offset,
            popularity=popularity_of(served),
        )
        return {
            "model_version": served.version,
            "items": [item_out(served, it) for it in found],
            "n": n,
            "offset": offset,
            "has_more": offset + len(found) < total,
            "total": total,
        }

    @app.get("/items/{item_id}", response_model=schemas.ItemDetail, tags=["items"])
    def item_detail(item_id: ItemId):
        """One catalogue entry."""
        served = holder.current
        item_id = iid(served, item_id)
        stored = store.get_item(item_id)
        if stored is None:
            idx = served.item_index.get(item_id)
            if idx is None:
                raise HTTPException(404, f"unknown item {item_id!r}")
            stored = Item(item_id, served.title(idx))
        return {"model_version": served.version, **item_out(served, stored)}

    @app.get("/genres", response_model=schemas.Genres, tags=["items"])
    def genres():
        """Every genre in the catalogue, for a filter."""
        return {"model_version": holder.current.version, "genres": list(store.genres())}

    # ------------------------------------------------------------------ writes
    def write(served: Served, ratings: list[Rating]) -> dict:
        result = store.add_ratings(ratings)
        refold(served, result.versions)
        return written(served, result)

    async def write_soon(ratings: list[Rating]):
        """``store.add_ratings`` on the event loop once the store's write lock is free,
        answering other requests while another worker holds it; after WRITE_WAIT_S of
        that, the write waits for the lock in a thread instead."""
        waited = time.monotonic() + WRITE_WAIT_S
        tries = 0
        while True:
            result = store.try_add_ratings(ratings)
            if result is not None:
                return result
            if time.monotonic() > waited:
                return await run_in_threadpool(store.add_ratings, ratings)
            tries += 1
            # The other worker's commit takes a millisecond or two: try again after the
            # loop's next round of other work, and only after many tries back off to a
            # timer (whose wait is a millisecond at least, plus the loop's backlog).
            await asyncio.sleep(0 if tries <= WRITE_QUICK_TRIES else WRITE_RETRY_S)

    def refold(served: Served, versions: dict) -> None:
        for user_id, version in list(versions.items())[:REFOLD_ON_WRITE]:
            try:
                live.resolve(served, user_id, version)
            except (StoreError, ValueError, FloatingPointError) as err:
                # The write has committed, so its answer is a success: an error here would
                # have the client send it again (an event's weight added twice).  The
                # user's next request folds them in (or answers this error).
                live.forget(user_id)
                error_log.warning("re-folding %r after a write failed: %s", user_id, one_line(err))

    def written(served: Served, result) -> dict:
        metrics.ratings_written.inc(result.n_written)
        return {
            "model_version": served.version,
            "written": result.n_written,
            "superseded": result.n_superseded,
            "users": result.versions,
        }

    def checked_rating(served: Served, r, known_elsewhere: set) -> Rating:
        user_id = uid(r.user_id, served)
        item_id = iid(served, r.item_id)
        if item_id not in served.item_index and item_id not in known_elsewhere:
            raise HTTPException(404, f"unknown item {item_id!r}")
        check_value(served, item_id, r.rating, r.kind)
        check_timestamp(item_id, r.timestamp)
        return Rating(user_id, item_id, float(r.rating), r.timestamp, r.kind)

    def check_value(served: Served, item_id: str, value: float, kind: str) -> None:
        if not np.isfinite(value):
            raise HTTPException(422, f"the rating for item {item_id!r} is not a finite number")
        if abs(value) > MAX_VALUE:
            raise HTTPException(
                422, f"the rating {value:g} for item {item_id!r} is over the limit of {MAX_VALUE:g}"
            )
        if kind == "event":
            if value <= 0:
                raise HTTPException(422, f"an event's weight must be positive (item {item_id!r})")
            return
        scale = served.rating_scale
        if scale is not None and not scale[0] <= value <= scale[1]:
            raise HTTPException(
                422,
                f"rating {value:g} for item {item_id!r} lies outside the model's scale "
                f"{scale[0]:g}-{scale[1]:g}",
            )
        # A model with no rating scale takes the range of its training ratings, as the
        # library's onboard does: a 500 where it saw 1-5 is extrapolation (it scored 479).
        bounds = answer_bounds(served)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise HTTPException(
                422,
                f"rating {value:g} for item {item_id!r} lies outside "
                f"{bounds[0]:g}-{bounds[1]:g}, the "
                + bounds[2].replace("its", "the served model's"),
            )

    def checked_write(served: Served, given) -> dict:
        """Check ``given`` and write it (in a thread: the reads and the write wait)."""
        elsewhere = store_only_items(served, [iid(served, r.item_id) for r in given])
        return write(served, [checked_rating(served, r, elsewhere) for r in given])

    def store_only_items(served: Served, item_ids) -> set:
        """Of ``item_ids`` the model lacks, those the store's catalogue has."""
        missing = [i for i in item_ids if i not in served.item_index]
        # One query, however long the list: this runs on the event loop.
        return store.stored_item_ids(missing) if missing else set()

    @app.post(
        "/ratings",
        response_model=schemas.WriteAck,
        status_code=201,
        dependencies=writes,
        tags=["ratings"],
    )
    async def post_ratings(body: schemas.RatingsBody):
        """Store one rating or many (explicit stars or implicit events) in one transaction;
        answered only after it commits.  Each user's next request reflects them."""
        # Over a SQLite file the write runs on the event loop, its wait for the disk
        # (the commit's flush, a few milliseconds) included.  In a thread it would free
        # the loop meanwhile,
        # but each hand-over to the thread and back waits for the loop's other work and
        # for the GIL: under a steady stream of reads a write took ten times as long
        # (docs/benchmarks.md, Service load).  While another process holds the store's
        # write lock the loop answers other requests (write_soon).  Many users' re-folds
        # go to a thread.  Over a database server it all runs in a thread (store_off_loop).
        given = body.ratings if isinstance(body, schemas.RatingsIn) else [body]
        if not given:
            raise HTTPException(422, "no ratings given")
        if len(given) > max_list:
            raise HTTPException(
                422, f"{len(given)} ratings in one request; the limit is {max_list}"
            )
        served = holder.current
        if store_off_loop:
            return await in_store_thread(checked_write, served, given)
        elsewhere = store_only_items(served, [iid(served, r.item_id) for r in given])
        checked = [checked_rating(served, r, elsewhere) for r in given]
        result = await write_soon(checked)
        if len(result.versions) <= LOOP_REFOLDS:
            refold(served, result.versions)
        else:
            await run_in_threadpool(refold, served, result.versions)
        return written(served, result)

    @app.delete(
        "/users/{user_id}/ratings/{item_id}",
        response_model=schemas.Deleted,
        dependencies=writes,
        tags=["ratings"],
    )
    def delete_rating(user_id: UserId, item_id: ItemId):
        """Remove one stored rating and the user's event weight of the item; ``deleted``
        counts the rows removed (2 when both were stored)."""
        user_id = uid(user_id)
        served = holder.current
        # An item id stored with its spaces (rated before ids were read so, or a title
        # only the store holds) is removed by the id the listing shows.
        item_id = iid(
            served, item_id, also=lambda i: any(c[0] == i for c in store.user_cells(user_id))
        )
        deleted = store.delete_rating(user_id, item_id)
        if not deleted:
            raise HTTPException(404, f"user {user_id!r} has no stored rating for item {item_id!r}")
        live.resolve(served, user_id)
        return {
            "model_version": served.version,
            "user_id": user_id,
            "item_id": item_id,
            "deleted": deleted,
        }

    @app.delete(
        "/users/{user_id}",
        response_model=schemas.Deleted,
        dependencies=writes,
        tags=["ratings"],
    )
    def delete_user(user_id: UserId):
        """Erase everything stored about the user; they get the popularity list from now on."""
        user_id = uid(user_id)
        deleted = store.delete_user(user_id)
        live.forget(user_id)
        return {"model_version": holder.current.version, "user_id": user_id, "deleted": deleted}

    @app.post(
        "/users/{user_id}/onboarding",
        response_model=schemas.Recommendations,
        dependencies=writes,
        tags=["onboarding"],
    )
    def onboarding(user_id: UserId, body: OnboardingBody):
        """Store a new user's answers as their ratings and return their first page."""
        user_id = uid(user_id)
        if not body.answers:
            raise HTTPException(422, "no answers given")
        if len(body.answers) > max_list:
            raise HTTPException(422, f"{len(body.answers)} answers; the limit is {max_list}")
        served = holder.current
        ratings = []
        answered = set()
        for a in body.answers:
            item_id = iid(served, a.item_id)
            # Two answers for one item in one form (5, then 1) is a slip, not an update:
            # refused, as `latentrec onboard --answers` refuses it, not settled silently.
            if item_id in answered:
                raise HTTPException(422, f"the answers rate item {item_id!r} more than once")
            answered.add(item_id)
            model_item(served, item_id)
            # The scale, or for a model without one the range of its training ratings.
            check_value(served, item_id, a.rating, "explicit")
            ratings.append(Rating(user_id, item_id, float(a.rating)))
        ack = write(served, ratings)
        state = live.resolve(served, user_id, ack["users"].get(user_id))
        return recommendations_body(served, state, body.n)

    @app.post(
        "/items",
        response_model=schemas.ItemAdded,
        status_code=201,
        dependencies=writes,
        tags=["items"],
    )
    def post_item(body: schemas.ItemIn):
        """Add a title (or update one's details: a field left out keeps its stored value,
        a field given, ``[]`` or ``null`` included, replaces it; a new title's omitted
        fields are empty).  A new title is recommendable at once:
        with a vector from its features when the model has item features, else with a
        zero vector until a retrain learns it.  A genre or feature the model cannot use
        (never saw) adds nothing: ``unused`` names it, and with nothing it knows the vector
        is ``zero``.  An id the model cannot hold (text where its item ids are integers) is
        stored and waits for a retrain (``vector: none``), and so does any new title while
        a pipeline is served."""
        item_id = iid(holder.current, body.item_id)
        if len(body.genres) > max_list:
            raise HTTPException(422, f"{len(body.genres)} genres; the limit is {max_list}")
        if body.title is not None:
            check_text(body.title, "title")
        for genre in body.genres:
            check_text(genre, "genres")
        for name in body.features or ():
            check_text(name, "features")
            if name in RESERVED_FEATURES:
                # The store refuses it too, but as "row 0" of a batch the client never sent.
                raise HTTPException(
                    422,
                    f"features: {name!r} is the title's own field, not a feature; "
                    f'give it as "{name}"',
                )
        # Left out, a field keeps what the catalogue holds (an edit of the title alone
        # wiped the genres and features that calibration and retraining read); given,
        # even as [] or null, it replaces it.  The store keeps them in the write itself,
        # never reading them first, so a worker editing them meanwhile is not undone.
        given = body.model_fields_set
        keep = [name for name in ("title", "genres", "features") if name not in given]
        store.add_items([Item(item_id, body.title, tuple(body.genres), body.features)], keep=keep)
        facts.forget()
        read: dict = {}

        def take(current: Served) -> Served:
            # Read under the holder's lock, as every change of the served titles is
            # made: read before it, a rename that another request (or the refresher,
            # which records the catalogue's newest counter) installed meanwhile was
            # undone by this older name, and nothing read the title again until the
            # next catalogue write.  As stored: a genre differing only in case from the
            # catalogue's is in its spelling.
            item = read["item"] = store.get_item(item_id)
            read["known"] = item_id in current.item_index
            if read["known"]:
                # A title the model knows keeps its learned vector; only its details
                # change, its title in every answer at once (other workers: at their
                # next look at the catalogue, add_store_items).
                return with_store_titles(current, [item])
            if current.pipeline is None and accepts_item(current, item):
                return with_new_items(current, [item])
            return current

        served = holder.update(take)
        item = read["item"]
        unused = {}
        if read["known"]:
            vector = "model"
        elif item_id in served.item_index:
            vector = "zero"
            if served.has_item_features():
                # with_new_items logged what the model cannot use; the client hears it here.
                use = feature_use(served, item)
                vector = "features" if use.known else "zero"
                unused = use.unused
        else:
            vector = "none"
        return {
            "model_version": served.version,
            "item": item_out(served, item),
            "vector": vector,
            "unused": unused,
        }

    # ------------------------------------------------------------------ operations
    shown_source = source.label() if hasattr(source, "label") else source.describe()

    # Cached: /health runs on the event loop, and resolving a path asks the file system.
    @functools.lru_cache(maxsize=16)
    def public(text: str | None) -> str | None:
        if text is None:
            return text
        if hasattr(source, "public_text"):
            text = source.public_text(text)
        # What is left names files elsewhere (a retrain's store): by their names.
        return short_paths(text)

    def public_retrain(record: dict | None) -> dict | None:
        return None if record is None else {**record, "reason": public(record["reason"])}

    @app.get("/health", response_model=schemas.Health, tags=["operations"])
    async def health():
        """The worker is up, which model version it serves, since when."""
        # On the event loop (it reads only memory): in a thread it would queue behind
        # every slow plain-function route holding the pool, and a load balancer's probe
        # would take a busy worker for a dead one.
        served = holder.current
        return {
            "status": "ok",
            "model_version": served.version,
            "model_created": served.created,
            "model_loaded": served.loaded,
            "model_age_seconds": max(0.0, time.time() - served.created),
            # A name, not the server's path: /health answers anyone (the log has it).
            "model_source": shown_source,
            "store": str(getattr(store, "dialect", "")),
            "worker_pid": os.getpid(),
            "cached_users": len(live.cache),
            "warm": refresher.warm_done.is_set(),
            "rating_scale": None if served.rating_scale is None else list(served.rating_scale),
            "predicts_ratings": served.predicts_ratings,
            # The worker keeps serving (status stays "ok" for the load balancer); the
            # operator sees why no new version is picked up without reading its log.
            "reload_error": public(refresher.reload_failure),
            # Written by whichever process retrained (the schedule of serve
            # --retrain-every, or latentrec retrain by hand or from cron): their
            # failures were only in that process's log or terminal.
            "last_retrain": public_retrain(refresher.last_retrain),
            # The worker serves the model meanwhile; the store's routes answer 503.
            "store_takein_error": public(take_in.pending),
        }

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics():
        """Prometheus exposition: requests and latency per route, model version and age,
        store rows, fold-ins, fallbacks, reloads."""
        metrics.set_served(holder)
        metrics.set_store(store.counts())
        return Response(metrics.expose(), media_type=metrics.CONTENT_TYPE)

    @app.post(
        "/admin/reload", response_model=schemas.Reloaded, dependencies=writes, tags=["operations"]
    )
    def admin_reload(force: bool = Query(False, description="Reload even if unchanged.")):
        """Load the source's model again if it changed (a new current version in the
        model directory, a new model file); requests keep being answered meanwhile."""
        previous = holder.current.version
        try:
            swapped = holder.reload(force=force)
        except (OSError, LookupError, ValueError) as err:
            # A version that cannot be served (a damaged file, a pipeline without a
            # factor model): the old one stays, and the caller is told why, with paths as
            # /health shows them (without a token anyone may call this); the log has them
            # in full.
            error_log.warning("reload refused; still serving %s: %s", previous, one_line(err))
            raise HTTPException(
                409,
                f"the new version was not loaded; still serving {previous}: "
                f"{public(one_line(err))}",
            ) from None
        if swapped:
            metrics.reloads.inc()
            metrics.set_served(holder)
        return {
            "model_version": holder.current.version,
            "reloaded": swapped,
            "previous_version": previous,
        }

    # Last of the API's routes: ids holding literal slashes (/users/a/b/ratings), as
    # clients sent them when the routes took {user_id:path}, for paths no route above
    # takes segment by segment.
    for route in list(app.router.routes):
        if isinstance(route, CheckedRoute) and route.param_convertors:
            app.router.routes.append(route.with_slashes())

    # ------------------------------------------------------------------ the page
    @app.get("/", include_in_schema=False)
    def page():
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            raise HTTPException(
                404, "the web page is not installed (latentrec/service/static/index.html)"
            )
        return FileResponse(index, media_type="text/html")

    install_api_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    # One rule for a trailing slash on every route, the id routes included: a 307 to the
    # path without it (SlashRedirect), in place of Starlette's, which missed them.
    app.router.redirect_slashes = False
    app.router.routes.append(SlashRedirect(app.router.routes))
    app.router.default = NoRoute(app.router.default)
    return app


def app_from_env() -> FastAPI:
    """The app with the settings from ``LATENTREC_SERVICE_SETTINGS``: what each worker
    process of ``latentrec serve --workers N`` builds, through
    ``latentrec.cli.serve:worker_app`` (which also reports a worker that cannot start).

    Example (a factory for uvicorn; ``serve`` itself names ``worker_app``)::

        uvicorn latentrec.service.app:app_from_env --factory --workers 2
    """
    # A worker starts while serve runs: a store that does not answer then (a database
    # restarting) is waited for.  Failing, the worker stopped every worker of serve.
    return create_app(Settings.from_env(), store_wait=True)


def open_store_waiting(
    location, on_wait=None, retry_s: float = STORE_RETRY_S, limit: float | None = None
):
    """:func:`~latentrec.store.open_store`, trying again every ``retry_s`` seconds while
    the store cannot be reached for a reason that passes
    (:class:`~latentrec.store.StoreUnavailableError` whose ``transient`` is set: the
    server refusing connections, not accepting them, starting up or shutting down, a
    SQLite file busy or locked); any other error is raised at once, a store that is
    unavailable for good included (a SQLite path that is a folder or cannot be opened,
    a read-only database, a wrong database name), as are a bad URL and a store of a
    newer schema: waiting would never end.  ``limit`` bounds each try's waits on the
    server, as :func:`~latentrec.store.open_store`'s.  The wait is logged when it
    starts, when its reason changes and when the store opens.  SIGTERM or SIGINT (in
    the main thread) ends it: the handler found is called (uvicorn's notes the stop; the
    wait then ends by ``SystemExit``), or the signal's default action taken.

    Example:
        >>> store = open_store_waiting(":memory:")
        >>> store.dialect
        'sqlite'
    """
    log = logging.getLogger(ERROR_LOGGER)
    stop = threading.Event()
    found: dict = {}
    got: list[int] = []

    def stopping(signum, frame):
        got.append(signum)
        stop.set()
        handler = found.get(signum)
        if callable(handler):
            handler(signum, frame)

    said = None
    # Set before the first try: a stop during it (a connection attempt may take long)
    # ends the wait that follows.  The handler found still runs.
    if threading.current_thread() is threading.main_thread():
        found = {sig: signal.signal(sig, stopping) for sig in STOP_SIGNALS}
    try:
        while True:
            try:
                store = open_store(location, on_wait=on_wait, limit=limit)
            except StoreUnavailableError as err:
                if not err.transient:
                    raise
                reason = one_line(err)
            else:
                if said is not None:
                    log.info("the ratings store answers; this worker starts")
                return store
            if reason != said:
                log.warning(
                    "the ratings store cannot be reached; this worker waits for it, "
                    "trying every %g s: %s",
                    retry_s,
                    reason,
                )
                said = reason
            if stop.wait(retry_s):
                raise SystemExit(0)
    finally:
        for sig, handler in found.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        # A stop whose handler found was the default action (no uvicorn to note it):
        # taken now, as it would have been.
        for sig in got:
            if not callable(found.get(sig)):
                signal.raise_signal(sig)


def source_from(settings: Settings):
    """The model source the settings name: a model directory or a model file."""
    if settings.model_dir:
        from .versions import ModelDirectory

        return DirectorySource(ModelDirectory(settings.model_dir))
    if settings.model_path:
        return FileSource(settings.model_path)
    raise ValueError("give a model file (model_path) or a model directory (model_dir)")


def directory_of(source):
    """The folder of the model directory ``source`` serves from; ``None`` for a source
    that is not a model directory (a model file).

    Example:
        >>> from latentrec.service.holder import FixedSource
        >>> directory_of(FixedSource(None)) is None
        True
    """
    directory = getattr(source, "directory", None)
    return None if directory is None else directory.path


def questions_for(served: Served, n: int) -> list[dict]:
    """The first ``n`` onboarding questions of a served model, as the API shows them.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> seen = np.array([[1.0, 1.0], [0.0, 1.0]])  # item 8 is rated twice, 7 once
        >>> m = FactorModel.from_factors(Catalog.from_ids([1, 2], [7, 8], seen=seen), np.eye(2))
        >>> questions_for(Served.build(m, "v"), 1)
        [{'item_id': '8', 'title': None, 'popularity': 2}]
    """
    table = served.model.onboarding_items(k=n)
    out = []
    for raw, popularity in zip(table["item_id"], table["popularity"], strict=True):
        idx = served.item_index[id_text(raw)]
        out.append(
            {
                "item_id": served.item_ids[idx],
                "title": served.title(idx),
                "popularity": int(popularity),
            }
        )
    return out


def answer_bounds(served: Served) -> tuple[float, float, str] | None:
    """The range an explicit rating for ``served`` must lie in beyond its rating scale
    (which :func:`~latentrec.models.foldin.answer_range` gives first, and the service
    checks with its own message): for a rating model without one, the range of its
    training ratings; ``None`` when any value goes (a ranking model, event data).

    Example:
        >>> from latentrec import Interactions
        >>> from latentrec.models import BiasedMF
        >>> m = BiasedMF(n_epochs=1).fit(Interactions.from_dense(np.array([[5, 3], [4, 1]])))
        >>> answer_bounds(Served.build(m, "v"))
        (1.0, 5.0, 'range of its training ratings')
    """
    model = served.model
    if not hasattr(model, "rating_scale_") or served.rating_scale is not None:
        return None
    return answer_range(model)


def known_genre(genre: str, genres: list[str]) -> str:
    """The catalogue's spelling of ``genre``, matched as the store matches genres
    (ignoring case and composed or decomposed accents); a 422 naming the known genres
    when there is no such genre.

    Example:
        >>> known_genre("sci-fi", ["Drama", "Sci-Fi"])
        'Sci-Fi'
        >>> known_genre("E\u0301be\u0300ne", ["\u00c9b\u00e8ne"]) == "\u00c9b\u00e8ne"
        True
    """
    folded = genre_key(genre)
    for name in genres:
        if genre_key(name) == folded:
            return name
    known = ", ".join(genres) if genres else "none (the catalogue has no genres)"
    raise HTTPException(422, f"unknown genre {genre!r}; the catalogue's genres: {known}")


def popularity_of(served: Served):
    """How many ratings of each item the served model was trained on, as a function of
    the item id (0 for one it lacks): what a title search orders equal matches by.

    Example:
        >>> from latentrec.models import Catalog, FactorModel
        >>> seen = np.array([[1.0, 1.0], [0.0, 1.0]])  # item 8 is rated twice, 7 once
        >>> m = FactorModel.from_factors(Catalog.from_ids([1, 2], [7, 8], seen=seen), np.eye(2))
        >>> count = popularity_of(Served.build(m, "v"))
        >>> count("8"), count("7"), count("new")
        (2.0, 1.0, 0.0)
    """
    index = served.item_index
    counts = served.model.catalog_.item_popularity

    def count(item_id: str) -> float:
        idx = index.get(item_id)
        return 0.0 if idx is None or idx >= counts.shape[0] else float(counts[idx])

    return count


def item_out(served: Served, item) -> dict:
    """A store item as the API shows it.

    Example:
        >>> from latentrec.models import FactorModel
        >>> s = Served.build(FactorModel.from_factors(([1], [7]), np.eye(1)), "v")
        >>> item_out(s, Item("7", "Heat", ("Crime",)))["in_model"]
        True
    """
    return {
        "item_id": item.item_id,
        "title": item.title,
        "genres": list(item.genres or ()),
        "features": item.features,
        "in_model": item.item_id in served.item_index,
    }


def unusable_value(value: float, user_id: str, item_id: str) -> str:
    """What ``GET /users/{id}/ratings`` says of a stored value that is not a finite
    number: which it is, what the service does with it (the fold-in leaves it out, as
    ``LiveUsers.signal`` does and ``say_not_finite`` logs) and the route that deletes
    it, for this user and item (:func:`~latentrec.store.records.rating_route`).

    Example:
        >>> unusable_value(float("-inf"), "ann", "a/b")[:48]
        'the stored value is -Infinity, not a finite numb'
        >>> unusable_value(float("nan"), "ann", "a/b")[-33:]
        '(DELETE /users/ann/ratings/a%2Fb)'
    """
    shown = "NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return (
        f"the stored value is {shown}, not a finite number (written past the service's "
        "checks, by hand in the database?): it is left out of this user's "
        "recommendations, the item still counting as rated; correct it, or delete it "
        f"({rating_route(user_id, item_id)})"
    )


def iso(timestamp: float | None) -> str | None:
    """Unix seconds as ISO 8601 in UTC; ``None`` for none, or for one beyond the years
    1-9999 that a date can show (the store takes any finite number from the library).

    Example:
        >>> iso(0.0), iso(1e17)
        ('1970-01-01T00:00:00+00:00', None)
    """
    if timestamp is None or not EARLIEST_TS <= timestamp <= LATEST_TS:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def check_timestamp(item_id: str, timestamp: float | None) -> None:
    """A 422 ``HTTPException`` for a rating's timestamp that no date can show.

    Such a rating would outrank every later one of the same item (latest wins), and
    ``rated_at`` could not show it.

    Example:
        >>> check_timestamp("50", 1_700_000_000.0)
        >>> try:
        ...     check_timestamp("50", 1e17)
        ... except HTTPException as err:
        ...     print(err.status_code, err.detail[:70])
        422 the timestamp 1e+17 of the rating for item '50' is not between 0001-01
    """
    if timestamp is None or not np.isfinite(timestamp):
        return  # none: the store's clock; not finite: the store names the row and field
    if not EARLIEST_TS <= timestamp <= LATEST_TS:
        raise HTTPException(
            422,
            f"the timestamp {timestamp:g} of the rating for item {item_id!r} is not between "
            f"0001-01-01 and 9999-12-31 (Unix seconds {EARLIEST_TS} to {LATEST_TS})",
        )
