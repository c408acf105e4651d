"""A user who gets things wrong: every mistake is one line naming what is wrong, exit 1
(or click's exit 2 for a usage mistake), never a traceback, never silently ignored."""

from __future__ import annotations

import gzip
import io
import os

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame
from new_user_support import error_line, invoke

from latentrec.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_input_cli")
    csv = folder / "ratings.csv"
    cli_ratings_frame().to_csv(csv, index=False)
    model = folder / "model.npz"
    out = invoke("train", csv, "--factors", 3, "--epochs", 3, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    return csv, model, folder


def test_one_column_in_two_roles_is_refused(trained):
    csv, _, _ = trained
    line = error_line(invoke("data", "info", csv, "--item-col", "user_id"))
    assert "'user_id'" in line and "user" in line and "item" in line
    line = error_line(invoke("data", "info", csv, "--rating-col", "user_id"))
    assert "'user_id'" in line and "rating" in line


@pytest.mark.parametrize("kind", ["gzip", "zip"])
def test_a_compressed_file_named_csv_is_called_what_it_is(trained, kind):
    csv, _, folder = trained
    packed = folder / f"{kind}_named.csv"
    if kind == "gzip":
        packed.write_bytes(gzip.compress(csv.read_bytes()))
    else:
        import zipfile

        with zipfile.ZipFile(packed, "w") as archive:
            archive.write(csv, "ratings.csv")
    line = error_line(invoke("data", "info", packed))
    assert kind in line and packed.name in line
    assert "latin-1" not in line  # no encoding would help


def test_a_backslash_t_separator_means_tab(trained):
    csv, _, folder = trained
    tsv = folder / "ratings.tsv"
    tsv.write_text(csv.read_text().replace(",", "\t"))
    out = invoke("data", "info", tsv, "--sep", "\\t")
    assert out.exit_code == 0, out.output
    out = invoke("data", "info", tsv, "--sep", "tab")
    assert out.exit_code == 0, out.output


def test_data_info_says_what_was_merged(trained):
    _, _, folder = trained
    dup = folder / "dup.csv"
    dup.write_text("user_id,item_id,rating\n1,2,4\n1,2,5\n2,3,1\n")
    out = invoke("data", "info", dup)
    assert out.exit_code == 0, out.output
    assert "read 3 rows, loaded 2, merged 1 duplicate" in out.stdout


@pytest.mark.parametrize(
    "text, words",
    [
        ("never = [true]\n", ["line 1", "never", "true"]),
        ("never = [[101]]\n", ["line 1", "never", "[101]"]),
        ("bury = [101.5]\n", ["line 1", "bury", "101.5"]),
    ],
)
def test_rules_list_entries_must_be_ids(trained, text, words):
    _, model, folder = trained
    rules = folder / "bad_rules.toml"
    rules.write_text(text)
    line = error_line(invoke("recommend", model, "-u", 1, "--rules", rules))
    assert all(w in line for w in words), line
    assert "--data" not in line


def test_rules_file_not_utf8_names_the_file_not_the_data_encoding(trained):
    _, model, folder = trained
    rules = folder / "latin.toml"
    rules.write_bytes('never = ["caf\xe9"]\n'.encode("latin-1"))
    line = error_line(invoke("recommend", model, "-u", 1, "--rules", rules))
    assert "latin.toml" in line and "line 1" in line and "UTF-8" in line
    assert "--encoding" not in line


def test_rules_errors_that_no_data_would_fix_carry_no_data_hint(trained):
    _, model, folder = trained
    rules = folder / "conflict.toml"
    rules.write_text('never = [101]\n[pin]\n"101" = 1\n')
    line = error_line(invoke("recommend", model, "-u", 1, "--rules", rules))
    assert "both pinned and never shown" in line and "--data" not in line
    rules.write_text("never = [99999]\n")
    line = error_line(invoke("recommend", model, "-u", 1, "--rules", rules))
    assert "99999" in line and "--data" not in line
    # A stage that does need the training data still says where it comes from.
    line = error_line(invoke("recommend", model, "-u", 1, "--calibrate"))
    assert "--data" in line


@pytest.mark.parametrize("option", ["--diversity", "--calibrate", "--boost-new"])
def test_nan_knob_is_refused_naming_the_option(trained, option):
    csv, model, _ = trained
    out = invoke("recommend", model, "-u", 1, option, "nan", "--data", csv, "--timestamp-col", "t")
    assert out.exit_code == 2, out.output
    assert option in out.stderr and "nan" in out.stderr


def test_data_without_a_knob_that_reads_it_is_refused(trained):
    csv, model, _ = trained
    out = invoke("recommend", model, "-u", 1, "--data", csv)
    assert out.exit_code == 2 and "--data" in out.stderr, out.output
    out = invoke("recommend", model, "-u", 1, "--sep", ";")
    assert out.exit_code == 2 and "--sep" in out.stderr and "--data" in out.stderr, out.output


def test_data_that_is_not_the_models_training_data_is_named(trained):
    csv, model, folder = trained
    other = folder / "other.csv"
    other.write_text("user_id,item_id,rating,t\n1,100,4,5\n2,101,3,6\n")
    line = error_line(
        invoke(
            "recommend", model, "-u", 1, "--boost-new", 0.2, "--data", other, "--timestamp-col", "t"
        )
    )
    assert "other.csv" in line and "--data" in line and "vocabularies" not in line
    line = error_line(invoke("factors", model, "--data", other, "--min-ratings", 1))
    assert "other.csv" in line and "--data" in line and "Interactions" not in line


def test_similar_prints_nothing_before_an_unknown_item(trained):
    _, model, _ = trained
    out = invoke("similar", model, "-i", 99999)
    assert "99999" in error_line(out)
    assert out.stdout == ""


def test_a_param_repeating_an_option_is_refused(trained):
    csv, _, folder = trained
    out = invoke(
        "train", csv, "-q", "-o", folder / "m.npz", "--factors", 3, "--param", "n_factors=5"
    )
    line = error_line(out)
    assert "--factors" in line and "n_factors" in line


def test_no_refit_without_test_size_is_a_usage_error(trained):
    csv, _, folder = trained
    out = invoke("train", csv, "-q", "-o", folder / "m.npz", "--no-refit")
    assert "--no-refit" in error_line(out, 2) and "--test-size" in out.stderr


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_cut_off_below_one_is_refused_before_training(trained, command):
    csv, _, folder = trained
    extra = ("-o", folder / "m.npz", "-q", "--test-size", 0.2) if command == "train" else ()
    out = invoke(command, csv, "-a", "popularity", "-k", 0, *extra)
    assert out.exit_code == 2 and "'-k'" in out.stderr, out.output
    assert "trained" not in out.stdout


@pytest.mark.parametrize("cv", [0, 1])
def test_cv_below_two_is_refused(trained, cv):
    csv, _, _ = trained
    out = invoke("evaluate", csv, "-a", "popularity", "--cv", cv)
    assert out.exit_code == 2 and "--cv" in out.stderr, out.output
    assert out.stdout == ""


def test_cv_and_test_size_together_are_refused(trained):
    csv, _, _ = trained
    out = invoke("evaluate", csv, "-a", "popularity", "--cv", 3, "--test-size", 0.3)
    assert out.exit_code == 2, out.output
    assert "--cv" in out.stderr and "--test-size" in out.stderr


def test_temporal_protocol_without_timestamps_names_the_option(trained):
    csv, _, _ = trained
    line = error_line(
        invoke("evaluate", csv, "-a", "popularity", "--task", "ranking", "--protocol", "temporal")
    )
    assert "--timestamp-col" in line and "from_frame" not in line
    out = invoke(
        "evaluate", csv, "-a", "popularity", "--task", "ranking", "--protocol", "leave-last-out"
    )
    assert out.exit_code == 0, out.output
    assert "random cell" in out.stderr and "--timestamp-col" in out.stderr


def test_a_negative_seed_names_the_option(trained):
    csv, _, folder = trained
    out = invoke("train", csv, "-q", "-o", folder / "m.npz", "--seed", -1)
    assert out.exit_code == 2 and "--seed" in out.stderr, out.output


def test_onboard_answers_repeating_an_item_are_refused(trained):
    _, model, _ = trained
    line = error_line(invoke("onboard", model, "--answers", "101=4,101=1"))
    assert "101" in line and "more than once" in line


def test_store_info_on_a_missing_file_creates_nothing(trained):
    _, _, folder = trained
    missing = folder / "typo.db"
    line = error_line(invoke("store", "info", "--store", missing))
    assert "typo.db" in line
    assert not missing.exists()


def test_a_user_who_has_seen_everything_gets_a_sentence_not_a_pandas_repr(trained):
    _, _, folder = trained
    small = folder / "small.csv"
    small.write_text(
        "user_id,item_id,rating\nann smith,the matrix,4\nann smith,amélie,3\nbob,amélie,2\n"
    )
    model = folder / "small.npz"
    assert invoke("train", small, "-a", "popularity", "-q", "-o", model).exit_code == 0
    out = invoke("recommend", model, "-u", "ann smith")
    assert out.exit_code == 0, out.output
    assert "Empty DataFrame" not in out.stdout
    assert "no items" in out.stdout and "ann smith" in out.stdout
    out = invoke("recommend", model, "-u", "ann smith", "--json")
    assert out.stdout.strip() == "[]"


def test_factors_checks_the_user_before_printing_the_report(trained):
    csv, model, _ = trained
    line = error_line(invoke("factors", model, "--data", csv, "--min-ratings", 1, "-u", 99999))
    assert "99999" in line
    out = invoke("factors", model, "--data", csv, "--min-ratings", 1, "-u", 99999)
    assert out.stdout == ""


def test_onboard_with_no_title_to_ask_about_says_why(trained):
    _, model, _ = trained
    line = error_line(invoke("onboard", model, "--min-ratings", 10**6), 1)
    assert "--min-ratings" in line


def test_plot_tradeoff_lambdas_outside_zero_one_name_the_option(trained):
    csv, _, folder = trained
    line = error_line(
        invoke("plot", "tradeoff", "--data", csv, "-o", folder / "t.png", "--lambdas", "2,0.5")
    )
    assert "--lambdas" in line and "2" in line


def test_factors_of_a_model_without_factors_is_a_plain_error(trained):
    csv, _, folder = trained
    pop = folder / "pop.npz"
    assert invoke("train", csv, "-a", "popularity", "-q", "-o", pop).exit_code == 0
    line = error_line(invoke("factors", pop, "--data", csv, "--min-ratings", 1))
    assert "Popularity" in line and "unexpected" not in line
    out = invoke("plot", "taste-map", "--model", pop, "--data", csv, "-o", folder / "map.png")
    assert "Popularity" in error_line(out) and "unexpected" not in out.stderr


@pytest.mark.parametrize(
    "option, value",
    [("--trials", 0), ("--validation", 2), ("--validation", "nan"), ("--timeout", -1)],
)
def test_tune_numbers_out_of_range_are_usage_errors_before_any_output(trained, option, value):
    csv, _, _ = trained
    out = invoke("tune", csv, "-a", "biases", option, value)
    assert out.exit_code == 2 and option in out.stderr, out.output
    assert out.stdout == ""


def test_duplicates_error_names_the_command_line_option(trained):
    _, _, folder = trained
    dup = folder / "dup_error.csv"
    dup.write_text("user_id,item_id,rating\n1,2,4\n1,2,5\n")
    line = error_line(invoke("data", "info", dup, "--duplicates", "error"))
    assert "lines 2, 3" in line and "--duplicates" in line


def test_a_rating_that_float32_would_turn_into_zero_is_refused(trained):
    _, _, folder = trained
    tiny = folder / "tiny.csv"
    tiny.write_text("user_id,item_id,rating\n1,2,4\n2,3,1e-50\n")
    line = error_line(invoke("data", "info", tiny))
    assert "line 3" in line and "1e-50" in line


def test_a_missing_rules_file_names_the_option(trained):
    _, model, folder = trained
    line = error_line(invoke("recommend", model, "-u", 1, "--rules", folder / "no_rules.toml"))
    assert "--rules" in line and "no_rules.toml" in line  # one line, exit 1, as a bad path is


def test_reading_options_a_parquet_file_ignores_are_named_in_good_grammar(trained):
    csv, _, folder = trained
    parquet = folder / "ratings.parquet"
    pd.read_csv(csv).to_parquet(parquet)
    line = error_line(invoke("data", "info", parquet, "--sep", ";"))
    assert "--sep applies to text files" in line, line
    line = error_line(invoke("data", "info", parquet, "--sep", ";", "--encoding", "latin-1"))
    assert "--sep, --encoding apply to text files" in line, line


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
@pytest.mark.parametrize("name", ["x.csv", "x.parquet"])
def test_recommend_all_to_an_unwritable_place_names_the_path_given(trained, name):
    _, model, _ = trained
    target = f"/proc/{name}"  # no file can be made there, not even by root
    line = error_line(invoke("recommend-all", model, "-o", target))
    assert target in line and ".tmp" not in line, line


@pytest.mark.parametrize(
    "args, words",
    [
        (["--metric", "bogus"], ["'bogus'"]),
        (["--metric", "ndcg@0"], ["ndcg@0", "cut-off"]),
        (["-a", "bpr", "--metric", "rmse"], ["BPR", "rmse"]),
        (["--space", "{}"], ["--space", "empty"]),
        (["--space", '{"nope": ["int", 1, 2]}'], ["'nope'"]),
        (["--space", '{"n_factors": ["normal", 1, 2]}'], ["n_factors", "normal"]),
        (
            ["--space", '{"n_factors": ["int", "a", 5]}'],
            ['"n_factors": ["int", "a", 5]', "two numbers"],
        ),
        (["--space", '{"n_factors": ["int", 9, 2]}'], ["n_factors", "9", "2"]),
        (["--space", '{"n_factors": ["int", 2, 9, {"lg": true}]}'], ["n_factors", "lg"]),
        (["--space", '{"biased": ["categorical", []]}'], ["biased", "categorical"]),
        (["--space", '{"n_factors": 8}'], ["n_factors", "8"]),
    ],
)
def test_tune_refuses_a_bad_metric_or_space_before_saying_anything(trained, args, words):
    csv, _, _ = trained
    out = invoke("tune", csv, "--trials", 1, *args)
    line = error_line(out)
    assert all(w in line for w in words), line
    assert out.stdout == "", out.stdout  # no "tuning ..." line before the error


# Integer ids are read as the loaders read a file's id cells: "007", "7", "7.0" in one
# column are one id, 7, so "03" or "3.0" typed for a model with integer ids is user 3 (they
# were taken for an unknown user); text that is no whole number says the ids are integers.
OTHER_SPELLINGS = ["3.0", "03", "+3", "3e0", " 3 "]
NOT_WHOLE_NUMBERS = ["abc", "3.5"]


@pytest.mark.parametrize("spelled", OTHER_SPELLINGS)
def test_recommend_reads_another_spelling_of_an_integer_id_as_that_id(trained, spelled):
    _, model, _ = trained
    for knobs in ([], ["--diversity", 0.3]):
        plain = invoke("recommend", model, "-u", 3, "-n", 3, "--json", *knobs)
        other = invoke("recommend", model, "-u", spelled, "-n", 3, "--json", *knobs)
        assert other.exit_code == 0, other.output
        assert other.stdout == plain.stdout, knobs
        assert not pd.read_json(io.StringIO(other.stdout))["fallback"].any(), knobs
    out = invoke("recommend", model, "-u", spelled, "-n", 3)
    assert out.exit_code == 0 and "no history" not in out.output, out.output


@pytest.mark.parametrize("spelled", OTHER_SPELLINGS)
def test_explain_similar_factors_onboard_read_another_spelling_as_that_id(trained, spelled):
    csv, model, _ = trained
    item = spelled.replace("3", "103")  # 103.0, 0103, +103, 103e0, " 103 "
    pairs = [
        (("explain", model, "-u", 3, "-i", 103), ("explain", model, "-u", spelled, "-i", item)),
        (("similar", model, "-u", 3), ("similar", model, "-u", spelled)),
        (("similar", model, "-i", 103), ("similar", model, "-i", item)),
        (
            ("factors", model, "--data", csv, "--min-ratings", 1, "-u", 3),
            ("factors", model, "--data", csv, "--min-ratings", 1, "-u", spelled),
        ),
        (("onboard", model, "--answers", "103=5"), ("onboard", model, "--answers", f"{item}=5")),
    ]
    for plain, other in pairs:
        expected, got = invoke(*plain), invoke(*other)
        assert expected.exit_code == 0, (plain, expected.output)
        assert got.exit_code == 0, (other, got.output)
        assert got.stdout == expected.stdout, other


@pytest.mark.parametrize("text", NOT_WHOLE_NUMBERS)
def test_an_id_that_is_no_whole_number_says_the_ids_are_integers(trained, text):
    csv, model, _ = trained
    out = invoke("recommend", model, "-u", text, "-n", 3)
    assert out.exit_code == 0, out.output
    assert f"user {text!r} has no history in this model (its user ids are integers" in (
        out.stdout
    ), out.stdout
    cases = [
        (("explain", model, "-u", text, "-i", 103), f"unknown user id(s): {text!r}"),
        (("explain", model, "-u", 3, "-i", text), f"unknown item id(s): {text!r}"),
        (("similar", model, "-u", text), f"unknown user id(s): {text!r}"),
        (("similar", model, "-i", text), f"unknown item id(s): {text!r}"),
        (
            ("factors", model, "--data", csv, "--min-ratings", 1, "-u", text),
            f"unknown user id(s): {text!r}",
        ),
        (("onboard", model, "--answers", f"{text}=5"), f"unknown item id(s): {text!r}"),
    ]
    for args, message in cases:
        line = error_line(invoke(*args))
        assert message in line and "ids here are integers (e.g. " in line, (args, line)
        assert line.endswith(f"and {text!r} is not one"), line


@pytest.mark.parametrize("spelled", ["3.0", "03", "abc"])
def test_onboard_save_as_a_non_integer_spelling_is_refused_before_any_question(trained, spelled):
    _, model, folder = trained
    out = folder / "onboarded.npz"
    args = ["onboard", model, "--save-as", spelled, "-o", out]
    for more in (["--answers", "100=5"], []):  # [] would prompt: refused before asking
        result = CliRunner().invoke(main, [str(a) for a in args + more], input="5\n" * 10)
        line = error_line(result)
        assert repr(spelled) in line and "integers" in line and "history" not in line, line
    assert not out.exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "command",
    [
        ["train", "{csv}", "--epochs", 1, "-q"],
        ["data", "convert", "{csv}"],
        ["onboard", "{model}", "--answers", "100=5", "--save-as", 99],
        ["tune", "{csv}", "--trials", 1, "--space", '{"n_epochs": ["int", 1, 2]}'],
    ],
    ids=lambda c: c[0] + ("-" + c[1] if c[0] == "data" else ""),
)
def test_every_output_file_that_cannot_be_written_is_named_as_given(trained, command):
    csv, model, _ = trained
    target = "/proc/out.lrdata" if command[0] == "data" else "/proc/out.npz"
    args = [{"{csv}": csv, "{model}": model}.get(a, a) for a in command]
    line = error_line(invoke(*args, "-o", target))
    assert f"cannot write {target}" in line and ".tmp" not in line, line


