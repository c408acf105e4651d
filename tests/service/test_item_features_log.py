"""log_unused names the first LOGGED_TITLES titles whose genres or features the model
cannot use and counts the rest ("and N more"): a refresh may add thousands at once.  The
count had no test: replacing it with "" passed every test."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import HybridMF
from latentrec.service.holder import LOGGED_TITLES, Served, feature_use, log_unused
from latentrec.store import Item


@pytest.fixture(scope="module")
def multi():
    """A small HybridMF with multi-label genres."""
    ratings = pd.DataFrame({"user_id": [0, 1, 2, 3], "item_id": [0, 1, 2, 3], "rating": 5.0})
    side = pd.DataFrame({"genres": ["Drama|Sci-Fi", "Drama", "Comedy", "Sci-Fi"]})
    data = Interactions.from_frame(ratings, item_features=side)
    model = HybridMF(n_factors=3, n_epochs=2, random_state=0, user_features=None).fit(data)
    return Served.build(model, "v1")


def test_the_log_names_five_titles_and_counts_the_rest(multi, caplog):
    unseen = [Item(str(600 + j), None, ("Space",), None) for j in range(LOGGED_TITLES + 2)]
    uses = [(it.item_id, feature_use(multi, it)) for it in unseen]
    for n, more in ((LOGGED_TITLES, ""), (LOGGED_TITLES + 2, " and 2 more")):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="latentrec.service"):
            log_unused(uses[:n])
        (line,) = [r.getMessage() for r in caplog.records if r.name == "latentrec.service"]
        named = "; ".join(
            f"'{600 + j}' (genres ['Space']; nothing known: zero vector)"
            for j in range(LOGGED_TITLES)
        )
        assert line.endswith(f"the vector): {named}{more}")
        assert line.startswith(f"{n} new titles with genres or features")
