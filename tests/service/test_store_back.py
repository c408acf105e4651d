"""The store-down log brackets each outage: a line when the store fails (then counts), and
one when it answers again, with how long the outage lasted and how many requests it
refused.

Before, nothing was said when the store came back: refusals after the last periodic line
appeared only at the next outage, minutes later, and two outages close together read as
one.
"""

from __future__ import annotations

import logging

import pytest

from latentrec.service.hardening import ERROR_LOGGER, RefusalLog

from .conftest import client_maker


def store_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == ERROR_LOGGER and "the ratings store" in r.getMessage()
    ]


def outages(client, store, caplog) -> None:
    """Two outages, each ended by the store answering again."""
    with caplog.at_level(logging.WARNING, logger=ERROR_LOGGER):
        for outage in (1, 2):
            store.db.closed = True  # refused as a store that cannot be used now
            for _ in range(3 * outage):
                assert client.get("/users/1/ratings").status_code == 503
            store.db.closed = False
            assert client.get("/users/1/ratings").status_code == 200
            assert client.get("/users/1/ratings").status_code == 200  # said once


@pytest.mark.postgres
def test_the_store_answering_again_ends_the_outage_with_one_line(pg_store, explicit_model, caplog):
    store = pg_store
    with client_maker(store) as make_client:
        client = make_client(explicit_model)
        assert client.get("/users/1/ratings").status_code == 200
        outages(client, store, caplog)
        lines = store_lines(caplog)
    # Two outages, each opened and closed: four lines, not one run-on outage.
    assert len(lines) == 4, lines
    assert "unavailable" in lines[0] and "unavailable" in lines[2]
    assert "answers again" in lines[1] and "3 requests were answered 503" in lines[1]
    assert "answers again" in lines[3] and "6 requests were answered 503" in lines[3]
    # The second outage's first line says nothing of the first's refusals.
    assert "more were refused" not in lines[2]


def test_the_back_line_says_how_long_and_how_many():
    now = [100.0]
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("test-refusal-back")
    logger.addHandler(Collect())
    logger.propagate = False
    log = RefusalLog(logger, every=10, clock=lambda: now[0])
    assert not log.answered()  # no outage: nothing to end
    for _ in range(25):
        now[0] += 1.0
        log.refused("down")
    now[0] += 0.5
    assert log.answered()
    assert len(lines) == 4, lines  # first, two periodic lines, the end
    assert "24.5 s after" in lines[-1] and "25 requests" in lines[-1], lines[-1]
    assert "(4 since the previous line)" in lines[-1], lines[-1]
    assert not log.answered()
    # Refused again 25 s later (less than the quiet spell that alone would end one):
    # a new outage, said at once, with nothing of the last one's refusals.
    now[0] += 25.0
    assert log.refused("down again")
    assert "unavailable" in lines[-1] and "more were refused" not in lines[-1], lines[-1]
