"""Model versions in a directory, with one "current" pointer switched atomically.

A :class:`ModelDirectory` owns this layout::

    DIR/
      CURRENT               {"version": "v000003", ...}: the pointer, replaced whole
      history.jsonl         one line per publish and rollback, appended and fsynced
      .checked.json         the files a listing found intact, by identity (a cache)
      .lock                 the lock writers take (readers never take it)
      last-retrain.json     how the last retrain ended, and who ran it (scheduled, command, python)
      versions/v000001/     model.npz (a latentrec model file) and version.json
      versions/v000002/ ...

``version.json`` records the model file's SHA-256 (``sha256``) as it was published, and
every load through the directory (the current version, a rollback's target, a retrain's
template, ``models list``) checks it: a version whose file was overwritten afterwards
(copied over by hand; ``latentrec train -o`` and ``tune -o`` refuse to write there) is
refused by name instead of being served under the old version's name and figures.  A
version published before the digest was recorded gets it on the first load that can write
it (:meth:`ModelDirectory.verify`).

A load hashes the whole file every time (it reads all of it anyway).  A listing
(:meth:`ModelDirectory.verify_many`) hashes only the files that changed since a listing
last found them intact: ``DIR/.checked.json`` remembers, per version, the file's identity
(device, inode, size, modification and change times) and the digest it matched.  Every
write through the file system moves the change time, which no one can set back, so a
file written over since is hashed again and caught as before; what the file system
cannot see (bits rotting on the disk) only a load, or ``models list --rehash``, catches.

Version folders are immutable once they appear under their name (but for one write: a
version published before digests were recorded gets its digest added to ``version.json``,
once, replaced atomically under the writer lock): a publisher writes the
model file and ``version.json`` into a temporary folder (``versions/.staging-XXXX``, which
it holds a lock on while it lives), fsyncs them and renames the folder into place; only
then is ``CURRENT`` replaced (written beside, fsynced, renamed over the old one, folder
fsynced).  A reader reads ``CURRENT`` once and loads the
version it names, so it sees the old version or the new one, never a mix.  Writers
(publish, rollback, prune) serialise on an exclusive ``flock`` of ``.lock``, which works
between processes and between threads that each open the file (POSIX only).  A publisher
or prune killed outright (SIGKILL, the out-of-memory killer) leaves its hidden folder, as
big as a model; the next publish or prune removes those that no live writer holds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..data.files import creation_mode
from ..errors import CannotRankError, CannotServeError, ModelFileError
from ..io.atomic import STALE_AFTER, atomic_path
from ..models import FactorModel
from ..models.persistence import jsonable
from ..pipeline import Pipeline, cannot_rank, load

__all__ = [
    "ChangedVersionError",
    "ModelDirectory",
    "StaleVersionError",
    "Version",
    "cannot_serve",
    "file_digest",
    "inside_versions",
]


def cannot_serve(model) -> CannotRankError | CannotServeError | None:
    """The refusal ``latentrec serve`` gives a fitted model or pipeline, or None.

    A model without fold-in (``Popularity``, ``ItemKNN``: not a
    :class:`~latentrec.models.FactorModel`) cannot take a user's live ratings into their
    list, nor can a pipeline with no factor model among its candidates
    (:class:`~latentrec.errors.CannotServeError`); a factor model whose scores order no
    items (``GlobalMean``, :attr:`~latentrec.models.FactorModel.orders_items` false), or a
    pipeline none of whose candidates can (:func:`latentrec.pipeline.cannot_rank`), would
    list the catalogue in index order (:class:`~latentrec.errors.CannotRankError`).  The
    service refuses such a version with this error (``Served.build``), and ``models
    publish`` and a retrain publish none, rather than make current what no worker will
    serve.

    Example:
        >>> import numpy as np, latentrec
        >>> from latentrec.models import Biases, GlobalMean, Popularity
        >>> data = latentrec.Interactions.from_dense(np.array([[5, 3], [4, 1]]))
        >>> str(cannot_serve(GlobalMean().fit(data)))[:49]
        'cannot serve this model: GlobalMean gives every i'
        >>> str(cannot_serve(Popularity().fit(data)))[:56]
        'the service needs a factor model (one with fold-in), got'
        >>> cannot_serve(Biases().fit(data)) is None
        True
    """
    if isinstance(model, Pipeline):
        if not any(isinstance(m, FactorModel) for m in model.models):
            kinds = ", ".join(type(m).__name__ for m in model.models)
            return CannotServeError(
                "the service folds in users who rate live, which needs a factor model "
                f"among a pipeline's candidates; this one has {kinds}"
            )
        problem = cannot_rank(model)
        return (
            None if problem is None else CannotRankError(f"cannot serve this pipeline: {problem}")
        )
    if not isinstance(model, FactorModel):
        return CannotServeError(
            f"the service needs a factor model (one with fold-in), got {type(model).__name__}"
        )
    if not model.orders_items:
        return CannotRankError(f"cannot serve this model: {CannotRankError.of(model)}")
    return None


POINTER = "CURRENT"
HISTORY = "history.jsonl"
LOCK = ".lock"
VERSIONS = "versions"
MODEL_FILE = "model.npz"
VERSION_FILE = "version.json"
RETRAIN_STATUS = "last-retrain.json"
# The key in version.json holding the model file's SHA-256 (hex) as it was published.
DIGEST = "sha256"
# What listings remember of the files they found intact (ModelDirectory.verify_many).
CHECKED = ".checked.json"
# A file's identity is remembered only once its times are this much older than the check:
# a write landing in the same tick of the file system's clock as the last one (a tick is
# up to 2 s on some file systems) could leave every time as it was.
SETTLED_NS = 2_000_000_000
# Who ran a retrain, as its record says: serve --retrain-every, latentrec retrain (by hand
# or from cron), or retrain() / retrain_on() called from Python.
RETRAIN_BY = ("scheduled", "command", "python")
# The longest reason kept in the retrain status (a child's last line can be anything).
MAX_REASON = 500
NAME_PATTERN = re.compile(r"^v(\d{6,})$")
# In a publisher's staging folder: the file it holds an flock on while it lives, so that
# a later writer can tell a killed publisher's folder from a live one's.
HELD = ".held"

# publish(if_current=...) left out: publish whatever is current.
_ANY = object()

# A reader that read CURRENT just before a prune removed that version retries this often.
LOAD_ATTEMPTS = 5


@dataclass(frozen=True)
class Version:
    """One published model version: its name, model file, creation time, figures, note.

    ``path`` is the version's model file (``latentrec.load(version.path)`` reads it);
    ``created`` is seconds since the epoch; ``algorithm`` the model's class name;
    ``metrics`` holds what the publisher recorded (for a retrained version: the
    candidate's and the current model's held-out figures).  Versions order by their number.

    Example:
        >>> from pathlib import Path
        >>> a = Version("v000002", Path("m.npz"), 0.0, {}, "")
        >>> b = Version("v000010", Path("m.npz"), 0.0, {}, "")
        >>> a < b, a.number
        (True, 2)
    """

    name: str
    path: Path = field(compare=False)
    created: float = field(compare=False)
    metrics: dict = field(compare=False, hash=False)
    note: str = field(compare=False)
    algorithm: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)

    @property
    def number(self) -> int:
        """The version's number (``v000012`` -> 12)."""
        return version_number(self.name)

    @property
    def folder(self) -> Path:
        """The folder that holds the model file and ``version.json``."""
        return self.path.parent

    def __lt__(self, other: Version) -> bool:
        return self.number < other.number

    def to_dict(self) -> dict:
        """The version as JSON-able values (what ``models list --json`` prints).

        Example:
            >>> from pathlib import Path
            >>> Version("v000001", Path("m.npz"), 1.5, {"rmse": 0.9}, "first").to_dict()["note"]
            'first'
        """
        return {
            "name": self.name,
            "path": str(self.path),
            "created": self.created,
            "metrics": self.metrics,
            "note": self.note,
            "algorithm": self.algorithm,
            "sha256": self.sha256,
        }


