"""A missing path, or a folder where a file is read (or a file where a folder is), is one
line and exit 1 in every command, as `train adir` and `recommend nofile.npz` were: a
folder as MODEL, a missing --rules file and the like gave click's three-line usage error
and exit 2."""

import pytest
from new_user_support import error_line, invoke


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paths")
    (folder / "adir").mkdir()
    (folder / "afile.csv").write_text("user_id,item_id,rating\n1,2,4\n")
    model = folder / "m.npz"
    out = invoke("train", folder / "afile.csv", "-a", "popularity", "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return folder, model


CASES = [
    (["recommend", "{adir}", "-u", 1], "{adir} is a folder, not a model file"),
    (["recommend", "{folder}/nofile.npz", "-u", 1], "no model file at {folder}/nofile.npz"),
    (["recommend", "{model}", "-u", 1, "--rules", "{folder}/nofile.toml"],
     "--rules {folder}/nofile.toml: no such file"),
    (["recommend", "{model}", "-u", 1, "--rules", "{adir}"],
     "--rules {adir} is a folder, not a rules file"),
    (["recommend-all", "{adir}", "-o", "{folder}/out.csv"], "{adir} is a folder, not a model"),
    (["similar", "{adir}", "--item", 2], "{adir} is a folder, not a model file"),
    (["explain", "{adir}", "-u", 1, "-i", 2], "{adir} is a folder, not a model file"),
    (["factors", "{adir}"], "{adir} is a folder, not a model file"),
    (["onboard", "{adir}", "--answers", "2=5"], "{adir} is a folder, not a model file"),
    (["plot", "taste-map", "--model", "{adir}", "-o", "{folder}/t.png"],
     "{adir} is a folder, not a model file"),
    (["train", "{adir}", "-o", "{folder}/x.npz"], "{adir} is a folder; give a ratings file"),
    (["serve", "--model", "{adir}"], "--model {adir} is a folder, not a model file"),
    (["serve", "--model-dir", "{afile}"], "--model-dir {afile} is a file, not a model directory"),
    (["demo", "--output-dir", "{afile}"], "cannot write {afile}: {afile} is not a directory"),
    (["data", "fetch", "--cache-dir", "{afile}"], "--cache-dir {afile} is a file, not a folder"),
    (["models", "publish", "{adir}", "--model-dir", "{folder}/md"],
     "{adir} is a folder, not a model file"),
    (["models", "publish", "{folder}/nofile.npz", "--model-dir", "{folder}/md"],
     "no model file at {folder}/nofile.npz"),
]  # fmt: skip


@pytest.mark.parametrize("args, words", CASES, ids=[" ".join(map(str, a[:4])) for a, _ in CASES])
def test_a_wrong_kind_of_path_is_one_line_and_exit_1(paths, args, words):
    folder, model = paths
    names = {"folder": folder, "adir": folder / "adir", "afile": folder / "afile.csv",
             "model": model}  # fmt: skip
    line = error_line(invoke(*[str(a).format(**names) for a in args]))  # exit 1, one line
    assert words.format(**names) in line, line
    assert list((folder / "adir").iterdir()) == []  # nothing was written into it
