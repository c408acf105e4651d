"""``latentrec store``: seed the ratings store from a ratings file (``import``) and
summarise it (``info``).  The store itself is :mod:`latentrec.store`."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import urllib.parse
from pathlib import Path

import click

from ._common import (
    MOVIELENS_NAMES,
    Failure,
    data_options,
    fail_on_known_errors,
    load_data,
    main,
)

STORE_HELP = (
    "The ratings store: a SQLite file path or sqlite:///path, or postgresql://user@host/db "
    "[env LATENTREC_STORE]."
)


def store_option(fn):
    """``--store URL`` (required; also read from ``LATENTREC_STORE``); an in-memory SQLite
    URL is refused (:func:`refuse_memory`), and so is a folder (:func:`refuse_folder`)."""
    return click.option(
        "--store",
        "store_url",
        envvar="LATENTREC_STORE",
        required=True,
        help=STORE_HELP,
        callback=lambda ctx, param, value: refuse_folder(refuse_memory(value)),
    )(fn)


def refuse_memory(url):
    """``url``, unless it names an in-memory SQLite database (``:memory:``, ``sqlite://``,
    ``sqlite:///``, ``sqlite:///:memory:``, a ``mode=memory`` URI): each command runs in a
    process of its own, so such a store would start empty and lose every write when the
    command ends.  ``None`` passes (the option was not given).

    Example:
        >>> refuse_memory("ratings.db")
        'ratings.db'
        >>> try:
        ...     refuse_memory("sqlite:///")
        ... except Failure as err:
        ...     print(err.message)  # doctest: +NORMALIZE_WHITESPACE
        --store sqlite:/// is an in-memory database, which holds nothing from one command
        to the next; give a file (ratings.db or sqlite:///path/ratings.db) or a
        postgresql:// URL
    """
    if url is None:
        return url
    text = str(url).strip()
    memory = text == ":memory:"
    if not memory and text.lower().startswith("sqlite"):
        try:
            import sqlalchemy as sa
        except ImportError:
            return url  # opening it names the extra to install
        try:
            parsed = sa.make_url(text)
        except sa.exc.ArgumentError:
            return url  # not a URL the store reads: opening it says so
        database = parsed.database or ""
        memory = (
            database in ("", ":memory:")
            or database.startswith("file::memory:")
            or parsed.query.get("mode") == "memory"
        )
    if memory:
        raise Failure(
            f"--store {url} is an in-memory database, which holds nothing from one command "
            "to the next; give a file (ratings.db or sqlite:///path/ratings.db) or a "
            "postgresql:// URL"
        )
    return url


def refuse_folder(url):
    """``url``, unless it names a SQLite store by a folder (``.``, ``out/``): the store is
    a file.  Opening a folder failed in words about paths ("PosixPath('.') has an empty
    name") or about connecting ("unable to open database file").  A blank ``url`` is
    refused as empty (``" "`` was a file named by a space).  ``None`` passes.

    Example:
        >>> refuse_folder("ratings.db")
        'ratings.db'
        >>> try:
        ...     refuse_folder(".")
        ... except Failure as err:
        ...     print(err.message)
        --store . is a folder; the store is a file, e.g. --store ratings.db
    """
    if url is not None and not str(url).strip():
        raise Failure(
            "--store is empty; give a file path or a database URL, e.g. --store ratings.db"
        )
    path = None if url is None else sqlite_path(str(url).strip())
    if path is not None and (path.name in ("", ".", "..") or path.is_dir()):
        raise Failure(
            f"--store {url} is a folder; the store is a file, e.g. --store {path / 'ratings.db'}"
        )
    return url


def open_or_fail(url: str):
    """The store at ``url``; a missing extra is one line naming it, as for other extras.
    Opening a store written by an earlier version upgrades it: what that changed is said
    on standard error, a line per schema version (``RatingsStore.upgraded``).

    Example:
        >>> import os, tempfile
        >>> with open_or_fail(os.path.join(tempfile.mkdtemp(), "r.db")) as store:
        ...     store.counts()["ratings"]
        0
    """
    try:
        from ..store import open_store
    except ImportError as err:
        name = (err.name or "sqlalchemy").split(".")[0]
        raise Failure(
            f"{name} is not installed; the ratings store needs the 'serve' extra: "
            "pip install 'latentrec[serve]'"
        ) from None
    # A write behind another process's (a long import holds the lock for its whole
    # run) waits until it ends, without a limit: failing would throw the command's work
    # away, and the line says what it waits for (Ctrl-C stops it).
    store = open_store(url, on_wait=lambda line: click.echo(line, err=True))
    # An upgrade rewrites stored rows (genre spellings, search keys): said, not silent.
    for line in store.upgraded:
        click.echo(f"upgraded the store: {line}", err=True)
    return store


def check_store_exists(url: str) -> None:
    """Raise :class:`Failure` if ``url`` names a SQLite file that does not exist: opening
    it would create an empty store, and a typo would look like a store with nothing in
    it.  Other databases are checked by connecting.

    Example:
        >>> import os, tempfile
        >>> try:
        ...     check_store_exists(os.path.join(tempfile.mkdtemp(), "typo.db"))
        ... except Failure as err:
        ...     print(err.message.split(" at ")[0])
        no store
    """
    path = sqlite_path(url)
    if path is None:
        return
    if "?" in url or path.name.startswith("file:") or str(path).startswith("file:"):
        # Refused by the store whether or not the file exists ("no store at r.db" would
        # send the user after the wrong problem).
        try:
            from ..store.engine import resolve_url
        except ImportError:
            return  # opening it names the extra to install
        from ..store import StoreError

        try:
            resolve_url(url)
        except StoreError as err:
            raise Failure(str(err)) from None
    if path.exists():
        check_store_readable(path)
        check_is_store(path)
        return
    folder = path.expanduser().parent
    if not folder.is_dir():
        raise Failure(f"no store at {path}: no folder {folder}")
    raise Failure(f"no store at {path}; `latentrec store import` creates one")


def check_store_writable(url: str) -> None:
    """Refuse, with a :class:`Failure` naming the cause, a SQLite store that could not be
    written: run before reading the data to import, which may take minutes, and before
    serve loads its model; a URL the store refuses is refused here too.

    SQLite writes beside the store file (its journal, or the ``-wal`` and ``-shm``
    files), so the folder must be writable as well as the file; opening said only
    "unable to open database file" or, once the data was read, "attempt to write a
    readonly database".  A missing folder and a PostgreSQL store are left to opening,
    which names them.

    Example:
        >>> import os, tempfile
        >>> check_store_writable(os.path.join(tempfile.mkdtemp(), "new.db"))  # creatable
    """
    from ..store.engine import resolve_url

    # A URL the store refuses (query parameters, a SQLite URI, another database) is named
    # now, before serve loads its model: a model file's error would otherwise hide it.
    resolve_url(url)
    path = sqlite_path(url)
    if path is None or "?" in url or str(path).startswith("file:"):
        return
    path = path.expanduser()
    folder = path.parent
    if not folder.is_dir():
        return
    effective = os.access in os.supports_effective_ids
    if path.is_file():
        check_store_readable(path)
        if not os.access(path, os.W_OK, effective_ids=effective):
            raise Failure(f"the store {path} is read-only; make it writable to write to it")
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=effective):
        raise Failure(
            f"cannot write the store {path}: directory {folder} is not writable "
            "(SQLite writes its journal beside the store)"
        )


def check_store_readable(path: Path) -> None:
    """Refuse, with a :class:`Failure`, a store file that cannot be read, which opening
    reported only as "unable to open database file".

    Example:
        >>> import os, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "r.db"
        >>> path.write_bytes(b"")
        0
        >>> check_store_readable(path)
    """
    effective = os.access in os.supports_effective_ids
    if not os.access(path, os.R_OK, effective_ids=effective):
        raise Failure(f"cannot read the store {path}: permission denied")


def check_is_store(path: Path) -> None:
    """Raise :class:`Failure` if the SQLite file at ``path`` is a database without the
    store's tables (another program's, or an empty file): opening it would add them, and
    the store would read as empty.  The file is opened read-only; one that is no SQLite
    database at all is left to opening, which says so.

    Example:
        >>> import os, sqlite3, tempfile
        >>> other = os.path.join(tempfile.mkdtemp(), "app.db")
        >>> sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
        >>> try:
        ...     check_is_store(Path(other))
        ... except Failure as err:
        ...     print(err.message.split(": ")[1].split(";")[0])
        it has no latentrec tables (it holds t)
    """
    uri = "file:" + urllib.parse.quote(str(path.expanduser().resolve())) + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
    except sqlite3.Error:
        return  # not a database, or unreadable: opening the store names the cause
    if "lr_schema" in tables:
        return
    held = f"it holds {', '.join(tables[:5])}{', ...' if len(tables) > 5 else ''}"
    raise Failure(
        f"{path} is not a latentrec store: it has no latentrec tables "
        f"({held if tables else 'it is empty'}); `latentrec store import` creates a store"
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store named by a path or ``sqlite:///`` URL, else ``None``.

    Example:
        >>> sqlite_path("sqlite:///out/r.db"), sqlite_path("r.db"), sqlite_path(":memory:")
        (PosixPath('out/r.db'), PosixPath('r.db'), None)
    """
    if url == ":memory:" or url.startswith("sqlite:///:memory:"):
        return None
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :].split("?", 1)[0])
    return None if "://" in url else Path(url)


