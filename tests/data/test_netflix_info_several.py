"""``latentrec data info`` takes the Netflix-prize files together, as ``data convert``
does: ``data info combined_data_*.txt`` was click's "Got unexpected extra argument"."""

from __future__ import annotations

from click.testing import CliRunner

from latentrec.cli import main


def test_info_of_several_netflix_files(tmp_path):
    a, b = tmp_path / "combined_data_1.txt", tmp_path / "combined_data_2.txt"
    a.write_text("1:\n7,3,2005-09-06\n")
    b.write_text("2:\n7,4,2005-09-06\n9,5,2005-09-07\n")
    result = CliRunner().invoke(main, ["data", "info", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "2 users x 2 items, 3 ratings" in result.output
    assert f"{a} + {b}: read 3 rows, loaded 3, rejected 0" in result.output
    # A table among them is named; several tables are not read together.
    table = tmp_path / "r.csv"
    table.write_text("user_id,item_id,rating\n1,2,3\n")
    for args, words in [
        ([str(a), str(table)], f"{table} is not a Netflix-prize file"),
        ([str(table), str(table)], "give one table file"),
    ]:
        result = CliRunner().invoke(main, ["data", "info", *args])
        assert result.exit_code == 1 and words in result.output, result.output
