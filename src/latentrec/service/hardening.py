"""What stands between the network and the handlers: limits, the token, errors, the log.

Owns the request-body limit (:class:`BodyLimit`, pure ASGI: a declared or streamed body
over the limit gets 413 before a handler runs, one not received whole in time 408), the
browser headers (:class:`SecurityHeaders`: nosniff, a content security policy, no
framing), the per-request access log and
metrics (:class:`AccessLog`: one JSON line per request, the route *template* as label),
the route class (:class:`CheckedRoute`: a query parameter, body or JSON key it would
ignore is a 422, and so are a query number not written as JSON writes it and a body not
sent as JSON; ids in a path are matched as percent-encoded segments of the path as sent;
a GET route answers HEAD, and a 405 lists every method of its path), the 404 naming a
path no route takes (:class:`NoRoute`),
the bearer-token check (:func:`token_matches`, constant-time through
``hmac.compare_digest``), the id check (:func:`check_id`: ids are opaque text; empty,
over-long, NUL and lone surrogates are refused with 422) and the error responses
(:func:`install_error_handlers`: a one-line ``detail`` for 4xx, 503 when the store is
unreachable, never a stack trace for 5xx).
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import json
import logging
import os
import re
import time
import typing
import uuid
from http import HTTPStatus
from urllib.parse import quote, unquote, unquote_to_bytes

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import Tag
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound

from ..store import StoreError, StoreUnavailableError

ACCESS_LOGGER = "latentrec.access"
ERROR_LOGGER = "latentrec.service"

# Paths (and ids in them) are cut to this many characters in the access log.
LOGGED_PATH_CHARS = 300
# A method (any token the client chose) is cut to this many in the access log.
LOGGED_METHOD_CHARS = 20

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


class CheckedRoute(APIRoute):
    """A route that says what it ignored: a query parameter it does not take, a
    single-valued one given twice, a body sent to a route that takes none, or a JSON
    body with a key twice in one object is a 422 naming it, where FastAPI would drop the
    parameter, keep one of the values, drop the body and keep the last of the keys.  A
    number in the query is read only as JSON writes it (:func:`number_problems`), and a
    body only when sent as JSON (:func:`is_json`; its errors: :func:`parsed_body`).

    A GET route answers HEAD (as GET, the server sending no body); a method the route
    does not take is a 405 listing in ``Allow`` every method its path is answered with
    (:meth:`handle`).

    ``app.router.route_class = CheckedRoute`` before the routes are added.  Routes
    left out of the OpenAPI page (the web page at ``/``) take any query.

    A route with ids in its path (``/users/{user_id}/explain/{item_id}``) is matched on
    the path as the client sent it, each id being one percent-encoded segment
    (``/users/a%2Fexplain%2Fb/ratings`` is user ``a/explain/b``); see :meth:`matches`
    and :meth:`with_slashes`.
    """

    # Whether this is a with_slashes twin, whose ids may hold literal slashes.
    takes_slashes = False

    def matches(self, scope):
        """Match the path (:meth:`path_matches`), and the method: a GET route answers
        HEAD too, and a route taking the path with another method is a partial match
        (the router's 405, :meth:`handle`), except a :meth:`with_slashes` twin's.

        A twin reads a path's slashes as an id's only to answer its own method:
        ``GET /users/1/nothing`` is no request for ``DELETE /users/{user_id}`` with the
        user ``1/nothing``, and was answered 405 as if it were.

        Example:
            >>> route = CheckedRoute("/users/{user_id}", lambda user_id: None,
            ...                      methods=["DELETE"])
            >>> def ask(route, method, raw):
            ...     scope = {"type": "http", "method": method, "raw_path": raw.encode(),
            ...              "path": unquote(raw)}
            ...     return route.matches(scope)[0].name
            >>> ask(route, "DELETE", "/users/1"), ask(route, "GET", "/users/1")
            ('FULL', 'PARTIAL')
            >>> twin = route.with_slashes()
            >>> ask(twin, "DELETE", "/users/1/x"), ask(twin, "GET", "/users/1/x")
            ('FULL', 'NONE')
            >>> ask(CheckedRoute("/genres", lambda: None), "HEAD", "/genres")
            'FULL'
        """
        match, child = self.path_matches(scope)
        if match is Match.PARTIAL:
            if scope.get("method") == "HEAD" and "GET" in self.methods:
                return Match.FULL, child
            if self.takes_slashes:
                return Match.NONE, {}
        return match, child

    async def handle(self, scope, receive, send):
        """Run the route; a method it does not take is a 405 whose ``Allow`` lists every
        method the path is answered with, by any route (:func:`allowed_methods`), where
        Starlette's listed those of the first route it tried."""
        method = scope.get("method")
        if method in self.methods:
            return await super().handle(scope, receive, send)
        if method == "HEAD" and "GET" in self.methods:
            # Starlette's check would refuse HEAD; the server sends HEAD no body.
            return await self.app(scope, receive, send)
        allowed = allowed_methods(scope.get("router"), scope) or sorted(self.methods)
        raise StarletteHTTPException(
            405,
            f"{method[:LOGGED_METHOD_CHARS]} is not allowed on "
            f"{sent_path(scope)[:LOGGED_PATH_CHARS]!r}; it takes {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )

    def path_matches(self, scope):
        """Match the undecoded path (``scope["raw_path"]``); the ids are decoded after.

        Starlette routes on the decoded path, where ``%2F`` is already ``/``: a user
        ``a/explain/b`` was routed to ``/explain/`` and a client could not say where an
        id ends.  Here ``[^/]+`` (the ``{user_id}`` template) is one segment, and only
        then is it decoded.  Overriding the route's match is the least code for it: a
        convertor sees only the decoded text, and an ASGI step rewriting
        ``scope["path"]`` would change what every other route, the static files and
        the access log see.

        Example:
            >>> route = CheckedRoute("/users/{user_id}/ratings", lambda user_id: None)
            >>> def ask(raw):
            ...     scope = {"type": "http", "method": "GET", "raw_path": raw.encode(),
            ...              "path": unquote(raw)}
            ...     match, child = route.path_matches(scope)
            ...     return match.name, child.get("path_params")
            >>> ask("/users/a%2Fexplain%2Fb/ratings")
            ('FULL', {'user_id': 'a/explain/b'})
            >>> ask("/users/a/b/ratings")  # literal slashes: with_slashes's twin's
            ('NONE', None)
        """
        if scope["type"] != "http" or not self.param_convertors:
            return super().matches(scope)
        path = raw_route_path(scope)
        if self.takes_slashes and path.endswith("/"):
            # A trailing slash is never the end of an id written with literal slashes
            # (an id ending in "/" is sent as %2F): such a path is SlashRedirect's.
            return Match.NONE, {}
        match, child = super().matches({**scope, "path": path})
        if match is not Match.NONE:
            params = child["path_params"]
            for name in self.param_convertors:
                # Bytes that are not UTF-8 (%FF) become lone surrogates, which the
                # handler's check_id refuses by name; unquote's default replaced them
                # with U+FFFD, another user's id.
                params[name] = unquote(params[name], errors="surrogateescape")
        return match, child

    def with_slashes(self) -> CheckedRoute:
        """A twin of this route whose ids may hold literal slashes (``/users/a/b/ratings``
        is user ``a/b``), hidden from the OpenAPI document.

        Clients sent such paths when the routes took ``{user_id:path}``; the twins,
        added after every route, keep them working where no route takes the path
        segment by segment, in the order the routes were added (so an id holding
        ``/explain/`` or ending in ``/ratings`` must be encoded: ``%2F``).

        Example:
            >>> route = CheckedRoute("/items/{item_id}", lambda item_id: None)
            >>> twin = route.with_slashes()
            >>> scope = {"type": "http", "method": "GET", "raw_path": b"/items/a/b",
            ...          "path": "/items/a/b"}
            >>> twin.matches(scope)[1]["path_params"], twin.include_in_schema
            ({'item_id': 'a/b'}, False)
        """
        twin = copy.copy(self)
        # compile_path writes each {name} as (?P<name>[^/]+) and escapes the rest.
        twin.path_regex = re.compile(self.path_regex.pattern.replace("[^/]+", ".*"))
        twin.include_in_schema = False
        twin.takes_slashes = True
        return twin

    def get_route_handler(self):
        handler = super().get_route_handler()
        if not self.include_in_schema:
            return handler
        fields = query_fields(self.dependant)
        takes = {f.alias: is_list_annotation(f.field_info.annotation) for f in fields}
        numbers = {
            f.alias: number_kind(f.field_info.annotation)
            for f in fields
            if number_kind(f.field_info.annotation) is not None
        }
        has_body = self.body_field is not None
        needs_body = has_body and self.body_field.field_info.is_required()
        has_ids = bool(self.param_convertors)

        async def checked(request: Request):
            if has_ids and LONE_PERCENT.search(sent_path(request.scope)):
                # unquote keeps "%ZZ" as it is: /users/%ZZ and /users/%25ZZ were one user.
                shown = sent_path(request.scope)[:LOGGED_PATH_CHARS]
                raise RequestValidationError(
                    [{"loc": ("path",), "msg": f"{shown!r} {LONE_PERCENT_MSG}", "type": "path"}]
                )
            # Checked first: Starlette decoded %FF in a value to U+FFFD, another text.
            problems = query_text_problems(request.scope.get("query_string", b""))
            if problems:
                raise RequestValidationError(problems)
            given = request.query_params.multi_items()
            problems = query_problems(given, takes) + number_problems(given, numbers)
            if problems:
                raise RequestValidationError(problems)
            # BodyLimit has read the body already: reading it here costs nothing.
            body = await request.body()
            if body:
                refuse_encoded(request.headers.get("content-encoding"))
            if not has_body:
                if body:
                    # Dropped silently, as an unknown query parameter would have been.
                    raise body_error(f"this route takes no body ({len(body)} bytes were sent)")
                return await handler(request)
            content_type = request.headers.get("content-type")
            if not body:
                if needs_body:
                    raise body_error(
                        "none was sent; this route takes a JSON object "
                        "(Content-Type: application/json)"
                    )
                return await handler(request)
            if not is_json(content_type):
                # FastAPI would leave it unparsed and report "Input should be a valid
                # dictionary", naming neither the header nor what it should be.
                given = (
                    f"the request's is {content_type[:100]!r}"
                    if content_type
                    else "the request has none"
                )
                raise body_error(f"must be JSON sent with Content-Type: application/json ({given})")
            # Kept where Starlette's Request.json() looks, so FastAPI reads the body
            # parsed here rather than parsing it again.
            request._json = parsed_body(body)
            if not isinstance(request._json, dict):
                # pydantic's "a valid dictionary or object to extract fields from".
                raise body_error(
                    f"the body must be a JSON object ({{...}}); this one is "
                    f"{json_kind(request._json)}"
                )
            return await handler(request)

        return checked


# The order in which an Allow header lists methods.
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(router, scope) -> list[str]:
    """The methods some route of ``router`` answers the request's path with (HEAD with
    GET), in :data:`METHOD_ORDER`: what a 405's ``Allow`` lists (RFC 9110 15.5.6).
    A :meth:`CheckedRoute.with_slashes` twin is left out, as it answers only its own
    method.

    Example:
        >>> from types import SimpleNamespace
        >>> routes = [CheckedRoute("/items", lambda: None, methods=["POST"]),
        ...           CheckedRoute("/items", lambda: None, methods=["GET"]),
        ...           CheckedRoute("/items/{item_id}", lambda item_id: None)]
        >>> scope = {"type": "http", "method": "PUT", "raw_path": b"/items",
        ...          "path": "/items"}
        >>> allowed_methods(SimpleNamespace(routes=routes), scope)
        ['GET', 'HEAD', 'POST']
    """
    found: set[str] = set()
    for route in getattr(router, "routes", ()):
        methods = getattr(route, "methods", None)
        if not methods or getattr(route, "takes_slashes", False):
            continue
        matcher = getattr(route, "path_matches", route.matches)
        if matcher(scope)[0] is not Match.NONE:
            found.update(methods)
            if "GET" in methods:
                found.add("HEAD")
    return sorted(found, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m))


class NoRoute:
    """The router's answer to a path no route takes: a 404 naming the path as sent
    (Starlette's said only "Not Found").

    Example:
        >>> import asyncio
        >>> scope = {"type": "http", "raw_path": b"/users/1/nothing", "path": "/users/1/nothing"}
        >>> try:
        ...     asyncio.run(NoRoute(None)(scope, None, None))
        ... except StarletteHTTPException as err:
        ...     print(err.status_code, err.detail)
        404 no route takes the path '/users/1/nothing'
    """

    def __init__(self, default):
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.default(scope, receive, send)
        shown = sent_path(scope)[:LOGGED_PATH_CHARS]
        raise StarletteHTTPException(404, f"no route takes the path {shown!r}")


def parsed_body(body: bytes):
    """A JSON request body, parsed; a 422 (``RequestValidationError``) saying what is
    wrong with one that cannot be: a key twice in one object, bytes that are not UTF-8,
    the JSON's own error at its line and column, nesting or a number Python's parser
    cannot take.

    Example:
        >>> parsed_body(b'{"rating": 4}')
        {'rating': 4}
        >>> def why(body):
        ...     try:
        ...         parsed_body(body)
        ...     except RequestValidationError as err:
        ...         return err.errors()[0]["msg"]
        >>> why(b'{"rating": 4,}')
        'JSON decode error: Expecting property name enclosed in double quotes at line 1, column 14'
        >>> why(b'{"user_id": "\\xff"}')
        'not UTF-8 (byte 0xff at offset 13); JSON is sent as UTF-8'
    """
    try:
        value = json.loads(body, object_pairs_hook=unique_keys)
    except DuplicateKey as dup:
        raise body_error(str(dup)) from None
    except RecursionError:
        # Python's parser recurses per level: "[[[[..." (a 200 kB body) runs it out of
        # stack (FastAPI's own parse: a 400 naming nothing).
        raise body_error("the JSON is nested too deeply") from None
    except UnicodeDecodeError as err:
        # FastAPI's own parse: a 400 "There was an error parsing the body".
        raise body_error(
            f"not UTF-8 (byte 0x{body[err.start]:02x} at offset {err.start}); JSON is sent as UTF-8"
        ) from None
    except json.JSONDecodeError as err:
        # FastAPI's named only the offset, as if it were a list position ("[43]").
        raise body_error(
            f"JSON decode error: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except ValueError:
        # Python refuses to read an integer of over 4300 digits (a 400 "error parsing
        # the body" that named nothing).
        raise body_error("a number in it has too many digits") from None
    return value


def raw_route_path(scope) -> str:
    """The request's path as the client encoded it (:func:`sent_path`), for matching ids
    segment by segment, with its percent-encoded unreserved characters decoded
    (:func:`unreserved_decoded`: ``/user%73/1`` is ``/users/1``, RFC 3986 6.2.2.2).

    The path as sent is taken even where ``scope["path"]`` is not its decoding:
    Starlette's test client decodes twice (``a%252Fb`` arrives as ``a/b``).

    Example:
        >>> raw_route_path({"path": "/users/a/b", "raw_path": b"/users/a%2Fb"})
        '/users/a%2Fb'
        >>> raw_route_path({"path": "/users/1/ratings", "raw_path": b"/user%73/1/rating%73"})
        '/users/1/ratings'
    """
    return unreserved_decoded(sent_path(scope))


def sent_path(scope) -> str:
    """The request's path as the client sent it, percent-encoding and all.

    ``scope["raw_path"]`` where the ASGI server gave it (uvicorn does, the root path
    included, as in ``scope["path"]``); otherwise ``scope["path"]`` encoded again, its
    slashes taken for separators.

    Example:
        >>> sent_path({"path": "/items/x/similar", "raw_path": b"/items/x%2Fsimilar"})
        '/items/x%2Fsimilar'
        >>> sent_path({"path": "/users/50% off"})
        '/users/50%25%20off'
    """
    raw = scope.get("raw_path")
    if raw is None:
        return quote(scope["path"], safe="/")
    # An HTTP request line is ASCII; latin-1 maps any byte to one character.
    return raw.decode("latin-1")


# RFC 3986 2.3: the characters a URI means the same by, encoded or not.
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PERCENT_BYTE = re.compile(r"%([0-9A-Fa-f]{2})")


def unreserved_decoded(path: str) -> str:
    """``path`` with each percent-encoded unreserved character (a letter, digit, ``-``,
    ``.``, ``_``, ``~``) written as itself; every other ``%XX`` kept, so an encoded
    ``/`` (``%2F``) stays inside its segment.

    Example:
        >>> unreserved_decoded("/it%65ms/a%2Fb%7e%2e%41%25")
        '/items/a%2Fb~.A%25'
    """
    if "%" not in path:
        return path

    def one(match):
        char = chr(int(match.group(1), 16))
        return char if char in UNRESERVED else match.group(0)

    return PERCENT_BYTE.sub(one, path)


class SlashRedirect(BaseRoute):
    """The router's last route: a path ending in ``/`` that no route took, but which one
    takes without its trailing slashes, is answered 307 to that path, its query kept.

    Starlette's own retry (``redirect_slashes``) edits only the decoded ``path``, so it
    missed the id routes (matched on the path as sent) and would have sent a decoded
    id back (``a%3Fb/`` to ``a?b``): here the ``Location`` is the path as sent, less the
    slashes, and relative, so it never names another host.  ``routes`` is the router's
    own list (the routes added after this one are seen too).

    Example:
        >>> route = CheckedRoute("/items/{item_id}", lambda item_id: None)
        >>> last = SlashRedirect([route])
        >>> def ask(raw):
        ...     scope = {"type": "http", "method": "GET", "raw_path": raw.encode(),
        ...              "path": unquote(raw), "query_string": b"n=2"}
        ...     match, child = last.matches(scope)
        ...     return match.name, child.get(SlashRedirect.KEY)
        >>> ask("/items/a%3Fb/"), ask("/items/a"), ask("/genres/")
        (('FULL', '/items/a%3Fb?n=2'), ('NONE', None), ('NONE', None))
    """

    KEY = "latentrec.slash_redirect"

    def __init__(self, routes: list):
        self.routes = routes

    def matches(self, scope):
        if scope["type"] != "http":
            return Match.NONE, {}
        sent = sent_path(scope)
        bare = sent.rstrip("/")
        # "//host/..." in a Location is another site's address (protocol-relative).
        if bare == sent or not bare or bare.startswith("//"):
            return Match.NONE, {}
        cut = len(sent) - len(bare)
        trial = {
            **scope,
            "path": scope["path"][:-cut] if scope["path"].endswith("/" * cut) else bare,
            "raw_path": bare.encode("latin-1"),
        }
        for route in self.routes:
            if route is not self and route.matches(trial)[0] is not Match.NONE:
                query = scope.get("query_string", b"").decode("latin-1")
                return Match.FULL, {self.KEY: bare + ("?" + query if query else "")}
        return Match.NONE, {}

    async def handle(self, scope, receive, send):
        location = scope[self.KEY].encode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [(b"location", location), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def url_path_for(self, name, /, **params):
        raise NoMatchFound(name, params)


def refuse_encoded(encoding: str | None) -> None:
    """A 415 ``HTTPException`` naming a request body's ``Content-Encoding`` (the service
    decodes none, RFC 7694: ``Accept-Encoding: identity`` says so); ``identity`` or none
    passes.  Read as the JSON it is not, a gzip body was "not UTF-8 (byte 0x8b ...)".

    Example:
        >>> refuse_encoded(None), refuse_encoded("identity")
        (None, None)
        >>> try:
        ...     refuse_encoded("gzip")
        ... except StarletteHTTPException as err:
        ...     print(err.status_code, err.detail.split(";")[0])
        415 the body is sent with Content-Encoding 'gzip'
    """
    if encoding is None or encoding.strip().lower() in ("", "identity"):
        return
    raise StarletteHTTPException(
        415,
        f"the body is sent with Content-Encoding {encoding[:50]!r}; this service takes "
        "bodies unencoded (send them without Content-Encoding)",
        headers={"Accept-Encoding": "identity"},
    )


def json_kind(value) -> str:
    """What a parsed JSON value is, in JSON's words, with an article.

    Example:
        >>> json_kind([1]), json_kind("x"), json_kind(True), json_kind(2.5), json_kind(None)
        ('an array', 'a string', 'a boolean', 'a number', 'null')
    """
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else "an object"


def body_error(message: str) -> RequestValidationError:
    """A 422 about the body as a whole, in pydantic's shape."""
    return RequestValidationError([{"loc": ("body",), "msg": message, "type": "body"}])


def query_fields(dependant) -> list:
    """The query parameters of a route's dependant and of its dependencies."""
    out, pending = [], [dependant]
    while pending:
        current = pending.pop()
        out.extend(current.query_params)
        pending.extend(current.dependencies)
    return out


class DuplicateKey(ValueError):
    """A JSON object with a key twice."""


def unique_keys(pairs: list) -> dict:
    """A JSON object's pairs as a dict, or :class:`DuplicateKey` naming a key given twice
    (``json.loads`` would keep the last silently: ``{"rating": 4, "rating": 5}`` is 5).

    Example:
        >>> json.loads('{"a": 1, "b": {"c": 2}}', object_pairs_hook=unique_keys)
        {'a': 1, 'b': {'c': 2}}
        >>> json.loads('{"rating": 4, "rating": 5}', object_pairs_hook=unique_keys)
        Traceback (most recent call last):
        ...
        latentrec.service.hardening.DuplicateKey: the key 'rating' appears twice in one object
    """
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return out


# How a 422 names a query parameter sent without a name ("?=5").
NAMELESS = "a query parameter with no name"


def query_problems(given, takes: dict) -> list[dict]:
    """The errors (pydantic's shape) of a query: a parameter the route does not take
    (``takes`` maps each it takes to whether it is a list), or one taking a single
    value given more than once.

    Example:
        >>> takes = {"n": False, "items": True}
        >>> query_problems([("n", "5"), ("items", "1"), ("items", "2")], takes)
        []
        >>> for e in query_problems([("n", "5"), ("n", "6"), ("rules", "1")], takes):
        ...     print(e["loc"], e["msg"])
        ('query', 'n') given 2 times; it takes one value
        ('query', 'rules') this route takes no such parameter (it takes items, n)
        >>> query_problems([("", "5")], takes)[0]["loc"]
        ('query', 'a query parameter with no name')
    """
    counts: dict[str, int] = {}
    for name, _ in given:
        counts[name] = counts.get(name, 0) + 1
    problems = []
    for name, count in counts.items():
        if name not in takes:
            known = ", ".join(sorted(takes)) or "no query parameters"
            msg = f"this route takes no such parameter (it takes {known})"
        elif count > 1 and not takes[name]:
            msg = f"given {count} times; it takes one value"
        else:
            continue
        # "?=5": a location "query " named nothing at all.
        where = name or NAMELESS
        problems.append({"loc": ("query", where), "msg": msg, "type": "query_parameter"})
    return problems


def query_text_problems(query: bytes) -> list[dict]:
    """The errors (pydantic's shape) of a query string's names and values that are not
    text an id or a search can be (:func:`text_problem`): a ``%`` that begins no
    ``%XX``, percent-encoded bytes that are not UTF-8 (``%FF``, an encoded surrogate),
    or a NUL character (PostgreSQL refuses it), as for an id in the path.

    Starlette decodes such bytes to U+FFFD: ``?items=%FF`` asked for the item
    ``"\\ufffd"`` and ``?search=%FF`` searched for it; it kept ``50%`` as it was, so
    ``50%`` and ``50%25`` were one search.

    Example:
        >>> query = b"n=5&items=%FF&search=a%00b&%C3%A9=caf%C3%A9+x&q%=1"
        >>> for e in query_text_problems(query):
        ...     print(e["loc"], e["msg"][:40])
        ('query', 'items') not UTF-8 (byte 0xff at offset 0); a que
        ('query', 'search') contains a NUL character
        ('query', 'q%') its name: has a '%' that begins no %XX (
    """
    problems = []
    for part in query.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        shown = name.decode("utf-8", errors="replace")[:50]
        for raw, whose in ((raw_name, "its name: "), (raw_value, "")):
            msg = text_problem(raw)
            if msg is not None:
                problems.append({"loc": ("query", shown), "msg": whose + msg, "type": "query_text"})
                break
    return problems


# A "%" that begins no "%XX" (RFC 3986 2.1): a client that did not encode a "%" it meant.
LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
LONE_PERCENT_MSG = "has a '%' that begins no %XX (a '%' itself is sent as %25)"


def text_problem(raw: bytes) -> str | None:
    """What is wrong with a part of a query (percent-encoded, ``+`` a space) as text,
    or ``None``.

    Example:
        >>> text_problem(b"caf%C3%A9+x"), text_problem(b"a%2")
        (None, "has a '%' that begins no %XX (a '%' itself is sent as %25)")
        >>> text_problem(b"%C3")
        'not UTF-8 (byte 0xc3 at offset 0); a query is percent-encoded UTF-8'
    """
    if LONE_PERCENT.search(raw.decode("latin-1")):
        return LONE_PERCENT_MSG
    data = unquote_to_bytes(raw.replace(b"+", b" "))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return (
            f"not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "a query is percent-encoded UTF-8"
        )
    if "\x00" in text:
        return "contains a NUL character"
    return None


# A number as JSON writes it (RFC 8259 6).  Python's parsers, which pydantic's lax mode
# follows, also read "1_0" as 10, "0_5" as 5, " 5", "+5", "05", ".5" and "inf": a typo
# such as calibrate=0_1 became calibrate=1, silently.
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A whole number: a body's strict models refuse 5.0 for one (n), and so does the query.
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


def number_problems(given, numbers: dict) -> list[dict]:
    """The errors (pydantic's shape) of the query parameters named in ``numbers`` (each
    to ``int`` or ``float``, :func:`number_kind`) whose value is not such a number as
    JSON writes it (:data:`JSON_INTEGER`, :data:`JSON_NUMBER`), as a body's are.

    Example:
        >>> given = [("n", "5"), ("diversity", "0_5"), ("offset", "1e3"), ("search", "05")]
        >>> for e in number_problems(given, {"n": int, "diversity": float, "offset": int}):
        ...     print(e["loc"], e["msg"])
        ('query', 'diversity') '0_5' is not a number as JSON writes it (such as 5, 0.25 or 1e-3)
        ('query', 'offset') '1e3' is not a whole number as JSON writes it (such as 5)
    """
    problems = []
    for name, value in given:
        kind = numbers.get(name)
        if kind is int and not JSON_INTEGER.fullmatch(value):
            msg = f"{value[:50]!r} is not a whole number as JSON writes it (such as 5)"
        elif kind is float and not JSON_NUMBER.fullmatch(value):
            msg = f"{value[:50]!r} is not a number as JSON writes it (such as 5, 0.25 or 1e-3)"
        else:
            continue
        problems.append({"loc": ("query", name), "msg": msg, "type": "query_number"})
    return problems


def number_kind(annotation):
    """``int`` or ``float`` where a parameter's annotation is that number (optional or
    in a list), else ``None`` (``bool`` is no number).

    Example:
        >>> number_kind(int), number_kind(float | None), number_kind(list[int] | None)
        (<class 'int'>, <class 'float'>, <class 'int'>)
        >>> number_kind(bool), number_kind(list[str] | None)
        (None, None)
    """
    if annotation in (int, float):
        return annotation
    for arg in typing.get_args(annotation):
        kind = number_kind(arg)
        if kind is not None:
            return kind
    return None


def is_list_annotation(annotation) -> bool:
    """Whether a parameter's annotation takes several values (``list[str] | None``).

    Example:
        >>> is_list_annotation(list[str] | None), is_list_annotation(int)
        (True, False)
    """
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(is_list_annotation(a) for a in typing.get_args(annotation) if a is not type(None))


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this content type as JSON (none given: it does
    not, its ``strict_content_type``: a page on another site can post a body without
    one, no CORS check asked).

    Example:
        >>> is_json("application/json; charset=utf-8"), is_json(None), is_json("text/plain")
        (True, False, False)
        >>> is_json("application/merge-patch+json")
        True
    """
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
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

    @app.exception_handler(StoreUnavailableError)
    async def store_down(request: Request, exc: StoreUnavailableError):
        logger.error("the ratings store is unavailable: %s", one_line(exc))
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
