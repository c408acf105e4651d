"""What stands between the network and the handlers: limits, the token, errors, the log.

Owns the request-body limit (:class:`BodyLimit`, pure ASGI: a declared or streamed body
over the limit gets 413 before a handler runs, one not received whole in time 408), the
browser headers (:class:`SecurityHeaders`: nosniff, a content security policy, no
framing), the Host check (:class:`HostCheck`), the token gate (:class:`TokenGate`), the
answer to a request cancelled at shutdown (:class:`CancelledAtShutdown`), the
per-request access log and metrics (:class:`AccessLog`: one JSON line per request, the
route *template* as label), the bearer-token check (:func:`token_matches`, constant-time
through ``hmac.compare_digest``), the id check (:func:`check_id`: ids are opaque text;
empty, over-long, NUL and lone surrogates are refused with 422) and the error responses
(:func:`install_error_handlers`: a one-line ``detail`` for 4xx, 503 when the store is
unreachable, never a stack trace for 5xx).  The route class and the router's own
answers (what a request is matched and checked by) are :mod:`latentrec.service.routing`'s.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
import threading
import time
import typing
import uuid
from http import HTTPStatus

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Tag
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..data.columns import whole_number
from ..store import StoreError, StoreUnavailableError
from .routing import LOGGED_METHOD_CHARS, LOGGED_PATH_CHARS, allowed_methods, sent_path

ACCESS_LOGGER = "latentrec.access"
ERROR_LOGGER = "latentrec.service"


# The methods counted under their own name in the metrics; any other is "other".  The
# HTTP parser takes any token as a method (h11: "FOO /health" is a request), and each
# new one would have added a label value, without bound.
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# What the web page may load and who may frame it: its own script and stylesheet, its
# own API, nothing inline, never inside another site's frame (a framed page could be
# clicked through: "Remove", the access token field).
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The API's pages (apidocs.py) load only the service's own files.  /docs (Swagger UI)
# runs under the page's policy.  /redoc's Redoc styles itself through <style> elements it
# writes at run time (styled-components), which only 'unsafe-inline' lets a browser
# apply, and runs its search in a web worker made from a blob: URL; it gets exactly those
# two more, on that one path.
REDOC_PATH = "/redoc"
REDOC_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "object-src", "worker-src blob:; object-src"
)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, and bodies
    not received whole within ``timeout`` seconds with 408.

    A ``Content-Length`` over the limit is refused before the body is read; a chunked
    body is read (up to the limit, then refused) before the handler runs and handed to
    it whole, so a handler never sees part of an over-long body.  The deadline is for
    the whole body, not for each piece: a client sending a byte now and then (a
    "slowloris") would otherwise hold its connection and its request open forever, as
    the server sets no such limit of its own.
    """

    def __init__(self, app, max_bytes: int, timeout: float | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await json_error(send, "Content-Length is not a number", 400)
                if declared > self.max_bytes:
                    return await json_error(send, self.message())
        chunks, size = [], 0
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            if deadline is None:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), deadline - time.monotonic())
                except asyncio.TimeoutError:
                    return await json_error(send, self.late(), 408)
            if message["type"] != "http.request":
                # The client went away: let the app see it as it would.
                return await self.app(scope, replay([message], receive), send)
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await json_error(send, self.message())
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replay([whole], receive), send)

    def message(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    def late(self) -> str:
        return f"the request body did not arrive whole within {self.timeout:g} seconds"


class SecurityHeaders:
    """ASGI middleware: the headers that tell a browser how to treat every answer.

    ``X-Content-Type-Options: nosniff`` on every response (a JSON answer holding a
    title such as ``<script>...`` is never sniffed into a page); a Content-Security-
    Policy that allows the page only its own script, stylesheet and API and forbids
    framing it (:data:`PAGE_POLICY`, ``/docs`` included; ``/redoc`` gets
    :data:`REDOC_POLICY`), ``X-Frame-Options: DENY`` for older browsers and
    ``Referrer-Policy: no-referrer``.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = REDOC_POLICY if scope.get("path", "") == REDOC_PATH else PAGE_POLICY
        added = [
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", policy.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The names by which a browser on this machine reaches a service listening on loopback.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class HostCheck:
    """ASGI middleware: answer only requests whose ``Host`` names one of ``allowed``.

    A service on loopback without a token trusts whoever reaches it, and a web page on
    another site can reach it through the visitor's browser by DNS rebinding (its own
    name, re-pointed at 127.0.0.1): then its script is same-origin, reads the answers
    and posts writes.  Such a request still carries the other site's name in ``Host``,
    which is refused here with 421.  ``allowed`` empty: any host (``Host`` unchecked).
    Each allowed name is read as the header is (:func:`allowed_name`): ``x.com:8080``
    allows ``Host: x.com:8080`` and ``Host: x.com``, as the port is not compared.
    """

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = frozenset(allowed_name(name) for name in allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.allowed:
            return await self.app(scope, receive, send)
        given = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                given = value.decode("latin-1")
                break
        if host_name(given) not in self.allowed:
            shown = given[:100] or "(none)"
            return await json_error(
                send,
                f"this service does not answer to the host {shown!r} "
                f"(it answers to {', '.join(sorted(self.allowed))}; "
                "latentrec serve --allowed-host adds a name)",
                421,
            )
        await self.app(scope, receive, send)


# The methods of the routes that need the token: every write and admin route is a POST
# or a DELETE, and every POST and DELETE route needs it (tests/service/test_security.py).
TOKEN_METHODS = frozenset({"POST", "DELETE", "PUT", "PATCH"})

TOKEN_NEEDED = "this route needs the service's bearer token (Authorization: Bearer ...)"


class TokenGate:
    """ASGI middleware: a request whose method needs the token (:data:`TOKEN_METHODS`)
    and does not carry it is answered 401 before anything else is done with it.

    The routes' own check (a FastAPI dependency) runs only after the body was read,
    parsed and checked, so a client without the token could have large bodies parsed
    and learn the schema from the 422s (and the body limit from the 413).  Here neither
    the body nor the query is looked at, and the connection is closed, its body unread.
    ``token`` ``None``: no token, every request passes.

    Example:
        >>> TokenGate(app=None, token=None).token is None
        True
    """

    def __init__(self, app, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if (
            self.token is None
            or scope["type"] != "http"
            or scope.get("method", "").upper() not in TOKEN_METHODS
        ):
            return await self.app(scope, receive, send)
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value.decode("latin-1")
                break
        if not token_matches(given, self.token):
            return await json_error(
                send, TOKEN_NEEDED, 401, headers=[(b"www-authenticate", b"Bearer")]
            )
        await self.app(scope, receive, send)


def host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port, lower case.

    Example:
        >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("127.0.0.1")
        ('localhost', '::1', '127.0.0.1')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if ":" in header else header


def allowed_name(value: str) -> str:
    """An allowed host as :func:`host_name` reads a ``Host`` header: lower case, without
    a port, an IPv6 address without its brackets (a bare one, ``::1``, kept whole).

    Example:
        >>> allowed_name("X.com:8080"), allowed_name("[::1]:8000"), allowed_name("::1")
        ('x.com', '::1', '::1')
    """
    value = value.strip().lower()
    if value.startswith("[") or value.count(":") == 1:
        return host_name(value)
    return value


def metric_method(method: str) -> str:
    """The method as the metrics label it: itself if it is a standard one, else "other".

    Example:
        >>> metric_method("GET"), metric_method("FOO")
        ('GET', 'other')
    """
    return method if method in METRIC_METHODS else "other"


def replay(messages: list, receive):
    """A ``receive`` that gives ``messages`` first, then whatever ``receive`` gives."""
    pending = list(messages)

    async def receive_again():
        if pending:
            return pending.pop(0)
        return await receive()

    return receive_again


async def json_error(send, detail: str, status: int = 413, headers=()) -> None:
    """Send a JSON error response straight through ASGI (``headers``: more of them)."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


