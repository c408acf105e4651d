"""The classic 6 x 6 example: two tastes (sci-fi, cooking) recovered by 2 latent factors.

Six users rate six videos; 0 marks a rating nobody gave.  Items 0-2 are sci-fi, items 3-5
cooking shows; users 0-2 like sci-fi, users 3-5 cooking.  Full-batch gradient descent on
r̂ = μ + u_i·v_j (k = 2, η = 0.01, λ = 0.05, 8000 steps, seed 1) fills in the blanks.

Run:  python examples/scifi_cooking_6x6.py
"""

import numpy as np

from latentrec import Interactions
from latentrec.models import GradientDescentMF

R = np.array(
    [
        [5, 5, 4, 1, 0, 1],
        [4, 5, 5, 2, 1, 0],
        [5, 4, 0, 1, 2, 1],
        [1, 2, 1, 5, 4, 5],
        [0, 1, 2, 4, 5, 4],
        [2, 1, 1, 5, 5, 4],
    ]
)
ITEMS = ["scifi-0", "scifi-1", "scifi-2", "cook-3", "cook-4", "cook-5"]

data = Interactions.from_dense(R)  # 0 = unknown, not a zero rating
model = GradientDescentMF(
    n_factors=2, n_epochs=8000, learning_rate=0.01, regularization=0.05, random_state=1
).fit(data)

print(f"observed ratings: {data.nnz} of {R.size}; global mean μ = {model.global_mean_:.3f}")
print(
    f"train RMSE after {model.history_['epoch'][-1]} steps: {model.history_['train_rmse'][-1]:.3f}"
)
print()
print("completed matrix (the unknown cells in brackets):")
full = model.global_mean_ + model.user_factors_.astype(float) @ model.item_factors_.T
for u in range(6):
    cells = [f"[{full[u, i]:.2f}]" if R[u, i] == 0 else f" {full[u, i]:.2f} " for i in range(6)]
    print(f"  user {u}: " + " ".join(cells))
print()
for u, i in [(2, 2), (4, 0), (0, 4), (1, 5)]:
    print(f"prediction user {u}, item {i} ({ITEMS[i]}): {model.predict([u], [i])[0]:.2f}")
print()

V = model.item_factors_.astype(float)
unit = V / np.linalg.norm(V, axis=1, keepdims=True)
cos = unit @ unit.T
print("item vectors (v_j):")
for i in range(6):
    print(f"  {ITEMS[i]:8s} ({V[i, 0]:+.3f}, {V[i, 1]:+.3f})")
within_scifi = cos[:3, :3][np.triu_indices(3, 1)]
within_cook = cos[3:, 3:][np.triu_indices(3, 1)]
across = cos[:3, 3:].ravel()
print(f"cosine within sci-fi : min {within_scifi.min():+.3f}")
print(f"cosine within cooking: min {within_cook.min():+.3f}")
print(f"cosine across genres : max {across.max():+.3f}")
separated = min(within_scifi.min(), within_cook.min()) > across.max()
print(f"the two genres separate in factor space: {separated}")
