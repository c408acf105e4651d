"""Pin the CPU code paths that float32 results depend on, so accuracy figures reproduce.

ImplicitALS's factors are the same for any thread count, but not for any CPU: numba
compiles its conjugate-gradient row solver for the machine it runs on, with re-association
(``kernels.implicit_als.CG_FASTMATH``), so the vector width LLVM picks sets the order of
each float32 sum; and OpenBLAS picks its ``YᵀY`` and scoring kernels by CPU when it loads.
ALS amplifies the rounding over its iterations.  On an AMD EPYC (Zen 4) with the same code
and libraries, ``benchmarks/implicit_ml100k.py`` gave P@10 0.3293 for ``alpha=10`` and
0.2622 for ``alpha=40`` compiled for the host (with AVX-512), but 0.3295 and 0.2635
(the figures of an earlier run on another machine) compiled for ``haswell``; ``implicit``'s
ALS rows moved with the OpenBLAS kernel alone.  ``alpha`` 1 and 2 agreed to six decimals.

:func:`pin` compiles for ``haswell`` with only its own features (x86-64-v3: AVX2, FMA;
no AVX-512) and loads OpenBLAS's Haswell kernels, on any x86-64 CPU that has them.
Here the factors came out bit for bit the same compiled for ``skylake-avx512``,
``icelake-server``, ``sapphirerapids`` and ``znver3`` with their own features, so with the
same libraries the figures should not depend on which such CPU runs them.  Each setting
already in the environment is kept; ``NUMBA_CPU_NAME=host`` pins nothing (numba then
compiles for this CPU and OpenBLAS picks its kernel).  Imported by the scripts beside it
(``from _pinned_cpu import pin``; a script's own folder is on ``sys.path`` when it runs),
before numpy: both settings are read when numba and OpenBLAS load.
"""

from __future__ import annotations

import os
import platform
import sys

#: numba's target: the CPU model whose own features are x86-64-v3 (AVX2, FMA, BMI2).
NUMBA_CPU = "haswell"
#: OpenBLAS's kernel set for that CPU (Zen 1-3 use the same kernels).
OPENBLAS_CORE = "Haswell"
#: CPU flags (``/proc/cpuinfo``) both need.
REQUIRED_FLAGS = frozenset({"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"})


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none).

    Example:
        >>> isinstance(cpu_flags(), frozenset)
        True
    """
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def pin() -> str | None:
    """Set ``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES`` and ``OPENBLAS_CORETYPE`` (each unless
    set already); returns ``None``, or why nothing was set.

    Nothing is set with ``NUMBA_CPU_NAME=host`` (removed, so that numba compiles for this
    CPU), on a CPU that is not x86-64 with AVX2 and FMA, nor once numpy or numba is loaded
    (the settings would no longer apply: e.g. when a test runs the script's ``--help`` in an
    interpreter that has loaded them).  :func:`describe` says what holds.

    Example (in a fresh process, before numpy)::

        from _pinned_cpu import describe, pin
        pin()
        import numpy as np
        print(describe())  # numba target haswell (its own features); BLAS: ... Haswell ...
    """
    loaded = [name for name in ("numpy", "numba") if name in sys.modules]
    if loaded:
        return f"{' and '.join(loaded)} already loaded"
    if os.environ.get("NUMBA_CPU_NAME") == "host":
        # numba would hand "host" to LLVM as a CPU model, which LLVM does not know.
        del os.environ["NUMBA_CPU_NAME"]
        return "NUMBA_CPU_NAME=host"
    if platform.machine() not in ("x86_64", "AMD64") or not REQUIRED_FLAGS <= cpu_flags():
        return "not an x86-64 CPU with AVX2 and FMA"
    os.environ.setdefault("NUMBA_CPU_NAME", NUMBA_CPU)
    if os.environ["NUMBA_CPU_NAME"] == NUMBA_CPU:
        # Empty: the named model's features, not this CPU's (its AVX-512 would come back).
        os.environ.setdefault("NUMBA_CPU_FEATURES", "")
    os.environ.setdefault("OPENBLAS_CORETYPE", OPENBLAS_CORE)
    return None


def describe() -> str:
    """One line: numba's compile target and each loaded OpenBLAS's kernel and threads.

    Example:
        >>> "numba target" in describe()
        True
    """
    import llvmlite.binding as llvm
    import numpy  # noqa: F401  (so that both OpenBLAS builds are loaded and listed)
    import scipy.linalg  # noqa: F401
    import threadpoolctl
    from numba.core import config

    if config.CPU_NAME is None or config.CPU_NAME == "host":
        target = f"host ({llvm.get_host_cpu_name()}, all its features)"
    else:
        features = config.CPU_FEATURES
        target = config.CPU_NAME + (
            " (its own features)" if features == "" else f" (features {features or 'host'})"
        )
    blas = ", ".join(
        f"{info.get('prefix', info['internal_api'])} {info.get('architecture', '?')} "
        f"{info['num_threads']} thread(s)"
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    )
    return f"numba target {target}; BLAS: {blas or 'none loaded'}"
