"""The fast reading path gives what the exact one gives, found in review."""

from __future__ import annotations

import pytest

from latentrec import Interactions


@pytest.mark.parametrize("strip_ids", [False, True])
def test_strip_ids_false_keeps_the_spaces_of_an_id_on_the_fast_path(tmp_path, strip_ids):
    """With strip_ids=False, ' 7 ' is a text id as written; the fast CSV path read 7."""
    path = tmp_path / "r.csv"
    path.write_text("1, 7 \n2,7\n")
    data = Interactions.from_csv(path, 0, 1, None, header=False, strip_ids=strip_ids)
    want = ["7"] if strip_ids else [" 7 ", "7"]
    assert sorted(str(i) for i in data.items.ids.tolist()) == sorted(want)