class ChangedVersionError(ModelFileError):
    """A published version's model file is not the file that was published: its SHA-256
    differs from the one ``version.json`` recorded (the file was overwritten or edited).

    Example:
        >>> issubclass(ChangedVersionError, ModelFileError)
        True
    """


class StaleVersionError(RuntimeError):
    """``publish(..., if_current=NAME)`` found another version current than ``NAME``.

    Retraining raises nothing: it reports the race in its result instead.

    Example:
        >>> issubclass(StaleVersionError, RuntimeError)
        True
    """


class PublishWriteError(OSError):
    """A publish that could not write what it had to (a full disk, a quota, a folder
    made read-only meanwhile): its message names the model directory and the system's
    reason, and says what stays current; ``errno`` is the system's (``ENOSPC``...).

    The system's own words, "[Errno 28] No space left on device", named no folder and
    left the operator to guess whether anything had been published.

    Example:
        >>> import errno
        >>> err = PublishWriteError(errno.ENOSPC, "cannot write m: no space left on device")
        >>> str(err), err.errno == errno.ENOSPC
        ('cannot write m: no space left on device', True)
    """

    def __str__(self) -> str:
        return str(self.strerror)


def version_name(number: int) -> str:
    """The name of version ``number``: ``v`` and at least six digits.

    Example:
        >>> version_name(7), version_name(1234567)
        ('v000007', 'v1234567')
    """
    return f"v{number:06d}"


def version_number(name: str) -> int:
    """The number in a version name; a ``ValueError`` for anything that is not one.

    Example:
        >>> version_number("v000012")
        12
    """
    match = NAME_PATTERN.match(str(name))
    if match is None:
        raise ValueError(f"{name!r} is not a version name (v000001, v000002, ...)")
    return int(match.group(1))


def file_digest(path) -> str:
    """The SHA-256 of the file at ``path``, in hex, read in blocks (a model may not fit
    in memory twice); a :class:`ModelFileError` naming it when there is no such file.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
        >>> _ = open(path, "wb").write(b"abc")
        >>> file_digest(path)[:16]
        'ba7816bf8f01cfea'
    """
    try:
        with open(path, "rb") as fh:
            digest = hashlib.sha256()
            # hashlib.file_digest is Python 3.11+; the package supports 3.10.
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            return digest.hexdigest()
    except FileNotFoundError:
        raise ModelFileError(f"no model file at {path}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a folder, not a model file") from None