SHUTTING_DOWN = "the service is shutting down; send the request again"


class CancelledAtShutdown:
    """ASGI middleware: a request the server cancels is one warning line (method, path,
    "cancelled at shutdown") and, where no answer was begun, a 503 with ``Retry-After``.

    uvicorn cancels only at shutdown, the requests still running when its drain's limit
    ran out (a body that never came); the ``CancelledError`` reached its ASGI runner,
    which logged it at error level with a full traceback, for an ordinary stop.

    Example:
        >>> import asyncio
        >>> async def stuck(scope, receive, send):
        ...     await asyncio.sleep(3600)
        >>> async def stop_one():
        ...     sent = []
        ...     async def send(message):
        ...         sent.append(message)
        ...     scope = {"type": "http", "method": "GET", "path": "/x", "raw_path": b"/x"}
        ...     task = asyncio.ensure_future(CancelledAtShutdown(stuck)(scope, None, send))
        ...     await asyncio.sleep(0)
        ...     task.cancel()
        ...     await task
        ...     return sent[0]["status"]
        >>> asyncio.run(stop_one())
        503
    """

    def __init__(self, app):
        self.app = app
        self.logger = logging.getLogger(ERROR_LOGGER)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_noted(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noted)
        except asyncio.CancelledError:
            self.logger.warning(
                "%s %s cancelled at shutdown",
                scope.get("method", "")[:LOGGED_METHOD_CHARS],
                sent_path(scope)[:LOGGED_PATH_CHARS],
            )
            # Ended here, not re-raised: the task is the request's own, and ends now.
            if not started:
                await json_error(send, SHUTTING_DOWN, 503, headers=[(b"retry-after", b"5")])


