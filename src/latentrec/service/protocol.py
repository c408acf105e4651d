"""The HTTP/1.1 connection of ``latentrec serve``: uvicorn's h11 protocol with a deadline
for each request's headers.

uvicorn closes a connection left idle after a response (``timeout_keep_alive``), but sets
no limit on a new connection that sends nothing, or on a request whose headers arrive a
byte at a time: each such connection ("slowloris") stays open for as long as its client
likes.  :class:`HeaderDeadline` closes a connection whose next request's headers are not
all in within ``request_timeout`` seconds of the moment it began waiting for them (the
connection opening, or the previous response ending).  The body has its own deadline,
in the app (:class:`latentrec.service.hardening.BodyLimit`).
"""

from __future__ import annotations

import functools

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
