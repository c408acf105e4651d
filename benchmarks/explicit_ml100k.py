"""Every explicit-rating model, latentrec's and Surprise's, on the same MovieLens-100K folds.

    .venv/bin/python benchmarks/explicit_ml100k.py                      # all, a few minutes
    .venv/bin/python benchmarks/explicit_ml100k.py --only BiasedMF,SVD   # one pair
    .venv/bin/python benchmarks/explicit_ml100k.py --skip-surprise --threads 1
    .venv/bin/python benchmarks/explicit_ml100k.py --json results.json

latentrec: ``GlobalMean``, ``Biases``, ``BiasedMF``, ``SVDpp``, ``ALS``, ``BayesianMF``,
``TruncatedSVD`` (and with ``fill="baseline"``), ``NMF``, ``ItemKNN``.  Surprise (the
``bench`` extra, ``pip install latentrec[bench]``): ``BaselineOnly``, ``SVD``, ``SVDpp``,
``NMF``, ``KNNBaseline(k=40, sim_options={"name": "pearson_baseline", "user_based":
False})``.  Every model runs with its library's defaults; only ``random_state`` (``--seed``)
and latentrec's ``num_threads`` (``--threads``) are set.

Protocol.  The folds are ``latentrec.data.splits.kfold(data, folds, random_state=seed)``,
the splits of ``latentrec.evaluation.cross_validate``.  For each fold one Surprise trainset
is built from the training cells (``train.to_frame()`` →
``Dataset.load_from_df(...).build_full_trainset()``; its build time is reported apart, not
in any fit time) and the test cells are handed over as ``(user_id, item_id, rating)``, so
both libraries see exactly the same cells.  Both clip predictions to 1–5 and both are
scored by latentrec's ``rmse`` / ``mae``.

Timing.  All models run fold by fold in this one process, each Surprise model right next
to its latentrec counterpart (which of the two goes first alternates from fold to fold),
so machine load hits both alike; the speed ratio is Surprise's mean fit seconds over
latentrec's.  latentrec's numba kernels are compiled (or loaded from cache) by a warm-up
fit on tiny data first, so no time below includes compilation.  latentrec uses
``--threads`` numba threads (default: numba's, i.e. every core); with ``--threads`` the
BLAS pool (``TruncatedSVD``'s ARPACK products) is capped to the same number.  Surprise is
single-threaded.  The machine's load average is printed at start and end: on a shared
machine the times are noisy, the ratios less so, and with more runnable processes than
cores parallel kernels can be slower than one thread, so there compare with
``--threads 1`` too.  A fit ratio compares implementations, not only code speed:
latentrec's ``SVDpp`` updates the y_j once per user turn (O(nnz·k) an epoch) where
Surprise's updates them at every rating (O(Σ_u |N(u)|²·k)).

``--only NAME[,NAME]`` runs a subset: a bare name (``NMF``) picks that model in every
library that has it, ``latentrec:NAME`` or ``surprise:NAME`` one side only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from _explicit_folds import run_latentrec, run_surprise, surprise_fold

from latentrec import Interactions
from latentrec.data.splits import kfold
from latentrec.datasets import movielens
from latentrec.evaluation import evaluate_ratings
from latentrec.models import (
    ALS,
    NMF,
    BayesianMF,
    BiasedMF,
    Biases,
    GlobalMean,
    ItemKNN,
    SVDpp,
    TruncatedSVD,
)

# The pairs compared: (latentrec name, Surprise name).
PAIRS = (
    ("Biases", "BaselineOnly"),
    ("BiasedMF", "SVD"),
    ("SVDpp", "SVDpp"),
    ("NMF", "NMF"),
    ("ItemKNN", "KNNBaseline"),
)
# Per-fold RMSE differences at most this big count as ties (equal to 6 decimals).
TIE = 5e-7
# Run order within a fold: each group's models run back to back.
GROUPS = (
    ("latentrec:GlobalMean",),
    ("latentrec:Biases", "surprise:BaselineOnly"),
    ("latentrec:BiasedMF", "surprise:SVD"),
    ("latentrec:SVDpp", "surprise:SVDpp"),
    ("latentrec:ALS",),
    ("latentrec:BayesianMF",),
    ("latentrec:TruncatedSVD",),
    ("latentrec:TruncatedSVD-baseline",),
    ("latentrec:NMF", "surprise:NMF"),
    ("latentrec:ItemKNN", "surprise:KNNBaseline"),
)


@dataclass
class Entry:
    lib: str
    name: str
    make: Callable[[], object]

    @property
    def key(self) -> str:
        return f"{self.lib}:{self.name}"


def latentrec_entries(seed: int, threads: int | None) -> list[Entry]:
    def make(cls, **params):
        def build():
            model = cls(**params)
            accepted = model.get_params()
            extra = {"random_state": seed, "num_threads": threads}
            return model.set_params(**{k: v for k, v in extra.items() if k in accepted})

        return build

    models = {
        "GlobalMean": make(GlobalMean),
        "Biases": make(Biases),
        "BiasedMF": make(BiasedMF),
        "SVDpp": make(SVDpp),
        "ALS": make(ALS),
        "BayesianMF": make(BayesianMF),
        "TruncatedSVD": make(TruncatedSVD),
        "TruncatedSVD-baseline": make(TruncatedSVD, fill="baseline"),
        "NMF": make(NMF),
        "ItemKNN": make(ItemKNN),
    }
    return [Entry("latentrec", name, build) for name, build in models.items()]


def surprise_entries(seed: int) -> list[Entry]:
    import surprise

    knn_sim = {"name": "pearson_baseline", "user_based": False}
    models = {
        "BaselineOnly": lambda: surprise.BaselineOnly(verbose=False),
        "SVD": lambda: surprise.SVD(random_state=seed),
        "SVDpp": lambda: surprise.SVDpp(random_state=seed),
        "NMF": lambda: surprise.NMF(random_state=seed),
        "KNNBaseline": lambda: surprise.KNNBaseline(k=40, sim_options=knn_sim, verbose=False),
    }
    return [Entry("surprise", name, build) for name, build in models.items()]


def select(only: str | None) -> set[str]:
    """The ``lib:name`` keys that ``--only`` names (all when None); ValueError if unknown."""
    keys = [key for group in GROUPS for key in group]
    if not only:
        return set(keys)
    chosen = set()
    for raw in only.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        hits = {k for k in keys if token in (k.lower(), k.split(":")[1].lower())}
        if not hits:
            known = ", ".join(sorted({k.split(":")[1] for k in keys}))
            raise ValueError(
                f"--only: unknown model {raw.strip()!r}; known: {known} "
                "(prefix latentrec: or surprise: for one library)"
            )
        chosen |= hits
    return chosen


def warm_up(entries: list[Entry]) -> float:
    """Fit and score each latentrec model on tiny data so that timed fits exclude compiling."""
    tiny = Interactions.from_dense(np.array([[5, 3, 0, 1], [4, 0, 1, 2], [1, 2, 5, 4]]))
    # Scored on held-out cells: evaluate_ratings refuses cells the model was trained on.
    train, test = next(kfold(tiny, 2, random_state=0))
    small = {"n_factors": 2, "n_epochs": 2, "n_samples": 2, "burn_in": 1}
    start = time.perf_counter()
    for entry in entries:
        if entry.lib != "latentrec":
            continue
        model = entry.make()
        accepted = model.get_params()
        model.set_params(**{k: v for k, v in small.items() if k in accepted})
        evaluate_ratings(model.fit(train), test)
    return time.perf_counter() - start


def load_text() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the folds and every model (default 0)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="numba (and BLAS) threads for latentrec; default numba's. Surprise uses one",
    )
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these models")
    parser.add_argument("--skip-surprise", action="store_true", help="latentrec models only")
    parser.add_argument("--json", metavar="PATH", help="write every number to this JSON file")
    args = parser.parse_args()
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")

    import numba

    entries = latentrec_entries(args.seed, args.threads)
    surprise_version = None
    if not args.skip_surprise:
        try:
            import surprise
        except ImportError:
            print("Surprise is not installed (pip install 'latentrec[bench]'); latentrec only")
        else:
            surprise_version = surprise.__version__
            entries += surprise_entries(args.seed)
    try:
        wanted = select(args.only)
    except ValueError as err:
        parser.error(str(err))
    missing = sorted(wanted - {e.key for e in entries})
    if missing:
        print(f"not run (Surprise skipped or missing): {', '.join(missing)}")
    entries = [e for e in entries if e.key in wanted]
    if not entries:
        parser.error("--only: nothing left to run")
    order = [key for group in GROUPS for key in group]
    entries.sort(key=lambda e: order.index(e.key))
    by_key = {e.key: e for e in entries}

    blas_limit = None
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            print("threadpoolctl not installed: BLAS threads not capped")
        else:
            blas_limit = threadpool_limits(limits=args.threads, user_api="blas")

    load_start = os.getloadavg()
    wall_start = time.perf_counter()
    data = movielens("100k", verbose=False)
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cores": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": args.threads or numba.config.NUMBA_NUM_THREADS,
        "surprise": surprise_version,
        "loadavg_start": list(load_start),
    }
    print(repr(data))
    print(
        f"machine: {machine['processor']}, {machine['cpu_count']} cores "
        f"({affinity} usable), load average {load_text()} (1/5/15 min) at start"
    )
    print(
        f"python {machine['python']}, numpy {np.__version__}, numba {numba.__version__} "
        f"(latentrec threads: {machine['numba_threads']}), "
        + (f"surprise {surprise_version} (single-threaded)" if surprise_version else "no Surprise")
    )
    print(f"models: {', '.join(e.key for e in entries)}")
    print(f"numba warm-up (compile or cache load): {warm_up(entries):.2f}s")

    rows = []
    build = []
    need_surprise = any(e.lib == "surprise" for e in entries)
    folds = kfold(data, args.folds, random_state=args.seed)
    print(f"\n{args.folds}-fold CV, folds kfold(data, {args.folds}, random_state={args.seed})")
    for fold, (train, test) in enumerate(folds, 1):
        if need_surprise:
            start = time.perf_counter()
            trainset, testset = surprise_fold(train, test)
            build.append(time.perf_counter() - start)
        done = []
        for group in GROUPS:
            keys = [k for k in group if k in by_key]
            if fold % 2 == 0:
                keys.reverse()
            for key in keys:
                entry = by_key[key]
                if entry.lib == "latentrec":
                    result = run_latentrec(entry.make(), train, test)
                else:
                    result = run_surprise(entry.make(), trainset, testset)
                rows.append({"fold": fold, "lib": entry.lib, "model": entry.name, **result})
                done.append(f"{key} {result['rmse']:.4f} ({result['fit_s']:.2f}s)")
        print(f"  fold {fold} (load {load_text()}): " + ", ".join(done), flush=True)

    means = {}
    for entry in entries:
        mine = [r for r in rows if r["lib"] == entry.lib and r["model"] == entry.name]
        means[entry.key] = {
            m: float(np.mean([r[m] for r in mine])) for m in ("rmse", "mae", "fit_s", "test_s")
        }
        means[entry.key]["rmse_std"] = float(np.std([r["rmse"] for r in mine], ddof=1))

    print(f"\nmeans over {args.folds} folds", end="")
    if build:
        print(f" (Surprise trainset build {np.mean(build):.3f}s/fold, in no fit time)", end="")
    print()
    print(
        f"{'library':<11}{'model':<23}{'RMSE':>8}{'±sd':>8}{'MAE':>8}"
        f"{'fit s/fold':>12}{'test s/fold':>13}"
    )
    for entry in entries:
        r = means[entry.key]
        print(
            f"{entry.lib:<11}{entry.name:<23}{r['rmse']:>8.4f}{r['rmse_std']:>8.4f}"
            f"{r['mae']:>8.4f}{r['fit_s']:>12.3f}{r['test_s']:>13.3f}"
        )

    pairs = []
    for ours, theirs in PAIRS:
        a = means.get(f"latentrec:{ours}")
        b = means.get(f"surprise:{theirs}")
        if a is None or b is None:
            continue
        ours_folds = [r["rmse"] for r in rows if r["lib"] == "latentrec" and r["model"] == ours]
        theirs_folds = [r["rmse"] for r in rows if r["lib"] == "surprise" and r["model"] == theirs]
        per_fold = [x - y for x, y in zip(ours_folds, theirs_folds, strict=True)]
        pairs.append(
            {
                "latentrec": ours,
                "surprise": theirs,
                "rmse_latentrec": a["rmse"],
                "rmse_surprise": b["rmse"],
                "rmse_diff": a["rmse"] - b["rmse"],
                "mae_diff": a["mae"] - b["mae"],
                "rmse_diff_per_fold": per_fold,
                "folds_lower_tied_higher": [
                    int(sum(d < -TIE for d in per_fold)),
                    int(sum(abs(d) <= TIE for d in per_fold)),
                    int(sum(d > TIE for d in per_fold)),
                ],
                "fit_ratio": b["fit_s"] / a["fit_s"],
                "test_ratio": b["test_s"] / a["test_s"],
            }
        )
    if pairs:
        print("\nlatentrec vs Surprise (RMSE/MAE difference: latentrec − Surprise; speed ratio:")
        print("Surprise fit s / latentrec fit s, above 1 means latentrec is faster)")
        print(
            f"{'pair':<27}{'RMSE diff':>10}{'MAE diff':>10}{'folds <=>':>11}"
            f"{'fit ratio':>11}{'test ratio':>12}"
        )
        for p in pairs:
            label = f"{p['latentrec']}–{p['surprise']}"
            lower = "/".join(map(str, p["folds_lower_tied_higher"]))
            print(
                f"{label:<27}{p['rmse_diff']:>+10.4f}{p['mae_diff']:>+10.4f}{lower:>11}"
                f"{p['fit_ratio']:>10.1f}x{p['test_ratio']:>11.1f}x"
            )
        print(f"(folds <=>: folds where latentrec's RMSE is lower / within {TIE:g} / higher)")
        ties = [p for p in pairs if f"{p['rmse_latentrec']:.4f}" == f"{p['rmse_surprise']:.4f}"]
        if ties:
            print("\npairs equal to 4 decimals, RMSE to 6:")
            for p in ties:
                print(
                    f"  {p['latentrec']} {p['rmse_latentrec']:.6f}  "
                    f"Surprise {p['surprise']} {p['rmse_surprise']:.6f}  "
                    f"diff {p['rmse_diff']:+.1e}"
                )

    load_end = os.getloadavg()
    total = time.perf_counter() - wall_start
    print(f"\nload average {load_text()} (1/5/15 min) at end; whole run {total:.0f}s")
    if blas_limit is not None:
        blas_limit.restore_original_limits()

    if args.json:
        machine["loadavg_end"] = list(load_end)
        out = {
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "args": vars(args),
            "machine": machine,
            "dataset": {"name": "movielens-100k", "n_ratings": int(data.nnz)},
            "surprise_build_s_per_fold": build,
            "wall_s": total,
            "folds": rows,
            "means": means,
            "pairs": pairs,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
