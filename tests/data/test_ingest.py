"""The lean chunked paths against the line-accurate ones: same table, or the same error.

Every input here is loaded twice: once as the library does (the chunked pyarrow / NumPy
path first, the exact path when that declines) and once with the chunked path switched
off.  The two must agree exactly: cells, ids and their dtype, timestamps, flags and the
load report; or both raise the same ``DataError`` message.  Chunks and blocks are made
tiny so that rows, duplicates and users straddle chunk boundaries.
"""

from __future__ import annotations

import codecs
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from latentrec.data import DataError, Interactions, ingest, readers
from latentrec.data import interactions as interactions_module
from latentrec.data import synthetic as syn
from latentrec.data.interactions import pairwise_sum64


@pytest.fixture(autouse=True)
def _tiny_chunks(monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 7)
    monkeypatch.setattr(ingest, "PIECE_ROWS", 5)  # pieces that do not line up with chunks
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 53)


def exact_path(monkeypatch):
    monkeypatch.setattr(interactions_module, "delimited_batches", lambda *a, **k: None)
    monkeypatch.setattr(interactions_module, "parquet_batches", lambda *a, **k: None)
    monkeypatch.setattr(interactions_module, "lean_frame", lambda *a, **k: None)


def outcome(call):
    try:
        return "ok", call()
    except DataError as err:
        return "error", str(err)


def same(a, b) -> None:
    """Two outcomes agree exactly."""
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1] == b[1]
        return
    x, y = a[1], b[1]
    assert x.shape == y.shape
    assert x.users.ids.dtype == y.users.ids.dtype and x.items.ids.dtype == y.items.ids.dtype
    assert x.users == y.users and x.items == y.items
    for p, q in ((x.matrix.indptr, y.matrix.indptr), (x.matrix.indices, y.matrix.indices)):
        assert np.array_equal(p, q)
    assert x.matrix.data.dtype == y.matrix.data.dtype == np.float32
    assert np.array_equal(x.matrix.data, y.matrix.data)
    assert (x.timestamps is None) == (y.timestamps is None)
    if x.timestamps is not None:
        assert np.array_equal(x.timestamps, y.timestamps)
    assert x.implicit == y.implicit and x.rating_scale == y.rating_scale
    assert x.load_report == y.load_report
    assert x.fingerprint() == y.fingerprint()


def both(monkeypatch, call):
    fast = outcome(call)
    with monkeypatch.context() as m:
        exact_path(m)
        slow = outcome(call)
    same(fast, slow)
    return fast


# ---------------------------------------------------------------------- random files
ID_TEXT = ["1", "2", "3", "17", "-4", "05", "+6", "9000000000", " 7", "x", "", "NA", "2.0"]
VALUE_TEXT = ["1", "2", "3.5", "4", "5", "4.25", "0.1", "1e0", ".5", "3.", "nan", "", "inf",
              "six", " 4", "1e39", "7"]  # fmt: skip


def random_file(rng, tmp_path, k):
    clean = rng.random() < 0.6
    ids = ID_TEXT[:5] if clean else ID_TEXT
    values = VALUE_TEXT[:9] if clean else VALUE_TEXT
    sep = rng.choice([",", "\t", ";", "|"])
    with_ts = rng.random() < 0.3
    extra = rng.random() < 0.3
    header = rng.random() < 0.8
    cols = ["user_id", "item_id", "rating"] + (["timestamp"] if with_ts else [])
    cols += ["note"] if extra else []
    if rng.random() < 0.3:
        cols = [f'"{c}"' for c in cols]  # a quoted header, as pyarrow and R write it
    if not clean and rng.random() < 0.1:
        cols[0] = '"user_id'  # never closed
    lines = [sep.join(cols)] if header else []
    for _ in range(rng.integers(1, 40)):
        row = [rng.choice(ids), rng.choice(ids), rng.choice(values)]
        if with_ts:
            row.append(str(rng.integers(0, 5)))
        if extra:
            row.append(rng.choice(["a", "b", 'q"q', "é"]) if not clean else "a")
        if not clean and rng.random() < 0.03:
            row = row[:-1]
        lines.append(sep.join(row))
        if rng.random() < 0.05:
            lines.append(rng.choice(["", "   "]) if not clean else "")
    newline = "\r\n" if rng.random() < 0.2 else "\n"
    text = newline.join(lines) + (newline if rng.random() < 0.8 else "")
    raw = text.encode("utf-8")
    if rng.random() < 0.1:
        raw = codecs.BOM_UTF8 + raw
    if not clean and rng.random() < 0.05:
        raw = raw.replace(b"a", b"\xff", 1)
    path = tmp_path / f"r{k}.csv"
    path.write_bytes(raw)
    kwargs = {"timestamp": "timestamp" if header else 3} if with_ts else {}
    if not header:
        kwargs.update(user=0, item=1, rating=2, header=False)
    return path, kwargs


