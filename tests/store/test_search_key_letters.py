"""Catalogue search spells the Latin letters Unicode does not decompose as a user types
them, on SQLite and PostgreSQL.

The search key dropped accents after decomposing, so ``amelie`` found ``Amélie``; but a
letter Unicode gives no decomposition kept its stroke or ligature, so ``bjork`` did not
find ``Bjørk``, nor ``lodz`` ``Łódź``, ``aeon`` ``Æon``, ``oeuvre`` ``Œuvre``,
``dorde`` ``Đorđe`` or ``thor`` ``Þór``.  ``records.search_key`` now spells them
(``records.FOLDED_LETTERS``), and schema version 4 makes the keys a store holds again.
"""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.cli import main
from latentrec.store import Item, Rating, open_store
from latentrec.store import schema as schema_module
from latentrec.store.engine import Database, resolve_url
from latentrec.store.records import FOLDED_LETTERS, search_key
from latentrec.store.schema import (
    SCHEMA_VERSION,
    add_erased_v2,
    create_v1,
    items,
    remake_search_keys,
    schema_table,
    upgrade_v3,
    upgrade_v4,
)

from . import v2store
from .letters import accents_only_key, is_accent, named_table, reference_key

# (what a user types, the title) for the letters of this change.
TYPED = [
    ("bjork", "Bj\u00f8rk"),
    ("lodz", "\u0141\u00f3d\u017a"),
    ("aeon", "\u00c6on"),
    ("oeuvre", "\u0152uvre"),
    ("dorde", "\u0110or\u0111e"),
    ("thor", "\u00de\u00f3r"),
    ("gudrun", "Gu\u00f0r\u00fan"),
    ("kirmizi", "K\u0131rm\u0131z\u0131"),
    ("hamrun", "\u0126amrun"),
    ("ijsselmeer", "\u0132sselmeer"),
    ("collegi", "Co\u013f\u0140egi"),
]


# -- the letters ----------------------------------------------------------------------


# The Unicode whose names the table was read from (Python 3.11's unicodedata).
TABLE_UNICODE = "14.0.0"


def test_the_table_is_the_rule_read_from_unicode_names():
    """Every letter the table spells is one the rule names, spelled the rule's way, and
    the rule names none the table lacks."""
    table = {chr(code): spelled for code, spelled in FOLDED_LETTERS.items()}
    named = named_table()
    known = {c: s for c, s in table.items() if unicodedata.name(c, None)}
    assert {c: s for c, s in known.items() if named.get(c) != s} == {}
    missing = {c: s for c, s in named.items() if c not in table}
    if missing and unicodedata.unidata_version != TABLE_UNICODE:
        pytest.skip(
            f"Unicode {unicodedata.unidata_version} names letters the table (from Unicode "
            f"{TABLE_UNICODE}) lacks: {ascii(missing)}; folding them changes stored keys, "
            "so it needs a schema version that makes the keys again"
        )
    assert missing == {}


def test_only_latin_letters_are_folded_and_to_basic_letters():
    for code, spelled in FOLDED_LETTERS.items():
        assert unicodedata.name(chr(code)).startswith("LATIN SMALL "), hex(code)
        assert spelled.isascii() and spelled.isalpha() and spelled.islower(), hex(code)


@pytest.mark.parametrize(("typed", "title"), TYPED)
def test_a_title_has_the_key_a_user_types(typed, title):
    assert search_key(title) == search_key(title.upper()) == search_key(typed) == typed
    assert search_key(unicodedata.normalize("NFD", title)) == typed


def test_each_folded_letter_and_its_capital_have_its_spelling():
    for code, spelled in FOLDED_LETTERS.items():
        small = chr(code)
        assert search_key(small) == spelled, ascii(small)
        assert search_key(small.upper()) == spelled, ascii(small)
        assert search_key(f"x{small}y") == f"x{spelled}y", ascii(small)


def test_what_else_unicode_spells_stays_as_it_was():
    # Casefolding spells these already; letters with a hook or a top bar, phonetic
    # digraphs and small capitals are letters of their own and stay.
    assert search_key("Stra\u00dfe \ufb01n \u017fun") == "strasse fin sun"
    for kept in ("\u0253", "\u0257", "\u0183", "\u02a3", "\u1d0c", "\u014b", "\u0138"):
        assert search_key(kept) == kept, ascii(kept)
    assert search_key("\u01f0") == "j"  # j with caron decomposes: its accent is dropped


