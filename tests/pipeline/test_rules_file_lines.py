"""A rules file's errors found at fit time (unknown item ids, missing cap columns, pins
that clash) name the file and the line of the value at fault, as its other errors do."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import Interactions
from latentrec.models import Popularity
from latentrec.pipeline import Pipeline, Rules, StageDataError
from latentrec.pipeline.rules import _toml_lines, tomllib  # tomli before Python 3.11


def catalogue() -> Interactions:
    """Items 5, 6, 7 with genres and a studio column."""
    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": [5, 6, 7, 5], "rating": 1.0})
    table = pd.DataFrame({"genres": ["B", "A", "A|B"], "studio": ["y", "x", "x"]}, index=[5, 6, 7])
    return Interactions.from_frame(df, item_features=table)


def fit_error(stage: Rules) -> ValueError:
    with pytest.raises(ValueError) as info:
        Pipeline(Popularity(), rerankers=[stage]).fit(catalogue())
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("never = [5]\nbury = [99999]\n", 2, "bury"),  # the reviewer's file
        ("bury = [6]\nnever = [\n  5,\n  99999,  # gone\n]\n", 4, "never"),
        ('never = [5]\n[pin]\n"6" = 1\n"99999" = 2\n', 4, "pin"),
        ('bury = [6]\n\n[boost]\n"99999" = 0.5\n', 4, "boost"),
        ('pin."99999" = 1\n', 1, "pin"),
        ("boost = { 6 = 0.1, 99999 = 0.2 }\n", 1, "boost"),
    ],
)
def test_an_unknown_item_names_the_file_and_line(tmp_path, text, line, key):
    path = tmp_path / "unknown.toml"
    path.write_text(text)
    err = fit_error(Rules.from_toml(path))
    assert isinstance(err, StageDataError) and err.stage == "Rules (rerankers[0])"
    assert str(err) == f"{path}, line {line}: {key}: item 99999 is not in the catalogue"


def test_an_unknown_string_id_names_the_file_and_line(tmp_path):
    path = tmp_path / "names.toml"
    path.write_text('never = ["a"]\nbury = ["b", "zz"]\n')
    df = pd.DataFrame({"user_id": [1, 2], "item_id": ["a", "b"], "rating": 1.0})
    with pytest.raises(StageDataError) as info:
        Pipeline(Popularity(), rerankers=[Rules.from_toml(path)]).fit(Interactions.from_frame(df))
    assert str(info.value) == f"{path}, line 2: bury: item 'zz' is not in the catalogue"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "never = [5]\n[max_per]\ngenres = 2\ngenre = 1\n",
            "line 4: max_per: the item side table has no column 'genre' (its columns: "
            "genres, studio)",
        ),
        (
            '[pin]\n"6" = 1\n"7" = 2\n[max_per]\nstudio = 1\n',
            "line 5: max_per: the pinned items alone put 2 items with studio 'x' in a list, "
            "above its cap of 1",
        ),
        (
            'never = [6]\n[pin]\n"5" = 1\n"6" = 2\n',
            "line 4: pin: item 6 is both pinned and never shown",
        ),
        ('[pin]\n"5" = 1\n"6" = 1\n', "line 3: pin: items 5 and 6 are both pinned at rank 1"),
    ],
)
def test_other_fit_errors_name_the_file_and_line(tmp_path, text, says):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    assert str(fit_error(Rules.from_toml(path))) == f"{path}, {says}"


@pytest.mark.parametrize("amount", ["nan", "-inf"])
def test_a_boost_that_is_not_finite_is_refused_on_reading_with_its_line(tmp_path, amount):
    path = tmp_path / "rules.toml"
    path.write_text(f'never = [5]\n[boost]\n"6" = {amount}\n')
    with pytest.raises(ValueError) as info:
        Rules.from_toml(path)
    assert str(info.value) == f"{path}, line 3: boost.6 is {amount}; a boost is a finite number"


@pytest.mark.parametrize(
    ("stage", "says"),
    [
        (Rules(bury=[99999]), "Rules bury: item 99999 is not in the catalogue"),
        (Rules(pin={"99999": 1}), "Rules pin: item '99999' is not in the catalogue"),
        (Rules(never=[6], pin={6: 1}), "Rules: item 6 is both pinned and never shown"),
        (Rules(max_per={"genre": 1}), "Rules max_per: the item side table has no column 'genre'"),
    ],
)
def test_rules_built_in_python_say_rules_as_before(stage, says):
    assert str(fit_error(stage)).startswith(says)


def test_a_knob_changed_after_reading_is_not_blamed_on_the_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("never = [5]\nbury = [6]\n")
    stage = Rules.from_toml(path)
    stage.bury = [6, 99999]
    assert str(fit_error(stage)) == "Rules bury: item 99999 is not in the catalogue"
    stage = Rules.from_toml(path)
    stage.pin = {99999: 1}  # the file has no pin at all
    assert str(fit_error(stage)) == "Rules pin: item 99999 is not in the catalogue"


# ---------------------------------------------------------------- the line finder
ids = st.one_of(st.integers(0, 10**6), st.text("ab#[]=,.\"' x", min_size=1, max_size=6))


@st.composite
def written_rules(draw):
    """A rules file in one of TOML's spellings, with the line each key and value was
    written on: the reference the line finder must agree with."""
    lines: list[str] = []
    where: dict[tuple, int] = {}

    def put(text: str, *paths: tuple) -> None:
        lines.append(text)
        for path in paths:
            where.setdefault(path, len(lines))

    def key(value: str) -> str:
        return value if value.isdigit() else tomlstr(value)  # 181 = 1 or "a b" = 1

    def item(value) -> str:
        return str(value) if isinstance(value, int) else tomlstr(value)

    for name in draw(st.permutations(["never", "bury", "pin", "boost"])):
        if draw(st.booleans()):
            put("# a comment [x] = 1")
        if name in ("never", "bury"):
            values = draw(st.lists(ids, max_size=4))
            if draw(st.booleans()):  # one line
                text = ", ".join(item(v) for v in values)
                put(f"{name} = [{text}]", (name,), *[(name, i) for i in range(len(values))])
            else:
                put(f"{name} = [", (name,))
                for i, v in enumerate(values):
                    put(f"  {item(v)},  # #{i}", (name, i))
                put("]")
        else:
            entries = draw(st.dictionaries(ids.map(str), st.integers(1, 9), max_size=3))
            style = draw(st.sampled_from(["table", "dotted", "inline"]))
            if style == "table":
                put(f"[{name}]", (name,))
                for k, v in entries.items():
                    put(f"{key(k)} = {v}", (name, k))
                lines.append("")
                break  # the keys after a table header would belong to it
            if style == "dotted":
                for k, v in entries.items():
                    put(f"{name}.{key(k)} = {v}", (name,), (name, k))
            else:
                text = ", ".join(f"{key(k)} = {v}" for k, v in entries.items())
                put(f"{name} = {{ {text} }}", (name,), *[(name, k) for k in entries])
    return "\n".join(lines) + "\n", where


def tomlstr(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=200, deadline=None)
@given(written_rules())
def test_the_line_finder_agrees_with_where_each_value_was_written(case):
    text, where = case
    tomllib.loads(text)  # valid TOML
    found = _toml_lines(text)
    assert {path: found.get(path) for path in where} == where


def test_the_line_finder_follows_multi_line_strings_and_quoted_dots():
    text = 'never = ["""a\nb""",\n  "c"]\n[pin]\n"x.y" = 1\nz = 2\n'
    found = _toml_lines(text)
    assert found[("never",)] == 1 and found[("never", 1)] == 3 and found[("pin",)] == 4
    assert found[("pin", "x.y")] == 5 and found[("pin", "z")] == 6


@pytest.mark.parametrize(
    "text, line",
    [
        ("pin = {101 = 1}\nnever = [1, 2\n", "line 2"),  # runs off the end
        ("never = [1, 2", "line 1"),
        ("pin = {101 = 1}\nnever = [1, 2\n\n\n", "line 2"),  # not a blank line after it
        ("never = [1]\nbury = = 2\n", "line 2"),  # tomllib names this one itself
    ],
)
def test_toml_that_does_not_parse_names_a_line(tmp_path, text, line):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="not valid TOML") as err:
        Rules.from_toml(path)
    assert line in str(err.value) and str(path) in str(err.value)
