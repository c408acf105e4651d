"""Commands asked of an item-kNN model what it cannot answer say what is missing, in one
line; and the usage line agrees with how many options it names."""

from __future__ import annotations

import pytest
from new_user_support import error_line, invoke, train_both


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_both(tmp_path_factory.mktemp("knn"))


# item-kNN: no user similarity, and no factor decomposition
def test_similar_users_of_item_knn_says_it_compares_items_only(trained):
    _, _, knn, _ = trained
    line = error_line(invoke("similar", knn, "-u", 1))
    assert "ItemKNN has no user similarity" in line and "--item" in line
    assert invoke("similar", knn, "-i", 100).exit_code == 0


def test_explain_of_item_knn_names_what_is_missing(trained):
    _, _, knn, _ = trained
    line = error_line(invoke("explain", knn, "-u", 1, "-i", 100))
    assert "no factor decomposition" in line
    assert "predicts no ratings" not in line  # it does predict ratings


def test_one_reading_option_tells(trained):
    _, model, _, _ = trained
    line = error_line(invoke("recommend", model, "-u", 1, "--sep", ";"), 2)
    assert "--sep tells how to read --data" in line
