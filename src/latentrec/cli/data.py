"""``latentrec data``: the group that fetches, summarises and converts datasets
(``fetch``, ``info``, ``convert``)."""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

import click
import numpy as np

from ..data import Interactions
from ..data.lrdata import SUFFIX
from ..data.movielens import ml_folder_layout
from ..data.netflix import is_netflix_file, pairs_only, probe_split, starts_with_rating
from ..datasets import fetch_movielens, read_netflix
from ._common import (
    READ_FOLDERS,
    Failure,
    check_output,
    data_options,
    fail_on_known_errors,
    flags_apply,
    load_data,
    main,
    writing,
)

FORMATS = ("auto", "table", "netflix")
format_option = click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="netflix: Netflix-prize files ('MovieID:' lines, then CustomerID,Rating,Date); "
    "table: CSV/TSV/Parquet; auto: netflix when the first line is a number and ':'.",
)
# The data options that name columns or text layout: the Netflix format fixes them.
TABLE_ONLY = {
    "user_col": "--user-col",
    "item_col": "--item-col",
    "rating_col": "--rating-col",
    "timestamp_col": "--timestamp-col",
    "sep": "--sep",
    "no_header": "--no-header",
    "encoding": "--encoding",
}


def read_sources(sources, file_format: str, **opts):
    """The ratings of one source (or of several Netflix-prize files), as the format says.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "combined_data_1.txt")
        >>> _ = open(path, "w").write("3:\\n7,4,2005-09-06\\n")
        >>> read_sources([path], "auto").items.ids.tolist()
        [3]
    """
    for source in sources:
        # A folder is read by load_data when it is a MovieLens release, else refused there.
        if Path(source).is_dir() and file_format != "table":
            layout = ml_folder_layout(source)
            if file_format == "netflix" and layout is not None:
                raise Failure(
                    f"--format netflix: {source} is a MovieLens release folder (its "
                    f"{layout[0]}), not Netflix-prize files; drop --format netflix to read it"
                )
            message = folder_message(source)
            if file_format == "netflix" or "Netflix" in message:
                raise Failure(message)
    given = [flag for key, flag in TABLE_ONLY.items() if opts.get(key) not in (None, False)]
    # A Netflix file without its first movie line is read as one, to be refused by its
    # line: as a table, its first rating was a header of columns '214607', '1', ...
    netflix = file_format == "netflix" or (
        file_format == "auto"
        and all(is_netflix_file(s) or (not given and starts_with_rating(s)) for s in sources)
    )
    if file_format == "table":
        # Interactions.read knows a Netflix-prize file by its content and reads it as one:
        # --format table would be ignored without a word.
        for source in sources:
            if is_netflix_file(source):
                raise Failure(
                    f"--format table: {source} is a Netflix-prize file (a 'MovieID:' line, "
                    "then CustomerID,Rating,Date lines); give --format netflix or auto"
                )
    if not netflix:
        if len(sources) > 1:
            others = [s for s in sources if not is_netflix_file(s)]
            if file_format == "auto" and len(others) < len(sources):
                # Some are Netflix-prize files: the others are what stops the read.
                said = "; ".join(f"{s} {not_netflix(s)}" for s in others)
                raise Failure(
                    f"{said}: several files are read together only when each is a "
                    f"Netflix-prize file"
                )
            raise Failure(
                f"{len(sources)} sources given; several files are read together only in the "
                f"Netflix-prize format (--format netflix), give one table file"
            )
        # data info and convert print the whole load report themselves
        return load_data(sources[0], say_merges=False, **opts)
    if given:
        raise Failure(f"{flags_apply(given)} to table files, not to Netflix-prize files")
    for source in sources:
        if not Path(source).is_file():
            raise Failure(f"no such Netflix-prize file: {source}")
        # Said from the first line, before the reader needs anything (pyarrow included).
        if file_format == "netflix" and not is_netflix_file(source):
            raise Failure(
                f"{source} is not a Netflix-prize file: its first line is not a movie id "
                "and ':' ('MovieID:'); drop --format netflix to read it as a table"
            )
    kwargs = {}
    if opts.get("duplicates") is not None:
        kwargs["duplicates"] = opts["duplicates"]
    if opts.get("rating_scale"):
        kwargs["rating_scale"] = tuple(opts["rating_scale"])
    return read_netflix(list(sources), **kwargs)


