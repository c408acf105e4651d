"""How a request finds its route, and what a route refuses to ignore.

The route class (:class:`CheckedRoute`): a query parameter, body or JSON key it would
ignore is a 422, and so are a query number not written as JSON writes it
(:func:`number_problems`), query text that is not percent-encoded UTF-8
(:func:`query_text_problems`), a body not sent as a JSON object (:func:`is_json`,
:func:`parsed_body`) and an encoded one, a 415 (:func:`refuse_encoded`); ids in a path
are matched as percent-encoded segments of the path as sent (:func:`sent_path`); a GET
route answers HEAD, and a 405 lists every method of its path (:func:`allowed_methods`).
The router's last answers: a trailing slash's 307 (:class:`SlashRedirect`) and the 404
naming a path no route takes (:class:`NoRoute`).  The middlewares, the token, the error
responses and the log are :mod:`latentrec.service.hardening`'s.
"""

from __future__ import annotations

import copy
import json
import re
import typing
from urllib.parse import quote, unquote, unquote_to_bytes

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound

# Paths (and ids in them) are cut to this many characters in the access log.
LOGGED_PATH_CHARS = 300
# A method (any token the client chose) is cut to this many in the access log.
LOGGED_METHOD_CHARS = 20


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
            check_query(request, takes, numbers, has_ids)
            # BodyLimit has read the body already: reading it here costs nothing.
            body = await request.body()
            value = checked_body(body, request.headers, has_body, needs_body)
            if value is not None:
                # Kept where Starlette's Request.json() looks, so FastAPI reads the body
                # parsed here rather than parsing it again.
                request._json = value
            return await handler(request)

        return checked


def check_query(request, takes: dict, numbers: dict, has_ids: bool) -> None:
    """Raise a 422 (``RequestValidationError``) for what a route would misread in the
    request's path and query: a lone ``%`` in a path with ids, query text that is not
    percent-encoded UTF-8 (:func:`query_text_problems`), a parameter the route does not
    take or one given twice (:func:`query_problems`, ``takes``) and a number not written
    as JSON writes it (:func:`number_problems`, ``numbers``).

    Example:
        >>> from starlette.requests import Request
        >>> scope = {"type": "http", "path": "/items", "query_string": b"n=05"}
        >>> try:
        ...     check_query(Request(scope), {"n": False}, {"n": int}, False)
        ... except RequestValidationError as err:
        ...     print(err.errors()[0]["msg"])
        '05' is not a whole number as JSON writes it (such as 5)
    """
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


def checked_body(body: bytes, headers, has_body: bool, needs_body: bool):
    """A request's body parsed as the JSON object a route takes, ``None`` where it sent
    none, or an error saying what is wrong with it: 415 for a ``Content-Encoding``
    (:func:`refuse_encoded`), 422 for a body on a route that takes none, none where one
    is needed, one not sent as JSON (:func:`is_json`) or not JSON (:func:`parsed_body`),
    and JSON that is no object.

    Example:
        >>> json_type = {"content-type": "application/json"}
        >>> checked_body(b'{"n": 5}', json_type, True, True), checked_body(b"", {}, True, False)
        ({'n': 5}, None)
        >>> try:
        ...     checked_body(b"[5]", json_type, True, True)
        ... except RequestValidationError as err:
        ...     print(err.errors()[0]["msg"])
        the body must be a JSON object ({...}); this one is an array
    """
    if body:
        refuse_encoded(headers.get("content-encoding"))
    if not has_body:
        if body:
            # Dropped silently, as an unknown query parameter would have been.
            raise body_error(f"this route takes no body ({len(body)} bytes were sent)")
        return None
    if not body:
        if needs_body:
            raise body_error(
                "none was sent; this route takes a JSON object (Content-Type: application/json)"
            )
        return None
    content_type = headers.get("content-type")
    if not is_json(content_type):
        # FastAPI would leave it unparsed and report "Input should be a valid
        # dictionary", naming neither the header nor what it should be.
        given = (
            f"the request's is {content_type[:100]!r}" if content_type else "the request has none"
        )
        raise body_error(f"must be JSON sent with Content-Type: application/json ({given})")
    value = parsed_body(body)
    if not isinstance(value, dict):
        # pydantic's "a valid dictionary or object to extract fields from".
        raise body_error(
            f"the body must be a JSON object ({{...}}); this one is {json_kind(value)}"
        )
    return value


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
        latentrec.service.routing.DuplicateKey: the key 'rating' appears twice in one object
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
