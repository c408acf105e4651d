"""Calibration's genres count each genre once however the catalogue spells it.

A worker of an earlier version still running after the store's upgrade to version 3 (or
a program writing the tables past the store) can write ``sci-fi`` where the catalogue
says ``Sci-Fi``.  ``calibrate`` built its items x genres matrix from the names as held,
so the two were two genres, each with half the share; they are now one column, named as
the catalogue's genre list names it."""

from __future__ import annotations

import numpy as np

from latentrec.models import FactorModel
from latentrec.service.holder import Served
from latentrec.service.knobs import ItemFacts
from latentrec.store import Item


def test_calibrations_genres_are_one_per_genre():
    model = FactorModel.from_factors(([1], ["a", "b", "c", "d"]), np.eye(4))
    catalogue = [
        Item("a", "A", ("Sci-Fi", "Drama")),
        Item("b", "B", ("Sci-Fi",)),
        Item("c", "C", ("sci-fi", "SCI-FI ", "drama")),
        Item("d", "D", ("E\u0301be\u0300ne",)),
        Item("z", "Z", ("\u00c9b\u00e8ne",)),
    ]
    facts = ItemFacts.build(Served.build(model, "v"), catalogue)
    assert facts.genre_names == ["Drama", "Sci-Fi", "\u00c9b\u00e8ne"]
    assert facts.genres == [
        ["Sci-Fi", "Drama"],
        ["Sci-Fi"],
        ["Sci-Fi", "Drama"],
        ["\u00c9b\u00e8ne"],
    ]
    assert facts.matrix.toarray().tolist() == [
        [1.0, 1.0, 0.0],
        [0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
    ]


def test_an_entry_without_genres_has_none():
    model = FactorModel.from_factors(([1], ["a", "b"]), np.eye(2))
    facts = ItemFacts.build(Served.build(model, "v"), [Item("a", "A", None), Item("b", "B")])
    assert facts.genres == [[], []] and facts.matrix is None
