"""The executor side of a half-step (no Spark needed): batches in, solved rows out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec.spark.rows import HalfStep, block_batches, solve_blocks, unpack_block


def random_cells(rng, n_rows=40, n_cols=25, density=0.3):
    mask = rng.random((n_rows, n_cols)) < density
    mask[np.arange(n_rows), rng.integers(0, n_cols, n_rows)] = True
    rows, cols = np.nonzero(mask)
    values = rng.integers(1, 6, rows.size).astype(np.float32)
    return rows, cols, values


def reference(step, rows, cols, values, Y, other_bias):
    """The normal equations of each row, built densely and solved with numpy."""
    k = Y.shape[1]
    out = {}
    for r in np.unique(rows):
        cells = rows == r
        j, v = cols[cells], values[cells].astype(np.float64)
        X = Y[j].astype(np.float64)
        n = j.size
        if step.kind == "explicit" and step.biases:
            X = np.hstack([X, np.ones((n, 1))])
            target = v - step.mu - other_bias[j]
            penalty = np.r_[np.full(k, step.regularization), step.bias_regularization] * n
        elif step.kind == "explicit":
            target = v
            penalty = np.full(k, step.regularization * n)
        else:
            conf = 1 + step.alpha * v
            A = Y.T.astype(np.float64) @ Y + (X.T * (conf - 1)) @ X
            lam = step.regularization * (n if step.scaled else 1)
            out[r] = np.linalg.solve(A + lam * np.eye(k), X.T @ conf)
            continue
        A = X.T @ X + np.diag(penalty)
        out[r] = np.linalg.solve(A, X.T @ target)
    return out


@pytest.mark.parametrize(
    "step",
    [
        HalfStep("explicit", k=3, regularization=0.1, bias_regularization=0.05, mu=3.0),
        HalfStep("explicit", k=3, regularization=0.1, biases=False),
        HalfStep("implicit", k=3, regularization=2.0, alpha=0.5),
        HalfStep("implicit", k=3, regularization=0.3, alpha=0.5, scaled=True),
    ],
    ids=["explicit-biases", "explicit-spark", "implicit", "implicit-spark"],
)
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_solve_batches_matches_dense_normal_equations(step, batch):
    rng = np.random.default_rng(batch)
    rows, cols, values = random_cells(rng)
    rows = rows + 5  # row ids are global indices, not positions in the batch
    Y = rng.normal(0, 0.5, (25, 3)).astype(np.float32)
    other_bias = rng.normal(0, 0.3, 25).astype(np.float32)
    frame = pd.DataFrame({"row": rows, "col": cols, "value": values})
    # Batches cut at arbitrary cells, so rows straddle batches; tiny blocks force many solves.
    batches = [frame.iloc[s : s + batch] for s in range(0, len(frame), batch)]
    gram = Y.T @ Y
    blocks = [unpack_block(b.iloc[0]) for b in block_batches(iter(batches), block_cells=13)]
    parts = list(solve_blocks(blocks, step, Y, other_bias, gram))
    assert len(parts) > 1
    got_rows, got_bias, got = (np.concatenate([p[j] for p in parts]) for j in range(3))
    assert sorted(got_rows.tolist()) == sorted(set(rows.tolist()))  # every row exactly once
    want = reference(step, rows, cols, values, Y, other_bias)
    for r, b, x in zip(got_rows, got_bias, got, strict=True):
        if step.kind == "explicit" and step.biases:
            np.testing.assert_allclose(np.r_[x, b], want[r], rtol=1e-4, atol=1e-5)
        else:
            assert b == 0
            np.testing.assert_allclose(x, want[r], rtol=1e-4, atol=1e-5)


def test_unsorted_rows_are_refused():
    frame = pd.DataFrame({"row": [2, 1], "col": [0, 0], "value": [1.0, 1.0]})
    with pytest.raises(ValueError, match="sorted by row"):
        list(block_batches(iter([frame])))
