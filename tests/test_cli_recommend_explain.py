"""`latentrec explain --data`: the titles cited are ones the user rated at or above their
mean, read from the training data (a model file keeps which titles, not the stars)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.cli._common import load_data
from latentrec.models import BiasedMF


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [
        (u, i, int(rng.integers(1, 6)))
        for u in range(30)
        for i in rng.choice(25, 12, replace=False)
    ]
    folder = tmp_path_factory.mktemp("explain")
    path = folder / "ratings.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).to_csv(path, index=False)
    data = load_data(str(path))
    model = BiasedMF(n_factors=4, n_epochs=30, random_state=0).fit(data)
    model.save(folder / "m.npz")
    return folder / "m.npz", path, data


def test_explain_with_data_cites_only_what_the_user_rated_at_or_above_their_mean(trained):
    model_path, ratings_path, data = trained
    runner = CliRunner()
    cited_any = 0
    for user in range(10):
        row = data.matrix[data.users.index([user])[0]]
        stars = dict(zip(data.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))
        mean = sum(stars.values()) / len(stars)
        args = ["explain", str(model_path), "-u", str(user), "-i", "0", "--json"]
        out = runner.invoke(main, [*args, "--data", str(ratings_path)])
        assert out.exit_code == 0, out.output
        cited = json.loads(out.stdout)["supporting_items"]
        assert all(c["rating"] == stars[c["item_id"]] >= mean for c in cited)
        cited_any += len(cited)
    assert cited_any
    text = runner.invoke(main, [*args[:-1], "--data", str(ratings_path)]).output
    assert "because they rated" in text and "(rated " in text


def test_a_reading_option_without_data_is_a_usage_error(trained):
    model_path, _, _ = trained
    out = CliRunner().invoke(main, ["explain", str(model_path), "-u", "1", "-i", "0", "--sep", ","])
    assert out.exit_code == 2
    assert "--sep tells how to read --data, which is not given" in out.output