def inside_versions(path) -> bool:
    """Whether ``path`` lies inside a model directory's ``versions`` folder, where only
    a publish may write (symbolic links followed; the file need not exist).

    A ``versions`` folder counts when the folder above it is a model directory that has
    been written to (it holds ``CURRENT``, ``history.jsonl`` or ``.lock``), so a folder
    of one's own that happens to be called ``versions`` is not taken for one.  A command
    that writes a file (``latentrec train -o``) refuses such a path: overwriting a
    published version's model file would serve another model under that version's name.

    Example:
        >>> import numpy as np, os, tempfile, latentrec
        >>> from latentrec.models import GlobalMean
        >>> md = ModelDirectory(tempfile.mkdtemp())
        >>> v1 = md.publish(GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1)))
        >>> inside_versions(v1.path), inside_versions(md.path / "versions" / "v000009" / "m.npz")
        (True, True)
        >>> inside_versions(md.path / "model.npz"), inside_versions(md.path / "versions")
        (False, False)
    """
    try:
        resolved = Path(os.path.abspath(path)).resolve(strict=False)
    except (OSError, RuntimeError):  # a symbolic link loop: not somewhere a publish wrote
        return False
    for folder in resolved.parents:
        if folder.name == VERSIONS and any(
            os.path.lexists(folder.parent / marker) for marker in (POINTER, HISTORY, LOCK)
        ):
            return True
    return False


