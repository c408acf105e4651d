"""ISO 8601 date columns are parsed by pandas where it agrees with Python's parser, which
used to parse every distinct cell on its own (about 3 s per million distinct times)."""

import datetime as _dt
import re
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.data import build


def _python(texts):
    return np.array([build._iso_seconds(t) for t in texts], dtype=np.float64)


@st.composite
def _spelling(draw):
    year = draw(st.sampled_from([1, 1600, 1677, 1685, 1969, 1970, 2000, 2255, 2262, 2300, 9999]))
    date = f"{year:04d}-{draw(st.integers(0, 13)):02d}-{draw(st.integers(0, 32)):02d}"
    time = draw(
        st.one_of(
            st.just(""),
            st.tuples(
                st.sampled_from("T "),
                st.integers(0, 25),
                st.integers(0, 61),
                st.one_of(st.none(), st.integers(0, 61)),
                st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=10)),
            ).map(
                lambda t: (
                    f"{t[0]}{t[1]:02d}:{t[2]:02d}"
                    + (
                        ""
                        if t[3] is None
                        else f":{t[3]:02d}" + ("" if t[4] is None else "." + t[4])
                    )
                )
            ),
        )
    )
    zone = draw(
        st.one_of(
            st.just(""),
            st.just("Z"),
            st.tuples(
                st.sampled_from("+-"),
                st.integers(0, 25),
                st.sampled_from([":", ""]),
                st.integers(0, 61),
            ).map(lambda z: f"{z[0]}{z[1]:02d}{z[2]}{z[3]:02d}"),
        )
    )
    return date + time + zone


# Python 3.10's fromisoformat, the reference, reads fewer spellings (no Z, 3 or 6 digits).
@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 reads fewer ISO spellings")
@settings(max_examples=300, deadline=None)
@given(st.lists(_spelling(), min_size=1, max_size=40))
def test_many_at_once_matches_python_one_by_one(texts):
    texts = [t for t in texts if re.fullmatch(build._ISO_DATE, t)]
    got = build._iso_seconds_many(np.array(texts, dtype=object))
    np.testing.assert_array_equal(got, _python(texts))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 reads fewer ISO spellings")
def test_column_of_distinct_times_matches_python():
    rng = np.random.default_rng(0)
    secs = rng.integers(-(10**10), 10**10, 5000)
    text = pd.to_datetime(secs, unit="s").strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    frac = rng.integers(0, 10**6, 5000)
    text = np.array([f"{t}.{f:06d}+01:30" for t, f in zip(text, frac, strict=True)], dtype=object)
    raw = pd.Series(np.concatenate([text, [None, " 2020-02-30 ", "0001-01-01"]]))
    got, missing, not_dates = build._iso_dates(raw)
    want = _python([str(t).strip() for t in raw.dropna()])
    np.testing.assert_array_equal(got[~missing], np.where(np.isnan(want), 0.0, want))
    assert missing.tolist()[-3:] == [True, False, False]
    assert np.flatnonzero(not_dates).tolist() == [5001]


def test_cells_that_are_not_all_text_are_no_iso_column():
    assert build._iso_dates(pd.Series(["2020-01-01", 5], dtype=object)) is None
    assert build._iso_dates(pd.Series([None, None], dtype=object)) is None


# What Python 3.10's datetime.fromisoformat reads (its documentation: the spellings
# isoformat writes): YYYY-MM-DD[*HH[:MM[:SS[.fff[fff]]]][+HH:MM[:SS[.ffffff]]]].
_PY310 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:.[0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{3}|\.[0-9]{6})?)?)?"
    r"(?:[+-][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{6})?)?)?)?",
    re.ASCII | re.DOTALL,
)


class _Python310Datetime(_dt.datetime):
    """datetime whose fromisoformat refuses what Python 3.10's refuses."""

    @classmethod
    def fromisoformat(cls, text):
        if not _PY310.fullmatch(text):
            raise ValueError(f"Invalid isoformat string: {text!r}")
        return _dt.datetime.fromisoformat(text)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="compares with 3.11's reading")
@settings(max_examples=500, deadline=None)
@given(_spelling())
def test_texts_respelled_for_python_3_10_mean_what_3_11_reads(text):
    if not re.fullmatch(build._ISO_DATE, text):
        return
    respelled = build._as_isoformat(text)
    if "T" in text or " " in text:  # a date alone is left as it is
        assert _PY310.fullmatch(respelled), respelled
    try:
        want = _dt.datetime.fromisoformat(text)
    except ValueError:
        want = None
    try:
        got = _dt.datetime.fromisoformat(respelled)
    except ValueError:
        got = None
    assert got == want and getattr(got, "tzinfo", None) == getattr(want, "tzinfo", None)


def test_python_3_10_reads_a_z_time_in_every_year(monkeypatch):
    """On 3.10 a time ending in Z was read by pandas between 1685 and 2255 and refused as
    no date by Python's parser outside them: one column, half dates, half 'not dates'."""
    want = build._iso_dates(pd.Series(TIMES_3_10, dtype=object))
    monkeypatch.setattr(
        build, "_dt", SimpleNamespace(datetime=_Python310Datetime, timezone=_dt.timezone)
    )
    got = build._iso_dates(pd.Series(TIMES_3_10, dtype=object))
    assert not got[2].any(), got[2]
    np.testing.assert_array_equal(got[0], want[0])
    assert got[0][0] == -11676096000.0 + 1.5  # 1600-01-01, one and a half seconds in


TIMES_3_10 = [
    "1600-01-01T00:00:01.5Z",
    "2020-01-01T00:00:00Z",
    "2020-01-01",
    "2300-01-01 10:00+0100",
]
