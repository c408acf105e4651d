"""What reading a ratings file did is said, and options are honoured or refused:
repeated pairs merged by ``--duplicates`` are noted on standard error by the commands
that train or read data (``train`` said "on 2 ratings" for three rows and nothing else),
``--format table`` on a Netflix-prize file is refused (it was read as Netflix anyway),
and ``train --engine spark`` without ``-a`` says what to choose (it refused
"biased-mf", an algorithm the user never named)."""

from __future__ import annotations

from new_user_support import error_line, invoke


def test_train_notes_the_pairs_it_merged(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("user_id,item_id,rating\n1,1,5\n1,1,3\n2,1,4\n2,2,2\n")
    out = invoke("train", csv, "-o", tmp_path / "m.npz", "-a", "biases")
    assert out.exit_code == 0, out.output
    assert "on 3 ratings" in out.stdout
    assert out.stderr.splitlines() == [
        f"note: {csv}: read 4 rows, loaded 3, merged 1 duplicate (duplicates='last'), rejected 0"
    ]
    # data info prints the whole report itself: once, not twice
    info = invoke("data", "info", csv)
    assert info.output.count("merged 1 duplicate") == 1
    # a file with nothing merged: nothing said
    clean = tmp_path / "c.csv"
    clean.write_text("user_id,item_id,rating\n1,1,5\n2,1,4\n")
    out = invoke("train", clean, "-o", tmp_path / "c.npz", "-a", "biases")
    assert out.exit_code == 0 and out.stderr == "", out.output


def test_store_import_notes_the_pairs_it_merged_once(tmp_path):
    # It said them twice: the note on standard error and the same report on standard out.
    csv = tmp_path / "d.csv"
    csv.write_text("user_id,item_id,rating\nu1,1,4\nu1,1,5\nu2,2,3\n")
    out = invoke("store", "import", csv, "--store", tmp_path / "s.db")
    assert out.exit_code == 0, out.output
    assert out.stderr.splitlines() == [
        f"note: {csv}: read 3 rows, loaded 2, merged 1 duplicate (duplicates='last'), rejected 0"
    ]
    assert "merged" not in out.stdout and "imported 2 explicit ratings" in out.stdout


def test_format_table_on_a_netflix_file_is_refused(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n7,4,2005-09-06\n8,3,2005-09-07\n")
    line = error_line(invoke("data", "info", path, "--format", "table"))
    assert line == (
        f"Error: --format table: {path} is a Netflix-prize file (a 'MovieID:' line, then "
        "CustomerID,Rating,Date lines); give --format netflix or auto"
    )
    assert invoke("data", "info", path).exit_code == 0


def test_spark_without_an_algorithm_says_which_to_give(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("user_id,item_id,rating\n1,1,5\n2,1,4\n")
    line = error_line(invoke("train", csv, "--engine", "spark", "-o", tmp_path / "s.npz"))
    assert line == (
        "Error: --engine spark trains als or implicit-als: give -a als (ratings) or "
        "-a implicit-als (plays, clicks)"
    )
    line = error_line(invoke("train", csv, "--engine", "spark", "-a", "bpr", "-o", "s.npz"))
    assert line == "Error: --engine spark trains als or implicit-als, not bpr"