class AccessLog:
    """ASGI middleware: one JSON access-log line and the metrics for each request.

    Adds ``X-Worker-PID`` to every response (which worker process answered: the
    two-worker tests and operators use it).  Requests that match no route are labelled
    ``unmatched`` in the metrics and methods other than the standard ones ``other``
    (:func:`metric_method`), so arbitrary paths and methods cannot create label values.
    """

    def __init__(self, app, metrics, log: bool = True):
        self.app = app
        self.metrics = metrics
        self.log = log
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_with_pid(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), (b"x-worker-pid", self.pid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_pid)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            # path_format drops the converters: /users/{user_id}/recommendations.
            template = getattr(route, "path_format", None) or "unmatched"
            self.metrics.observe(metric_method(scope["method"]), template, status, elapsed)
            if self.log and self.logger.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("", 0)
                self.logger.info(
                    json.dumps(
                        {
                            "ts": round(time.time(), 3),
                            "method": scope["method"][:LOGGED_METHOD_CHARS],
                            "route": template,
                            # As sent: /items/x%2Fsimilar and /items/x/similar are
                            # two requests, which the decoded path made one.
                            "path": sent_path(scope)[:LOGGED_PATH_CHARS],
                            "status": status,
                            "ms": round(elapsed * 1000, 3),
                            "client": client[0],
                            "pid": os.getpid(),
                        },
                        ensure_ascii=True,
                    )
                )


