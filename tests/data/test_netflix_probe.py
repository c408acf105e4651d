"""The prize's probe.txt held out of the ratings: the split against an obvious
reference on random files, bad probe lines and pairs the data lacks named by file and
line, and ``data convert --probe`` writing two files a model is trained and scored on."""

from __future__ import annotations

import datetime as dt
import gzip
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions
from latentrec.data.netflix import probe_split, read_netflix_pairs
from latentrec.datasets import read_netflix
from latentrec.evaluation import evaluate_ratings
from latentrec.models import Biases


def write_files(folder, rng: random.Random, *, end: str = "\n"):
    """A ratings file and a probe file of some of its pairs; returns both paths and the
    ratings as {(customer, movie): rating} and the probe's pairs in file order."""
    ratings, probe = {}, []
    lines, probe_lines = [], []
    for movie in rng.sample(range(1, 300), 25):
        lines.append(f"{movie}:")
        customers = rng.sample(range(1, 80), rng.randint(1, 20))
        for c in customers:
            r = rng.randint(1, 5)
            day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))
            lines.append(f"{c},{r},{day.isoformat()}")
            ratings[(c, movie)] = float(r)
        held = [c for c in customers if rng.random() < 0.3]
        if held:
            probe_lines.append(f"{movie}:")
            probe_lines += [str(c) for c in held]
            probe += [(c, movie) for c in held]
    path, probe_path = folder / "combined_data_1.txt", folder / "probe.txt"
    path.write_text(end.join(lines) + end, newline="")
    probe_path.write_text(end.join(probe_lines) + end, newline="")
    return path, probe_path, ratings, probe


def cells(data: Interactions) -> dict:
    return {
        (int(data.users.ids[u]), int(data.items.ids[i])): float(r)
        for u, i, r in zip(data.user_idx, data.item_idx, data.ratings, strict=True)
    }


@pytest.mark.parametrize("seed", range(6))
def test_split_matches_reference(tmp_path, seed):
    rng = random.Random(seed)
    end = "\r\n" if seed % 2 else "\n"
    path, probe_path, ratings, probe = write_files(tmp_path, rng, end=end)
    data = read_netflix(path)
    train, test = probe_split(data, probe_path)
    held = set(probe)
    assert cells(test) == {k: v for k, v in ratings.items() if k in held}
    assert cells(train) == {k: v for k, v in ratings.items() if k not in held}
    assert train.users == data.users and test.items == data.items
    assert test.load_report.rows_read == len(probe) == test.nnz
    customers, movies, _ = read_netflix_pairs(probe_path)
    assert list(zip(customers.tolist(), movies.tolist(), strict=True)) == probe


def test_split_in_slabs(tmp_path, monkeypatch):
    """Pairs are found a slab of cells at a time: a pair in every slab and at its edges."""
    rng = random.Random(7)
    path, probe_path, ratings, probe = write_files(tmp_path, rng)
    import latentrec.data.netflix as nf

    data = read_netflix(path)
    whole = cells(probe_split(data, probe_path)[1])
    assert whole == {k: ratings[k] for k in probe}
    for size in (1, 2, 3, 7):
        monkeypatch.setattr(nf, "_PROBE_SLAB", size)
        assert cells(probe_split(data, probe_path)[1]) == whole


def test_probe_file_forms(tmp_path):
    """A BOM, CRLF line ends, blank lines, no newline at the end and gzip all read."""
    text = "\ufeff1:\r\n7\r\n\r\n2:\r\n7\r\n9"
    plain = tmp_path / "probe.txt"
    plain.write_bytes(text.encode("utf-8"))
    packed = tmp_path / "probe.txt.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    for p in (plain, packed):
        c, m, lines = read_netflix_pairs(p)
        assert (c.tolist(), m.tolist(), lines.tolist()) == ([7, 7, 9], [1, 2, 2], [2, 5, 6])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("7\n1:\n8\n", 1, "before any movie line"),
        ("1:\n7,3,2005-09-06\n", 2, "a ratings file, not probe.txt"),
        ("1:\n7,2005-09-06\n", 2, "qualifying.txt"),
        ("1:\n7 \n", 2, "not a customer id"),
        ("1:\n-7\n", 2, "not a customer id"),
        ("x1:\n7\n", 1, "bad movie line"),
        ("1:\n12345678901234567890\n", 2, "not a customer id"),
        # Were "a customer line before any movie line" and "not a customer id".
        ("1:\r7\r8\r", 1, "holds a carriage return (\\r) inside the line"),
        ("1:\n7\r\r\n8\r\r\n", 2, "holds a carriage return (\\r) inside the line"),
        ("1:\n7\n\0\0\0", 3, "holds NUL bytes (from byte 1 of the line): a download cut"),
    ],
)
def test_bad_probe_lines_named(tmp_path, text, line, words):
    path = tmp_path / "probe.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=f"line {line} of .*probe.txt") as err:
        read_netflix_pairs(path)
    assert words in str(err.value)