def test_store_import_of_explicit_ratings_without_a_rating_column_is_refused(tmp_path):
    """``--rating-col none`` with ``--kind explicit`` would store every row as a 1-star
    rating (as POST /ratings did for a rating without stars): one line, exit 1, no store."""
    csv = tmp_path / "plays.csv"
    pd.DataFrame({"user": [1, 2], "item": [10, 11]}).to_csv(csv, index=False)
    store = tmp_path / "ratings.db"
    args = ("store", "import", csv, "--user-col", "user", "--item-col", "item")
    out = invoke(*args, "--rating-col", "none", "--kind", "explicit", "--store", store)
    line = error_line(out)
    assert "--kind explicit needs a rating column" in line and "--kind event" in line
    assert not store.exists()
    out = invoke(*args, "--rating-col", "none", "--store", store)
    assert out.exit_code == 0 and "imported 2 event ratings" in out.output, out.output
    # A file with a rating column imports as explicit ratings, --kind given or not.
    rated = tmp_path / "rated.csv"
    pd.DataFrame({"user_id": [1], "item_id": [10], "rating": [4.0]}).to_csv(rated, index=False)
    for kind in ((), ("--kind", "explicit")):
        out = invoke("store", "import", rated, *kind, "--store", tmp_path / "other.db")
        assert out.exit_code == 0 and "1 explicit ratings" in out.output, out.output


def test_a_whole_number_past_64_bits_is_said_so(trained):
    """'99999999999999999999' is an integer: not 'not one', but past the ids' range."""
    _, model, _ = trained
    text = "9" * 20
    line = error_line(invoke("explain", model, "-u", text, "-i", 103))
    assert line.endswith(f"and {text!r} is past their 64-bit range"), line
    line = error_line(invoke("similar", model, "-i", f"-{text}"))
    assert line.endswith(f"and '-{text}' is past their 64-bit range"), line
