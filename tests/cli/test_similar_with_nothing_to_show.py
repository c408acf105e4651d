"""`similar` with no neighbour to show says so in one sentence, as `recommend` does, not
pandas' "Empty DataFrame / Columns: [...] / Index: []"; --json gives []."""

import json

import pytest
from new_user_support import invoke


@pytest.fixture(scope="module")
def one_item_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_item")
    csv = folder / "one.csv"
    csv.write_text("uid,iid,rating\n1,10,5\n")
    path = folder / "y3.npz"
    out = invoke("train", csv, "--user-col", "uid", "--item-col", "iid", "-q", "-o", path)
    assert out.exit_code == 0, out.output
    return path


@pytest.mark.parametrize(
    "args, sentence",
    [
        (["--item", "10"], "no items similar to 10: the model has no other item"),
        (["--user", "1"], "no users similar to user '1': the model has no other user"),
    ],
)
def test_similar_with_no_neighbour_is_one_sentence(one_item_model, args, sentence):
    out = invoke("similar", one_item_model, *args)
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [out.stdout.strip()], out.stdout
    assert out.stdout.startswith(sentence), out.stdout
    assert "DataFrame" not in out.output and "Because you watched" not in out.output
    raw = invoke("similar", one_item_model, *args, "--json")
    assert raw.exit_code == 0 and json.loads(raw.stdout) == [], raw.output
