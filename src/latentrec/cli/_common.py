"""What every command module shares: the ``main`` group, errors, common options, loading.

Owns :data:`main` (the group each command module registers on), :class:`Failure` and the
decorator that turns known errors into it, the data and algorithm option sets with
:func:`load_data` and :func:`build_model` behind them, and the table/JSON output helpers.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import inspect
import json
import math
import os
import re
import signal
import warnings
import zipfile
from pathlib import Path

import click
import pandas as pd
from numba.core import event as numba_event

from .. import ModelFileError
from ..data import DataError, Interactions, UnknownIdError
from ..data.columns import clean_ids
from ..data.interactions import DUPLICATE_POLICIES
from ..data.movielens import ml_folder_layout
from ..data.readers import DEFAULT_ITEM, DEFAULT_USER
from ..datasets import movielens, read_ml_folder
from ..io.modelfile import refuse_link
from ..models.inputs import gained, trained_shape, with_model_ids
from ..registry import ALIASES, model_class

# Set to show the full traceback of an unexpected error (for a bug report).
DEBUG_ENV = "LATENTREC_DEBUG"

# Optional modules -> the extra that installs them, for "X is not installed" messages.
EXTRAS = {
    "optuna": "tune",
    "matplotlib": "plot",
    "pyarrow": "parquet",
    "fastparquet": "parquet",
    "fastapi": "serve",
    "uvicorn": "serve",
    "sqlalchemy": "serve",
    "psycopg": "serve",
    "pyspark": "spark",
    # pyspark's bridge to the JVM: installed with it, missing when pyspark is half there.
    "py4j": "spark",
}

COMPILE_MESSAGE = "compiling latentrec's kernels (first run only)..."

# Long options shared by the training commands, mapped to hyperparameter names.
COMMON_PARAMS = {
    "factors": "n_factors",
    "epochs": "n_epochs",
    "learning_rate": "learning_rate",
    "regularization": "regularization",
}


class FiniteFloatRange(click.FloatRange):
    """:class:`click.FloatRange` that also refuses ``nan`` and ``inf`` (which compare false
    with every bound, so click's own range lets ``nan`` through).

    Example:
        >>> FiniteFloatRange(0, 1).convert("0.5", None, None)
        0.5
    """

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # With neither bound (any finite number), click's own description is "x<=None",
        # which the help printed after the option's text.
        if self.min is None and self.max is None:
            return ""
        return super()._describe_range()


# The largest cut-off NumPy's 64-bit integers hold: a larger one failed deep in the
# metrics as an "unexpected OverflowError".
INT64_MAX = 2**63 - 1


class CutOff(click.IntRange):
    """The cut-off of ranking metrics (``-k``): a whole number from 1 to :data:`INT64_MAX`;
    the help says ``x>=1``, as any larger list than the catalogue is the whole of it.

    Example:
        >>> CutOff().convert("10", None, None)
        10
        >>> try:
        ...     CutOff().convert(str(2**63), None, None)
        ... except click.BadParameter as err:
        ...     print(err.message)
        9223372036854775808 is more than 9223372036854775807, the largest cut-off.
    """

    def __init__(self):
        super().__init__(min=1, max=INT64_MAX)

    def convert(self, value, param, ctx):
        number = click.INT.convert(value, param, ctx)
        if number > INT64_MAX:
            self.fail(f"{number} is more than {INT64_MAX}, the largest cut-off.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        return "x>=1"  # the bound above is said when it is passed, not in every help


def check_cut_off(metric: str, cut: int | None) -> None:
    """Refuse a ranking ``--metric`` whose cut-off (``ndcg@K``) is beyond :data:`INT64_MAX`.

    Example:
        >>> check_cut_off("ndcg@10", 10)
        >>> try:
        ...     check_cut_off("ndcg@99999999999999999999", 99999999999999999999)
        ... except Failure as err:
        ...     print(err.message)
        --metric ndcg@99999999999999999999: the cut-off may be at most 9223372036854775807
    """
    if cut is not None and cut > INT64_MAX:
        raise Failure(f"--metric {metric}: the cut-off may be at most {INT64_MAX}")


class Failure(click.ClickException):
    """An error the user can fix; printed without a traceback, exit code 1.

    Example:
        >>> @click.command()
        ... def cmd():
        ...     raise Failure("--data x.csv is not the data m.npz was trained on")
        >>> from click.testing import CliRunner
        >>> result = CliRunner().invoke(cmd)
        >>> result.exit_code, result.output
        (1, 'Error: --data x.csv is not the data m.npz was trained on\\n')
    """


# Errors whose message tells the user what to fix.  Our own are ValueErrors, but they are
# named so that the list stays right if one changes base; a plain ValueError is how models
# and splitters reject a bad hyperparameter or protocol (e.g. temporal without timestamps),
# and pandas' parser errors and UnicodeDecodeError are ValueErrors too.  OSError covers a
# missing, unreadable or directory path; csv.Error the sniffer on a file with no columns;
# FloatingPointError a diverged fit; RuntimeError a search in which no trial completed.
KNOWN_ERRORS = (
    DataError,
    UnknownIdError,
    ModelFileError,
    ValueError,
    OSError,
    csv.Error,
    FloatingPointError,
    RuntimeError,
)


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined, blank ones dropped.

    Example:
        >>> one_line("Unable to find an engine.\\n\\nInstall pyarrow.")
        'Unable to find an engine. Install pyarrow.'
    """
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def missing_extra(err: ImportError) -> str:
    """The one-line message for an optional dependency that cannot be imported.

    Example:
        >>> missing_extra(ModuleNotFoundError("No module named 'optuna'", name="optuna"))
        "optuna is not installed; install the 'tune' extra: pip install 'latentrec[tune]'"
    """
    name = (err.name or "").split(".")[0]
    if name not in EXTRAS:
        # Our own wrappers (tune, plots) and pandas name the module only in the message.
        found = [m for m in EXTRAS if re.search(rf"\b{m}\b", str(err))]
        name = found[0] if found else name
    if name in EXTRAS:
        extra = EXTRAS[name]
        return (
            f"{name} is not installed; install the '{extra}' extra: "
            f"pip install 'latentrec[{extra}]'"
        )
    return one_line(err) or f"cannot import {name or 'a module'}"


def failure_message(err: BaseException) -> str:
    """What the command line prints (after ``Error:``) for an error escaping a command.

    Example:
        >>> failure_message(ValueError("n_factors must be an integer >= 1, got 0"))
        'n_factors must be an integer >= 1, got 0'
        >>> failure_message(PermissionError(13, "Permission denied", "ratings.csv"))
        'ratings.csv: Permission denied'
        >>> failure_message(KeyError("x"))[:40]
        "unexpected KeyError: 'x' (a bug in laten"
    """
    if isinstance(err, ImportError):
        return missing_extra(err)
    if isinstance(err, MemoryError):
        return "out of memory; try fewer factors or a smaller data set"
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        # The file and the reason, as Unix tools say them, for "[Errno 13] Permission
        # denied: 'ratings.csv'".
        names = (err.filename, err.filename2) if err.filename2 is not None else (err.filename,)
        return f"{' -> '.join(map(str, names))}: {err.strerror}"
    text = one_line(err) or type(err).__name__
    if isinstance(err, UnicodeDecodeError):
        return f"{text}; give the file's encoding with --encoding (e.g. latin-1, cp1252)"
    if isinstance(err, FloatingPointError):
        return f"{text} (options --learning-rate, --regularization)"
    if isinstance(err, KNOWN_ERRORS):
        return text
    return (
        f"unexpected {type(err).__name__}: {text} (a bug in latentrec: please report it; "
        f"set {DEBUG_ENV}=1 for the traceback)"
    )


def fail_on_known_errors(fn):
    """Wrap a command so that every error exits 1 with one line, never a traceback.

    Errors the user can fix print their own message; a missing optional extra says which
    to install; anything else is reported as unexpected, with the traceback only when
    ``LATENTREC_DEBUG`` is set.  Click's own exceptions (usage errors, ``--help``) pass.
    Warnings print as one ``warning: ...`` line each.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = show_warning
                return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`| head -1`): click's own handler ends the command
            # quietly, as Unix tools do, instead of an error about a pipe nobody reads.
            raise
        except Exception as err:
            if os.environ.get(DEBUG_ENV):
                raise
            from ..spark.session import interrupt_caused  # needs no pyspark

            if interrupt_caused(err):
                # A clean-up that failed as Ctrl-C unwound (a py4j call cut short): the
                # interrupt's doing, said as click says an interrupt.
                raise click.Abort() from None
            raise Failure(failure_message(err)) from None

    return wrapper


class CompileNotice(numba_event.Listener):
    """Says once, on standard error, that latentrec's numba kernels are being compiled.

    numba announces a compilation only when a kernel is not in its on-disk cache, so the
    message appears on a first run (or after an upgrade) and never once the cache is warm.
    :data:`COMPILE_NOTICE` is installed by :data:`main` for every command.

    Example:
        >>> notice = CompileNotice()
        >>> notice.said, notice.installed
        (False, False)
    """

    def __init__(self):
        self.said = False
        self.installed = False

    def install(self) -> None:
        """Listen to numba's compile events from now on (once per process)."""
        if not self.installed:
            numba_event.register("numba:compile", self)
            self.installed = True

    def on_start(self, event):
        if self.said:
            return
        dispatcher = (event.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
        if module.startswith("latentrec."):
            self.said = True
            click.echo(COMPILE_MESSAGE, err=True)

    def on_end(self, event):
        pass


COMPILE_NOTICE = CompileNotice()


def show_warning(message, category, filename, lineno, file=None, line=None):
    """Library warnings as one line on standard error (no source line, no file path).

    Example:
        >>> import sys
        >>> show_warning(UserWarning("few trials"), UserWarning, "x.py", 1, file=sys.stdout)
        warning: few trials
    """
    click.echo(f"warning: {one_line(message)}", file=file, err=file is None)


def exit_on_signal(signum, frame):
    """A signal handler that exits through ``SystemExit`` (status 128 + the signal's
    number, as a shell reports it), so ``finally`` blocks run.

    Example:
        >>> try:
        ...     exit_on_signal(signal.SIGTERM, None)
        ... except SystemExit as stop:
        ...     print(stop.code)
        143
    """
    raise SystemExit(128 + signum)


def exit_cleanly_on_sigterm(ctx: click.Context) -> None:
    """Until ``ctx`` closes, SIGTERM ends the command through :func:`exit_on_signal`.

    SIGTERM's default ends the process at once, so no ``finally`` block runs and a file
    being written stays behind under its temporary name (``.top.parquet.k2x8.tmp``).
    Raised as ``SystemExit(143)`` it unwinds the command as Ctrl-C does: atomic writes
    remove their temporary file and the target is left as it was.  Only the command
    line does this; the library never installs a signal handler.  Outside the main
    thread (where Python cannot set one) nothing changes.  The previous handler comes
    back when ``ctx`` closes, so a command run in-process leaves no trace.

    Example:
        >>> before = signal.getsignal(signal.SIGTERM)
        >>> with click.Context(main) as ctx:
        ...     exit_cleanly_on_sigterm(ctx)
        ...     signal.getsignal(signal.SIGTERM) is exit_on_signal
        True
        >>> signal.getsignal(signal.SIGTERM) is before
        True
    """
    try:
        previous = signal.signal(signal.SIGTERM, exit_on_signal)
    except ValueError:  # not the main thread of the main interpreter
        return
    # None: a handler not set from Python, which cannot be put back; the default is the
    # nearest thing.
    restore = signal.SIG_DFL if previous is None else previous
    ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, restore))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latentrec")