def test_missing_pairs_error_or_skip(tmp_path):
    ratings = tmp_path / "c.txt"
    ratings.write_text("1:\n7,3,2005-09-06\n9,4,2005-09-06\n2:\n7,5,2005-09-07\n")
    probe = tmp_path / "probe.txt"
    probe.write_text("1:\n9\n2:\n9\n3:\n7\n1:\n8\n")
    data = read_netflix(ratings)
    with pytest.raises(DataError, match=r"line 4 of .*probe.txt: customer 9 has no rating of "):
        probe_split(data, probe)
    train, test = probe_split(data, probe, missing="skip")
    assert cells(test) == {(9, 1): 4.0}
    assert train.nnz == 2
    report = test.load_report
    assert (report.rows_read, report.loaded, report.rejected) == (4, 1, 3)
    assert report.rejections[0].where == (4, 6, 8)
    with pytest.raises(DataError, match="missing must be"):
        probe_split(data, probe, missing="drop")


def test_repeated_probe_pair_refused(tmp_path):
    ratings = tmp_path / "c.txt"
    ratings.write_text("1:\n7,3,2005-09-06\n9,4,2005-09-06\n")
    probe = tmp_path / "probe.txt"
    probe.write_text("1:\n9\n7\n1:\n9\n")
    with pytest.raises(DataError, match=r"line 5 of .*probe.txt repeats the pair of line 2"):
        probe_split(read_netflix(ratings), probe)


