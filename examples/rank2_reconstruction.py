"""A fully known 4 x 4 rating matrix of rank 2 is rebuilt exactly from k = 2 factors.

Every rating is a mix of two tastes — sci-fi and romance — so R = P Qᵀ with 2 columns:
each user is a 2-vector (how much they like each taste) and each film a 2-vector (how
much of each taste it has).  The SVD finds such factors from R alone: with k = 2 the
reconstruction error is zero up to rounding; with k = 1 it is not.  Gradient-based MF
(latentrec's BiasedMF without biases) gets there approximately.

Run:  python examples/rank2_reconstruction.py
"""

import numpy as np

from latentrec import Interactions
from latentrec.models import BiasedMF

USERS = ["Ann", "Ben", "Cat", "Dan"]
FILMS = ["Alien", "The Matrix", "Notting Hill", "Pretty Woman"]
tastes = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.8, 0.2]])  # users: sci-fi, romance
content = np.array([[5.0, 1.0], [4.0, 2.0], [1.0, 5.0], [2.0, 4.0]])  # films: sci-fi, romance
R = tastes @ content.T

print("R = P Qᵀ (users x films):")
print(" " * 5 + "".join(f"{f:>14s}" for f in FILMS))
for name, row in zip(USERS, R, strict=True):
    print(f"{name:4s} " + "".join(f"{x:14.2f}" for x in row))
print(f"rank of R: {np.linalg.matrix_rank(R)}")

U, s, Vt = np.linalg.svd(R)
print("singular values:", " ".join(f"{x:.6g}" for x in s))
for k in (1, 2):
    Rk = (U[:, :k] * s[:k]) @ Vt[:k]
    print(
        f"k = {k}: max |R − R_k| = {np.abs(R - Rk).max():.3g}, "
        f"share of Σσ² kept = {(s[:k] ** 2).sum() / (s**2).sum():.4%}"
    )

print()
data = Interactions.from_dense(R, user_ids=USERS, item_ids=FILMS)
# Plain R ≈ PQᵀ by SGD, constant step size (the default shrinking schedule is for big data).
model = BiasedMF(
    n_factors=2,
    n_epochs=3000,
    learning_rate=0.01,
    learning_rate_decay=1.0,
    regularization=0.0,
    biased=False,
    init_std=0.3,
    random_state=0,
).fit(data)
uu, ii = np.meshgrid(USERS, FILMS, indexing="ij")
fitted = model.predict(uu.ravel(), ii.ravel()).reshape(R.shape)
print(
    f"SGD with k = 2, no biases, {model.history_['epoch'][-1]} epochs: "
    f"max |R − PQᵀ| = {np.abs(R - fitted).max():.3g}"
)
print(
    "The learned P and Q differ from the planted ones by an invertible 2 x 2 map "
    "(factors are never unique), but their product is the same matrix."
)