@click.pass_context
def main(ctx):
    """latentrec: matrix-factorization recommenders.

    Start with `latentrec demo`, or: `latentrec train ml-100k -o model.npz`, then
    `latentrec recommend model.npz --user 1`.
    """
    COMPILE_NOTICE.install()
    exit_cleanly_on_sigterm(ctx)


def check_rating_scale(ctx, param, value):
    """``--rating-scale LOW HIGH`` as given, once both are finite and LOW is below HIGH
    (a click callback).

    The reader refused ``5 1`` and ``nan 5`` too, but after reading the file and in its
    own words ("rating_scale must be (low, high) with low < high").

    Example:
        >>> check_rating_scale(None, None, (1.0, 5.0))
        (1.0, 5.0)
        >>> try:
        ...     check_rating_scale(None, None, (5.0, 1.0))
        ... except click.BadParameter as err:
        ...     print(err.message)
        5 1: the lowest rating comes first, then a higher one (e.g. --rating-scale 1 5)
    """
    if value is None or len(value) != 2:
        return value
    low, high = value
    for number in value:
        if not math.isfinite(number):
            raise click.BadParameter(f"{number!r} is not a finite number.", ctx=ctx, param=param)
    if not low < high:
        raise click.BadParameter(
            f"{low:g} {high:g}: the lowest rating comes first, then a higher one "
            "(e.g. --rating-scale 1 5)",
            ctx=ctx,
            param=param,
        )
    return value


