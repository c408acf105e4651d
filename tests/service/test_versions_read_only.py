"""A model directory's own files (``CURRENT``, ``last-retrain.json``) when they are read-only.

Saves refuse a read-only file since 2e8098e (a model made read-only to keep it), and the
refusal sat in the atomic write every file goes through, the directory's pointer too.  A
``CURRENT`` made read-only by no one's wish (created under a umask of 0222, copied from
a read-only place) then left each publish half done: the version folder renamed into
place, ``CURRENT`` not switched, an error; a scheduled retrain added one such version
every round.  Those files are the directory's own and are replaced whatever their mode.

Permission bits do not bind root, so as root the child runs without the capabilities
that override them (``setpriv``), as tests/io/test_modelio_read_only.py does.
"""

from __future__ import annotations

import json
import os
import stat
import textwrap

import numpy as np
import pytest
from conftest import AS_ROOT, can_drop_privileges, python_bound_by_permissions

from latentrec import Interactions
from latentrec.models import Biases
from latentrec.service.versions import RETRAIN_STATUS, ModelDirectory, write_retrain_status

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="POSIX permissions"),
    pytest.mark.skipif(
        AS_ROOT and not can_drop_privileges(), reason="root that cannot drop its overrides"
    ),
]

# Publishes, rolls back and records in the model directory argv[1]; one JSON line.
STEPS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import Biases
    from latentrec.service.versions import ModelDirectory, write_retrain_status
    md = ModelDirectory(sys.argv[1])
    out = {}
    for step in ("publish", "rollback", "record"):
        try:
            if step == "publish":
                md.publish(Biases().fit(Interactions.from_dense(np.eye(2) + 1)))
            elif step == "rollback":
                md.rollback()
            else:
                write_retrain_status(md.path, True, "second round", by="command")
            out[step] = "done"
        except (OSError, LookupError) as err:
            out[step] = str(err)
        out[step + "_current"] = md.read_pointer()
    print(json.dumps(out))
    """
)


def test_a_read_only_pointer_and_record_are_replaced_by_publish_rollback_and_record(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    md.publish(Biases().fit(Interactions.from_dense(np.eye(2) + 1)))
    write_retrain_status(md.path, True, "first round", by="command")
    md.pointer_path.chmod(0o444)
    (md.path / RETRAIN_STATUS).chmod(0o444)
    done = python_bound_by_permissions(STEPS, md.path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said == {
        "publish": "done",
        "publish_current": "v000002",
        "rollback": "done",
        "rollback_current": "v000001",
        "record": "done",
        "record_current": "v000001",
    }
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]
    assert [e["version"] for e in md.history()] == ["v000001", "v000002", "v000001"]
    assert json.loads((md.path / RETRAIN_STATUS).read_text())["reason"] == "second round"
    # The replaced files keep the mode they had, as the model files a save replaces do.
    assert stat.S_IMODE(md.pointer_path.stat().st_mode) == 0o444
