"""``latentrec train --engine spark``: what it refuses before starting Spark.

The fit itself runs through a standalone cluster in ``test_spark_cluster.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from latentrec.cli import main


@pytest.mark.parametrize(
    "args, message",
    [
        (["-a", "biased-mf"], "--engine spark trains als or implicit-als, not biased-mf"),
        (["-a", "als", "--test-size", "0.2"], "--test-size is not available with --engine spark"),
        (
            ["-a", "als", "--rating-scale", "1", "5"],
            "--rating-scale is not available with --engine spark",
        ),
        (
            ["-a", "als", "--duplicates", "last"],
            "--duplicates last is not available with --engine spark",
        ),
        (
            ["-a", "implicit-als", "--rating-col", "none"],
            "--rating-col applies to ratings files, not to the dataset ml-100k",
        ),
        (["-a", "als", "--spark-master", "bogus"], "--spark-master 'bogus' is not a Spark master"),
    ],
)
def test_train_on_spark_refuses_what_it_cannot_do(tmp_path, args, message):
    result = CliRunner().invoke(
        main, ["train", "ml-100k", "--engine", "spark", *args, "-o", str(tmp_path / "m.npz")]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_spark_master_that_does_not_answer_is_one_line(tmp_path, monkeypatch):
    # Spark retried for about a minute, then said "Cannot call methods on a stopped
    # SparkContext" with the Java stack of where that context was made.
    import socket

    from latentrec.spark import session

    monkeypatch.setattr(session, "MASTER_WAIT_S", 0.5)  # a master starting is waited for

    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    master = f"spark://127.0.0.1:{port}"
    result = CliRunner().invoke(
        main, ["train", "ml-100k", "--engine", "spark", "-a", "als", "--spark-master", master,
               "-o", str(tmp_path / "m.npz")],
    )  # fmt: skip
    assert (result.exit_code, result.output) == (
        1,
        f"Error: no Spark master answers at {master} (127.0.0.1:{port}: Connection refused); "
        "start it, or check the host and the port (7077 unless set)\n",
    )


# Both commands in one child process: one JVM start, and the command's spark.stop() never
# stops the test session's shared SparkSession.
CHILD = """
import json, sys
from click.testing import CliRunner
from latentrec.cli import main
out = {}
for name, args in json.loads(sys.argv[1]).items():
    result = CliRunner().invoke(main, args)
    out[name] = [result.exit_code, result.output]