@main.group()
def store():
    """Seed and inspect the ratings store that the service reads and writes.

    \f
    Example: ``latentrec store import ml-100k --store sqlite:///out/ratings.db``
    """


@store.command("import")
@click.argument("source")
@store_option
@click.option(
    "--kind",
    type=click.Choice(["explicit", "event"]),
    default=None,
    help="Store the values as explicit ratings (latest wins) or as event weights (added; "
    "a file's repeated user and item pairs are added up too, unless --duplicates is "
    "given; --rating-scale bounds stars, so it is refused with events) [default: event "
    "for implicit data (--rating-col none), else explicit].",
)
@data_options
@fail_on_known_errors
def store_import(source, store_url, kind, **opts):
    """Import a dataset (ml-100k) or a ratings file, with its titles and genres.

    Ratings already stored for the same user and item are replaced by newer ones
    (explicit) or added to (events).  Repeated rows of one file are merged the same way:
    the last one kept (explicit), added up (events; --duplicates chooses otherwise).

    \f
    Example: ``latentrec store import ratings.csv --store ratings.db --timestamp-col ts``
    """
    rating_col = opts.get("rating_col")
    if kind == "explicit" and isinstance(rating_col, str) and rating_col.lower() == "none":
        # Rows without a value would be stored as 1-star ratings, as POST /ratings
        # stored an explicit rating without its stars.
        raise Failure(
            "--kind explicit needs a rating column, and --rating-col none reads none: "
            "import the rows as events (--kind event) or name the rating column"
        )
    if kind == "event":
        refuse_scale_for_events(opts)
    check_store_writable(store_url)
    implicit = isinstance(rating_col, str) and rating_col.lower() == "none"
    if (kind or ("event" if implicit else None)) == "event" and events_add_up(source, opts):
        # Events add up in the store (a POST adds, a file imported twice adds): three
        # rows of one play each in one file are three plays too, not the last one of them.
        opts["duplicates"] = "sum"
    # Merged rows are not imported one by one: load_data says so on standard error (this
    # command said it a second time on standard output).
    data = load_data(source, **opts)
    kind = kind or ("event" if data.implicit else "explicit")
    if kind == "event":
        refuse_scale_for_events(opts)  # implicit data read without --kind
    started = time.perf_counter()
    with open_or_fail(store_url) as opened:
        result = opened.import_interactions(data, kind=kind)
        counts = opened.counts()
        url = opened.url
    seconds = time.perf_counter() - started
    click.echo(
        f"imported {result.n_written} {kind} ratings ({data.n_users} users, "
        f"{data.n_items} items) into {url} in {seconds:.1f}s"
    )
    if result.n_superseded:
        # Latest wins: a row older than what the store holds changed nothing, and
        # counting it as imported told the operator it had.
        click.echo(
            f"superseded {result.n_superseded} {kind} ratings: the store holds a newer "
            "rating of their user and item, which stays (latest wins)"
        )
    click.echo(
        f"the store holds {counts['ratings']} ratings of {counts['users']} users and "
        f"{counts['items']} catalogue items"
    )


