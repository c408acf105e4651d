"""A service opens its ratings store bounded by its own ``store_timeout``: a PostgreSQL
server whose schema table another session holds locked fails the opening with
:class:`StoreUnavailableError` naming that limit.  Before, the service opened the store
unbounded and set its limit afterwards, so such an opening waited for the store's
30 s default (and before that, for ever).
"""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest

from latentrec.models import FactorModel
from latentrec.service.app import create_app
from latentrec.service.settings import Settings
from latentrec.store import StoreUnavailableError, open_store

pytestmark = pytest.mark.postgres

LIMIT_S = 1.0
# A guard against hanging the suite when the opening is not bounded: never a measure.
HANG_S = 20.0


def test_the_service_opening_is_bounded_by_its_store_timeout(postgres_url, tmp_path):
    open_store(postgres_url).close()  # the schema, current
    model = FactorModel.from_factors(([0, 1], ["1", "2"]), np.eye(2), np.eye(2))
    model.save(tmp_path / "m.npz")
    settings = Settings(
        model_path=str(tmp_path / "m.npz"), store_url=postgres_url, store_timeout=LIMIT_S
    )
    got: dict = {}

    def start():
        try:
            got["app"] = create_app(settings)
        except Exception as err:  # the test looks at it
            got["error"] = err

    with psycopg.connect(postgres_url) as locker:
        locker.execute("LOCK TABLE lr_schema IN ACCESS EXCLUSIVE MODE")
        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        thread.join(HANG_S)
        locker.rollback()
    thread.join(HANG_S)
    err = got.get("error")
    assert isinstance(err, StoreUnavailableError), got
    assert f"limit of {LIMIT_S:g} s" in str(err), str(err)