def data_options(fn):
    """The options that tell :func:`load_data` how to read a ratings file.

    Every command that reads ratings takes them (``train``, ``evaluate``, ``tune``,
    ``data info``, ``factors``, ``plot``), so a file that needs them once can be read by
    each.  ``--encoding`` and ``--duplicates`` reach the reader only when given, so the
    reader's own defaults apply otherwise.
    """
    options = [
        click.option(
            "--user-col",
            default=None,
            help="User id column of a ratings file [default: user_id, else a userId or user "
            "column; 0 with --no-header].",
        ),
        click.option(
            "--item-col",
            default=None,
            help="Item id column of a ratings file [default: item_id, else a movieId, itemId "
            "or item column; 1 with --no-header].",
        ),
        click.option(
            "--rating-col",
            default=None,
            help="Rating column; 'none' for implicit data [default: rating; 2 with --no-header].",
        ),
        click.option("--timestamp-col", default=None, help="Optional timestamp column."),
        click.option(
            "--sep",
            default=None,
            help="Field separator, e.g. ';' or tab (sniffed when omitted).",
        ),
        click.option(
            "--no-header",
            "no_header",
            is_flag=True,
            help="The file has no header line: columns are numbered from 0.",
        ),
        click.option(
            "--encoding",
            default=None,
            help="Text encoding of the file, e.g. latin-1 or cp1252 (default: UTF-8).",
        ),
        click.option(
            "--duplicates",
            type=click.Choice(DUPLICATE_POLICIES),
            default=None,
            help="Repeated (user, item) pairs: keep the latest (last, the default for "
            "ratings), add up (sum, the default for events: --rating-col none), mean, or "
            "error.",
        ),
        click.option(
            "--rating-scale",
            nargs=2,
            type=float,
            default=None,
            callback=check_rating_scale,
            help="Lowest and highest valid rating, e.g. --rating-scale 1 5.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# Column options: name with a header line, position without one.  The id columns'
# default names are the reader's own (DEFAULT_USER, DEFAULT_ITEM), so a header without
# them may hold a well-known name instead (userId, movieId: COLUMN_ALIASES); a column
# the user names is matched exactly.
COLUMN_DEFAULTS = {"user": (DEFAULT_USER, 0), "item": (DEFAULT_ITEM, 1), "rating": ("rating", 2)}
MOVIELENS_NAMES = ("ml-100k", "100k", "movielens-100k")
# What a folder given as SOURCE may be, for the message that refuses any other.
READ_FOLDERS = (
    "a MovieLens release folder (u.data, ratings.dat, or a ratings.csv headed userId,movieId)"
)


def builtin_dataset(source: str) -> bool:
    """Whether SOURCE names the built-in dataset (``ml-100k``, ``100k``, ``movielens-100k``)
    rather than a path: an existing file or folder of that name wins, since unzipping
    GroupLens' ml-100k.zip leaves exactly such a folder (``./ml-100k`` is a path either way).

    Example:
        >>> import os, tempfile
        >>> here = os.getcwd()
        >>> os.chdir(tempfile.mkdtemp())
        >>> builtin_dataset("ml-100k")
        True
        >>> os.mkdir("ml-100k")
        >>> builtin_dataset("ml-100k"), builtin_dataset("./ml-100k")
        (False, False)
        >>> os.chdir(here)
    """
    return source.lower() in MOVIELENS_NAMES and not os.path.exists(source)


def column(value, role: str, header: bool):
    """The reader's column for a ``--<role>-col`` value: a name, or a position (--no-header).

    Example:
        >>> column(None, "rating", True), column(None, "rating", False), column("3", "item", False)
        ('rating', 2, 3)
    """
    if value is None:
        if role not in COLUMN_DEFAULTS:
            return None
        name, position = COLUMN_DEFAULTS[role]
        return name if header else position
    if str(value).lower() == "none" and role in ("rating", "timestamp"):
        return None
    if header:
        return value
    if not str(value).isdigit():
        raise Failure(
            f"--{role}-col {value!r}: without a header line, columns are numbers from 0 "
            f"(e.g. --{role}-col {COLUMN_DEFAULTS.get(role, (None, 3))[1]})"
        )
    return int(value)


# What a shell leaves of a tab typed as an escape, and its name.
SEPARATOR_NAMES = {"\\t": "\t", "tab": "\t"}


def separator(sep):
    r"""The ``--sep`` value as a character: ``\t`` (as a shell passes it) or ``tab`` is a tab.

    Example:
        >>> separator("\\t"), separator("TAB"), separator(";"), separator(None)
        ('\t', '\t', ';', None)
    """
    if sep is None:
        return None
    return SEPARATOR_NAMES.get(sep.lower(), sep)


def flags_apply(flags) -> str:
    """Options named as the subject of "apply", the verb agreeing with how many there are.

    Example:
        >>> flags_apply(["--sep"]), flags_apply(["--sep", "--encoding"])
        ('--sep applies', '--sep, --encoding apply')
    """
    return f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'}"


def given_on_command_line(name: str) -> bool:
    """Whether the running command's parameter ``name`` was given (on the command line or
    through the environment), not left at its default: an option with a default that a
    chosen mode does not read is refused only when the user typed it.

    Example:
        >>> @click.command()
        ... @click.option("-k", type=int, default=10)
        ... def show(k):
        ...     click.echo(given_on_command_line("k"))
        >>> from click.testing import CliRunner
        >>> CliRunner().invoke(show, ["-k", "10"]).output, CliRunner().invoke(show, []).output
        ('True\\n', 'False\\n')
    """
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def is_model_file(path: Path) -> bool:
    """Whether ``path`` is a model file (a zip archive holding a ``manifest.json``), the
    mistake of giving a command its model where it reads ratings.

    Example:
        >>> import os, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "r.csv"
        >>> _ = path.write_text("user_id,item_id,rating\\n1,2,4\\n")
        >>> is_model_file(path)
        False
    """
    if path.suffix.lower() == ".lrdata":
        return False  # a converted ratings file, a zip archive with a manifest of its own
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return "manifest.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False  # reading it as ratings says what is wrong


def load_data(
    source: str,
    user_col=None,
    item_col=None,
    rating_col=None,
    timestamp_col=None,
    sep=None,
    rating_scale=None,
    no_header=False,
    encoding=None,
    duplicates=None,
    say_merges: bool = True,
) -> Interactions:
    """A known dataset name (``ml-100k`` / ``100k``), a MovieLens release folder (read
    with its titles and genres by :func:`latentrec.datasets.read_ml_folder`; of the
    reading options only ``duplicates`` applies to it) or a CSV/TSV/Parquet ratings file.
    A path that exists wins over a dataset name (:func:`builtin_dataset`).

    What reading a file merged or stripped is said on standard error (``say_merges``;
    :func:`said_merges`).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user_id,item_id,rating\\n1,2,4\\n")
        >>> load_data(path).nnz
        1
        >>> _ = open(path, "w").write("7;8;5\\n")
        >>> load_data(path, sep=";", no_header=True).users.ids.tolist()
        [7]
    """
    if str(rating_col or "").lower() == "none" and rating_scale:
        # Implicit data has no stars to bound: the scale would be ignored without a word.
        raise Failure("--rating-scale applies to ratings, not to implicit data (--rating-col none)")
    flags = (("--user-col", user_col), ("--item-col", item_col), ("--rating-col", rating_col),
             ("--timestamp-col", timestamp_col), ("--sep", sep), ("--encoding", encoding),
             ("--duplicates", duplicates), ("--rating-scale", rating_scale),
             ("--no-header", no_header or None))  # fmt: skip
    given = [flag for flag, value in flags if value is not None]
    if builtin_dataset(source):
        if given:  # the dataset is read as it is published: nothing to tell the reader
            raise Failure(f"{flags_apply(given)} to ratings files, not to the dataset {source}")
        return movielens("100k")
    path = Path(source)
    if not path.exists():
        raise Failure(f"no dataset named {source!r} and no such file; use ml-100k or a path")
    if path.is_dir():
        layout = ml_folder_layout(path)
        if layout is None:
            raise Failure(
                f"{source} is a folder; give a ratings file (CSV, TSV or Parquet) or {READ_FOLDERS}"
            )
        # A release is read as GroupLens publishes it, as ml-100k is; only what to do with
        # a repeated pair (which its error asks for) is the user's to say.
        given = [flag for flag in given if flag != "--duplicates"]
        if given:
            raise Failure(
                f"{flags_apply(given)} to ratings files, not to the MovieLens folder {source} "
                f"(read from its {layout[0]})"
            )
        if duplicates is None:
            return read_ml_folder(path)
        data = read_ml_folder(path, duplicates=duplicates)
        return said_merges(data) if say_merges else data
    if path.stat().st_size == 0:
        raise Failure(f"{source} is empty: no header line and no ratings")
    if is_model_file(path):
        # Read as ratings it was "a zip file, not text; name it *.zip or unpack it".
        raise Failure(
            f"{source} is a latentrec model file, not ratings; give a ratings file "
            "(CSV, TSV, Parquet or .lrdata) or ml-100k"
        )
    if path.suffix.lower() == ".lrdata":
        # A converted file: the reading options were applied when it was converted.
        if given:
            raise Failure(f"{flags_apply(given)} when converting, not to {source}")
        return Interactions.read(path)
    header = not no_header
    kwargs = {
        "user": column(user_col, "user", header),
        "item": column(item_col, "item", header),
        "rating": column(rating_col, "rating", header),
        "timestamp": column(timestamp_col, "timestamp", header),
    }
    # Passed only when given, so the reader's own defaults (and readers that predate an
    # option) apply otherwise: a Netflix-prize file's 1-5 stars, no scale for a table.
    if rating_scale:
        kwargs["rating_scale"] = tuple(rating_scale)
    if duplicates is not None:
        kwargs["duplicates"] = duplicates
    if path.suffix.lower() in (".parquet", ".pq"):
        given = [f for f, v in (("--sep", sep), ("--encoding", encoding)) if v is not None]
        if no_header:
            given.append("--no-header")
        if given:
            raise Failure(f"{flags_apply(given)} to text files, not to Parquet ({source})")
        data = Interactions.read(path, **kwargs)
        return said_merges(data) if say_merges else data
    if encoding is not None:
        kwargs["encoding"] = encoding
    try:
        data = Interactions.read(path, sep=separator(sep), header=header, **kwargs)
        return said_merges(data) if say_merges else data
    except csv.Error as err:  # the separator sniffer found no columns
        raise Failure(
            f"{source}: {one_line(err)}; is it a ratings table? Give the separator with --sep"
        ) from None


def said_merges(data: Interactions) -> Interactions:
    """``data``, after saying on standard error what reading it changed: repeated pairs
    merged by the ``--duplicates`` policy, ids stripped of blanks (otherwise a command
    said "on 2 ratings" for a file of 3 rows and nothing about the third).

    Example:
        >>> import numpy as np
        >>> said_merges(Interactions.from_dense(np.ones((1, 1)))).nnz
        1
    """
    report = getattr(data, "load_report", None)
    if report is not None and (report.merged or report.ids_stripped or report.notes):
        click.echo(f"note: {report.summary()}", err=True)
    return data


def load_training_data(model, model_path, source: str, **opts) -> Interactions:
    """``--data`` read as :func:`load_data` reads it, refused unless it is the data the
    model at ``model_path`` was trained on: the model's users and items, in its order,
    less any the model gained after training (``onboard --save-as``, fold-in), in which
    case it must be the very data trained on (the digest the model keeps of it).

    Users or items added later are the last ones of the model's id maps; the data is
    returned with them appended (no ratings, side columns empty), so what describes the
    model (factor reports, the taste map) sees the model's own id maps.  The library's
    own check names its API ("pass the Interactions it was trained on"); on the command
    line the fix is another ``--data`` file or other reading options.

    Example:
        >>> import tempfile, os
        >>> from latentrec.models import Popularity
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user_id,item_id,rating\\n1,2,4\\n")
        >>> model = Popularity().fit(load_data(path))
        >>> load_training_data(model, "m.npz", path).nnz
        1
    """
    data = load_data(source, **opts)
    try:
        # The library's rule (latentrec.models.inputs.with_model_ids): the model's ids, or
        # the ids it was trained over (it gained the rest later).
        return with_model_ids(model, data)
    except ValueError:
        shape = trained_shape(model)
        model_shape = f"{len(model.users_)} x {len(model.items_)}"
        n_users, n_items = gained(model)
        if shape is not None and (n_users or n_items):
            model_shape = (
                f"{shape[0]} x {shape[1]} when trained (it gained {n_users} users and "
                f"{n_items} items later)"
            )
        elif shape is None and len(model.users_) > data.n_users:
            model_shape += (
                " (or other ids; a model that gained users after training, saved before "
                "its training size was recorded, takes only the very data trained on)"
            )
        else:
            model_shape += " (or other ids)"
        raise Failure(
            f"--data {source} is not the data {model_path} was trained on: it has "
            f"{data.n_users} users x {data.n_items} items, the model {model_shape}; give "
            "the training file, read with the options used to train"
        ) from None


# Ratings beyond these are no stars, likes or counts a usual model is tuned for.
FAR_FROM_A_SCALE = 1e4
HUGE_RANGE = 1e3


@contextlib.contextmanager
def diverging_on(data: Interactions, rating_col=None, no_header: bool = False):
    """Turn a diverged fit on ``data`` into a :class:`Failure` that names the rating
    column when its values are far from any rating scale (a timestamp or an id read as
    ratings); a divergence on ordinary ratings passes as it is (its advice stands).

    Example:
        >>> import numpy as np
        >>> data = Interactions.from_dense(np.array([[1e9, 2e9], [3e9, 0]]))
        >>> with diverging_on(data, "t"):  # doctest: +ELLIPSIS
        ...     raise FloatingPointError("training diverged")
        Traceback (most recent call last):
        ...
        latentrec.cli._common.Failure: training diverged, and the ratings read from column 't' ...
    """
    try:
        yield
    except FloatingPointError as err:
        values = data.ratings
        if values.size == 0:
            raise
        lo, hi = float(values.min()), float(values.max())
        far = max(abs(lo), abs(hi)) > FAR_FROM_A_SCALE or (
            data.rating_scale is None and hi - lo > HUGE_RANGE
        )
        if not far:
            raise
        name = column(rating_col, "rating", not no_header)
        raise Failure(
            f"training diverged, and the ratings read from column {name!r} run from {lo:g} "
            f"to {hi:g}, far from any rating scale: is that the rating column? (--rating-col; "
            "rescale values that are ratings)"
        ) from err


def parse_value(text: str):
    """A ``--param`` value as int, float, bool or None where it reads as one, a list where
    it is a JSON list (HybridMF's ``item_features=["genres","title"]``), else the text.

    Example:
        >>> parse_value("8"), parse_value("0.5"), parse_value("false"), parse_value("lbfgs")
        (8, 0.5, False, 'lbfgs')
        >>> parse_value('["genres", "title"]')
        ['genres', 'title']
    """
    if text.startswith("["):
        # A list is what a column-list hyperparameter takes; as text it was refused.
        try:
            return json.loads(text)  # one that parses is a list: it starts with "["
        except ValueError as err:
            raise Failure(
                f"--param value {text!r} starts like a JSON list but is not one: {err}"
            ) from None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_params(extra: tuple[str, ...]) -> dict:
    """``--param NAME=VALUE`` items as ``{name: value}`` (values by :func:`parse_value`).

    A later item of the same name wins; an item without ``=`` is a :class:`Failure`.

    Example:
        >>> parse_params(("n_epochs=3", " biased = false", "n_epochs=4"))
        {'n_epochs': 4, 'biased': False}
    """
    given = {}
    for item in extra:
        if "=" not in item:
            raise Failure(f"--param takes name=value, got {item!r}")
        name, value = item.split("=", 1)
        given[name.strip()] = parse_value(value.strip())
    return given


def build_model(algorithm: str, params: dict, extra: tuple[str, ...] = (), seed=None):
    """An unfitted model from a CLI algorithm name and hyperparameters.

    ``seed`` becomes ``random_state`` for algorithms that have one.

    Example:
        >>> build_model("biased-mf", {"n_factors": 8}, ("n_epochs=3",)).n_epochs
        3
    """
    cls = model_class(algorithm)
    given = {k: v for k, v in params.items() if v is not None}
    extra_params = parse_params(extra)
    # Two values for one hyperparameter: which one the user meant is not ours to guess.
    option = {name: opt for opt, name in COMMON_PARAMS.items()}
    both = sorted(set(given) & set(extra_params))
    if both:
        flag = "--" + option.get(both[0], both[0]).replace("_", "-")
        raise Failure(
            f"{flag} and --param {both[0]}={extra_params[both[0]]} both set {both[0]}; give it once"
        )
    if "verbose" in extra_params:
        # The commands set it themselves (a bar in a terminal, none with -q or in a log),
        # which replaced the user's value without a word.
        raise Failure(
            "--param verbose is the command line's to set: progress shows in a terminal "
            "and not in a log; -q hides it"
        )
    given.update(extra_params)
    valid = set(cls.param_names())
    if seed is not None and "random_state" in valid:
        given.setdefault("random_state", seed)
    unknown = sorted(set(given) - valid)
    if unknown:
        raise Failure(f"{cls.__name__} has no hyperparameter(s) {unknown}; valid: {sorted(valid)}")
    # A bad value is refused now, before any data is read or any plan printed.
    return cls(**given).check_params()


def algorithm_options(fn):
    """``--algorithm`` and the hyperparameter options of the training commands."""
    options = [
        click.option(
            "--algorithm",
            "-a",
            type=click.Choice(sorted(ALIASES)),
            default="biased-mf",
            show_default=True,
            help="What to train.",
        ),
        click.option("--factors", type=int, default=None, help="Latent factors k."),
        click.option("--epochs", type=int, default=None, help="Training epochs."),
        click.option("--learning-rate", type=float, default=None, help="SGD step size."),
        click.option("--regularization", type=float, default=None, help="L2 penalty λ."),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Seed for splits and for the algorithm's random_state.",
        ),
        click.option(
            "--param",
            "extra",
            multiple=True,
            metavar="NAME=VALUE",
            help="Any other hyperparameter, repeatable; a list is given as JSON.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def describe(model) -> str:
    """``repr(model)`` without ``verbose``, which the command line sets for its own output.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> describe(BiasedMF(n_factors=8, verbose=None))
        'BiasedMF(n_factors=8)'
    """
    shown = model.clone()
    if "verbose" in shown.get_params():
        default = inspect.signature(type(model).__init__).parameters["verbose"].default
        shown.set_params(verbose=default)
    return repr(shown)


def params_from(kwargs: dict) -> dict:
    """Pop the common hyperparameter options out of ``kwargs``, keyed by parameter name."""
    return {COMMON_PARAMS[k]: kwargs.pop(k) for k in list(kwargs) if k in COMMON_PARAMS}


@contextlib.contextmanager
def writing(path):
    """Turn a failure to write ``path`` into a :class:`Failure` that names ``path``.

    Files are written under a temporary name beside the target and renamed, so the
    system's message names that temporary file; the user gave (and can fix) the target.

    Example:
        >>> with writing("/nope/out.csv"):
        ...     raise FileNotFoundError(2, "No such file or directory", "/x/.out.csv.k2.tmp")
        Traceback (most recent call last):
        ...
        latentrec.cli._common.Failure: cannot write /nope/out.csv: No such file or directory
    """
    try:
        yield
    except OSError as err:
        raise Failure(f"cannot write {path}: {err.strerror or one_line(err)}") from None


def check_output(path, *, makes_folders: bool = True, folder: bool = False) -> None:
    """Refuse, with a :class:`Failure` naming ``path``, an output the command could not
    write; run it before any loading or fitting, so a typo costs nothing.

    ``path`` is the file to be written (or, with ``folder``, the folder written into).
    Refused: an existing directory where a file is meant; an existing file the user may
    not write (a kept model made read-only); a parent that is a file; a parent that is
    not writable; a missing parent, unless ``makes_folders`` (the writer
    creates missing folders as ``mkdir -p`` does, as model files and exported tables do)
    and the nearest existing folder above it is writable.  Nothing is created: the check
    asks the file system (``os.access``) and leaves no probe file behind.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check_output(os.path.join(folder, "new", "m.npz"))  # the writer makes "new"
        >>> try:
        ...     check_output(os.path.join(folder, "new", "r.lrdata"), makes_folders=False)
        ... except Failure as err:
        ...     print(err.message.replace(folder, "F"))
        cannot write F/new/r.lrdata: no such directory F/new
        >>> try:
        ...     check_output(folder)
        ... except Failure as err:
        ...     print(err.message.replace(folder, "F"))
        cannot write F: it is a directory, not a file
    """
    target = Path(path)
    where = target if folder else target.parent

    def refuse(problem: str):
        raise Failure(f"cannot write {path}: {problem}")

    if not folder and target.is_dir():
        refuse("it is a directory, not a file")
    # The effective user's rights where the system can ask for them (setuid runs).
    effective = os.access in os.supports_effective_ids
    if not folder and target.is_file() and not os.access(target, os.W_OK, effective_ids=effective):
        refuse("it is read-only; make it writable to replace it")  # as the writer would
    # The nearest existing folder at or above `where`: the one the write (or its mkdir -p)
    # has to create entries in.
    nearest = where
    while not os.path.lexists(nearest) and nearest.parent != nearest:
        nearest = nearest.parent
    if not nearest.is_dir():
        refuse(f"{nearest} is not a directory")
    writable = os.access(nearest, os.W_OK | os.X_OK, effective_ids=effective)
    if nearest == where:
        if not writable:
            refuse(f"directory {where} is not writable")
        return
    if not makes_folders:
        refuse(f"no such directory {where}")
    if not writable:
        refuse(f"no such directory {where}, and {nearest} is not writable to create it")


MODEL_SUFFIX = ".npz"


def check_model_output(path, *inputs) -> None:
    """Refuse, with a :class:`Failure`, a model file name that is not ``.npz``, that is a
    symbolic link (see :func:`latentrec.io.modelfile.refuse_link`) or that names one of
    ``inputs`` (the ratings file read), after :func:`check_output`.

    A model written over the ratings it was trained from destroys them; a model under
    another suffix is one no later command recognises as a model file.

    Example:
        >>> try:
        ...     check_model_output("ratings.csv", "ratings.csv")
        ... except Failure as err:
        ...     print(err.message)
        the model file must end in .npz, got ratings.csv
    """
    check_output(path)  # a directory or an unwritable place is said as for any output
    if Path(path).suffix.lower() != MODEL_SUFFIX:
        raise Failure(f"the model file must end in {MODEL_SUFFIX}, got {path}")
    with writing(path):
        refuse_link(path)  # the save would refuse it too, but only after the fit
    from ..service.versions import inside_versions  # not at import: the CLI starts lazily

    if inside_versions(path):
        # Written over, a published version would serve another model under its name
        # (loads through the directory refuse it then; better never to write it).
        raise Failure(
            f"{path} is inside a model directory's versions folder, where only a publish "
            "writes: write the model elsewhere and publish it (latentrec models publish "
            "FILE --model-dir DIR)"
        )
    target = Path(path).resolve()
    for source in inputs:
        if source is not None and Path(source).resolve() == target:
            raise Failure(f"--output {path} is the file read ({source}); write the model elsewhere")


# How the data spells an integer id: plain decimal, no sign but a minus, no leading zero.
INTEGER_SPELLING = re.compile(r"-?(0|[1-9][0-9]*)")


def known_id(vocab, raw):
    """An id typed on the command line, read as the loaders read a file's id cell: for a
    vocabulary of integer ids, whole-number text is that integer ("007", "7", "7.0" and
    " 7 " are all 7, as one file's column of them is); other text is returned as it is.

    Raises :class:`UnknownIdError` for text that is no whole number where the ids are
    integers ("7.5", "abc"), saying so: it can be no id of them.  An id that reads as a
    number but is absent is left to the command, which has its own policy for unknown
    ids.

    Example:
        >>> from latentrec.data import Vocabulary
        >>> users = Vocabulary([3, 7], name="user")
        >>> known_id(users, "3"), known_id(users, "007"), known_id(users, "7.0")
        (3, 7, 7)
        >>> known_id(Vocabulary(["007"]), "007")
        '007'
        >>> try:
        ...     known_id(users, "7.5")
        ... except UnknownIdError as err:
        ...     print(err)
        unknown user id(s): '7.5'; the user ids here are integers (e.g. 3), and '7.5' is not one
    """
    if not vocab.is_integer:
        return raw
    # The readers' own rule (from_text: every cell of a file is text), so that the id a
    # file spelled "007" is found by the spelling the file used.
    cell = clean_ids(pd.Series([str(raw)], dtype=object), from_text=True)
    if not cell.problems and cell.values.dtype.kind == "i":
        return int(cell.values[0])
    example = vocab.ids[0] if len(vocab) else 1
    why = "is not one"
    if re.fullmatch(r"\s*[+-]?[0-9]+\s*", str(raw)):
        why = "is past their 64-bit range"  # a whole number, too long for any id here
    raise UnknownIdError(
        vocab.name,
        [raw],
        hint=f"the {vocab.name} ids here are integers (e.g. {example}), and {raw!r} {why}",
    )


def print_table(df: pd.DataFrame) -> None:
    click.echo(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def recommendation_table(rec) -> pd.DataFrame:
    """A :class:`Recommendations` as rows, each with its ``fallback`` flag.

    Example:
        >>> import numpy as np
        >>> from latentrec.models.results import Recommendations
        >>> rec = Recommendations(np.array([3]), np.array([4.1]), fallback=True)
        >>> recommendation_table(rec).columns.tolist()
        ['rank', 'item_id', 'score', 'fallback']
    """
    table = rec.to_frame()
    table["fallback"] = bool(rec.fallback)
    if "title" in table:  # the flag beside the score, the title last
        table = table[[c for c in table.columns if c != "title"] + ["title"]]
    return table


def emit(table: pd.DataFrame, as_json: bool) -> None:
    """Print ``table`` as JSON records (``--json``) or as an aligned text table."""
    if as_json:
        click.echo(table.to_json(orient="records"))
    else:
        print_table(table)
