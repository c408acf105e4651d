"""Onboarding on MovieLens-100K: NDCG@10 of 5 answers against popularity for unseen users.

Run (from the repository root):

    python benchmarks/onboarding_ml100k.py              # seeds 0-4, ImplicitALS() defaults
    python benchmarks/onboarding_ml100k.py --former     # linear, alpha 2, lambda 30
    python benchmarks/onboarding_ml100k.py --seeds 0 1

Each model is built with its current defaults and ``random_state`` = the seed; ``--former``
builds ImplicitALS with its defaults until 2026-12-03 instead (``FORMER_DEFAULTS`` in
onboarding_harness.py).  The model's parameters are printed before its table.

Protocol: onboarding_harness.onboarding_benchmark (10% of users held out entirely).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from onboarding_harness import FORMER_DEFAULTS, onboarding_benchmark

from latentrec import datasets
from latentrec.models import ALS, BiasedMF, HybridMF, ImplicitALS

MODELS = {"implicit-als": ImplicitALS, "biased-mf": BiasedMF, "als": ALS, "hybrid": HybridMF}


def build_model(name: str, seed: int, former: bool = False):
    """The model the benchmark fits for ``name`` and one seed.

    >>> build_model("implicit-als", 3).get_params()["alpha"]
    'auto'
    >>> build_model("implicit-als", 3, former=True).get_params()["alpha"]
    2.0
    """
    if former and name == "implicit-als":
        return FORMER_DEFAULTS.clone().set_params(random_state=seed)
    return MODELS[name](random_state=seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=["implicit-als"], choices=sorted(MODELS))
    parser.add_argument("--threshold", type=float, default=None, help="relevant: rating >= this")
    parser.add_argument(
        "--former",
        action="store_true",
        help="ImplicitALS with FORMER_DEFAULTS (linear, alpha 2, lambda 30), not ImplicitALS()",
    )
    args = parser.parse_args(argv)
    print("command: python benchmarks/onboarding_ml100k.py " + " ".join(sys.argv[1:]))
    data = datasets.movielens("100k", verbose=False)
    print(data)
    rows = [
        ("design (variance), ask 5", dict(max_questions=5)),
        ("design (variance), first 5 of <=10", dict(max_questions=10)),
        ("design (logdet), ask 5", dict(max_questions=5, criterion="logdet")),
        ("design (logdet), first 5 of <=10", dict(max_questions=10, criterion="logdet")),
        ("most popular, ask 5", dict(max_questions=5, questions="popular")),
        ("most popular, first 5 of <=10", dict(max_questions=10, questions="popular")),
    ]
    relevant = (
        "all held-out ratings" if args.threshold is None else f"ratings >= {args.threshold:g}"
    )
    for name in args.models:
        model = build_model(name, 0, args.former)
        params = {k: v for k, v in model.get_params().items() if k != "random_state"}
        print(f"\nmodel: {type(model).__name__}({params}), random_state = the seed")
        print(
            f"\n{name}: NDCG@10 onboarding vs popularity, seeds {args.seeds}, "
            f"relevant = {relevant} not used as answers"
        )
        for label, kw in rows:
            rs = [
                onboarding_benchmark(
                    data,
                    5,
                    s,
                    model=build_model(name, s, args.former),
                    relevance_threshold=args.threshold,
                    **kw,
                )
                for s in args.seeds
            ]
            on = np.array([r["ndcg_onboarding"] for r in rs])
            po = np.array([r["ndcg_popularity"] for r in rs])
            gain = on - po
            print(
                f"  {label:36s} onboarding {on.mean():.4f}  popularity {po.mean():.4f}  "
                f"gain {gain.mean():+.4f} (per seed {' '.join(f'{g:+.4f}' for g in gain)}; "
                f"±{np.mean([r['gain_ci95'] for r in rs]):.4f} per-seed 95% CI)  "
                f"answered {np.mean([r['answered_mean'] for r in rs]):.2f} of "
                f"{np.mean([r['asked_mean'] for r in rs]):.2f} asked, "
                f"{np.mean([r['no_answer_users'] for r in rs]):.1f} users with no answer"
            )
        print("  per seed (variance design, ask 5 / first 5 of <=10):")
        for s in args.seeds:
            a = onboarding_benchmark(
                data,
                5,
                s,
                model=build_model(name, s, args.former),
                max_questions=5,
                relevance_threshold=args.threshold,
            )
            b = onboarding_benchmark(
                data,
                5,
                s,
                model=build_model(name, s, args.former),
                max_questions=10,
                relevance_threshold=args.threshold,
            )
            print(
                f"    seed {s}: {a['ndcg_onboarding']:.4f} vs {a['ndcg_popularity']:.4f} "
                f"({a['evaluated_users']} users)"
                f" | {b['ndcg_onboarding']:.4f} vs {b['ndcg_popularity']:.4f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
