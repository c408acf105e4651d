"""Memory readings the benchmarks share: this process's resident set and its peak.

Imported by the benchmark scripts beside it (``from _memory import peak_mib``; a script's
own folder is on ``sys.path`` when it runs).  Linux only: the figures come from
``/proc/self/status``.

- ``VmHWM`` is this process's own high-water mark; ``ru_maxrss`` would report the
  parent's peak when that is higher (Linux keeps it across fork and exec).
- :func:`reset_peak` starts the high-water mark again from the current resident set
  (``/proc/self/clear_refs``), so a step's peak can be read without what came before it
  (reading the input, for instance).
"""

from __future__ import annotations


def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """This process's resident set now (``VmRSS``), in MiB.

    Example:
        >>> rss_mib() > 0
        True
    """
    return _status("VmRSS")


def peak_mib() -> float:
    """This process's peak resident set (``VmHWM``), in MiB.

    Example:
        >>> peak_mib() >= rss_mib() - 1
        True
    """
    return _status("VmHWM")


def reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current resident set; ``False`` if refused.

    Example:
        >>> big = bytearray(64 << 20)
        >>> del big
        >>> reset_peak() and peak_mib() < rss_mib() + 32
        True
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True
