"""``latentrec tune --protocol``: the validation split it names, said on the first line."""

import numpy as np
import pandas as pd
from click.testing import CliRunner

from latentrec.cli import main

SPACE = '{"regularization": ["categorical", [1.0, 10.0]]}'


def _csv(path, timed=True):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"user_id": rng.integers(0, 30, 300), "item_id": rng.integers(0, 20, 300)}
    ).drop_duplicates()
    frame["rating"] = rng.integers(1, 6, len(frame))
    if timed:
        frame["when"] = np.arange(len(frame)) * 60
    frame.to_csv(path, index=False)
    return len(frame)


def _tune(path, *more):
    args = ["tune", str(path), "-a", "biases", "--space", SPACE, "--validation", "0.2"]
    return CliRunner().invoke(main, [*args, *more])


def test_each_protocol_is_named_on_the_first_line(tmp_path):
    path = tmp_path / "r.csv"
    _csv(path)
    said = {
        "random": "validation: a random 20% of the cells",
        "user": "validation: 20% of each user's cells",
        "temporal": "validation: the latest 20% of the cells in time",
    }
    scores = {}
    for protocol, line in said.items():
        out = _tune(path, "--protocol", protocol, "--timestamp-col", "when")
        assert out.exit_code == 0, out.output
        assert out.output.splitlines()[0].endswith(line), out.output
        best = next(x for x in out.output.splitlines() if x.startswith("best rmse"))
        scores[protocol] = float(best.split()[2])
    # Three different validation sets: three different scores of the same search.
    assert len(set(scores.values())) == 3, scores
    default = _tune(path, "--timestamp-col", "when")
    assert default.output.splitlines()[0].endswith(said["random"])


def test_temporal_without_a_time_column_is_one_line(tmp_path):
    path = tmp_path / "r.csv"
    _csv(path, timed=False)
    out = _tune(path, "--protocol", "temporal")
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        f"Error: --protocol temporal needs timestamps, and {path} was read without them: "
        "name its time column with --timestamp-col"
    ], out.output