OPTIONS = [
    {},
    {"duplicates": "mean"},
    {"duplicates": "sum"},
    {"duplicates": "error"},
    {"rating_scale": (1, 5)},
    {"on_bad_rows": "skip"},
    {"strip_ids": False},
    {"implicit": True},
]


def test_chunked_csv_matches_the_line_accurate_reader(monkeypatch, tmp_path):
    rng = np.random.default_rng(12)
    loaded = 0
    for k in range(160):
        path, kwargs = random_file(rng, tmp_path, k)
        opts = OPTIONS[k % len(OPTIONS)]
        result = both(monkeypatch, lambda p=path, kw=kwargs, o=opts: Interactions.from_csv(
            p, **kw, **o))  # fmt: skip
        loaded += result[0] == "ok"
    assert loaded > 40


def test_clean_csv_takes_the_chunked_path(monkeypatch, tmp_path):
    # A big-enough clean file never reaches the line-accurate reader.
    path = tmp_path / "r.csv"
    rng = np.random.default_rng(0)
    n = 500
    rows = zip(rng.integers(0, 40, n), rng.integers(0, 30, n), rng.integers(1, 6, n), strict=True)
    path.write_text("user_id,item_id,rating\n" + "".join(f"{u},{i},{r}\n" for u, i, r in rows))

    def refuse(*args, **kwargs):
        raise AssertionError("the exact reader was used")

    monkeypatch.setattr(interactions_module, "read_delimited", refuse)
    data = Interactions.from_csv(path)
    assert data.load_report.rows_read == n
    assert data.load_report.loaded + data.load_report.merged == n


def test_a_csv_written_by_pyarrow_takes_the_chunked_path(monkeypatch, tmp_path):
    # pyarrow (like R) quotes the header: the data rows are still plain.
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = tmp_path / "r.csv"
    table = pa.table({"user_id": [3, 1, 3], "item_id": [7, 7, 8], "rating": [4.0, 2.5, 1.0]})
    pacsv.write_csv(table, path)
    assert path.read_text().startswith('"user_id"')
    exact = outcome(lambda: Interactions.from_csv(path))
    monkeypatch.setattr(interactions_module, "read_delimited", None)  # must not be reached
    fast = outcome(lambda: Interactions.from_csv(path))
    same(fast, exact)
    assert fast[1].nnz == 3


def test_a_bad_line_far_into_a_file_is_named(tmp_path):
    path = tmp_path / "r.csv"
    good = "".join(f"{u},{u % 7},4\n" for u in range(300))
    path.write_text("user_id,item_id,rating\n" + good + "5,,3\n" + good)
    with pytest.raises(DataError, match=r"empty ids at line 302 of .*r\.csv"):
        Interactions.from_csv(path)


# ---------------------------------------------------------------------- frames, Parquet
def random_frame(rng):
    n = int(rng.integers(1, 60))
    kind = rng.choice(["int8", "int32", "int64", "uint16", "uint64", "float64", "object"])
    users = rng.integers(0, 12, n)
    if kind == "uint64" and rng.random() < 0.3:
        users = users.astype(np.uint64) + np.uint64(2**63)
    users = users.astype(kind) if kind != "object" else users.astype(str).astype(object)
    items = rng.integers(-3, 9, n) * (10**12 if rng.random() < 0.2 else 1)
    ratings = rng.choice([1.0, 2.0, 3.5, 4.0, 5.0, 0.1, 2.25], n)
    if rng.random() < 0.15:
        ratings[rng.integers(0, n)] = rng.choice([np.nan, np.inf, 7.0, 1e39])
    df = pd.DataFrame({"user_id": users, "item_id": items, "rating": ratings})
    if rng.random() < 0.3:
        df["rating"] = rng.integers(1, 6, n)
    if rng.random() < 0.3:
        df["timestamp"] = rng.integers(0, 4, n).astype(float)
    if rng.random() < 0.2:
        df.index = df.index[::-1] + 100
    return df


def test_lean_frames_match_the_exact_path(monkeypatch):
    rng = np.random.default_rng(5)
    loaded = 0
    for k in range(200):
        df = random_frame(rng)
        ts = "timestamp" if "timestamp" in df else None
        rating = None if k % 9 == 0 else "rating"
        opts = OPTIONS[k % len(OPTIONS)]
        result = both(
            monkeypatch,
            lambda df=df, r=rating, t=ts, o=opts: Interactions.from_frame(
                df, rating=r, timestamp=t, **o
            ),
        )
        loaded += result[0] == "ok"
    assert loaded > 100