print(json.dumps(out))
"""


# Slow (about 60 s: `latentrec train --spark` starts its own JVM): in `make test-all`.
@pytest.mark.slow
@pytest.mark.spark
def test_train_on_spark_reads_the_duplicates_option_and_keeps_spark_off_the_terminal(tmp_path):
    """A missing file is refused before Spark starts; once it has started, the JVM's log
    (log4j lines, Java's own warnings, a stack trace) goes nowhere near the terminal: the
    child's standard error, where the JVM would write, stays empty."""
    import spark_support

    why = spark_support.spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id,rating\n1,10,4\n1,10,2\n2,10,5\n2,11,1\n")
    extra = tmp_path / "extra.csv"
    extra.write_text("user_id,item_id,rating\n1,1,5\n1,2,3\n2,1,3,9\n")
    common = ["--engine", "spark", "-a", "als", "--factors", "1", "--epochs", "1", "-q"]
    missing = tmp_path / "nope.parquet"
    commands = {
        "missing": ["train", str(missing), *common, "-o", str(tmp_path / "a.npz")],
        "summed": ["train", str(ratings), *common, "--duplicates", "sum", "-o",
                   str(tmp_path / "b.npz")],
        "extra": ["train", str(extra), *common, "-o", str(tmp_path / "c.npz")],
        "master": ["train", str(ratings), *common, "--spark-master", "local[2",
                   "-o", str(tmp_path / "d.npz")],
        # Ratings given again: the local engine keeps the last, which Spark cannot tell.
        "repeated": ["train", str(ratings), *common, "-o", str(tmp_path / "e.npz")],
        # Events add up by default, as the local engine and store import count them.
        "events": ["train", str(ratings), "--engine", "spark", "-a", "implicit-als",
                   "--rating-col", "none", "--factors", "1", "--epochs", "1", "-q",
                   "-o", str(tmp_path / "f.npz")],
        # Stars under implicit-als: still explicit ratings, as the local engine reads them.
        "stars": ["train", str(ratings), "--engine", "spark", "-a", "implicit-als",
                  "--duplicates", "mean", "--factors", "1", "--epochs", "1", "-q",
                  "-o", str(tmp_path / "g.npz")],
    }  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert child.stderr == ""
    results = json.loads(child.stdout.strip().splitlines()[-1])
    assert results["missing"] == [
        1,
        f"Error: no dataset named {str(missing)!r} and no such file or folder; "
        "use ml-100k or a path\n",
    ]
    code, output = results["summed"]
    assert code == 0, output
    assert "3 cells, 2 users, 2 items" in output
    assert results["master"] == [
        1,
        "Error: Spark did not start: org.apache.spark.SparkException: Could not parse Master "
        "URL: 'local[2'\n",
    ]
    assert results["repeated"] == [
        1,
        f"Error: user 1 rated item 10 2 times (lines 2 and 3 of {ratings}); pass "
        "duplicates='mean' or 'sum' to merge repeated pairs (--duplicates mean or sum; "
        "Spark's rows have no order, so the local engine's 'last' cannot be offered)\n",
    ]
    code, output = results["events"]
    assert code == 0, output
    assert "3 cells, 2 users, 2 items" in output  # user 1's two rows of item 10 added up
    # The kind of feedback, as a local fit of the same file records it (a ratings store
    # retraining the model reads that kind): the Spark models left it unknown for
    # implicit-als, events and stars alike.
    import latentrec
    from latentrec.cli._common import load_data

    code, output = results["stars"]
    assert code == 0, output
    for name, read_as in (("f", {"rating_col": "none"}), ("g", {}), ("b", {})):
        local = load_data(str(ratings), duplicates="sum", say_merges=False, **read_as)
        assert latentrec.load(tmp_path / f"{name}.npz").catalog_.implicit is local.implicit
    assert latentrec.load(tmp_path / "f.npz").catalog_.implicit is True
    assert results["extra"] == [
        1,
        f"Error: line 4 of {extra} has 4 fields where the header has 3\n",
    ]


# Slow (a JVM of its own, as above): in `make test-all`.
@pytest.mark.slow
@pytest.mark.spark
def test_train_on_spark_reads_movielens_ratings_csv_without_column_flags(tmp_path):
    """MovieLens' ratings.csv (userId, movieId) trains as the local engine reads it: the
    columns read are said on standard error, and the model has the file's ids."""
    import spark_support

    why = spark_support.spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,11,3.5,2\n2,10,5.0,3\n3,11,1.0,4\n"
    )
    model = tmp_path / "m.npz"
    args = ["train", str(ratings), "--engine", "spark", "-a", "als", "--factors", "1",
            "--epochs", "1", "-q", "-o", str(model)]  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"train": args})],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    code, output = json.loads(child.stdout.strip().splitlines()[-1])["train"]
    assert code == 0, output
    assert "4 cells, 3 users, 2 items" in output
    assert (
        f"note: {ratings}: user ids from column 'userId', item ids from column 'movieId' "
        "(no column 'user_id', 'item_id')"
    ) in output
    import latentrec

    assert latentrec.load(model).items_.ids.tolist() == [10, 11]


# Slow (a JVM of its own and a fit of 100,000 ratings): in `make test-all`.
@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.network
def test_train_on_spark_of_ml_100k_keeps_its_titles_and_rating_scale(tmp_path):
    """The model of `train ml-100k --engine spark` had no titles, no rating scale and no
    fingerprint, where the local engine's model of the same data has all three:
    `recommend` showed no titles, scores past 5 stars went unclipped and
    predict(clip=True) was refused.  Now it records what the local model records."""
    import spark_support

    why = spark_support.spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    import numpy as np

    import latentrec
    from latentrec.models import ALS

    model = tmp_path / "m.npz"
    args = ["train", "ml-100k", "--engine", "spark", "-a", "als", "--factors", "2",
            "--epochs", "1", "-q", "-o", str(model)]  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"train": args})],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    code, output = json.loads(child.stdout.strip().splitlines()[-1])["train"]
    assert code == 0, output
    ours = latentrec.load(model)
    data = latentrec.datasets.movielens("100k", verbose=False)
    local = ALS(n_factors=2, n_epochs=1, random_state=0).fit(data)
    cat, ref = ours.catalog_, local.catalog_
    assert cat.items == ref.items
    assert cat.item_titles.tolist() == ref.item_titles.tolist()
    assert cat.rating_scale == ref.rating_scale == (1.0, 5.0)
    assert cat.fingerprint == ref.fingerprint
    np.testing.assert_allclose(ours.item_factors_, local.item_factors_, atol=1e-4)
    clipped = ours.predict(data.users.ids[:50], data.items.ids[:50], clip=True)
    assert clipped.min() >= 1.0 and clipped.max() <= 5.0
    # What the model's users see: the titles beside the ids.
    shown = CliRunner().invoke(main, ["recommend", str(model), "--user", "1", "-n", "3"])
    assert shown.exit_code == 0, shown.output
    # Standard output's first line: a first run's compile note goes to standard error.
    assert "title" in shown.stdout.splitlines()[0]
    first = ours.recommend(1, n=1).ids[0]
    assert ref.item_titles[ref.items.lookup([first])[0]] in shown.output


