"""The HTTP/1.1 connection of ``latentrec serve``: uvicorn's h11 protocol with a deadline
for each request's headers.

uvicorn closes a connection left idle after a response (``timeout_keep_alive``), but sets
no limit on a new connection that sends nothing, or on a request whose headers arrive a
byte at a time: each such connection ("slowloris") stays open for as long as its client
likes.  :class:`HeaderDeadline` closes a connection whose next request's headers are not
all in within ``request_timeout`` seconds of the moment it began waiting for them (the
connection opening, or the previous response ending).  The body has its own deadline,
in the app (:class:`latentrec.service.hardening.BodyLimit`).

A request line in absolute form (``GET http://127.0.0.1:8000/health HTTP/1.1``, which a
server MUST accept, RFC 9112 3.2.2) is read as its origin form (:func:`origin_form`):
h11 hands the whole URL on as the target, and uvicorn made it the path, a 404 on
every route.
"""

from __future__ import annotations

import functools
import re

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadline(H11Protocol):
    """uvicorn's ``H11Protocol``, closing a connection whose request headers are late.

    Made by :func:`protocol_with_deadline` (uvicorn builds one per connection).
    """

    def __init__(self, *args, request_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout
        self.header_timer = None
        # uvicorn reads each request from this one connection's next_event (its
        # handle_events, which builds the scope, is too long to copy for one line).
        next_event = self.conn.next_event

        def next_event_in_origin_form():
            event = next_event()
            return origin_form(event) if isinstance(event, h11.Request) else event

        self.conn.next_event = next_event_in_origin_form

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.wait_for_headers()

    def connection_lost(self, exc) -> None:
        self.stop_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request on this connection gets its own deadline (a pipelined one
        # already parsed leaves the client's side past IDLE, and the timer does nothing).
        if not self.transport.is_closing():
            self.wait_for_headers()

    def wait_for_headers(self) -> None:
        self.stop_header_timer()
        self.header_timer = self.loop.call_later(self.request_timeout, self.headers_late)

    def stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def headers_late(self) -> None:
        self.header_timer = None
        # IDLE: no request line and headers parsed since the wait began (none at all, or
        # a part of them in h11's buffer).  Past it, the request is the app's to time.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_with_deadline(request_timeout: float):
    """The protocol factory to give uvicorn as ``http=``: :class:`HeaderDeadline` with
    ``request_timeout`` seconds for each request's headers (picklable, so it reaches
    ``--workers`` processes too).

    Example:
        >>> protocol_with_deadline(30.0).keywords
        {'request_timeout': 30.0}
    """
    return functools.partial(HeaderDeadline, request_timeout=float(request_timeout))


# An absolute-form target (RFC 9112 3.2.2): scheme "://" authority, then path and query.
ABSOLUTE_TARGET = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)([^#]*)")


def origin_form(event: h11.Request) -> h11.Request:
    """``event`` with an absolute-form target in origin form: the path and query as the
    target (``/`` for none), the authority (less any ``user@``) as ``Host``, which the
    RFC says replaces the header sent, so the Host check judges the name the client
    asked for.  Any other target is returned as it is.

    Example:
        >>> asked = h11.Request(method="GET", target="http://u@LocalHost:8000?x=1",
        ...                     headers=[("Host", "elsewhere")])
        >>> read = origin_form(asked)
        >>> read.target, read.headers
        (b'/?x=1', <Headers([(b'host', b'LocalHost:8000')])>)
    """
    matched = ABSOLUTE_TARGET.fullmatch(event.target)
    if matched is None:
        return event
    authority = matched[1].rpartition(b"@")[2]
    rest = matched[2]
    target = rest if rest.startswith(b"/") else b"/" + rest
    headers = [(name, value) for name, value in event.headers if name != b"host"]
    try:
        return h11.Request(
            method=event.method,
            target=target,
            headers=[(b"host", authority), *headers],
            http_version=event.http_version,
        )
    except h11.LocalProtocolError:
        # Not a request h11 would take in origin form either: leave it to the 404.
        return event
