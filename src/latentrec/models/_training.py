"""The epoch loop shared by iterative models: progress, history, early stopping, listeners."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numba
import numpy as np
from tqdm.auto import tqdm

from ..errors import HyperparameterError
from ..io.modelfile import free_memory

# The largest count a hyperparameter may hold.  Counts reach numba kernels, ARPACK and
# allocations as 64-bit (ARPACK: 32-bit) integers: a wider Python int fails inside them
# with a typing or overflow error, and no epoch, factor or neighbour count a fit can reach
# comes near this.
MAX_COUNT = 2**31 - 1

# The largest rate, penalty or scale a hyperparameter may hold: the kernels compute in
# float32, where a larger number becomes infinite (and a fit, or the file saved, NaN).
MAX_REAL = float(np.finfo(np.float32).max)


def check_int(name: str, value, minimum: int = 1, maximum: int = MAX_COUNT) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an int in [``minimum``, ``maximum``].

    Example:
        >>> check_int("n_epochs", 3)
        >>> for bad in (0, 2**70, 1e3):
        ...     try:
        ...         check_int("n_epochs", bad)
        ...     except ValueError as err:
        ...         print(err)
        n_epochs must be an integer >= 1, got 0
        n_epochs must be an integer >= 1 and <= 2147483647, got 1180591620717411303424
        n_epochs must be an integer >= 1, got 1000.0 (a float: write 1000)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        hint = ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            hint = f" (a float: write {int(value)})"
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}{hint}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value > maximum:
        raise ValueError(f"{name} must be an integer >= {minimum} and <= {maximum}, got {value!r}")


def check_epochs(value, patience) -> None:
    """:func:`check_int` for ``n_epochs``, whose cap is higher with ``patience``: early
    stopping then ends the fit, epochs are counted in Python (no kernel sees the number),
    and ``n_epochs=sys.maxsize`` is a common way to write "until validation stops
    improving" (fits and model files made so before counts were bounded train and load
    as before).  ``fit`` refuses such a count when it has no validation data, which
    patience needs (``base._check_epochs_end``).

    Example:
        >>> import sys
        >>> check_epochs(sys.maxsize, patience=5)
        >>> try:
        ...     check_epochs(sys.maxsize, patience=None)
        ... except ValueError as err:
        ...     print(err)
        n_epochs must be an integer >= 1 and <= 2147483647, got 9223372036854775807
    """
    check_int("n_epochs", value, maximum=MAX_COUNT if patience is None else 2**63 - 1)


def available_memory() -> int | None:
    """Bytes of memory a fit may still allocate: what the system says is free (model
    files use the same figure, :func:`latentrec.io.modelfile.free_memory`), else the
    machine's physical memory (``os.sysconf``), else ``None`` (unknown: nothing is
    refused).

    Example:
        >>> free = available_memory()
        >>> free is None or free >= 0
        True
    """
    free = free_memory()
    if free is not None:
        return free
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_fit_memory(model, knobs: tuple[str, ...], need: int, n_users: int, n_items: int) -> None:
    """Refuse a fit whose arrays would take more memory than is available, before any is
    allocated: one :class:`~latentrec.errors.HyperparameterError` (a ValueError) naming
    the size hyperparameters ``knobs`` of ``model``
    with their values, the bytes the fit needs (``need``, a lower bound of its peak:
    the learned factors plus each algorithm's work space) and the bytes available.

    Without it ``n_factors=2**31 - 1`` either failed in NumPy's allocator, which the
    command line can only call "out of memory", or, where the system overcommits,
    ran until the kernel killed the process.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> check_fit_memory(BiasedMF(n_factors=8), ("n_factors",), 4096, 10, 10)
        >>> try:
        ...     check_fit_memory(BiasedMF(n_factors=2**31 - 1), ("n_factors",), 2**62, 10, 10)
        ... except ValueError as err:
        ...     print(str(err)[:53])
        BiasedMF: n_factors=2147483647 needs at least 4.0 EiB
    """
    free = available_memory()
    if free is None or need <= free:
        return
    shown = ", ".join(f"{name}={getattr(model, name)!r}" for name in knobs)
    lower = " or ".join(knobs)
    raise HyperparameterError(
        f"{type(model).__name__}: {shown} needs at least {byte_size(need)} ({need:,} bytes) "
        f"of memory to fit {n_users:,} users x {n_items:,} items, more than the "
        f"{byte_size(free)} ({free:,} bytes) available here; lower {lower}"
    )


def work_threads(num_threads, n_rows: int) -> int:
    """Threads that each hold a row's work space at once: ``num_threads`` (or numba's
    default), at most numba's limit and the number of rows.

    Example:
        >>> work_threads(4, 2)
        2
    """
    wanted = numba.get_num_threads() if num_threads is None else int(num_threads)
    return max(1, min(wanted, numba.config.NUMBA_NUM_THREADS, n_rows))


def byte_size(n: int) -> str:
    """A byte count for people, in binary units.

    Example:
        >>> byte_size(512), byte_size(3 * 2**20), byte_size(2**62)
        ('512 bytes', '3.0 MiB', '4.0 EiB')
    """
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_real(name: str, value, *, minimum: float | None = 0.0, positive: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a real number the kernels can
    hold: finite, at most :data:`MAX_REAL` in size, and >= ``minimum`` (> 0 with
    ``positive``; any sign with ``minimum=None``).

    A Python int wider than 64 bits is refused too: NumPy and numba cannot convert it.

    Example:
        >>> check_real("min_rating", -2.5, minimum=None)
        >>> try:
        ...     check_real("shrinkage", 1e300)
        ... except ValueError as err:
        ...     print(err)
        shrinkage must be a finite number >= 0 and <= 3.40282e+38, got 1e+300
    """
    low_ok = True
    if minimum is None:
        bound = ""
    else:
        bound = f" > {minimum:g}" if positive else f" >= {minimum:g}"
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )
    if ok and isinstance(value, int) and abs(value) >= 2**63:
        raise ValueError(
            f"{name} must be a finite number{bound}, got {value!r}, an integer too wide for "
            f"64 bits; write it as a float ({float(value):g}) if you mean it"
        )
    ok = ok and math.isfinite(value)
    if ok and minimum is not None:
        low_ok = value > minimum if positive else value >= minimum
    if not (ok and low_ok):
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    if abs(value) > MAX_REAL:
        limit = f" and <= {MAX_REAL:.6g}" if minimum is not None else f" of size <= {MAX_REAL:.6g}"
        raise ValueError(f"{name} must be a finite number{bound}{limit}, got {value!r}")