def refuse_scale_for_events(opts: dict) -> None:
    """Refuse ``--rating-scale`` for an import of events, saying why.

    Event weights add up in the store (a second import, a POST), and a scale bounds
    stars: the file's repeats were kept last under a scale and added across imports,
    so a weight imported twice left the scale it was read on.

    Example:
        >>> refuse_scale_for_events({"rating_scale": None})
        >>> refuse_scale_for_events({"rating_scale": (1.0, 5.0)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        latentrec.cli._common.Failure: --rating-scale applies to explicit ratings, not to ...
    """
    if opts.get("rating_scale"):
        raise Failure(
            "--rating-scale applies to explicit ratings, not to events (--kind event): "
            "event weights add up in the store, and a scale bounds stars; leave "
            "--rating-scale out, or import the values as explicit ratings (--kind explicit)"
        )


def events_add_up(source: str, opts: dict) -> bool:
    """Whether the repeated rows of ``source``, imported as events, are to be added up:
    a ratings file (not a dataset, a MovieLens folder or a converted ``.lrdata`` file,
    whose reading takes no --duplicates) read without --duplicates (an event import
    takes no --rating-scale: :func:`refuse_scale_for_events`).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "plays.csv")
        >>> _ = open(path, "w").write("user_id,item_id\\nu1,1\\n")
        >>> events_add_up(path, {}), events_add_up(path, {"duplicates": "last"})
        (True, False)
        >>> events_add_up("ml-100k", {})
        False
    """
    if opts.get("duplicates") is not None:
        return False
    path = Path(source)
    return (
        source.lower() not in MOVIELENS_NAMES
        and path.is_file()
        and path.suffix.lower() != ".lrdata"
    )


@store.command("info")
@store_option
@fail_on_known_errors
def store_info(store_url):
    """Say what the store holds: ratings, users, items, genres, schema and sequence.

    \f
    Example: ``latentrec store info --store sqlite:///out/ratings.db``
    """
    check_store_exists(store_url)
    with open_or_fail(store_url) as opened:
        counts = opened.counts()
        genres = opened.genres()
        click.echo(
            f"store: {opened.url} ({opened.dialect}, schema version {opened.schema_version})"
        )
        click.echo(f"ratings: {counts['ratings']} of {counts['users']} users")
        click.echo(f"catalogue: {counts['items']} items, {len(genres)} genres")
        if genres:
            click.echo(f"genres: {', '.join(genres)}")
        click.echo(f"write sequence: {opened.sequence()}")