# Slow (a JVM of its own, as above): in `make test-all`.
@pytest.mark.slow
@pytest.mark.spark
def test_the_advice_for_a_release_folder_trains(tmp_path):
    """A MovieLens folder is refused, naming its ratings file and the flags that read it;
    "give its ratings.dat" alone led to "no column(s) ['user_id', 'item_id', 'rating']
    ... it has ['22::377::1::878887116']".  The advice, followed as written, trains."""
    import shlex

    import spark_support

    why = spark_support.spark_missing()
    if why:
        pytest.skip(f"Spark tests skipped: {why}")
    rows = [(1, 10, 5), (1, 11, 3), (2, 10, 4), (3, 11, 1)]
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text(
        "".join(f"{u}::{i}::{r}::97830076{k}\n" for k, (u, i, r) in enumerate(rows))
    )
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text(
        "".join(f"{u}\t{i}\t{r}\t87496575{k}\n" for k, (u, i, r) in enumerate(rows))
    )
    common = ["--engine", "spark", "-a", "als", "--factors", "1", "--epochs", "1", "-q"]
    commands = {}
    for name, file in (("ml-1m", "ratings.dat"), ("ml-100k", "u.data")):
        folder = tmp_path / name
        refused = CliRunner().invoke(main, ["train", str(folder), *common, "-o", "x.npz"])
        assert refused.exit_code == 1
        advice = refused.output.split("; give its ")[1].split(", or train on")[0]
        given, _, flags = advice.partition(" with ")
        assert given == file and flags.startswith("--no-header --sep "), advice
        commands[name] = ["train", str(folder / file), *common, *shlex.split(flags),
                          "-o", str(tmp_path / f"{name}.npz")]  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    import latentrec

    for name, (code, output) in json.loads(child.stdout.strip().splitlines()[-1]).items():
        assert code == 0, (name, output)
        assert "4 cells, 3 users, 2 items" in output, output
        model = latentrec.load(tmp_path / f"{name}.npz")
        assert model.items_.ids.tolist() == [10, 11] and model.users_.ids.tolist() == [1, 2, 3]


@pytest.mark.spark
@pytest.mark.slow
def test_ctrl_c_during_a_spark_fit_is_one_line_and_stops_spark(tmp_path):
    """pyspark's SIGINT handler called the JVM from inside the interrupted call: py4j
    printed two tracebacks (ERROR:root:...) before click's "Aborted!"."""
    import os
    import signal
    import time

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(2000), 20)
    frame = pd.DataFrame(
        {"user_id": users, "item_id": rng.integers(0, 5000, users.size),
         "rating": rng.integers(1, 6, users.size).astype(float)}
    ).drop_duplicates(["user_id", "item_id"])  # fmt: skip
    frame.to_parquet(tmp_path / "r.parquet")
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "latentrec.cli", "train", str(tmp_path / "r.parquet"),
             "--engine", "spark", "-a", "als", "--epochs", "100000",
             "-o", str(tmp_path / "m.npz")],
            stdout=subprocess.PIPE, stderr=err, text=True,
            env=dict(os.environ, SPARK_LOCAL_IP="127.0.0.1"),
        )  # fmt: skip
        try:
            seen = []
            for line in child.stdout:  # the fit's progress: Spark is inside a job now
                seen.append(line)
                if line.startswith("iteration 2/"):
                    break
            assert seen and seen[-1].startswith("iteration 2/"), "".join(seen)
            jvms = children(child.pid)  # the JVM pyspark started
            assert jvms
            child.send_signal(signal.SIGINT)
            child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 1
    said = [x for x in err_path.read_text().splitlines() if x and not x.startswith("compiling")]
    assert said == ["Aborted!"], err_path.read_text()[-3000:]  # click's word for Ctrl-C
    assert not (tmp_path / "m.npz").exists()
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in jvms) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in jvms), "the JVM outlived Ctrl-C"


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: the test runs on Linux)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


