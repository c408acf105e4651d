"""The notebook flow on real data: fit, evaluate, recommend, find similar films, explain.

MovieLens-100K (fetched once and cached), 80/20 random split, latentrec's default BiasedMF.

Run:  python examples/movielens_quickstart.py
"""

from latentrec import datasets
from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ranking, evaluate_ratings
from latentrec.explain import supporting_items
from latentrec.models import BiasedMF

data = datasets.movielens("100k", verbose=False)
print(data)
train, test = random_split(data, test_size=0.2, random_state=42)
model = BiasedMF(random_state=42).fit(train)

print(
    "rating accuracy on the test cells:",
    {k: round(v, 4) for k, v in evaluate_ratings(model, test).items()},
)
ranking = evaluate_ranking(model, test, k=10, relevance_threshold=4)
print(
    "top-10 ranking (test ratings >= 4 are relevant):", {k: round(v, 4) for k, v in ranking.items()}
)

user = 1
print(f"\ntop 5 for user {user}:")
print(model.recommend(user, n=5).to_frame().to_string(index=False))

star_wars = 50
print(f"\nfilms most like {model.item_title(star_wars)!r} (with at least 50 ratings):")
popular = data.items.ids[train.item_counts() >= 50]
print(model.similar_items(star_wars, n=5, items=popular).to_frame().to_string(index=False))

best = model.recommend(user, n=1).ids[0]
print(f"\nwhy {model.item_title(best)!r} for user {user}?")
print(model.explain(user, best, ratings=train))
print("because they liked (their ratings at or above their mean):")
print(supporting_items(model, user, best, n=3, ratings=train).to_string(index=False))