def not_netflix(source: str) -> str:
    """Why ``source`` is not read as a Netflix-prize file, to follow its name.

    Example:
        >>> not_netflix("/nonexistent/combined_data_1.txt")
        'does not exist'
    """
    path = Path(source)
    if not path.exists():
        return "does not exist"
    if path.is_dir():
        return "is a folder"
    return "is not a Netflix-prize file (its first line is not a movie id and ':')"


def folder_message(source: str, limit: int = 4) -> str:
    """What to give instead of the folder ``source``: its Netflix-prize files, if any.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "combined_data_1.txt"), "w").write("1:\\n")
        >>> folder_message(folder).replace(folder, "F")
        'F is a folder; give its Netflix-prize files: F/combined_data_1.txt'
    """
    found = sorted(
        p
        for p in Path(source).iterdir()
        if p.is_file() and is_netflix_file(p) and pairs_only(p) is None
    )
    if not found:
        return f"{source} is a folder; give a ratings file (CSV, TSV or Parquet) or {READ_FOLDERS}"
    shown = " ".join(str(p) for p in found[:limit])
    more = f" ... ({len(found)} files)" if len(found) > limit else ""
    return f"{source} is a folder; give its Netflix-prize files: {shown}{more}"


def write_both(parts: dict) -> None:
    """Write each ``{path: Interactions}`` as ``.lrdata``, never a new file beside an
    old partner (a training part and a probe part of two different runs): each goes to
    a hidden name beside its path first; once all are on disk, the old files are
    removed, and only then are the new ones renamed into place.  Two renames cannot
    happen at once, so a process killed between them (SIGKILL, a power cut) leaves the
    old pair, one file alone, or none; never a mixed pair.

    Example:
        >>> import tempfile, os
        >>> folder = Path(tempfile.mkdtemp())
        >>> d = Interactions.from_dense(np.eye(2))
        >>> write_both({folder / "a.lrdata": d, folder / "b.lrdata": d})
        >>> sorted(os.listdir(folder))
        ['a.lrdata', 'b.lrdata']
    """
    for path in parts:
        # A run killed with SIGKILL removed none of its hidden copies (as large as the
        # outputs: gigabytes at the prize's size), and no later run did either.
        for tmp in stale_partials(path):
            tmp.unlink(missing_ok=True)
    partial = {
        path: path.with_name(f".{path.name}.{os.getpid()}.partial{SUFFIX}") for path in parts
    }
    try:
        for path, d in parts.items():
            with writing(path):
                d.to_lrdata(partial[path])
        # Renaming each over its old file left, if killed between two renames, a new
        # training part beside the old probe part: the old ones go first, on disk.
        for path in parts:
            with writing(path):
                path.unlink(missing_ok=True)
        sync_folders(parts)
        for path in parts:
            os.replace(partial[path], path)
    finally:
        for tmp in partial.values():
            tmp.unlink(missing_ok=True)
    # The renames are on disk before the command says it wrote the files.
    sync_folders(parts)


def stale_partials(path: Path) -> list[Path]:
    """The hidden files beside ``path`` that :func:`write_both` (and the temporary file
    of its write) left when killed: those of a process no longer running.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> mine = folder / f".a.lrdata.{os.getpid()}.partial.lrdata"
        >>> gone = folder / f".a.lrdata.{2**22 + 1}.partial.lrdata"  # above any pid
        >>> its_tmp = folder / f".{gone.name}.k2x9.tmp"  # of the write it was renamed from
        >>> other = folder / f".a.lrdata.{2**22 + 1}.partial.lrdata.bak"
        >>> _ = [p.write_bytes(b"") for p in (mine, gone, its_tmp, other)]
        >>> [p.name for p in stale_partials(folder / "a.lrdata")] == [its_tmp.name, gone.name]
        True
    """
    found = []
    for prefix, after in ((f".{path.name}.", ""), (f"..{path.name}.", ".tmp")):
        for tmp in path.parent.glob(glob.escape(prefix) + "*"):
            pid, sep, tail = tmp.name[len(prefix) :].partition(f".partial{SUFFIX}")
            ours = tail.startswith(".") and tail.endswith(after) if after else tail == ""
            if not (sep and pid.isdigit() and ours):
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                found.append(tmp)
            except (PermissionError, OverflowError):
                pass  # another user's process: running
    return sorted(found)


