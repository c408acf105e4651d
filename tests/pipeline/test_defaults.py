"""MMR's default is the setting validated on the benchmark (lambda 0.7, min-max, pool 50),
and a pipeline saved with another pool keeps it."""

from __future__ import annotations

import numpy as np

from latentrec import Interactions
from latentrec.models import FactorModel, ImplicitALS
from latentrec.pipeline import MMR, Pipeline, load_pipeline, mmr
from latentrec.pipeline.context import build_context
from latentrec.pipeline.stages import MMR_POOL


def test_mmr_defaults_are_the_validated_setting():
    assert MMR_POOL == 50
    assert MMR().get_params() == {
        "lambda_": 0.7,
        "relevance": "minmax",
        "pool": 50,
        "center": False,
    }


def test_default_mmr_picks_among_the_best_50_only():
    rng = np.random.default_rng(0)
    n_items = 120
    data = Interactions.from_dense(np.eye(n_items)[:3])
    vectors = rng.normal(size=(n_items, 3))
    model = FactorModel.from_factors((data.users.ids, data.items.ids), vectors)
    ctx = build_context(data, [model])
    for seed in range(5):
        r = np.random.default_rng(seed)
        cands = r.permutation(n_items)[:100]
        scores = r.random(100)
        best50 = cands[np.argsort(-scores, kind="stable")[:50]]
        for lam, n in ((0.0, 10), (0.7, 10), (0.3, 60)):
            got = MMR(lam).fit(ctx).rerank(ctx, -1, cands, scores, n)
            # The obvious reference: cut to the best max(50, n) by score, then MMR on all.
            keep = np.argsort(-scores, kind="stable")[: max(50, n)]
            want = mmr(cands[keep], scores[keep], vectors, n, lam, pool=None)
            assert got.tolist() == want.tolist()
            if n <= 50:
                assert np.isin(got, best50).all()
        # The old default, all candidates, reaches past the best 50: the pool matters here.
        everyone = MMR(0.0, pool=None).fit(ctx).rerank(ctx, -1, cands, scores, 10)
        assert not np.isin(everyone, best50).all()


def test_a_saved_pipeline_keeps_the_pool_it_was_built_with(tmp_path):
    data = Interactions.from_dense((np.random.default_rng(1).random((30, 70)) < 0.2) * 1.0)
    model = ImplicitALS(n_factors=3, random_state=0).fit(data)
    for pool in (None, 50, 5):
        pipe = Pipeline(model, rerankers=[MMR(0.2, pool=pool)], n_candidates=60).fit(data)
        path = tmp_path / f"pipe{pool}.npz"
        pipe.save(path)
        back = load_pipeline(path)
        assert back.rerankers[0].pool == pool
        users = data.users.ids[:10]
        assert back.recommend_batch(users, 8).equals(pipe.recommend_batch(users, 8))
