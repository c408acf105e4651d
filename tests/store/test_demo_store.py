"""The demo's ratings store: seeded once beside the model, kept on later runs, and the
demo ends with the command that serves both."""

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.demo import seed_store
from latentrec.store import Rating, open_store


def test_seed_store_imports_once_and_keeps_later_ratings(tmp_path):
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [10, 20], "rating": [4.0, 5.0]})
    side = pd.DataFrame({"title": ["Ten", "Twenty"], "genres": ["A", "B|C"]}, index=[10, 20])
    data = Interactions.from_frame(df, item_features=side)
    path = tmp_path / "ratings.db"
    url, imported, counts = seed_store(data, path)
    assert (url, imported) == (f"sqlite:///{path}", 2)
    assert counts == {"ratings": 2, "users": 2, "items": 2}
    with open_store(url) as store:
        store.add_ratings([Rating("new", "10", 3.0)])
        assert store.get_item("20").genres == ("B", "C")
    assert seed_store(data, path)[1:] == (0, {"ratings": 3, "users": 3, "items": 2})


@pytest.mark.slow
@pytest.mark.network
def test_demo_seeds_the_store_and_ends_with_the_serve_command(tmp_path, capsys):
    from latentrec.demo import command_name, run_demo

    result = run_demo(output_dir=tmp_path, user_id=1)
    lines = capsys.readouterr().out.strip().splitlines()
    model = tmp_path / "biased_mf_ml100k.npz"
    store_url = f"sqlite:///{tmp_path / 'ratings.db'}"
    assert lines[-1] == f"  {command_name()} serve --model {model} --store {store_url} --open"
    assert result["store_url"] == store_url
    with open_store(store_url) as store:
        assert store.counts() == {"ratings": 100_000, "users": 943, "items": 1682}
        assert [i.title for i in store.search_items("star wars")][0] == "Star Wars"
        assert "Sci-Fi" in store.get_item("50").genres


def test_without_sqlalchemy_the_demo_says_what_to_install(tmp_path, monkeypatch, capsys):
    import sys

    from latentrec.demo import store_section

    for name in [m for m in sys.modules if m.startswith("latentrec.store")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    data = Interactions.from_frame(pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [3]}))
    assert store_section(data, tmp_path, tmp_path / "m.npz") == (None, None)
    out = capsys.readouterr().out
    assert "no ratings store" in out and "pip install 'latentrec[serve]'" in out
    assert not (tmp_path / "ratings.db").exists()