class ModelDirectory:
    """Published model versions in one folder, and which of them is current.

    ``ModelDirectory(path)`` creates the folder if it is missing.  :meth:`publish` adds
    a version and makes it current; :meth:`rollback` makes an older one current again
    (recorded in ``history.jsonl``; a later publish still takes the next unused
    number); :meth:`pointer_token` is a cheap check (one ``stat``) for a service that
    polls for a new current version.

    Example:
        >>> import numpy as np, tempfile, latentrec
        >>> from latentrec.models import Biases
        >>> data = latentrec.Interactions.from_dense(np.array([[5, 3], [4, 1]]))
        >>> md = ModelDirectory(tempfile.mkdtemp())
        >>> md.current() is None
        True
        >>> v1 = md.publish(Biases().fit(data), note="first")
        >>> v2 = md.publish(Biases(regularization=5.0).fit(data), metrics={"rmse": 0.9})
        >>> [v.name for v in md.versions()], md.current().name
        (['v000001', 'v000002'], 'v000002')
        >>> md.rollback().name
        'v000001'
        >>> version, model = md.load_current()
        >>> version.name, type(model).__name__, version.note
        ('v000001', 'Biases', 'first')
        >>> md.publish(Biases().fit(data)).name
        'v000003'
    """

    def __init__(self, path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"model directory {self.path} is a file, not a folder")
        (self.path / VERSIONS).mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ModelDirectory({str(self.path)!r})"

    def remove_if_empty(self) -> bool:
        """Remove the folder if it holds nothing but its empty ``versions`` folder (as
        opening a missing one leaves it); returns whether it did.  Only empty folders
        are removed, so a version published meanwhile is never touched.

        Example:
            >>> import tempfile, os
            >>> md = ModelDirectory(os.path.join(tempfile.mkdtemp(), "models"))
            >>> md.remove_if_empty(), md.path.exists()
            (True, False)
        """
        try:
            (self.path / VERSIONS).rmdir()
            self.path.rmdir()
        except OSError:
            return False
        return True

    # ------------------------------------------------------------------ reading
    @property
    def pointer_path(self) -> Path:
        """The pointer file (``DIR/CURRENT``)."""
        return self.path / POINTER

    def pointer_token(self) -> str:
        """A token that changes whenever the current version changes; one ``stat``.

        Made of the pointer file's inode, size and modification time in nanoseconds.
        Every switch writes a new file (a new inode) and a writer sets its modification
        time strictly later than the previous pointer's, so two successive pointers
        never share a token even when the inode number is reused.  ``"none"`` while
        nothing is published.

        Example:
            >>> import tempfile
            >>> ModelDirectory(tempfile.mkdtemp()).pointer_token()
            'none'
        """
        try:
            st = os.stat(self.pointer_path)
        except FileNotFoundError:
            return "none"
        return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"

    def current(self) -> Version | None:
        """The current version, or ``None`` when nothing has been published.

        Example:
            >>> import tempfile
            >>> ModelDirectory(tempfile.mkdtemp()).current() is None
            True
        """
        name = self.read_pointer()
        return None if name is None else self.version(name)

    def load_current(self):
        """``(version, model)`` of the current version, loaded with ``latentrec.load``.

        The pointer is read once, so the model is always the whole model of the version
        returned, even while another process publishes.  Raises ``LookupError`` when
        nothing is published yet.

        Example:
            >>> import tempfile
            >>> try:
            ...     ModelDirectory(tempfile.mkdtemp()).load_current()
            ... except LookupError as err:
            ...     print(str(err).split(" in ")[0])
            no model version published
        """
        name = self.read_pointer()
        attempts = 1
        while True:
            if name is None:
                raise LookupError(
                    f"no model version published in {self.path}; publish one first "
                    "(latentrec models publish MODEL_FILE --model-dir DIR)"
                )
            try:
                return self.load_version(name)
            except (LookupError, ModelFileError):
                # Only a prune racing this read removes a version CURRENT named a moment
                # ago; CURRENT has moved on by then, so reading it again finds the new one.
                newer = self.read_pointer()
                if newer == name or attempts == LOAD_ATTEMPTS:
                    raise
                name, attempts = newer, attempts + 1

    def versions(self, damaged: list[str] | None = None) -> list[Version]:
        """Every complete version, oldest first.

        A version whose ``version.json`` cannot be read (copied in by hand, cut short,
        edited) is left out, so one bad folder does not stop a listing, a rollback or a
        prune; give a list as ``damaged`` to have each such folder's problem added to it.

        Example:
            >>> import tempfile
            >>> ModelDirectory(tempfile.mkdtemp()).versions()
            []
        """
        found = []
        for entry in (self.path / VERSIONS).iterdir():
            if NAME_PATTERN.match(entry.name) and (entry / VERSION_FILE).is_file():
                try:
                    found.append(self.version(entry.name))
                except LookupError:
                    continue  # pruned between the listing and the read
                except ModelFileError as err:
                    if damaged is not None:
                        damaged.append(str(err))
        return sorted(found)

    def version(self, name: str) -> Version:
        """The version called ``name``; ``LookupError`` naming the known ones if absent.

        Example:
            >>> import tempfile
            >>> try:
            ...     ModelDirectory(tempfile.mkdtemp()).version("v000009")
            ... except LookupError as err:
            ...     print(str(err).split(" in ")[0])
            no version 'v000009'
        """
        version_number(name)  # a ValueError for a malformed name, before any path is built
        folder = self.path / VERSIONS / name
        try:
            info = json.loads((folder / VERSION_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            known = [v.name for v in self.versions()] if folder.parent.is_dir() else []
            raise LookupError(
                f"no version {name!r} in {self.path}; known: {known or 'none'}"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelFileError(f"{folder / VERSION_FILE} is not valid JSON ({err})") from None
        try:
            return Version(
                name=name,
                path=folder / MODEL_FILE,
                created=float(info["created"]),
                metrics=dict(info.get("metrics") or {}),
                note=str(info.get("note", "")),
                algorithm=str(info.get("algorithm", "")),
                sha256=str(info.get(DIGEST) or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ModelFileError(
                f"{folder / VERSION_FILE} is not a version record ({type(err).__name__}: "
                f"{err}); it needs 'created' (Unix seconds) and may have 'metrics', 'note' "
                "and 'algorithm'"
            ) from None

    def verify(self, version: Version | str) -> Version:
        """Check that a version's model file is the file that was published; returns the
        version (with its ``sha256``).

        The file's SHA-256 is compared with the one ``version.json`` recorded at the
        publish; a file changed since (copied over, edited, replaced)
        raises :class:`ChangedVersionError` naming it, a missing one
        :class:`ModelFileError`.  A version published before digests were recorded has
        none: its file's digest is recorded now, when the directory can be written
        without waiting for a writer (a read-only copy is still read), and checked from
        then on.

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
            >>> v1 = md.publish(m)
            >>> md.verify("v000001") == v1
            True
            >>> other = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 4))
            >>> other.save(v1.path)  # another model written over the published file
            >>> try:
            ...     md.verify("v000001")
            ... except ChangedVersionError as err:
            ...     print(str(err).split(" (")[0].replace(str(md.path), "DIR"))
            DIR/versions/v000001/model.npz has changed since v000001 was published
        """
        if isinstance(version, str):
            version = self.version(version)
        now = file_digest(version.path)
        if not version.sha256:
            self._record_digest(version.name, now)
            return dataclasses.replace(version, sha256=now)
        if now != version.sha256:
            raise ChangedVersionError(
                f"{version.path} has changed since {version.name} was published (its "
                f"SHA-256 is {now[:12]}..., {version.name} was published as "
                f"{version.sha256[:12]}...): a published version is never rewritten; "
                "go back to another (latentrec models rollback --to NAME) or publish the "
                "new model as a new version (latentrec models publish FILE --model-dir DIR)"
            )
        return version

    def verify_many(self, versions, *, rehash: bool = False) -> list:
        """:meth:`verify` each of ``versions``, hashing only the files that changed since
        a listing last found them intact; for each, in order, the checked
        :class:`Version` or the :class:`ModelFileError` its check raised.

        A file whose identity (device, inode, size, modification and change times) is
        the one remembered in ``DIR/.checked.json`` with the digest ``version.json``
        records is taken as checked: writing over it, in place or by a rename, copying
        the directory or restoring the old modification time all move one of those, and
        the file is hashed again.  ``rehash`` hashes every file whatever is remembered
        (what a file system cannot see, a disk's bits rotting, only a hash catches).
        The memory is rewritten when it changes, and left as it is where the directory
        cannot be written (every listing there hashes every file, as a load does).

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> v1 = md.publish(GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1)))
            >>> md.verify_many(md.versions()) == [v1]
            True
        """
        remembered = {} if rehash else self._checked()
        kept: dict[str, dict] = {}
        out: list = []
        for version in versions:
            now = time.time_ns()
            before = _full_identity(version.path)
            entry = remembered.get(version.name)
            if (
                before is not None
                and version.sha256
                and entry == {"identity": list(before), DIGEST: version.sha256}
            ):
                kept[version.name] = entry
                out.append(version)
                continue
            try:
                checked = self.verify(version)
            except ModelFileError as err:
                out.append(err)
                continue
            out.append(checked)
            # Remembered only for a file that stood still while it was hashed and whose
            # last change is old enough that a new one must move its times.
            if (
                before is not None
                and _full_identity(version.path) == before
                and now - max(before[3], before[4]) >= SETTLED_NS
            ):
                kept[version.name] = {"identity": list(before), DIGEST: checked.sha256}
        if kept != remembered:
            try:
                with atomic_path(self.path / CHECKED, durable=False, replace_read_only=True) as tmp:
                    tmp.write_text(json.dumps(kept) + "\n", encoding="utf-8")
            except OSError:
                pass  # a directory this process may not write: the next listing hashes again
        return out

    def _checked(self) -> dict:
        """What ``DIR/.checked.json`` remembers (nothing when it is missing or damaged:
        every file is hashed then)."""
        try:
            value = json.loads((self.path / CHECKED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def load_version(self, version: Version | str):
        """``(version, model)`` of one version, its file checked first (:meth:`verify`).

        A file replaced between the check and the end of the load is refused too, so the
        model returned is always the one whose digest was checked.

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> _ = md.publish(GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1)))
            >>> version, model = md.load_version("v000001")
            >>> version.name, type(model).__name__, len(version.sha256)
            ('v000001', 'GlobalMean', 64)
        """
        if isinstance(version, str):
            version = self.version(version)
        before = _identity(version.path)
        version = self.verify(version)
        model = load(version.path)
        after = _identity(version.path)
        # Gone after a whole load is a prune that came after it, not a change: the model
        # read is the file whose digest was checked.
        if after is not None and after != before:
            raise ChangedVersionError(
                f"{version.path} was replaced while {version.name} was being loaded; "
                "a published version is never rewritten"
            )
        return version, model

    def _record_digest(self, name: str, digest: str) -> None:
        """Add ``digest`` to version ``name``'s ``version.json`` if it has none (a version
        published before digests were recorded).  Only when the writer lock is free at
        once, so a reader never waits on a publish or a prune (the next load records it),
        and never in a read-only directory."""
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a writer holds it
            record = self.path / VERSIONS / name / VERSION_FILE
            try:
                info = json.loads(record.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # pruned meanwhile, or damaged: nothing to add to
                return
            if not isinstance(info, dict) or info.get(DIGEST):
                return
            info[DIGEST] = digest
            try:
                write_json(record, info)
            except OSError:
                pass  # a folder this process may not write: checked once it can be
        finally:
            os.close(fd)

    def read_pointer(self) -> str | None:
        """The name of the current version as the pointer file says (``None``: none yet).

        Example:
            >>> import tempfile
            >>> ModelDirectory(tempfile.mkdtemp()).read_pointer() is None
            True
        """
        try:
            raw = self.pointer_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            # Taking a lost pointer for "nothing published yet" would let the next
            # retrain publish its candidate unchecked (no current version, no gate).
            if self.pointer_path.is_symlink():
                raise ModelFileError(
                    f"{self.pointer_path} is a symbolic link to "
                    f"{os.readlink(self.pointer_path)}, which does not exist; fix it with "
                    "`latentrec models rollback --to NAME`"
                ) from None
            switched = [e for e in self.history() if isinstance(e, dict) and e.get("version")]
            if switched:
                raise ModelFileError(
                    f"{self.pointer_path} is missing, but {self.path / HISTORY} records "
                    f"{switched[-1]['version']} as made current last; fix it with "
                    "`latentrec models rollback --to NAME`"
                ) from None
            return None
        try:
            name = json.loads(raw)["version"]
            version_number(name)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise ModelFileError(
                f"{self.pointer_path} is damaged: it should hold "
                '{"version": "v000001"}; '
                "fix it with `latentrec models rollback --to NAME`"
            ) from None
        return name

    def history(self) -> list[dict]:
        """Every publish and rollback so far, oldest first, as recorded.

        Example:
            >>> import tempfile
            >>> ModelDirectory(tempfile.mkdtemp()).history()
            []
        """
        try:
            lines = (self.path / HISTORY).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash mid-append; the pointer is the truth
        return out

    # ------------------------------------------------------------------ writing
    def publish(
        self, model, *, metrics: dict | None = None, note: str = "", if_current=_ANY
    ) -> Version:
        """Save a fitted ``model`` as a new version and make it current.

        With ``if_current`` (a version name, or ``None`` for "nothing published yet") the
        publish happens only if that is still the current version when the lock is
        taken; otherwise :class:`StaleVersionError` is raised and nothing changes.
        Retraining uses it so that a candidate compared with one version never replaces
        another that was published meanwhile.

        The model file is written into a temporary folder first (outside the lock, so
        concurrent publishers save in parallel); then, under the lock, the folder is
        renamed to the next unused name and the pointer is switched.  Returns the new
        :class:`Version`.  ``metrics`` must be JSON-able (NumPy scalars are fine).

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
            >>> md.publish(m, metrics={"rmse": np.float32(0.5)}).metrics
            {'rmse': 0.5}
        """
        model.check_fitted()
        if not isinstance(note, str):
            raise TypeError(f"note must be a string, got {type(note).__name__}")
        metrics = jsonable(dict(metrics or {}))
        named: list[str] = []  # the new version's name, once it has one
        try:
            name = self._publish(model, metrics, note, if_current, named)
        except OSError as err:
            raise self._unwritten(err, named[0] if named else None) from err
        return self.version(name)

    def _publish(self, model, metrics: dict, note: str, if_current, named: list) -> str:
        """:meth:`publish`'s steps; the name of the version published, also put in
        ``named`` as soon as it is chosen."""
        versions_dir = self.path / VERSIONS
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions_dir))
        held = os.open(staging / HELD, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            # mkdtemp's 0700 would keep the version from a service run as another user.
            staging.chmod(creation_mode(versions_dir / "new", directory=True))
            model.save(staging / MODEL_FILE)
            # Recorded so that every later load can tell the file from one written over it.
            digest = file_digest(staging / MODEL_FILE)
            created = time.time()
            with self.locked():
                self.sweep_leftovers(keep=staging)
                previous = self.read_pointer()
                if if_current is not _ANY and previous != if_current:
                    raise StaleVersionError(
                        f"the current version of {self.path} is {previous or 'none'}, not "
                        f"{if_current or 'none'}: another publish or rollback came first"
                    )
                name = version_name(self.next_number())
                named.append(name)
                info = {
                    "name": name,
                    "created": created,
                    "algorithm": type(model).__name__,
                    "metrics": metrics,
                    "note": note,
                    "previous": previous,
                    DIGEST: digest,
                }
                write_json(staging / VERSION_FILE, info)
                # The version folder holds its files only; under the lock no sweep can
                # see the folder between this and the rename.
                os.unlink(staging / HELD)
                fsync_dir(staging)
                os.rename(staging, versions_dir / name)
                fsync_dir(versions_dir)
                try:
                    self.switch(name, "publish", previous)
                except BaseException:
                    self._withdraw_unswitched(name)
                    raise
        finally:
            os.close(held)  # releases the flock
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return name

    def _unwritten(self, err: OSError, name: str | None) -> OSError:
        """The error for a publish of version ``name`` (``None``: not named yet) that
        failed on ``err`` (a write): the model directory named, the system's reason, and
        what is current now, read back from the pointer.  The pointer's switch is the
        publish; a pointer that names ``name`` failed only on the history line after it.
        """
        if isinstance(err, PublishWriteError):
            return err
        reason = err.strerror or str(err)
        reason = reason[:1].lower() + reason[1:]
        try:
            current = self.read_pointer()
        except Exception:  # a pointer that cannot be read is said as such
            current = ""
        if name is not None and current == name:
            outcome = f"{name} was published and is current, but {HISTORY} may not list it"
        elif current:
            outcome = f"nothing was published; {current} stays current"
        elif current is None:
            outcome = "nothing was published; no version is current yet"
        else:
            outcome = f"nothing was published; the pointer {POINTER} cannot be read"
        return PublishWriteError(err.errno, f"cannot write {self.path}: {reason}; {outcome}")

    def rollback(self, to: str | None = None, *, refuse=None) -> Version:
        """Make an older version current again: ``to``, or the one before the current.

        "The one before" is the highest-numbered version below the current one, so
        repeated rollbacks walk back one version at a time.  The switch is recorded in
        ``history.jsonl``; versions are not deleted, and the next publish takes the next
        number after the highest one that exists.

        ``refuse``, a function of the target's model returning an exception or None
        (``latentrec models rollback`` passes :func:`cannot_serve`), refuses the switch:
        its error is raised, prefixed with the version's name, and nothing changes.  A
        version published before the service refused its kind stays in the directory,
        and rolling back to it would make current what no worker serves.

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
            >>> _ = [md.publish(m) for _ in range(3)]
            >>> md.rollback().name, md.rollback().name, md.rollback("v000003").name
            ('v000002', 'v000001', 'v000003')
        """
        with self.locked():
            if to is None:
                current = self.read_pointer()
                if current is None:
                    raise LookupError(f"nothing is published in {self.path}, so no rollback")
                older = [v for v in self.versions() if v.number < version_number(current)]
                if not older:
                    raise LookupError(
                        f"{current} is the oldest version in {self.path}; nothing to roll back to"
                    )
                target = older[-1]
                # A changed file is refused by name, not served.
                _, model = self.load_version(target)
            else:
                try:
                    current = self.read_pointer()
                except ModelFileError:
                    current = None  # a damaged pointer is what a rollback --to repairs
                target = self.version(to)
                # Never point at a damaged or changed file: fail before switching.
                _, model = self.load_version(target)
            refused = None if refuse is None else refuse(model)
            if refused is not None:
                raise type(refused)(
                    f"{target.name} is not made current, as latentrec serve refuses it: {refused}"
                )
            if target.name != current:
                self.switch(target.name, "rollback", current)
        return target

    def prune(self, keep: int) -> list[str]:
        """Delete old versions, keeping the ``keep`` newest and always the current one.

        Returns the names removed.  A removed folder is first renamed out of the
        ``v...`` namespace, so a listing never shows a half-deleted version.

        Example:
            >>> import numpy as np, tempfile, latentrec
            >>> from latentrec.models import GlobalMean
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
            >>> _ = [md.publish(m) for _ in range(4)]
            >>> _ = md.rollback("v000001")
            >>> md.prune(2), [v.name for v in md.versions()]
            (['v000002'], ['v000001', 'v000003', 'v000004'])
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1, got {keep!r}")
        removed = []
        with self.locked():
            self.sweep_leftovers()
            current = self.read_pointer()
            versions = self.versions()
            for version in versions[: max(len(versions) - keep, 0)]:
                if version.name == current:
                    continue
                trash = self.path / VERSIONS / f".trash-{version.name}-{os.getpid()}"
                os.rename(version.folder, trash)
                shutil.rmtree(trash, ignore_errors=True)
                removed.append(version.name)
            fsync_dir(self.path / VERSIONS)
        return removed

    def _withdraw_unswitched(self, name: str) -> None:
        """Take back version ``name`` a failed publish moved into place (call with the
        lock held) unless ``CURRENT`` already names it: a pointer that could not be
        written (a full disk) left a listed version that was never current, one more
        each retrain round.  Once the pointer names it, the publish happened."""
        try:
            if self.read_pointer() == name:
                return
        except Exception:  # a pointer that cannot be read was not switched to this one
            pass
        trash = self.path / VERSIONS / f".trash-{name}-{os.getpid()}"
        try:
            os.rename(self.path / VERSIONS / name, trash)
        except OSError:
            return  # left for the operator; the error being raised says what failed
        shutil.rmtree(trash, ignore_errors=True)
        try:
            fsync_dir(self.path / VERSIONS)
        except OSError:
            pass

    def sweep_leftovers(self, keep=None) -> list[str]:
        """Remove the hidden folders killed writers left in ``versions/``; their names.

        Call with the lock held (:meth:`publish` and :meth:`prune` do).  A prune's
        ``.trash-*`` folder is dead once the lock is free (a prune deletes it under the
        lock).  A publisher's ``.staging-*`` folder is removed only when no process holds
        its ``.held`` file (the publisher is gone) and it has not changed for
        :data:`~latentrec.io.atomic.STALE_AFTER` seconds (which spares one created an
        instant ago, before its publisher took the hold); ``keep`` is the caller's own.
        What cannot be read or removed is left: a sweep never fails a write.

        Example:
            >>> import os, tempfile
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> left = md.path / "versions" / ".staging-k2x8q0z1"
            >>> left.mkdir(); os.utime(left, (0, 0))  # a killed publisher's, long ago
            >>> with md.locked():
            ...     md.sweep_leftovers()
            ['.staging-k2x8q0z1']
        """
        versions_dir = self.path / VERSIONS
        keep_name = Path(keep).name if keep is not None else None
        removed = []
        try:
            entries = list(os.scandir(versions_dir))
        except OSError:
            return removed
        for entry in entries:
            name = entry.name
            if name == keep_name or not entry.is_dir(follow_symlinks=False):
                continue
            if name.startswith(".trash-") or (
                name.startswith(".staging-") and _abandoned(Path(entry.path))
            ):
                shutil.rmtree(entry.path, ignore_errors=True)
                if not os.path.lexists(entry.path):
                    removed.append(name)
        return sorted(removed)

    # ------------------------------------------------------------------ internals
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's writer lock (an exclusive ``flock`` of ``DIR/.lock``).

        Each call opens the lock file afresh, so threads of one process exclude each
        other as processes do.  Readers never wait for it; a load takes it only when it
        is free at once, to record the digest of a version published before digests
        were (:meth:`verify`).

        Example:
            >>> import tempfile
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> with md.locked():
            ...     print("only one writer here")
            only one writer here
        """
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def next_number(self) -> int:
        """The number the next publish takes: one above every version that ever existed.

        Pruned versions count too (from the history), so a name is never reused.  Only
        versions count: a folder under a version's name with a ``version.json`` (a damaged
        one too), not a stray file or folder left there by hand (``v000099`` holding
        notes), which would make the numbering jump; the next name is never one such an
        entry holds, though, since the publish's rename would fail on a file and replace
        an empty folder.

        Example:
            >>> import tempfile
            >>> md = ModelDirectory(tempfile.mkdtemp())
            >>> md.next_number()
            1
            >>> _ = (md.path / "versions" / "v000099").write_text("notes")
            >>> _ = (md.path / "versions" / "v000001").write_text("notes")
            >>> md.next_number()
            2
        """
        versions_dir = self.path / VERSIONS
        numbers = [0]
        for entry in versions_dir.iterdir():
            match = NAME_PATTERN.match(entry.name)
            if match and (entry / VERSION_FILE).is_file():
                numbers.append(int(match.group(1)))
        for event in self.history():
            match = NAME_PATTERN.match(str(event.get("version", "")))
            if match:
                numbers.append(int(match.group(1)))
        number = max(numbers) + 1
        while os.path.lexists(versions_dir / version_name(number)):
            number += 1
        return number

    def switch(self, name: str, action: str, previous: str | None) -> None:
        """Point ``CURRENT`` at version ``name`` (call with the lock held) and record it.

        The new pointer is written beside the old one, fsynced and renamed over it; its
        modification time is set strictly later than the old pointer's so that
        :meth:`pointer_token` changes even within one tick of the file system's clock.
        """
        try:
            old_mtime = os.stat(self.pointer_path).st_mtime_ns
        except FileNotFoundError:
            old_mtime = 0
        switched = time.time()
        # The pointer is the directory's own: read-only (made under a umask of 0222, or
        # copied from a read-only place), refusing it left a publish half done, its
        # version in place and not current, one more each scheduled round.
        with atomic_path(self.pointer_path, replace_read_only=True) as tmp:
            tmp.write_text(
                json.dumps({"version": name, "switched": switched, "action": action}) + "\n",
                encoding="utf-8",
            )
            # One microsecond at least: some file systems keep no finer times.
            mtime = max(time.time_ns(), old_mtime + 1_000)
            os.utime(tmp, ns=(mtime, mtime))
        event = {"time": switched, "action": action, "version": name, "previous": previous}
        with open(self.path / HISTORY, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def write_retrain_status(
    folder, ok: bool, reason: str, *, published: bool = False, version=None, when=None, by=None
) -> dict:
    """Record how a retrain ended in ``folder/last-retrain.json`` (atomically: a reader
    sees the previous record or this one, whole), and return the record.

    ``ok`` is whether the retrain ran to its end (publishing or not); ``reason`` is its
    one line (why it published or not, or why it failed); ``version`` the version it
    published; ``by`` who ran it (one of :data:`RETRAIN_BY`, or None: not said).  The
    folder must exist: a record never creates a model directory.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> record = write_retrain_status(folder, False, "no store at r.db", when=1.5, by="command")
        >>> read_retrain_status(folder) == record, record["ok"], record["time"], record["by"]
        (True, False, 1.5, 'command')
    """
    if by is not None and by not in RETRAIN_BY:
        raise ValueError(f"by must be one of {', '.join(RETRAIN_BY)} or None, got {by!r}")
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no model directory {folder} to record the retrain in")
    text = " ".join(str(reason).split())
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 3] + "..."
    record = {
        "time": time.time() if when is None else float(when),
        "ok": bool(ok),
        "published": bool(published),
        "version": None if version is None else str(version),
        "reason": text,
        "by": by,
    }
    write_json(Path(folder) / RETRAIN_STATUS, record)
    return record


def record_retrain(folder, by: str, *, result=None, error=None) -> str | None:
    """Record a retrain that ran in ``folder`` (:func:`write_retrain_status`), from its
    result (a :class:`~latentrec.service.retrain.RetrainResult`: ran to its end) or the
    error that ended it; ``None``, or why the record could not be written (no such
    folder: a failed first retrain removed it; a full disk), for the caller to report:
    the retrain's own outcome must not be lost to its record.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> record_retrain(folder, "command", error=LookupError("nothing is published"))
        >>> shown = read_retrain_status(folder)
        >>> shown["ok"], shown["reason"], shown["by"]
        (False, 'nothing is published', 'command')
        >>> record_retrain(folder + "/gone", "python", error=OSError("x")).startswith("no model")
        True
    """
    try:
        if error is not None:
            message = getattr(error, "message", None) or str(error)
            if isinstance(error, (KeyboardInterrupt, SystemExit)) or not message.strip():
                # Interrupted or told to stop: its text (an exit code) says nothing.
                message = f"stopped before its end ({type(error).__name__})"
            write_retrain_status(folder, False, message, by=by)
        else:
            published = bool(result.published)
            version = getattr(result.version, "name", result.version) if published else None
            write_retrain_status(
                folder, True, str(result.reason), published=published, version=version, by=by
            )
    except OSError as err:
        return str(err)
    return None


def read_retrain_status(folder) -> dict | None:
    """The record :func:`write_retrain_status` left in ``folder`` (``None``: no
    retrain has recorded its end there yet); a :class:`ModelFileError` naming the file when it is
    not such a record.

    Example:
        >>> import tempfile
        >>> read_retrain_status(tempfile.mkdtemp()) is None
        True
    """
    path = Path(folder) / RETRAIN_STATUS
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError included
        raise ModelFileError(f"{RETRAIN_STATUS} cannot be read: {err}") from None
    # Every field is checked, not converted: /health's answer declares their types, and a
    # value outside them (a hand edit: "by": "cron", "ok": "no") made every probe a 500.
    problem = None
    if not isinstance(record, dict):
        problem = f"it holds a {type(record).__name__}, not an object"
    elif "time" not in record or "ok" not in record:
        problem = "it needs 'time' and 'ok'"
    elif not _is_seconds(record["time"]):
        problem = f"'time' is {record['time']!r}, not Unix seconds"
    elif not isinstance(record["ok"], bool):
        problem = f"'ok' is {record['ok']!r}, not true or false"
    elif not isinstance(record.get("published", False), bool):
        problem = f"'published' is {record['published']!r}, not true or false"
    elif not isinstance(record.get("version"), (str, type(None))):
        problem = f"'version' is {record['version']!r}, not a version name or null"
    elif not isinstance(record.get("reason", ""), str):
        problem = f"'reason' is {record['reason']!r}, not text"
    elif record.get("by") is not None and record["by"] not in RETRAIN_BY:
        problem = f"'by' is {record['by']!r}, not one of {', '.join(RETRAIN_BY)} or null"
    if problem is not None:
        raise ModelFileError(f"{RETRAIN_STATUS} is not a retrain record: {problem}"[:MAX_REASON])
    return {
        "time": float(record["time"]),
        "ok": record["ok"],
        "published": record.get("published", False),
        "version": record.get("version"),
        "reason": record.get("reason", ""),
        # Records written before they said who ran the retrain: not said.
        "by": record.get("by"),
    }


def _is_seconds(value) -> bool:
    """Whether a JSON value is a finite number of seconds.

    Example:
        >>> _is_seconds(1.5), _is_seconds(True), _is_seconds(float("nan")), _is_seconds("1")
        (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too big for a float
        return False


def retrain_status_token(folder) -> str:
    """A token that changes whenever the retrain record in ``folder`` is replaced (one
    ``stat``; ``"none"`` while there is none), so a reader parses it only then.

    Example:
        >>> import tempfile
        >>> retrain_status_token(tempfile.mkdtemp())
        'none'
    """
    try:
        st = os.stat(Path(folder) / RETRAIN_STATUS)
    except OSError:
        return "none"
    return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"


def write_json(path: Path, value) -> None:
    """Write ``value`` as JSON to ``path`` atomically and durably; a read-only ``path``
    is replaced too (the model directory's own records, see :meth:`ModelDirectory.switch`).

    Example:
        >>> import tempfile, os
        >>> p = Path(tempfile.mkdtemp()) / "x.json"
        >>> write_json(p, {"a": 1}); p.read_text()
        '{\\n  "a": 1\\n}\\n'
    """
    with atomic_path(path, replace_read_only=True) as tmp:
        tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk, where the OS allows it.

    Example:
        >>> import tempfile
        >>> fsync_dir(Path(tempfile.mkdtemp()))
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _identity(path: Path):
    """What changes when a file is replaced or written: inode, size, modification time
    (``None`` when there is no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _full_identity(path: Path):
    """Device, inode, size, modification and change times of a file (``None`` when there
    is none): the change time moves on every write and rename and cannot be set back."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _abandoned(staging: Path) -> bool:
    """Whether a publisher's staging folder is a dead one's: no process holds its
    ``.held`` file, and the folder is older than ``STALE_AFTER``."""
    try:
        if time.time() - staging.lstat().st_mtime < STALE_AFTER:
            return False
        fd = os.open(staging / HELD, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return True  # killed before it took the hold, or between dropping it and the rename
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live publisher holds it
    finally:
        os.close(fd)
    return True