# The command, with a line on standard error when fit_als starts numbering the ids (the
# setup before the first iteration, where Spark runs jobs of its own), as a test's cue.
_CUED_TRAIN = """
import sys
import latentrec.spark.als as als
index = als._index
def cued(*args, **kwargs):
    print("cue: indexing", file=sys.stderr, flush=True)
    return index(*args, **kwargs)
als._index = cued
from latentrec.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.5, 1.5])
def test_ctrl_c_to_the_process_group_during_setup_is_one_aborted(tmp_path, delay):
    """Ctrl-C inside a py4j call left the call unanswered; pyspark's clean-up of the job
    then failed ("Py4JNetworkError: Answer from Java side is empty") and that error, not
    the interrupt, reached the command: "unexpected Py4JNetworkError ... (a bug in
    latentrec ...)".  A terminal sends SIGINT to the whole process group, Spark's Python
    workers included."""
    import contextlib
    import os
    import signal

    cells = [(u, (u * 7 + k) % 50, 1 + k % 5) for u in range(60) for k in range(8)]
    lines = ["user,item,rating"] + [",".join(map(str, cell)) for cell in cells]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    child = subprocess.Popen(
        [sys.executable, "-c", _CUED_TRAIN, "train", str(tmp_path / "r.csv"), "--engine",
         "spark", "-a", "als", "--factors", "2", "--user-col", "user", "--item-col", "item",
         "-o", str(tmp_path / "m.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", LATENTREC_DEBUG=""),
        # A test run in the background may have SIGINT ignored, which its children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        for line in child.stderr:
            if line.startswith("cue: indexing"):
                break
        else:
            pytest.fail("the command ended before its fit began: " + child.stdout.read())
        time.sleep(delay)
        os.killpg(child.pid, signal.SIGINT)  # as a terminal sends it
        out, err = child.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):  # anything of its group left over
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    said = [x for x in err.splitlines() if x and not x.startswith("compiling")]
    assert (child.returncode, said) == (1, ["Aborted!"]), err[-3000:]
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.spark
@pytest.mark.slow
def test_ctrl_c_while_the_jvm_starts_leaves_no_jvm_behind(tmp_path):
    """pyspark starts its JVM ignoring SIGINT and keeps no handle of it until it has
    connected: Ctrl-C in between printed Aborted! and left the JVM running for minutes."""
    import contextlib
    import os
    import signal

    (tmp_path / "r.csv").write_text("user,item,rating\n1,1,5\n2,1,4\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "latentrec.cli", "train", str(tmp_path / "r.csv"), "--engine",
         "spark", "-a", "als", "--user-col", "user", "--item-col", "item",
         "-o", str(tmp_path / "m.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, SPARK_LOCAL_IP="127.0.0.1"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (jvms := children(child.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)  # until pyspark has started the JVM's launcher
        assert jvms, "no JVM started"
        time.sleep(0.5)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=120)
        deadline = time.monotonic() + 30
        while any(_running(p) for p in jvms) and time.monotonic() < deadline:
            time.sleep(0.5)
        alive = [p for p in jvms if _running(p)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    said = [x for x in err.splitlines() if x and not x.startswith("compiling")]
    assert (child.returncode, said) == (1, ["Aborted!"]), err[-3000:]
    assert not alive, "the JVM outlived Ctrl-C"


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_dataset_tables_go_by_id_and_refuse_a_model_of_other_ratings():
    """``with_dataset_tables`` (what ``train ml-100k --engine spark`` adds): titles follow
    the model's own item order by id, and the kind is the data's, as a local fit records
    it (stars stay explicit under implicit-als; it was left unknown).  A model with an
    item the data lacks took the last item's title, and one fitted to part of the data
    got the whole data's fingerprint: both are refused."""
    import numpy as np
    import pandas as pd

    import latentrec
    from latentrec.cli.train import with_dataset_tables
    from latentrec.models import FactorModel
    from latentrec.models.catalog import Catalog

    titles = pd.DataFrame({"title": ["A", "B", "C"]}, index=pd.Index([7, 8, 9], name="item_id"))
    data = latentrec.Interactions.from_arrays(
        [1, 1, 2], [7, 8, 9], [4.0, 2.0, 3.0], rating_scale=(1, 5), item_features=titles
    )
    # Items in another order than the data's (the model's own), all cells seen.
    seen = [[0, 1, 1], [1, 0, 0]]  # users 1, 2 x items 9, 7, 8
    model = FactorModel.from_factors(
        Catalog.from_ids([1, 2], [9, 7, 8], seen=seen), np.eye(3, 1), np.ones((2, 1)),
        global_mean=3, predicts_ratings=True,
    )  # fmt: skip
    ours = with_dataset_tables(model, data)
    assert ours.catalog_.item_titles.tolist() == ["C", "A", "B"]
    assert ours.catalog_.implicit is False
    assert ours.catalog_.fingerprint == data.fingerprint()
    stranger = FactorModel.from_factors(
        Catalog.from_ids([1, 2], [9, 7, 5], seen=seen), np.eye(3, 1), np.ones((2, 1))
    )
    with pytest.raises(ValueError, match=r"1 item id\(s\) the data lacks \(the first: 5\)"):
        with_dataset_tables(stranger, data)
    part = FactorModel.from_factors(
        Catalog.from_ids([1, 2], [9, 7, 8], seen=[[0, 1, 0], [1, 0, 0]]), np.eye(3, 1),
        np.ones((2, 1)),
    )  # fmt: skip
    with pytest.raises(ValueError, match="the model saw 2 cells and the data has 3"):
        with_dataset_tables(part, data)
