"""The slow, obvious reference of catalogue search's key, for the store's tests: the rule
of ``records.FOLDED_LETTERS`` read from each letter's Unicode name, and the key made
letter by letter with it.

The rule: a Latin small letter with no canonical decomposition is spelled

- as its basic letter(s) when its name is one or two basic letters, dotless or barred,
  or with only strokes and bars across (``LATIN SMALL LETTER O WITH STROKE``, ``... U
  BAR``, ``... BARRED O``, ``... DOTLESS I``, ``... LETTER AE``, ``... LIGATURE OE``);
- as its compatibility decomposition without accents (and without the middle dot of
  ``ŀ``) when that is basic letters (``ĳ``, ``ǆ``);
- ``d`` for ETH and ``th`` for THORN;

and left as it is otherwise.
"""

from __future__ import annotations

import functools
import re
import unicodedata

ACCENT_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0xFE20, 0xFE2F))

STROKE = (
    r"(?:(?:DOUBLE|DIAGONAL|OBLIQUE|HIGH|HORIZONTAL|LONG|SHORT) )?"
    r"(?:STROKE|BAR)(?: OVERLAY| THROUGH DESCENDER)?"
)
SHAPE = re.compile(
    rf"(?:DOTLESS |BARRED )?([A-Z]{{1,2}})(?: BAR| WITH {STROKE}(?: AND {STROKE})*)?"
)


def is_accent(c: str) -> bool:
    return any(low <= ord(c) <= high for low, high in ACCENT_BLOCKS)


@functools.cache
def named_spelling(c: str) -> str | None:
    """How the rule spells the letter ``c``; ``None`` when it leaves it as it is."""
    name = unicodedata.name(c, "")
    named = re.fullmatch(r"LATIN SMALL (?:LETTER|LIGATURE) (.+)", name)
    decomposition = unicodedata.decomposition(c)
    if not named or (decomposition and not decomposition.startswith("<")):
        return None
    rest = named[1]
    if rest in ("ETH", "THORN"):
        return {"ETH": "d", "THORN": "th"}[rest]
    if decomposition.startswith("<compat>"):
        parts = unicodedata.normalize("NFKD", c).replace("\u00b7", "")
        kept = "".join(p for p in parts if not is_accent(p))
        return kept.lower() if kept.isascii() and kept.isalpha() else None
    shape = SHAPE.fullmatch(rest)
    return None if shape is None else shape[1].lower()


def named_table() -> dict[str, str]:
    """Every letter the rule spells otherwise, among those casefolding leaves as they
    are (search folds after casefolding, which already spells ``ﬁ`` as ``fi``)."""
    out = {}
    for code in range(0x110000):
        c = chr(code)
        spelled = named_spelling(c)
        if spelled is not None and spelled != c and c.casefold() == c:
            out[c] = spelled
    return out


def accents_only_key(text: str) -> str:
    """Letter by letter: each decomposed, casefolded and decomposed again, Latin, Greek
    and Cyrillic accents dropped; the whole composed again (the key of schema version 3)."""
    kept = []
    for letter in unicodedata.normalize("NFD", text):
        for c in unicodedata.normalize("NFD", letter.casefold()):
            if not is_accent(c):
                kept.append(c)
    return unicodedata.normalize("NFC", "".join(kept))


def reference_key(text: str) -> str:
    """As :func:`accents_only_key`, and each letter the rule names spelled its way."""
    kept = []
    for letter in unicodedata.normalize("NFD", text):
        for c in unicodedata.normalize("NFD", letter.casefold()):
            if not is_accent(c):
                spelled = named_spelling(c)
                kept.append(c if spelled is None else spelled)
    return unicodedata.normalize("NFC", "".join(kept))
