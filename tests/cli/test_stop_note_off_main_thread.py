"""A note of a second stop signal (``note_again``) left by an earlier run does not
hurry the clean-up of a run made off the main thread (where ``ends_by_stop_signal``
sets no handler): it reset the note only on the main thread, so such a run killed its
retrain child at once, as though Ctrl-C had come twice."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from latentrec.cli.supervisor import clean_up, ends_by_stop_signal, note_again, stopped_again


def test_an_earlier_note_does_not_hurry_a_run_off_the_main_thread():
    killed = []
    schedule = SimpleNamespace(child=SimpleNamespace(kill=lambda: killed.append(1)), stop=list)
    note_again(None, None)  # an earlier run's note

    def run():
        with ends_by_stop_signal():
            clean_up(schedule, [])

    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        assert killed == []
    finally:
        with ends_by_stop_signal():  # as every run starts: no note left to other tests
            pass
    assert not stopped_again()