def check_float(name: str, value, *, positive: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a finite float >= 0 (> 0) that
    float32 can hold (:func:`check_real`).

    Example:
        >>> check_float("learning_rate", 0.01, positive=True)
        >>> try:
        ...     check_float("learning_rate", 0, positive=True)
        ... except ValueError as err:
        ...     print(err)
        learning_rate must be a finite number > 0, got 0
    """
    check_real(name, value, positive=positive)


def check_bool(name: str, value) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is True or False.

    A flag given as 0, 1, None or a string would be read by its truth value, so
    ``"false"`` would mean True: refused rather than guessed.

    Example:
        >>> check_bool("biased", True)
        >>> try:
        ...     check_bool("biased", "no")
        ... except ValueError as err:
        ...     print(err)
        biased must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def check_verbose(value) -> None:
    """Raise a ValueError unless ``value`` is a ``verbose`` setting: None, True or False,
    or a scikit-learn verbosity level, an integer >= 0 (0 hides the bar, 1 or more shows
    it), which is also how a model file's integer ``verbose`` loads.

    A negative level is refused: LightGBM's ``verbose=-1`` means silence, while its truth
    value would show the bar.

    Example:
        >>> check_verbose(None), check_verbose(0), check_verbose(1)
        (None, None, None)
        >>> for bad in ("yes", -1):
        ...     try:
        ...         check_verbose(bad)
        ...     except ValueError as err:
        ...         print(err)
        verbose must be None (a bar once a fit takes a while), True, False or an int >= 0, got 'yes'
        verbose must be None (a bar once a fit takes a while), True, False or an int >= 0, got -1
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            "verbose must be None (a bar once a fit takes a while), True, False or an int "
            f">= 0, got {value!r}"
        )


EpochCallback = Callable[[int, float, float], None]

# Listeners live in a context variable, not in the models: tuning can watch (and stop) any
# model that trains through run_epochs without a callback argument on every fit signature,
# and fits in other threads or asyncio tasks do not see each other's listeners.
_LISTENERS: ContextVar[tuple[EpochCallback, ...]] = ContextVar(
    "latentrec_epoch_listeners", default=()
)


@contextmanager
def epoch_listener(callback: EpochCallback) -> Iterator[EpochCallback]:
    """Call ``callback(epoch, train_rmse, valid_rmse)`` after every epoch of every fit inside.

    ``epoch`` counts from 1 (as in ``history_["epoch"]``); ``valid_rmse`` is ``nan`` when
    the fit has no validation data (and for implicit models, whose ``train_rmse`` is their
    training loss, as in their history).  Listeners nest (outer ones are called first) and are
    removed when the ``with`` block ends.  An exception raised by the callback (for example
    ``optuna.TrialPruned``) stops training and propagates out of ``fit``; that model is
    then not usable.  Only models that train through :func:`run_epochs` report epochs, and
    only fits in the same thread (context) as the ``with`` block are seen.

    Example:
        >>> seen = []
        >>> with epoch_listener(lambda epoch, train, valid: seen.append(epoch)):
        ...     _ = run_epochs("demo", 3, lambda e: None, lambda: (1.0, float("nan")))
        >>> seen
        [1, 2, 3]
    """
    if not callable(callback):
        raise TypeError(f"epoch_listener needs a callable, got {type(callback).__name__}")
    token = _LISTENERS.set((*_LISTENERS.get(), callback))
    try:
        yield callback
    finally:
        _LISTENERS.reset(token)