# -- against the reference, on random text ---------------------------------------------

LATIN = st.characters(min_codepoint=0x20, max_codepoint=0x24F, exclude_categories=("Cs",))
FOLDED = st.sampled_from(sorted(chr(c) for c in FOLDED_LETTERS))
CAPITALS = st.sampled_from(sorted({chr(c).upper() for c in FOLDED_LETTERS}))
MARKS = st.sampled_from(
    [chr(c) for low, high in ((0x0300, 0x036F), (0x1AB0, 0x1ABE)) for c in range(low, high + 1)]
)
OTHER = st.sampled_from(
    "\u03b1\u03a9\u03ac\u0416\u0439\u0451\u304b\u304c\u3099\uac00\u4e2d\u0627\u05d0"
    "\u0915\u093f\u0e01\u10d0"
)
TEXT = st.text(st.one_of(LATIN, FOLDED, CAPITALS, MARKS, OTHER), max_size=30)
# Letters of other scripts without an accent (Greek, Cyrillic, kana, Hangul, CJK,
# Arabic, Hebrew, Devanagari, Thai, Georgian) and blanks.
NOT_LATIN = st.text(
    st.one_of(
        st.characters(min_codepoint=0x391, max_codepoint=0x3C9, categories=("Lu", "Ll")),
        st.characters(min_codepoint=0x410, max_codepoint=0x44F),
        st.characters(min_codepoint=0x3041, max_codepoint=0x30FF, categories=("Lo",)),
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0x621, max_codepoint=0x64A),
        st.characters(min_codepoint=0x5D0, max_codepoint=0x5EA),
        st.characters(min_codepoint=0x905, max_codepoint=0x939),
        st.characters(min_codepoint=0xE01, max_codepoint=0xE2E),
        st.characters(min_codepoint=0x10D0, max_codepoint=0x10FA),
        st.just(" "),
    ).filter(lambda c: not unicodedata.decomposition(c)),  # no letter with an accent
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_key_is_the_reference(text):
    assert search_key(text) == reference_key(text)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_the_key_is_idempotent_and_ignores_case(text):
    key = search_key(text)
    assert search_key(key) == key
    assert search_key(text.upper()) == search_key(text.lower()) == key


@settings(max_examples=300, deadline=None)
@given(TEXT, st.lists(st.tuples(st.integers(0, 30), MARKS), max_size=4))
def test_the_key_ignores_accents_anywhere(text, added):
    # U+0345 is an accent casefolding spells as a letter (iota): Unicode's caseless match.
    added = [(at, mark) for at, mark in added if mark != "\u0345"]
    accented = text
    for at, mark in sorted(added, reverse=True):
        accented = accented[:at] + mark + accented[at:]
    assert search_key(accented) == search_key(text)
    assert not any(is_accent(c) or ord(c) in FOLDED_LETTERS for c in search_key(text))


@settings(max_examples=200, deadline=None)
@given(NOT_LATIN)
def test_other_scripts_keep_their_letters(text):
    assert search_key(text) == accents_only_key(text)
    assert search_key(text) == unicodedata.normalize("NFC", text).casefold()


# -- search, on both engines -------------------------------------------------------------


def found(store, search) -> list[str]:
    return [i.item_id for i in store.search_items(search, limit=100)]


def test_search_finds_bjork_however_typed(store):
    store.add_items([Item("1", "Bj\u00f8rk: Homogenic"), Item("2", "Heat"), Item("3", "Bjork")])
    for search in ("bjork", "BJ\u00d8RK", "Bj\u00f8rk", "bj\u00f6rk", "j\u00f8r"):
        assert found(store, search) == ["3", "1"], ascii(search)
    assert store.get_item("1").title == "Bj\u00f8rk: Homogenic"  # shown as given


def test_search_finds_each_letter_by_its_typed_spelling(store):
    store.add_items([Item(str(k), title) for k, (_, title) in enumerate(TYPED)])
    for k, (typed, title) in enumerate(TYPED):
        assert found(store, typed) == [str(k)], typed
        assert found(store, title.upper()) == [str(k)], typed
    # A search typed with the letter finds the plain spelling too.
    store.add_items([Item("plain", "Aeon Flux")])
    assert found(store, "\u00e6on") == ["2", "plain"]  # "aeon" before "aeon flux"