def test_convert_with_probe_then_score(tmp_path):
    rng = random.Random(3)
    path, probe_path, ratings, probe = write_files(tmp_path, rng)
    train_out, probe_out = tmp_path / "train.lrdata", tmp_path / "probe.lrdata"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["data", "convert", str(path), "--probe", str(probe_path), "--probe-output",
         str(probe_out), "-o", str(train_out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"loaded {len(probe)}, rejected 0" in result.output
    train, test = Interactions.read(train_out), Interactions.read(probe_out)
    assert cells(test) == {k: ratings[k] for k in probe}
    assert train.nnz + test.nnz == len(ratings)
    model = Biases().fit(train)
    assert evaluate_ratings(model, test)["n"] == len(probe)

    # One line, exit 1: a lone --probe, an output named twice, a missing probe file.
    for extra, words in [
        (["--probe", str(probe_path)], "go together"),
        (["--probe", str(probe_path), "--probe-output", str(train_out)], "both"),
        (["--probe", str(tmp_path / "nope.txt"), "--probe-output", str(probe_out)], "no such"),
    ]:
        result = runner.invoke(main, ["data", "convert", str(path), "-o", str(train_out), *extra])
        assert result.exit_code == 1 and words in result.output, result.output
        assert "Traceback" not in result.output


def test_convert_with_probe_writes_both_or_neither(tmp_path, monkeypatch):
    """Interrupted while writing the second file, the command leaves the files of the
    run before as they were: never a new training part beside an old probe part."""
    rng = random.Random(5)
    path, probe_path, ratings, probe = write_files(tmp_path, rng)
    train_out, probe_out = tmp_path / "train.lrdata", tmp_path / "probe.lrdata"
    train_out.write_bytes(b"old train")
    probe_out.write_bytes(b"old probe")
    real, calls = Interactions.to_lrdata, []

    def interrupted(self, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Interactions, "to_lrdata", interrupted)
    args = ["data", "convert", str(path), "--probe", str(probe_path), "--probe-output",
            str(probe_out), "-o", str(train_out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "Aborted" in result.output, result.output
    assert train_out.read_bytes() == b"old train" and probe_out.read_bytes() == b"old probe"
    assert sorted(p.name for p in tmp_path.iterdir() if "lrdata" in p.name) == [
        "probe.lrdata",
        "train.lrdata",
    ]
    monkeypatch.setattr(Interactions, "to_lrdata", real)
    assert CliRunner().invoke(main, args).exit_code == 0  # the rerun writes both
    assert Interactions.read(probe_out).nnz == len(probe)


def test_probe_given_as_ratings_says_how_to_hold_it_out(tmp_path):
    probe = tmp_path / "probe.txt"
    probe.write_text("1:\n7\n")
    with pytest.raises(DataError, match=r"--probe .*probe.txt --probe-output probe.lrdata"):
        read_netflix(probe)


def test_nothing_to_hold_out_or_nothing_left_refused(tmp_path):
    ratings = tmp_path / "c.txt"
    ratings.write_text("1:\n7,3,2005-09-06\n9,4,2005-09-06\n")
    data = read_netflix(ratings)
    probe = tmp_path / "probe.txt"
    probe.write_text("2:\n7\n")
    for missing in ("error", "skip"):
        match = "none of the 1 pairs" if missing == "skip" else "movie 2 is not in the data"
        with pytest.raises(DataError, match=match):
            probe_split(data, probe, missing=missing)
    probe.write_text("1:\n7\n9\n")
    with pytest.raises(DataError, match="every one of the data's 2 ratings"):
        probe_split(data, probe)
    probe.write_text("1:\n7\n3:\n7\n")
    test = probe_split(data, probe, missing="skip")[1]
    assert test.load_report.summary().endswith(
        "(1 with no rating in the data in column 'CustomerID' (line 4))"
    )


# SIGKILL at each step of the switch of the two outputs: whatever is left, a training
# part never stands beside a probe part of another run (the probe RMSE would then be
# scored on ratings the model trained on).
TARGETS = ("train.lrdata", "probe.lrdata")


def convert(folder: Path, ratings: Path, probe: Path) -> list[str]:
    return ["data", "convert", str(ratings), "--probe", str(probe), "--probe-output",
            str(folder / "probe.lrdata"), "-o", str(folder / "train.lrdata")]  # fmt: skip


def child(args: list[str], stop_at: int, marker: str) -> None:
    """Run the command, stopping (for the parent's SIGKILL) before the ``stop_at``-th
    rename or removal of one of the two outputs."""
    real_replace, real_unlink, seen = os.replace, os.unlink, [0]

    def gate(target):
        if Path(target).name in TARGETS:
            seen[0] += 1
            if seen[0] == stop_at:
                Path(marker).write_text("stopped")
                time.sleep(120)

    def replace(src, dst, *a, **k):
        gate(dst)
        return real_replace(src, dst, *a, **k)

    def unlink(path, *a, **k):
        gate(path)
        return real_unlink(path, *a, **k)

    os.replace, os.unlink = replace, unlink
    result = CliRunner().invoke(main, args)
    os._exit(result.exit_code)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("stop_at", range(1, 6))
def test_sigkill_never_leaves_a_mixed_pair(tmp_path, stop_at):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    # The same ratings, two different probe files: the old run's and the new run's.
    ratings, old_probe, _, _ = write_files(old_dir, random.Random(3))
    new_probe = new_dir / "probe.txt"
    rng = random.Random(4)
    lines, movie = [], None
    for line in ratings.read_text().splitlines():
        if line.endswith(":"):
            movie = line
        elif rng.random() < 0.2:
            lines += [movie, line.split(",")[0]]
    new_probe.write_text("\n".join(lines) + "\n")
    data = read_netflix(ratings)
    runs = {}
    for name, probe in (("old", old_probe), ("new", new_probe)):
        train, held = probe_split(data, probe)
        runs[name] = (train.fingerprint(), held.fingerprint())
    assert runs["old"] != runs["new"]
    out = tmp_path / "out"
    out.mkdir()
    assert CliRunner().invoke(main, convert(out, ratings, old_probe)).exit_code == 0

    marker = tmp_path / "stopped"
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=child, args=(convert(out, ratings, new_probe), stop_at, str(marker)))
    proc.start()
    deadline = time.monotonic() + 120
    while proc.is_alive() and not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if marker.exists():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert marker.exists() or proc.exitcode == 0, proc.exitcode

    left = {}
    for name, index in (("train.lrdata", 0), ("probe.lrdata", 1)):
        if (out / name).exists():
            fingerprint = Interactions.read(out / name).fingerprint()
            left[name] = next(run for run, fps in runs.items() if fps[index] == fingerprint)
    # Both present: both of one run.  One alone is what a rerun replaces.
    assert len(set(left.values())) <= 1, (stop_at, left)
    if not marker.exists():
        assert left == {"train.lrdata": "new", "probe.lrdata": "new"}
    # The killed run's hidden copies stayed, as large as the outputs: the next removes them.
    assert CliRunner().invoke(main, convert(out, ratings, new_probe)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["probe.lrdata", "train.lrdata"]