# How long an automatic bar (verbose=None) waits before it appears: fits shorter than this
# stay silent, so tests, tuning trials and small fits print nothing.
AUTO_PROGRESS_DELAY = 3.0


def progress(*, total: int, desc: str, unit: str, verbose: bool | None = None) -> tqdm:
    """A tqdm bar for a loop of ``total`` steps, by the models' ``verbose`` convention.

    ``True`` shows it at once; ``False`` never; ``None`` is tqdm's auto mode
    (``disable=None``: on in a terminal or notebook, off when the output is a file or a
    pipe) and appears only after :data:`AUTO_PROGRESS_DELAY` seconds.  Whoever
    drives it calls ``update``; a bar that completes is left on screen at 100%.

    Example:
        >>> with progress(total=3, desc="demo", unit="step", verbose=False) as bar:
        ...     bar.update(3)
        >>> bar.disable
        True
    """
    if verbose is None:
        return tqdm(total=total, desc=desc, unit=unit, disable=None, delay=AUTO_PROGRESS_DELAY)
    return tqdm(total=total, desc=desc, unit=unit, disable=not verbose)


def run_epochs(
    name: str,
    n_epochs: int,
    step: Callable[[int], None],
    evaluate: Callable[[], tuple[float, float]],
    *,
    state: tuple[np.ndarray, ...] = (),
    patience: int | None = None,
    verbose: bool | None = False,
) -> dict:
    """Run ``step(epoch)`` up to ``n_epochs`` times and record a per-epoch history.

    ``evaluate()`` returns ``(train_rmse, valid_rmse)`` (``nan`` without validation data;
    the history then has no ``valid_rmse`` column).  The models pass RMSEs of unclipped
    predictions, so early stopping and the history judge the raw model; the clipped
    figure ``evaluate_ratings`` reports by default can be a little lower.
    With ``patience`` and a finite validation RMSE, training stops once the validation RMSE
    has not improved for ``patience`` epochs, and the best epoch's ``state`` (the arrays
    ``step`` updates in place) is copied back into those arrays.
    After each epoch every active :func:`epoch_listener` is called with
    ``(epoch, train_rmse, valid_rmse)``; an exception it raises ends training.

    ``verbose`` is the progress bar: ``True`` shows it, ``False`` hides it, ``None`` (the
    models' default) is :func:`progress`'s auto mode, a bar in a terminal or notebook once
    the fit has taken a few seconds.  A bar that finishes reads 100%: when early stopping
    ends training its total becomes the epochs run.

    Example:
        >>> state = {"x": 0}
        >>> h = run_epochs("demo", 3, lambda e: state.update(x=e), lambda: (1.0, float("nan")))
        >>> h["epoch"], h["best_epoch"]
        ([1, 2, 3], 3)
    """
    history: dict = {"epoch": [], "train_rmse": [], "valid_rmse": [], "seconds": []}
    validated = False
    best_rmse, best_epoch, best_state, since_best = math.inf, 0, None, 0
    listeners = _LISTENERS.get()
    bar = progress(total=n_epochs, desc=name, unit="epoch", verbose=verbose)
    try:
        for epoch in range(n_epochs):
            start = time.perf_counter()
            step(epoch)
            train_rmse, valid_rmse = evaluate()
            if not math.isfinite(train_rmse):
                raise FloatingPointError(
                    f"{name}: training diverged at epoch {epoch + 1} (training loss "
                    f"{train_rmse}); lower learning_rate (where the model has one) or raise "
                    "regularization"
                )
            history["epoch"].append(epoch + 1)
            history["train_rmse"].append(float(train_rmse))
            history["valid_rmse"].append(float(valid_rmse))
            validated = validated or math.isfinite(valid_rmse)
            history["seconds"].append(time.perf_counter() - start)
            postfix = {"train_rmse": f"{train_rmse:.4f}"}
            if math.isfinite(valid_rmse):
                postfix["valid_rmse"] = f"{valid_rmse:.4f}"
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            for listener in listeners:
                listener(epoch + 1, float(train_rmse), float(valid_rmse))
            if math.isfinite(valid_rmse) and valid_rmse < best_rmse:
                best_rmse, best_epoch, since_best = valid_rmse, epoch + 1, 0
                if patience is not None and state:
                    best_state = [a.copy() for a in state]
            elif math.isfinite(valid_rmse):
                since_best += 1
                if patience is not None and since_best >= patience:
                    # Stopped early: the bar's total becomes the epochs run, so it ends
                    # at 100% rather than at, say, 12/250.
                    bar.total = epoch + 1
                    break
    finally:
        bar.close()  # also when a listener or a diverging epoch ends training
    if not validated:
        del history["valid_rmse"]  # no validation data: no column, rather than a row of NaN
    if best_state is not None and best_epoch != history["epoch"][-1]:
        for dst, src in zip(state, best_state, strict=True):
            dst[...] = src
    history["best_epoch"] = best_epoch if best_epoch else history["epoch"][-1]
    history["stopped_early"] = history["epoch"][-1] < n_epochs
    return history
