"""`latentrec recommend-all PIPELINE --include-seen` is refused in the command's words, as
`recommend` refuses it; it said "exclude_seen must be True", a Python argument the
command's user never gave."""

from __future__ import annotations

from click.testing import CliRunner

from latentrec import datasets
from latentrec.cli import main
from latentrec.models import Popularity
from latentrec.pipeline import Pipeline


def test_include_seen_on_a_saved_pipeline_names_the_option(tmp_path):
    path = tmp_path / "pipe.npz"
    Pipeline(Popularity(), n_candidates=5).fit(datasets.synthetic(20, 10, 80, random_state=0)).save(
        path
    )
    out_file = tmp_path / "all.csv"
    out = CliRunner().invoke(
        main, ["recommend-all", str(path), "-o", str(out_file), "--include-seen"]
    )
    assert out.exit_code == 1
    assert out.output == (
        f"Error: {path} is a saved pipeline; its lists never repeat a seen item "
        "(no --include-seen)\n"
    )
    assert not out_file.exists()
    out = CliRunner().invoke(main, ["recommend", str(path), "-u", "1", "--include-seen"])
    assert out.exit_code == 1
    assert out.output == (
        f"Error: {path} is a saved pipeline; its lists never repeat a seen item "
        "(no --include-seen)\n"
    )
