"""``Calibrate(alpha=0)`` is refused when the pipeline is fitted, as its other bad knobs
are; it fitted and saved, and then every list failed ("alpha must be above 0")."""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import Popularity
from latentrec.pipeline import Calibrate, Pipeline, StageDataError


def genre_data() -> Interactions:
    df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [5, 6, 6, 7, 5], "rating": 1.0})
    table = pd.DataFrame({"genres": ["A", "B", "A|B"]}, index=[5, 6, 7])
    return Interactions.from_frame(df, item_features=table)


def test_alpha_zero_is_refused_at_fit():
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(alpha=0)], n_candidates=3)
    with pytest.raises(ValueError, match=r"^Calibrate alpha must be above 0") as err:
        pipe.fit(genre_data())
    assert not isinstance(err.value, StageDataError)  # a bad knob, not the data's fault


def test_the_smallest_alpha_above_zero_lists():
    pipe = Pipeline(Popularity(), rerankers=[Calibrate(alpha=1e-12)], n_candidates=3)
    assert len(pipe.fit(genre_data()).recommend(1, 2).ids) == 1  # item 7 is all that is left


def test_a_file_written_before_with_alpha_zero_is_refused_on_loading(tmp_path):
    """Such a file (fit took alpha 0 until the merge that refused it) loaded, and then
    every list failed; loading it now says what is wrong and what to do, in one line in
    the command (and so in the service, which refuses to serve it)."""
    from click.testing import CliRunner

    from latentrec import ModelFileError
    from latentrec.cli import main
    from latentrec.io.modelfile import read_archive, write_archive
    from latentrec.pipeline import load

    pipe = Pipeline(Popularity(), rerankers=[Calibrate(alpha=0.01)], n_candidates=3)
    path = tmp_path / "pipe.npz"
    pipe.fit(genre_data()).save(path)
    manifest, arrays = read_archive(path)
    manifest["pipeline"]["rerankers"][0]["params"]["alpha"] = 0.0
    write_archive(path, manifest, arrays)
    says = (
        f"{path}: its Calibrate stage (re-ranker 0) has alpha 0, with which every list fails "
        "(the divergence can be infinite); it was written before fit refused it: fit the "
        "pipeline again with an alpha above 0"
    )
    with pytest.raises(ModelFileError) as err:
        load(path)
    assert str(err.value) == says
    out = CliRunner().invoke(main, ["recommend", str(path), "-u", "1"])
    assert out.exit_code == 1
    assert out.output == f"Error: {says}\n"