def test_lean_parquet_matches_the_exact_path(monkeypatch, tmp_path):
    rng = np.random.default_rng(8)
    for k in range(60):
        df = random_frame(rng)
        if df["user_id"].dtype == object or df["user_id"].dtype == np.uint64:
            df["user_id"] = df["user_id"].astype(str)
        path = tmp_path / f"r{k}.parquet"
        df.to_parquet(path)
        opts = OPTIONS[k % len(OPTIONS)]
        ts = "timestamp" if "timestamp" in df else None
        both(monkeypatch, lambda p=path, o=opts, t=ts: Interactions.from_parquet(
            p, timestamp=t, **o))  # fmt: skip


def test_a_big_frame_builds_the_same_table_as_before(monkeypatch):
    # Past many chunks, with repeats that span them: the lean builder equals the exact one.
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 997)
    monkeypatch.setattr(ingest, "PIECE_ROWS", 211)
    rng = np.random.default_rng(1)
    n = 30_000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 900, n),
            "item_id": rng.integers(0, 60, n).astype(np.int32),
            "rating": rng.integers(1, 6, n).astype(np.float32),
            "timestamp": rng.integers(0, 50, n),
        }
    )
    for duplicates in ("last", "mean", "sum"):
        status, data = both(monkeypatch, lambda d=duplicates: Interactions.from_frame(
            df, timestamp="timestamp", duplicates=d))  # fmt: skip
        assert status == "ok" and data.load_report.merged > 0