def test_an_id_with_such_a_letter_is_found_and_kept_as_given(store):
    store.add_items([Item("\u00f8l-7", "Beer"), Item("ol", "Other")])
    assert found(store, "\u00f8l-") == found(store, "OL-") == ["\u00f8l-7"]
    assert store.get_item("\u00f8l-7").title == "Beer" and store.get_item("ol-7") is None


# -- the upgrade --------------------------------------------------------------------

HELD = [
    ("1", "Bj\u00f8rk"),
    ("2", "\u0141\u00f3d\u017a Story"),
    ("3", "\u00c6on Flux"),
    ("4", "Heat"),
    ("5", "Am\u00e9lie"),
    ("\u00fe-6", None),
]


def make_v3_store(url: str, held) -> None:
    """A store as schema version 3 wrote it: its keys dropped accents, not strokes."""
    db = Database(resolve_url(url))
    try:
        with db.write() as conn:
            create_v1(conn)
            add_erased_v2(conn)
            upgrade_v3(conn)
            conn.execute(sa.insert(schema_table).values(id=1, version=3))
            for added, (item_id, title) in enumerate(held):
                conn.execute(
                    sa.insert(items).values(
                        item_id=item_id,
                        title=title,
                        title_key=None if title is None else accents_only_key(title),
                        id_key=accents_only_key(item_id),
                        genres="[]",
                        added_at=float(added),
                    )
                )
            conn.execute(sa.text("INSERT INTO lr_counters (name, value) VALUES ('catalogue', 5)"))
    finally:
        db.close()


def test_opening_a_version_3_store_makes_its_keys_again(store_url):
    make_v3_store(store_url, HELD)
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        # Three titles and one id held a letter it now spells; the others are as made.
        assert store.upgraded == ["schema version 3 to 4: 4 items' search keys made again"]
        assert found(store, "bjork") == found(store, "BJ\u00d8RK") == ["1"]
        assert found(store, "lodz") == ["2"]
        assert found(store, "aeon") == ["3"]
        assert found(store, "amelie") == ["5"]
        assert found(store, "th-") == found(store, "\u00de-") == ["\u00fe-6"]
        rows = v2store.stored_rows(store_url)
        # Titles and ids as they were; the keys are the key function's.
        assert [(i, t) for i, t, _, _ in rows] == sorted(HELD)
        assert all(
            (tk, ik) == (None if t is None else search_key(t), search_key(i))
            for i, t, tk, ik in rows
        )
        store.add_ratings([Rating("u", "\u00fe-6", 4.0, 1.0)])
        assert "\u00fe-6" in store.interactions().items.ids.tolist()
        # Nothing a worker keeps a copy of changed: the counter stays.
        assert store.catalogue_version() == 5
        with store.db.write() as conn:
            assert remake_search_keys(conn) == 0
    with open_store(store_url) as again:
        assert again.upgraded == [] and v2store.stored_rows(store_url) == rows


def test_a_version_2_store_is_upgraded_through_both(store_url):
    v2store.make_v2_store(store_url, [("1", "Bj\u00f8rk", [], 1.0), ("2", "Heat", [], 2.0)])
    with open_store(store_url) as store:
        # Version 3 makes the keys with today's key function: version 4 finds them made.
        assert store.upgraded == [
            "schema version 2 to 3: 0 items' genres put in one spelling, "
            "1 items' search keys made again",
            "schema version 3 to 4: 0 items' search keys made again",
        ]
        assert found(store, "bjork") == ["1"]


def test_latentrec_store_info_says_what_the_upgrade_changed(store_url):
    make_v3_store(store_url, HELD)
    result = CliRunner().invoke(main, ["store", "info", "--store", store_url])
    assert result.exit_code == 0, result.output
    assert (
        "upgraded the store: schema version 3 to 4: 4 items' search keys made again"
        in result.stderr
    )
    assert "schema version 4" in result.output


def test_a_failed_upgrade_leaves_the_keys_and_version_3(store_url, monkeypatch):
    make_v3_store(store_url, HELD)
    before = v2store.stored_rows(store_url)

    def upgrade_then_fail(conn):
        upgrade_v4(conn)
        raise RuntimeError("power cut")

    monkeypatch.setitem(schema_module.MIGRATIONS, 4, upgrade_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        open_store(store_url)
    monkeypatch.undo()
    assert v2store.stored_version(store_url) == 3
    assert v2store.stored_rows(store_url) == before
    with open_store(store_url) as store:
        assert found(store, "bjork") == ["1"]
