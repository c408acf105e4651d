"""The service's settings: one frozen value, checked once, passed to ``create_app``.

Owns :class:`Settings` (where the model and the ratings store are, the bearer token, the
CORS origins and the request limits), its JSON form in an environment variable (how
``latentrec serve --workers N`` hands it to each uvicorn worker process) and
:func:`parse_interval` for ``--retrain-every 24h``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

# The environment variable that carries the settings (JSON) to uvicorn's worker processes.
SETTINGS_ENV = "LATENTREC_SERVICE_SETTINGS"

# The SQLite file a store defaults to, in the model's folder.
DEFAULT_STORE_NAME = "ratings.sqlite"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs to know, checked by :meth:`check`.

    Exactly one of ``model_path`` (a model file) and ``model_dir`` (a model directory of
    versions, whose current version is served and followed) is given, unless the model
    is handed to ``create_app`` directly.  ``store_url`` is a SQLAlchemy URL or a path
    (SQLite); ``None`` means ``ratings.sqlite`` in the model's folder.

    Limits: ``max_n`` caps ``n`` (list lengths asked for), ``max_list`` caps every list a
    client sends (``items=``, ``exclude=``, ratings in one POST, onboarding answers),
    ``max_body_bytes`` caps a request body, ``max_id_chars`` caps an id;
    ``request_timeout`` is the seconds a client has to send a request's headers, and
    again its body (``latentrec serve`` applies the first; the app the second).  ``token``, when
    set, is required as ``Authorization: Bearer <token>`` on every write and admin route.
    ``cors_origins`` is empty by default: no cross-origin browser access.
    ``allowed_hosts``, when given, are the only names accepted in a request's ``Host``
    (``latentrec serve`` on a loopback address allows the loopback names only).
    ``store_timeout`` bounds, in seconds, each wait of a request on a PostgreSQL store
    (connecting, a statement, its answer, a silent server): past it the request is
    answered 503 with ``Retry-After``, and a write is not acknowledged.
    ``poll_seconds`` is how often a worker checks the model directory for a new current
    version and the store for titles added through another worker.  ``cache_users``
    bounds the users whose vectors a worker keeps (the least recently used leave first
    and are folded in again from the store when next asked for); with ``warm_users`` a
    worker folds in every stored user in the background when it starts and after each
    new version, when they all fit in the cache.

    Example:
        >>> s = Settings(model_path="model.npz").check()
        >>> s.store_location()
        'ratings.sqlite'
        >>> Settings.from_json(s.to_json()) == s
        True
    """

    model_path: str | None = None
    model_dir: str | None = None
    store_url: str | None = None
    token: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    max_n: int = 100
    max_list: int = 1000
    max_body_bytes: int = 1_048_576
    max_id_chars: int = 256
    request_timeout: float = 30.0
    store_timeout: float = 5.0
    poll_seconds: float = 1.0
    cache_users: int = 200_000
    warm_users: bool = True
    access_log: bool = True

    def check(self) -> Settings:
        """Return ``self`` if every value is usable, else raise ``ValueError`` naming it.

        Example:
            >>> try:
            ...     Settings(model_path="a.npz", model_dir="d").check()
            ... except ValueError as err:
            ...     print(err)
            give a model file or a model directory, not both
        """
        if self.model_path and self.model_dir:
            raise ValueError("give a model file or a model directory, not both")
        for name in ("max_n", "max_list", "max_body_bytes", "max_id_chars", "cache_users"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        wait = self.request_timeout
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 < wait <= 3600:
            raise ValueError(
                f"request_timeout must be a number of seconds in (0, 3600], got {wait!r}"
            )
        limit = self.store_timeout
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= 3600:
            raise ValueError(
                f"store_timeout must be a number of seconds in (0, 3600], got {limit!r}"
            )
        poll = self.poll_seconds
        # The refresher waits this long between rounds: a wait no thread can make
        # (infinite, or past threading.TIMEOUT_MAX) would end it at its first round.
        if (
            isinstance(poll, bool)
            or not isinstance(poll, (int, float))
            or not 0 < poll <= threading.TIMEOUT_MAX
        ):
            raise ValueError(
                f"poll_seconds must be a positive number of seconds a thread can wait, got {poll!r}"
            )
        if self.token is not None and len(self.token) < 8:
            raise ValueError("the bearer token must be at least 8 characters long")
        if self.token is not None and not re.fullmatch(r"[\x21-\x7e]+", self.token):
            # A header carries bytes that the server reads as Latin-1 and a browser
            # refuses to send beyond it: a token with other characters (or spaces, which
            # the check strips) could never be matched, and every write would be a 401.
            raise ValueError(
                "the bearer token must be printable ASCII without spaces "
                "(letters, digits and punctuation)"
            )
        for name in self.allowed_hosts:
            # NAME, NAME:PORT, an IPv4 or IPv6 address, [IPv6] or [IPv6]:PORT; the port
            # is not compared (hardening.allowed_name), as a Host header's is not.
            if not isinstance(name, str) or not re.fullmatch(
                r"(?:[A-Za-z0-9._-]+(?::\d+)?|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\](?::\d+)?)", name
            ):
                raise ValueError(
                    f"allowed host {name!r} must be a host name or an address "
                    "(a :PORT after it is allowed)"
                )
        for origin in self.cors_origins:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(
                    f"CORS origin {origin!r} must look like https://host[:port] (or be *)"
                )
        return self

    def store_location(self) -> str:
        """The store's URL or path: ``store_url``, or ``ratings.sqlite`` beside the model.

        Example:
            >>> Settings(model_dir="/srv/models").store_location()
            '/srv/models/ratings.sqlite'
        """
        if self.store_url:
            return self.store_url
        if self.model_dir:
            return str(Path(self.model_dir) / DEFAULT_STORE_NAME)
        if self.model_path:
            return str(Path(self.model_path).parent / DEFAULT_STORE_NAME)
        raise ValueError("no store given and no model file or directory to put one beside")

    def to_json(self) -> str:
        """The settings as one JSON object (for :data:`SETTINGS_ENV`)."""
        values = asdict(self)
        values["cors_origins"] = list(self.cors_origins)
        values["allowed_hosts"] = list(self.allowed_hosts)
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings from :meth:`to_json`'s text; unknown keys are an error.

        Example:
            >>> Settings.from_json('{"max_n": 20}').max_n
            20
        """
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown service settings {unknown}")
        for name in ("cors_origins", "allowed_hosts"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values).check()

    @classmethod
    def from_env(cls, environ=None) -> Settings:
        """Settings from the :data:`SETTINGS_ENV` environment variable.

        Example:
            >>> Settings.from_env({SETTINGS_ENV: '{"model_path": "m.npz"}'}).model_path
            'm.npz'
        """
        environ = os.environ if environ is None else environ
        text = environ.get(SETTINGS_ENV)
        if not text:
            raise ValueError(f"{SETTINGS_ENV} is not set; start the service with latentrec serve")
        return cls.from_json(text)


def parse_interval(text: str) -> float:
    """Seconds in an interval written ``90s``, ``30m``, ``24h``, ``7d`` or ``1w``.

    Example:
        >>> parse_interval("24h"), parse_interval("90s"), parse_interval("1.5h")
        (86400.0, 90.0, 5400.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if match is None:
        raise ValueError(f"interval {text!r} must be a number and a unit: 90s, 30m, 24h, 7d, 1w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 1:
        raise ValueError(f"interval {text!r} is shorter than a second")
    return seconds