@pytest.mark.parametrize("seed", range(4))
def test_frames_already_in_user_item_order_build_the_same_table(monkeypatch, seed):
    # Sorted runs skip the sort; a few shuffled rows and repeats make other blocks sort.
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 101)
    monkeypatch.setattr(ingest, "PIECE_ROWS", 37)
    rng = np.random.default_rng(seed)
    cells = np.unique(rng.integers(0, 40 * 30, 700))
    users, items = (cells // 30).astype(np.int32), (cells % 30).astype(np.int32)
    order = np.arange(cells.size)
    if seed % 2:
        where = rng.choice(cells.size, 20, replace=False)
        order[where] = rng.permutation(order[where])
    stars = rng.integers(1, 6, cells.size).astype(np.float32)
    df = pd.DataFrame({"u": users[order], "i": items[order], "r": stars})
    if seed >= 2:
        df = pd.concat([df, df.sample(15, random_state=seed)], ignore_index=True)
    for duplicates in ("last", "sum"):
        status, data = both(monkeypatch, lambda d=duplicates: Interactions.from_frame(
            df, user="u", item="i", rating="r", duplicates=d))  # fmt: skip
        assert status == "ok" and data.nnz == cells.size


# ---------------------------------------------------------------------- .lrdata
@pytest.mark.parametrize("mmap", [True, False])
def test_lrdata_round_trip_is_exact(tmp_path, mmap):
    df = pd.DataFrame(
        {
            "user_id": ["ann", "bob", "ann", "zoë"],
            "item_id": [10, 2**40, 3, 10],
            "rating": [4.5, 3.0, 1.0, 2.0],
            "timestamp": [1.5, 2.0, 3.0, 4.0],
        }
    )
    data = Interactions.from_frame(df, timestamp="timestamp", rating_scale=(1, 5))
    path = data.to_lrdata(tmp_path / "r.lrdata")
    back = Interactions.read(path, mmap=mmap)
    assert back.fingerprint() == data.fingerprint()
    assert back.users == data.users and back.items == data.items
    assert back.users.ids.dtype == object and back.items.ids.dtype == np.int64
    assert np.array_equal(back.timestamps, data.timestamps)
    assert back.rating_scale == (1.0, 5.0) and back.implicit is False
    assert back.load_report.rows_read == 4 and back.load_report.duplicates == "last"
    assert back.matrix.data.flags.writeable is False


def test_lrdata_of_synthetic_trains_the_same_model(tmp_path):
    from latentrec.models import ImplicitALS

    data = syn.synthetic(200, 40, 2000, random_state=3, implicit=True)
    back = Interactions.read(data.to_lrdata(tmp_path / "s.lrdata"))
    a = ImplicitALS(n_factors=3, n_epochs=2, random_state=0, num_threads=1).fit(data)
    b = ImplicitALS(n_factors=3, n_epochs=2, random_state=0, num_threads=1).fit(back)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert back.implicit


def test_lrdata_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.lrdata"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read .*bad.lrdata as .lrdata"):
        Interactions.read(bad)
    with pytest.raises(DataError, match="no such .lrdata file"):
        Interactions.read(tmp_path / "missing.lrdata")
    other = tmp_path / "other.lrdata"
    np.savez(other, meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    (tmp_path / "other.lrdata.npz").rename(other)
    with pytest.raises(DataError, match="not a latentrec .lrdata file"):
        Interactions.read(other)
    data = Interactions.from_arrays([1], [2], [3.0])
    path = data.to_lrdata(tmp_path / "ok.lrdata")
    with pytest.raises(DataError, match="sep apply when reading ratings"):
        Interactions.read(path, sep=",")
    features = pd.DataFrame({"title": ["x"]}, index=[2])
    with_features = Interactions.from_arrays([1], [2], [3.0], item_features=features)
    with pytest.raises(DataError, match="holds ratings only"):
        with_features.to_lrdata(tmp_path / "f.lrdata")
    assert not (tmp_path / "f.lrdata").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_data_convert_end_to_end(tmp_path):
    from click.testing import CliRunner

    from latentrec.cli import main

    csv_path = tmp_path / "r.csv"
    csv_path.write_text("user_id,item_id,rating\n1,10,4\n2,10,5\n1,11,3\n")
    out = tmp_path / "r.lrdata"
    runner = CliRunner()
    result = runner.invoke(main, ["data", "convert", str(csv_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and out.exists()
    assert Interactions.read(out).fingerprint() == Interactions.read(csv_path).fingerprint()
    info = runner.invoke(main, ["data", "info", str(out)])
    assert info.exit_code == 0 and "2 users x 2 items" in info.output

    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\n1,10,4\n2,,5\n")
    for args, message in (
        (["data", "convert", str(bad), "-o", str(tmp_path / "b.lrdata")], "line 3 of"),
        (["data", "convert", str(csv_path), "-o", str(tmp_path / "b.npz")], "must end in"),
        (["data", "convert", str(out), "-o", str(tmp_path / "c.lrdata")], "converted already"),
        (["data", "info", str(out), "--sep", ";"], "--sep applies when converting"),
        (["data", "info", str(out), "--sep", ";", "--no-header"], "--no-header apply when"),
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "b.lrdata").exists()


# ---------------------------------------------------------------------- synthetic, sums
def test_blocked_synthetic_sampler(monkeypatch):
    monkeypatch.setattr(syn, "_BLOCKED_RATINGS", 0)
    monkeypatch.setattr(syn, "_DENSE_MAX_CELLS", 0)
    monkeypatch.setattr(syn, "_CHUNK", 500)
    for shape in ((3000, 400, 30_000), (50, 40, 1900), (2000, 30, 2500)):
        data = syn.synthetic(*shape, random_state=4)
        assert data.shape == shape[:2] and data.nnz == shape[2]
        assert data.user_counts().min() >= 1 and data.item_counts().min() >= 1
        assert data.matrix.has_sorted_indices
        m = data.matrix
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        assert np.unique(rows * m.shape[1] + m.indices).size == m.nnz  # distinct cells
        assert set(np.unique(data.ratings).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    again = syn.synthetic(3000, 400, 30_000, random_state=4)
    assert again.fingerprint() == syn.synthetic(3000, 400, 30_000, random_state=4).fingerprint()
    # Popular items get more cells, as with the sequential sampler.
    args = dict(n_users=2000, n_items=300, n_ratings=40_000, random_state=2, return_truth=True)
    data, truth = syn.synthetic(**args)
    top = np.argsort(truth["item_popularity"])[::-1][:30]
    share = data.item_counts()[top].sum() / data.nnz
    monkeypatch.setattr(syn, "_BLOCKED_RATINGS", 1 << 40)
    monkeypatch.setattr(syn, "_DENSE_MAX_CELLS", 1 << 26)
    old, _ = syn.synthetic(**args)
    old_share = old.item_counts()[top].sum() / old.nnz
    assert abs(share - old_share) < 0.05


def test_pairwise_sum64_equals_numpy_on_random_lengths():
    rng = np.random.default_rng(0)
    for n in [0, 1, 9, 4095, (1 << 22) + 3, (1 << 23) + 1001]:
        x = rng.standard_normal(n).astype(np.float32)
        assert pairwise_sum64(x) == x.astype(np.float64).sum()


@pytest.mark.slow
def test_loading_ten_million_rows_stays_lean(tmp_path):
    # Peak resident memory of a child process: building from a frame and from a CSV
    # file costs at most ~24 bytes per rating above the input and the imports.
    script = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd, resource
        from latentrec import Interactions
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        n = 10_000_000
        rng = np.random.default_rng(0)
        df = pd.DataFrame({{"user_id": rng.integers(0, 50_000, n).astype(np.int32),
                           "item_id": rng.integers(0, 20_000, n).astype(np.int32),
                           "rating": rng.integers(1, 6, n).astype(np.float32)}})
        path = r"{tmp_path / "r.csv"}"
        df.to_csv(path, index=False)
        base = peak()
        Interactions.from_frame(df)
        frame = peak() - base
        del df
        base = peak()
        Interactions.from_csv(path)
        print(frame / n, (peak() - base) / n)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    per_frame, per_file = map(float, out.stdout.split())
    assert per_frame <= 24 and per_file <= 24