def sync_folders(paths) -> None:
    """fsync the folders holding ``paths``, so their renames and removals are on disk.

    Example:
        >>> import tempfile
        >>> sync_folders([Path(tempfile.mkdtemp()) / "a.lrdata"])
    """
    for folder in {Path(path).parent for path in paths}:
        fd = os.open(folder if str(folder) else ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def ratings_only(d: Interactions, source: str) -> Interactions:
    """``d`` without its item/user side tables, which a .lrdata file cannot hold; says on
    standard error which were left out (nothing is dropped without a word).

    Example:
        >>> import numpy as np, pandas as pd
        >>> plain = Interactions.from_dense(np.eye(2))
        >>> titles = pd.DataFrame({"title": ["a", "b"]}, index=plain.items.ids)
        >>> d = plain.replace(item_features=titles)
        >>> ratings_only(d, "x").item_features is None  # a warning on standard error
        True
    """
    left = [
        f"{side} features {list(table.columns)}"
        for side, table in (("item", d.item_features), ("user", d.user_features))
        if table is not None
    ]
    if not left:
        return d
    click.echo(
        f"warning: {' and '.join(left)} of {source} not written: the {SUFFIX} format holds "
        "ratings only (read them from the source itself)",
        err=True,
    )
    return d.replace(item_features=None, user_features=None)


@main.group()
def data():
    """Fetch and inspect datasets.

    \f
    Example: ``latentrec data info ml-100k``
    """


@data.command("fetch")
@click.option(
    "--dataset",
    default="100k",
    show_default=True,
    help="MovieLens variant: 100k (also ml-100k) is fetched; 1m, 10m, 20m, 25m, 32m, latest "
    "and latest-small are downloaded by hand (the command says from where).",
)
@click.option(
    "--cache-dir",
    # Not click.Path(file_okay=False): a file is refused below in one line, exit 1.
    metavar="DIR",
    default=None,
    help="Where to keep it (default $LATENTREC_DATA or ~/.cache/latentrec).",
)
@fail_on_known_errors
def data_fetch(dataset, cache_dir):
    """Download MovieLens into the local cache (from GroupLens or the recbole wheel).

    \f
    Example: ``latentrec data fetch --dataset 100k --cache-dir data``
    """
    if cache_dir is not None and os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        raise Failure(f"--cache-dir {cache_dir} is a file, not a folder")
    folder = fetch_movielens(dataset, cache_dir=cache_dir)
    click.echo(f"MovieLens {dataset} is in {folder}")


@data.command("info")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@data_options
@format_option
@fail_on_known_errors
def data_info(sources, file_format, **opts):
    """Summarise a dataset (ml-100k, a MovieLens folder), a ratings file or Netflix-prize
    files (several are read together, as ``data convert`` reads them).

    \f
    Example: ``latentrec data info ratings.csv --rating-col none``
    """
    d = read_sources(sources, file_format, **opts)
    click.echo(repr(d))
    if d.load_report is not None and all(Path(source).exists() for source in sources):
        # A file's rows merged as duplicates (or ids stripped) are counted, not hidden.
        click.echo(d.load_report.summary())
    counts = d.user_counts()
    # Events' values are counts (repeats add up), not ratings: said as what they are.
    per_user, spread = (
        ("items per user", "events per (user, item)") if d.implicit else
        ("ratings per user", "rating distribution")
    )  # fmt: skip
    click.echo(f"{per_user}: min {counts.min()}, median {np.median(counts):g}, max {counts.max()}")
    values, freq = np.unique(d.ratings, return_counts=True)
    if values.size <= 20:
        click.echo(
            f"{spread}: " + ", ".join(f"{v:g}: {c}" for v, c in zip(values, freq, strict=True))
        )


@data.command("convert")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "-o",
    "--output",
    required=True,
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    help=f"The converted file to write (ends in {SUFFIX}).",
)
@click.option(
    "--probe",
    metavar="FILE",
    default=None,
    help="Netflix-prize probe.txt: its pairs are left out of the output and written to "
    "--probe-output, to score a model trained on the output (the prize's probe RMSE).",
)
@click.option(
    "--probe-output",
    metavar="FILE",
    default=None,
    help=f"With --probe: the held-out pairs' ratings (ends in {SUFFIX}).",
)
@click.option(
    "--missing",
    type=click.Choice(["error", "skip"]),
    default="error",
    show_default=True,
    help="With --probe: a probe pair the ratings do not hold is refused (error), or left "
    "out and counted (skip).",
)
@data_options
@format_option
@fail_on_known_errors
def data_convert(sources, output, file_format, probe, probe_output, missing, **opts):
    """Convert a ratings file (CSV/TSV/Parquet) to a .lrdata file that loads in seconds.

    Netflix-prize files (``combined_data_1.txt`` ...; found by their first line, a
    movie id and ':', or named with --format netflix) are read together into one file.

    The file is read once, checked as every command checks it, and written as an
    uncompressed .npz of the CSR arrays and the ids that later commands (and
    ``Interactions.read``) memory-map instead of parsing.

    With ``--probe probe.txt --probe-output probe.lrdata``, the probe's pairs are held
    out: their ratings go to the probe output, the rest to the output, both with the
    same ids, so a model trained on the output is scored on the probe output.

    Repeated rows of one user and item are merged as every command merges them: a
    rating given again replaces the earlier one, events (``--rating-col none``) add
    up, as ``store import`` adds them; ``--duplicates`` chooses otherwise, and the
    report line says how many rows were merged, and how.

    \f
    Example: ``latentrec data convert ratings.csv -o ratings.lrdata``
    """
    out = Path(output)
    if out.suffix.lower() != SUFFIX:
        raise Failure(f"the output must end in {SUFFIX}, got {output}")
    for source in sources:
        if Path(source).suffix.lower() == SUFFIX:
            raise Failure(f"{source} is converted already")
    if (probe is None) != (probe_output is None):
        raise Failure("--probe and --probe-output go together: give both or neither")
    if probe_output is not None:
        if Path(probe_output).suffix.lower() != SUFFIX:
            raise Failure(f"the probe output must end in {SUFFIX}, got {probe_output}")
        if Path(probe_output).resolve() == out.resolve():
            raise Failure(f"--probe-output and --output are both {output}: give two files")
        if not Path(probe).is_file():
            raise Failure(f"no such probe file: {probe}")
        check_output(probe_output, makes_folders=False)
    check_output(output, makes_folders=False)  # to_lrdata does not create missing folders
    start = time.perf_counter()
    d = read_sources(sources, file_format, **opts)
    read_s = time.perf_counter() - start
    d = ratings_only(d, " + ".join(sources))
    report = d.load_report
    if probe is None:
        with writing(output):
            d.to_lrdata(out)
    else:
        d, held = probe_split(d, probe, missing=missing)
        write_both({out: d, Path(probe_output): held})
    click.echo(f"{report}" if report is not None else repr(d))
    if probe is not None:
        click.echo(
            f"{held.load_report.summary()}; wrote {probe_output} ({held.nnz} ratings), "
            f"held out of {out}"
        )
    click.echo(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {d.nnz} ratings, "
        f"{d.n_users} users x {d.n_items} items) in {time.perf_counter() - start:.1f} s "
        f"(reading {read_s:.1f} s)"
    )