def token_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (constant time).

    Example:
        >>> token_matches("Bearer s3cret-token", "s3cret-token"), token_matches(None, "x")
        (True, False)
        >>> token_matches("Bearer wrong", "s3cret-token")
        False
    """
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def check_id(value: str, what: str, max_chars: int) -> str:
    """An id as given (ids are opaque text), or a 422 ``HTTPException`` saying what is wrong.

    Example:
        >>> check_id("O'Brien; DROP TABLE ratings;--", "user_id", 256)
        "O'Brien; DROP TABLE ratings;--"
        >>> try:
        ...     check_id("", "user_id", 256)
        ... except HTTPException as err:
        ...     print(err.status_code, err.detail)
        422 user_id is empty
    """
    if not isinstance(value, str):
        raise HTTPException(422, f"{what} must be text, got {type(value).__name__}")
    if not value:
        raise HTTPException(422, f"{what} is empty")
    if len(value) > max_chars:
        raise HTTPException(422, f"{what} is {len(value)} characters; the limit is {max_chars}")
    return check_text(value, what)


def read_id(value: str, what: str, max_chars: int, held=(), integer: bool = False) -> str:
    """An id as the file readers and ``latentrec store import`` read it: checked by
    :func:`check_id`, its surrounding whitespace removed, unless ``held`` holds it
    exactly as given: the served model's id index (a model trained with
    ``strip_ids=False``), or anything else that answers ``in`` (the app passes one that
    also asks the store, so that an id stored with its spaces before the service read
    ids this way can still be listed, rated and erased).  ``held`` is asked only about
    an id that would change.  An id of nothing but whitespace is a 422 naming it, and
    so is one over ``max_chars`` characters as read (padding does not count).
    ``integer`` (the model's ids are integers, as a file's column of whole numbers
    makes them) reads whole-number text as that number, as the readers do: ``"007"``,
    ``"+7"`` and ``"7.0"`` are ``"7"``; other text is kept.

    Every route reads its ids through this, so ``" u1"`` in a path, a query or a
    rating's body is user ``u1``, as it is in a ratings file: the service answered it
    with the popularity list of an unknown user and stored its ratings apart.

    Example:
        >>> read_id(" u1 ", "user_id", 256), read_id(" u1", "user_id", 256, {" u1": 0})
        ('u1', ' u1')
        >>> try:
        ...     read_id("  ", "user_id", 256)
        ... except HTTPException as err:
        ...     print(err.status_code, err.detail)
        422 user_id '  ' is only whitespace
        >>> [read_id(v, "user_id", 256, integer=True) for v in ("007", " +7 ", "7.0", "x")]
        ['7', '7', '7', 'x']
        >>> read_id(" " * 300 + "u1", "user_id", 256)
        'u1'
    """
    # The limit is on the id read, not on the text sent: "u1" padded past the limit is
    # user u1, as a file's cell is.  Text over the limit as given is never kept as given
    # (it was refused before the limit moved), so the store is not asked about it.
    value = check_id(value, what, sys.maxsize)
    bare = value.strip()
    if len(bare) > max_chars:
        raise HTTPException(422, too_long(what, bare, value, max_chars))
    if integer and bare:
        number = whole_number(bare)
        if number is not None:
            bare = str(number)
    if bare == value or (len(value) <= max_chars and value in held):
        return value
    if not bare:
        shown = repr(value) if len(value) <= max_chars else f"of {len(value)} characters"
        raise HTTPException(422, f"{what} {shown} is only whitespace")
    if len(bare) > max_chars:  # a whole number written short: "1e300"
        raise HTTPException(422, too_long(what, bare, value, max_chars))
    return bare


def too_long(what: str, read: str, given: str, max_chars: int) -> str:
    """The 422's detail for an id over the limit: its length as read (without its
    surrounding whitespace, a whole number as its digits), and as given where that differs.

    Example:
        >>> too_long("user_id", "u" * 300, " " + "u" * 300, 256)
        'user_id is 300 characters (301 as given); the limit is 256'
    """
    given_part = f" ({len(given)} as given)" if len(given) != len(read) else ""
    return f"{what} is {len(read)} characters{given_part}; the limit is {max_chars}"


def check_text(value: str, what: str) -> str:
    """Text any database can store, or a 422 ``HTTPException`` naming the field: no NUL
    character (PostgreSQL refuses it) and no lone surrogate (JSON's ``\\ud800`` escape
    decodes to one, and it has no UTF-8 form).

    Example:
        >>> check_text("Amélie (2001)", "title")
        'Amélie (2001)'
        >>> try:
        ...     check_text("Bad \\ud800", "title")
        ... except HTTPException as err:
        ...     print(err.status_code, err.detail)
        422 title is not valid unicode
    """
    if "\x00" in value:
        raise HTTPException(422, f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPException(422, f"{what} is not valid unicode") from None
    return value


def validation_message(errors) -> str:
    """One line from pydantic's error list: ``where: what`` for each error, a field of
    the body named by its path in the body as JSONPath-like text (``answers[0].rating``,
    the JSON the client wrote), a query or path parameter as ``query n``.

    Example:
        >>> validation_message([{"loc": ("query", "n"), "msg": "Input should be > 0"}])
        'query n: Input should be > 0'
        >>> validation_message([{"loc": ("body", "answers", 0, "rating"), "msg": "Field required"}])
        'answers[0].rating: Field required'
        >>> validation_message([{"loc": ("body", "genres", 0), "msg": "Input should be text"}])
        'genres[0]: Input should be text'
    """
    parts = []
    for err in errors:
        loc = list(err.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body":
            where = field_path(loc[1:])
        elif len(loc) > 1:
            where = f"{loc[0]} {field_path(loc[1:])}"
        else:
            where = " ".join(str(x) for x in loc)
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid request"


def field_path(loc) -> str:
    """A location in a JSON value as text: a list position in brackets, a key after a dot
    (a location's positions arrive as numbers, or as their digits from the 422's
    ``errors``).

    Example:
        >>> field_path(["ratings", 0, "item_id"]), field_path(["genres", "1"])
        ('ratings[0].item_id', 'genres[1]')
        >>> field_path(["features", "year", "[key]"])
        'features.year (key)'
    """
    out = ""
    for part in loc:
        # pydantic's mark for a mapping's key (the key itself is the part before it)
        if part == "[key]":
            out += " (key)"
        elif isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def body_tags(route) -> frozenset:
    """The tags of a route's body when it is a tagged union of forms (pydantic's
    ``Tag`` and ``Discriminator``): an error's location names the form after
    ``"body"``, a name the client never wrote, which the 422 leaves out.

    Example:
        >>> from types import SimpleNamespace
        >>> from typing import Annotated
        >>> body = Annotated[int, Tag("one")] | Annotated[list, Tag("many")]
        >>> field = SimpleNamespace(field_info=SimpleNamespace(annotation=body))
        >>> sorted(body_tags(SimpleNamespace(body_field=field))), body_tags(None)
        (['many', 'one'], frozenset())
    """
    field = getattr(route, "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return frozenset(
        meta.tag
        for member in typing.get_args(annotation)
        for meta in getattr(member, "__metadata__", ())
        if isinstance(meta, Tag)
    )


def install_error_handlers(app) -> None:
    """422 with a one-line ``detail`` for bad input, plain JSON for HTTP errors, and
    500 without a stack trace (logged with an error id) for anything unexpected."""
    logger = logging.getLogger(ERROR_LOGGER)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        tags = body_tags(request.scope.get("route"))
        errors = []
        for e in exc.errors():
            loc = list(e.get("loc", ()))
            if len(loc) > 1 and loc[0] == "body" and loc[1] in tags:
                del loc[1]  # the body's form (its tag), which the client never wrote
            errors.append({"loc": [str(x) for x in loc], "msg": str(e.get("msg", ""))})
        return JSONResponse(
            status_code=422, content={"detail": validation_message(errors), "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail, headers = str(exc.detail), dict(getattr(exc, "headers", None) or {})
        if exc.status_code in (404, 405) and detail == HTTPStatus(exc.status_code).phrase:
            # Starlette's own (/openapi.json, the static files): the bare status phrase.
            detail, headers = plain_error(request.scope, exc.status_code, headers)
        return JSONResponse(
            status_code=exc.status_code, content={"detail": detail}, headers=headers
        )

    refusals = app.state.store_refusals = RefusalLog(logger)
    # The store says when it answers again after failing, which ends an outage's log.
    db = getattr(getattr(app.state, "store", None), "db", None)
    if db is not None and hasattr(db, "on_back"):
        db.on_back = refusals.answered

    @app.exception_handler(StoreUnavailableError)
    async def store_down(request: Request, exc: StoreUnavailableError):
        refusals.refused(one_line(exc))
        return JSONResponse(
            status_code=503,
            content={"detail": "the ratings store is unavailable; try again shortly"},
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(StoreError)
    async def bad_value(request: Request, exc: StoreError):
        # The store refuses bad input with a message naming the row and field at fault.
        return JSONResponse(status_code=422, content={"detail": one_line(exc)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        error_id = uuid.uuid4().hex[:12]
        logger.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            status_code=500,
            content={"detail": f"internal error (id {error_id}); the service log has the details"},
        )


# While the store is down every request that needs it is refused (503): the first
# refusal is logged at once, then one line with a count every this many seconds.  A
# line per refusal buried the log (902 lines in 3 s from three clients).
STORE_DOWN_LOG_S = 10.0
# Refusals this many intervals apart belong to two outages: the second is said at once.
QUIET_OUTAGE_ENDS = 3


class RefusalLog:
    """The log of requests refused because the store is unavailable, rate-limited: the
    first refusal of an outage is logged with its reason; later ones are counted, and
    every ``every`` seconds one line gives the count since the last line and the latest
    reason.  A refusal :data:`QUIET_OUTAGE_ENDS` intervals or more after the previous one
    starts a new outage (logged at once); refusals no line counted yet are said in it.
    When the store answers again (:meth:`answered`) one line ends the outage: how long
    it lasted and how many requests it refused, so that each outage is bracketed.

    Example:
        >>> import logging
        >>> now = [0.0]
        >>> log = RefusalLog(logging.getLogger("doc"), every=10, clock=lambda: now[0])
        >>> log.refused("down")  # logged: the first of an outage
        True
        >>> now[0] = 4.0
        >>> log.refused("down")  # counted
        False
        >>> now[0] = 10.5
        >>> log.refused("down")  # logged: "2 requests ... in the last 10 s"
        True
        >>> now[0] = 12.0
        >>> log.answered()  # logged: "answers again ... 3 requests answered 503"
        True
        >>> log.answered()  # no outage open: nothing to say
        False
    """

    def __init__(self, logger: logging.Logger, every: float = STORE_DOWN_LOG_S, clock=None):
        self.logger = logger
        self.every = every
        self.clock = time.monotonic if clock is None else clock
        self.lock = threading.Lock()
        self.latest: float | None = None  # the latest refusal
        self.said: float = 0.0  # when the latest line was logged
        self.unsaid = 0  # refusals since that line
        self.began: float | None = None  # the first refusal of the outage, while one is open
        self.total = 0  # refusals of the open outage

    def refused(self, reason: str) -> bool:
        """Count one refusal; whether a line was logged for it."""
        with self.lock:
            now = self.clock()
            new_outage = (
                self.began is None
                or self.latest is None
                or now - self.latest >= QUIET_OUTAGE_ENDS * self.every
            )
            if new_outage:
                self.began, self.total = now, 0
            self.latest = now
            self.unsaid += 1
            self.total += 1
            if not new_outage and now - self.said < self.every:
                return False
            count, self.unsaid = self.unsaid, 0
            since, self.said = self.said, now
        if new_outage:
            left = count - 1
            self.logger.error(
                "the ratings store is unavailable; requests that need it are answered 503 "
                "(counted, and logged every %g s while it lasts%s): %s",
                self.every,
                f"; {left} more were refused after the previous outage's last line" if left else "",
                reason,
            )
        else:
            self.logger.error(
                "the ratings store is still unavailable: %d requests answered 503 in the "
                "last %.0f s: %s",
                count,
                now - since,
                reason,
            )
        return True

    def answered(self) -> bool:
        """The store answered again: end the open outage with one line (how long since
        its first refusal, how many requests it refused); whether a line was logged."""
        with self.lock:
            if self.began is None:
                return False
            now = self.clock()
            began, total, unsaid = self.began, self.total, self.unsaid
            self.began, self.total, self.unsaid = None, 0, 0
        self.logger.warning(
            "the ratings store answers again, %.1f s after the outage's first refusal: "
            "%d requests were answered 503 in it (%d since the previous line)",
            now - began,
            total,
            unsaid,
        )
        return True


def plain_error(scope, status: int, headers: dict) -> tuple[str, dict]:
    """The detail and headers of a 404 or 405 that Starlette raised with no detail of its
    own, said as the routes' are (:meth:`CheckedRoute.handle`, :class:`NoRoute`).

    Example:
        >>> scope = {"method": "POST", "raw_path": b"/static/app.js", "path": "/static/app.js"}
        >>> plain_error(scope, 405, {"Allow": "GET, HEAD"})
        ("POST is not allowed on '/static/app.js'; it takes GET, HEAD", {'Allow': 'GET, HEAD'})
        >>> plain_error(scope, 404, {})[0]
        "nothing at the path '/static/app.js'"
    """
    path = sent_path(scope)[:LOGGED_PATH_CHARS]
    if status == 404:
        return f"nothing at the path {path!r}", headers
    allowed = allowed_methods(scope.get("router"), scope) or [
        m.strip() for m in headers.get("Allow", "").split(",") if m.strip()
    ]
    method = scope.get("method", "")[:LOGGED_METHOD_CHARS]
    headers = {**headers, "Allow": ", ".join(allowed)}
    return f"{method} is not allowed on {path!r}; it takes {', '.join(allowed)}", headers


def one_line(err) -> str:
    """An error's message on one line.

    Example:
        >>> one_line(ValueError("a\\n b"))
        'a b'
    """
    return " ".join(part.strip() for part in str(err).splitlines() if part.strip())


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object per line (access lines are JSON already)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == ACCESS_LOGGER:
            return message
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=True)
