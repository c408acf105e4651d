"""The store against a slow, obvious reference (dicts) on random operation sequences:
latest-wins ratings, additive events, deletes, strictly increasing versions and
changes_since, on SQLite and PostgreSQL."""

import random

import pytest

from latentrec.store import Rating

USERS = ["a", "b", "c'", "d%"]
ITEMS = ["x", "y", "z_", "w/"]


class Reference:
    """What the store should hold, kept the obvious way."""

    def __init__(self):
        self.values = {}  # (user, item, kind) -> [value, timestamp]
        self.versions = {}  # user -> version
        self.seq = 0

    def add(self, rows):
        """Apply rows one by one; how many explicit ones lost to a newer rating."""
        self.seq += 1
        superseded = 0
        for r in rows:
            key = (r.user_id, r.item_id, r.kind)
            held = self.values.get(key)
            if r.kind == "explicit":
                if held is None or r.timestamp >= held[1]:
                    self.values[key] = [r.value, r.timestamp]
                else:
                    superseded += 1
            elif held is None:
                self.values[key] = [r.value, r.timestamp]
            else:
                held[0] += r.value
                held[1] = max(held[1], r.timestamp)
        for r in rows:
            self.versions[r.user_id] = self.seq
        return superseded

    def delete_rating(self, user, item):
        keys = [k for k in self.values if k[:2] == (user, item)]
        if keys:
            self.seq += 1
            self.versions[user] = self.seq
        for k in keys:
            del self.values[k]
        return len(keys)

    def delete_user(self, user):
        keys = [k for k in self.values if k[0] == user]
        self.seq += 1  # an erasure is recorded even when nothing was stored
        self.versions[user] = self.seq
        for k in keys:
            del self.values[k]
        return len(keys)

    def user_ratings(self, user):
        return sorted((i, kind, v, t) for (u, i, kind), (v, t) in self.values.items() if u == user)


def random_rows(rng: random.Random):
    return [
        Rating(
            rng.choice(USERS),
            rng.choice(ITEMS),
            # Halves add exactly in floating point, so sums compare exactly.
            rng.randint(1, 10) / 2,
            float(rng.randint(0, 5)),  # few distinct times: many ties
            rng.choice(["explicit", "event"]),
        )
        for _ in range(rng.randint(1, 6))
    ]


@pytest.mark.parametrize("seed", range(3))
def test_random_operations_match_the_reference(store, seed):
    rng = random.Random(seed)
    ref = Reference()
    seen_seq = 0
    versions_before = {}
    for _ in range(40):
        op = rng.random()
        if op < 0.6:
            rows = random_rows(rng)
            result = store.add_ratings(rows)
            superseded = ref.add(rows)
            assert (result.n_written, result.n_superseded) == (len(rows) - superseded, superseded)
            assert result.versions == {r.user_id: ref.seq for r in rows}
        elif op < 0.8:
            user, item = rng.choice(USERS), rng.choice(ITEMS)
            assert store.delete_rating(user, item) == ref.delete_rating(user, item)
        else:
            user = rng.choice(USERS)
            assert store.delete_user(user) == ref.delete_user(user)
        # Versions equal the reference's global sequence, so they strictly increase.
        versions = store.user_versions(USERS)
        assert versions == {u: ref.versions.get(u, 0) for u in USERS}
        for user, version in versions.items():
            assert version >= versions_before.get(user, 0)
        versions_before = versions
        newest, changed = store.changes_since(seen_seq)
        assert newest == ref.seq
        assert changed == sorted(
            ((u, v) for u, v in ref.versions.items() if v > seen_seq), key=lambda p: (p[1], p[0])
        )
        if rng.random() < 0.5:
            seen_seq = newest
    for user in USERS:
        got = sorted((r.item_id, r.kind, r.value, r.timestamp) for r in store.user_ratings(user))
        assert got == ref.user_ratings(user)
    explicit = {(u, i): v for (u, i, k), (v, _) in ref.values.items() if k == "explicit"}
    if explicit:
        frame = store.interactions(kind="explicit").to_frame()
        assert {(u, i): r for u, i, r in frame[["user_id", "item_id", "rating"]].values} == explicit
