"""On MovieLens-100K, ``latentrec recommend --calibrate 0.5`` with ``--diversity`` 0 (off)
or 0.3 gives the service's list for the same query (``diversity=0&calibrate=0.5``), for
training users whose lists the two once gave differently (142, 631, 800) and user 1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from latentrec import load
from latentrec.cli import main


@pytest.mark.network
def test_the_command_and_the_service_give_one_calibrated_list(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from latentrec.datasets import movielens
    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import Item, open_store

    model = tmp_path / "m.npz"
    args = ["train", "ml-100k", "-a", "implicit-als", "--seed", "0", "-q", "-o", str(model)]
    assert CliRunner().invoke(main, args).exit_code == 0
    data = movielens("100k", verbose=False)
    table = data.item_features
    with open_store(tmp_path / "ratings.sqlite") as store:
        store.add_items(
            [
                # The table spells an item's genres "Animation|Comedy", as the file does.
                Item(str(i), str(table.loc[i, "title"]), genres(table.loc[i, "genres"]))
                for i in data.items.ids.tolist()
            ]
        )
        app = create_app(Settings(), store=store, source=FixedSource(load(model), "v"))
        with TestClient(app) as client:
            for user in (1, 142, 631, 800):
                for diversity in (0, 0.3):
                    out = CliRunner().invoke(
                        main,
                        ["recommend", str(model), "-u", str(user), "-n", "10", "--data",
                         "ml-100k", "--calibrate", "0.5", "--diversity", str(diversity),
                         "--json"],
                    )  # fmt: skip
                    assert out.exit_code == 0, out.output
                    query = {"n": 10, "calibrate": 0.5, "diversity": diversity}
                    body = client.get(f"/users/{user}/recommendations", params=query).json()
                    served = [int(row["item_id"]) for row in body["items"]]
                    assert [row["item_id"] for row in json.loads(out.stdout)] == served


def genres(cell) -> tuple:
    return tuple(g for g in str(cell).split("|") if g)
