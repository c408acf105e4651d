"""A writer process for the concurrency and durability tests.

``python writer.py URL NAME BATCHES [--forever]`` opens the store (creating it if it is
new), then writes BATCHES batches (or until killed, with ``--forever``).  Batch k holds
explicit ratings ``(NAME, f"{NAME}-{k}-{j}")`` for j < 3 and one event on the shared
(user "shared", item "hot"), and is printed as ``ack NAME k VERSION`` once add_ratings
has returned: every printed batch was acknowledged.
"""

import itertools
import sys

from latentrec.store import Rating, open_store


def main(argv):
    url, name, batches = argv[0], argv[1], int(argv[2])
    forever = "--forever" in argv
    with open_store(url) as store:
        print("ready", flush=True)
        counter = itertools.count() if forever else range(batches)
        for k in counter:
            rows = [Rating(name, f"{name}-{k}-{j}", float(j + 1), float(k)) for j in range(3)]
            rows.append(Rating("shared", "hot", 1.0, float(k), kind="event"))
            version = store.add_ratings(rows).versions[name]
            print(f"ack {name} {k} {version}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
