"""Model files from fitted models and back: the state as arrays, the rest as a manifest.

What a file holds is the model's :class:`~latentrec.models.catalog.Fitted` state: the
catalogue (vocabularies, seen-item CSR, popularity, titles, rating scale, mean value,
fingerprint, whether the training data was implicit feedback) and every learned value
(arrays as ``state.<name>``, plain values in the manifest).

Files written before the training mean was recorded load with an estimate of it where
the model needs one (a rating model without μ: unbiased MF, NMF, uncentred SVD), the
mean of the model's own predictions on the training cells the file lists: the baseline
it predicts for unknown ids and shows in popularity fallbacks.  Saving such a model
again writes the estimate.

The archive format itself (digests, atomic write) is ``latentrec.io.modelfile``; classes
are found through the registry by the name stored in the manifest.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from .._version import __version__
from ..data.vocabulary import Vocabulary
from ..errors import ModelFileError
from ..io.modelfile import read_archive, write_archive
from ..registry import model_class
from .catalog import Catalog, Fitted

# Learned values kept in manifest sections of their own (the format of version 1).
_SECTIONS = {"history_": "history", "metrics_": "metrics"}


def jsonable(value):
    """``value`` as plain JSON types (NumPy scalars unwrapped, NaN as null).

    Example:
        >>> jsonable({"a": np.float32(0.5), "b": [np.int64(2)], "c": float("nan")})
        {'a': 0.5, 'b': [2], 'c': None}
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None  # manifests are strict JSON, which has no NaN
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a model manifest")


def _params_for_manifest(model) -> dict:
    params = {}
    for name, value in model.get_params().items():
        if name == "random_state" and not (value is None or isinstance(value, (int, np.integer))):
            value = None  # a Generator object is not reproducible from a file; say so
        params[name] = jsonable(value)
    return params


def save_model(model, path) -> None:
    """Write a fitted model to ``path`` atomically (see ``latentrec.io.modelfile``).

    Example:
        >>> import numpy as np, tempfile, os, latentrec
        >>> from latentrec.models import GlobalMean
        >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
        >>> save_model(m, os.path.join(tempfile.mkdtemp(), "m.npz"))
    """
    fitted = model.fitted_
    cat = fitted.catalog
    arrays: dict[str, np.ndarray] = {
        "users": cat.users.to_array(),
        "items": cat.items.to_array(),
        "seen_indptr": np.asarray(cat.seen.indptr),
        "seen_indices": np.asarray(cat.seen.indices),
        "item_popularity": np.asarray(cat.item_popularity),
    }
    if cat.item_titles is not None:
        arrays["item_titles"] = np.asarray(cat.item_titles).astype(str)
    scalars, sections = {}, {}
    for name, value in fitted.state.items():
        if name in _SECTIONS:
            sections[_SECTIONS[name]] = jsonable(value)
        elif isinstance(value, np.ndarray):
            arrays["state." + name] = value
        else:
            try:
                scalars[name] = jsonable(value)
            except TypeError as err:
                raise TypeError(f"{type(model).__name__}.{name}: {err}") from None
    manifest = {
        "latentrec_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "algorithm": type(model).__name__,
        "params": _params_for_manifest(model),
        "state": scalars,
        "history": sections.get("history"),
        "data": {
            "fingerprint": cat.fingerprint,
            "n_users": cat.n_users,
            "n_items": cat.n_items,
            "n_interactions": int(cat.seen.nnz),
            "rating_scale": jsonable(cat.rating_scale),
            "implicit": cat.implicit,
            "rating_mean": cat.rating_mean,
            "rating_range": jsonable(cat.rating_range),
            "trained_shape": jsonable(cat.trained_shape),
        },
        "metrics": sections.get("metrics", {}),
    }
    write_archive(path, manifest, arrays)


def load(path):
    """Load a model written by ``model.save(path)``; checks every array's digest.

    A file whose contents do not form a model (an unknown algorithm, a manifest entry
    missing, arrays of the wrong length, kind or values, see :func:`check_arrays`) is a
    :class:`~latentrec.errors.ModelFileError` naming the file and what is wrong.

    Example:
        >>> import numpy as np, tempfile, os, latentrec
        >>> from latentrec.models import Biases
        >>> data = latentrec.Interactions.from_dense(np.array([[5, 3], [4, 1]]))
        >>> m = Biases().fit(data)
        >>> p = os.path.join(tempfile.mkdtemp(), "m.npz"); m.save(p)
        >>> bool(np.allclose(latentrec.load(p).predict([0], [1]), m.predict([0], [1])))
        True
    """
    manifest, arrays = read_archive(path)
    algorithm = manifest.get("algorithm")
    if algorithm == "Pipeline":
        raise ModelFileError(f"{path} holds a pipeline, not a model; load it with latentrec.load")
    try:
        cls = model_class(algorithm) if isinstance(algorithm, str) else None
    except ValueError:
        cls = None
    if cls is None:
        raise ModelFileError(
            f"{path} holds a model of kind {algorithm!r}, which this latentrec does not "
            "know (written by a newer latentrec, or by a plug-in not imported here?)"
        )
    try:
        largest = check_arrays(manifest, arrays)
        model = _build(cls, manifest, arrays)
    # A file whose parts disagree fails in the constructors with one of these; the file
    # is at fault, not the code, so the error names it.
    # An integer too big for a float (a hyperparameter of 10**400) is an OverflowError.
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as err:
        if isinstance(err, ModelFileError):
            raise
        what = f"entry {err} is missing" if isinstance(err, KeyError) else str(err)
        raise ModelFileError(f"{path} is damaged: {what}") from None
    _refuse_unscorable(path, model, largest)
    return model


def _refuse_unscorable(path, model, largest: dict[str, float] | None = None) -> None:
    """Raise a ModelFileError if the factor model read from ``path`` cannot score.

    Its arrays are finite (:func:`check_arrays`), but finite factors can still score
    past float32's range (:func:`scores_past_float32`): such a model recommended short
    lists or +inf ties in item order.  ``largest`` (``state.<name>``: largest |value|,
    as :func:`check_arrays` returns) spares an ordinary model any pass of its own; a
    model near the limit measures its longest rows.

    Example:
        >>> from latentrec.models import Biases
        >>> _refuse_unscorable("m.npz", Biases())  # no factors: nothing to bound
    """
    state = model.__dict__.get("_fitted")
    state = {} if state is None else state.state
    if "user_factors_" not in state or "item_factors_" not in state:
        return
    empty = np.zeros(0, np.float32)
    known = largest or {}

    def side(name):
        bias, factors = state.get(f"{name}_bias_", empty), state[f"{name}_factors_"]
        b, f = known.get(f"state.{name}_bias_"), known.get(f"state.{name}_factors_")
        if b is None or f is None or factors.ndim != 2:
            return (bias, factors)
        return lambda exact: (
            factor_reach(bias, factors, True) if exact else (b, np.sqrt(factors.shape[1]) * f)
        )

    past = scores_past_float32(state.get("global_mean_", 0.0), side("user"), side("item"))
    if past is not None:
        base, user_len, item_len = past
        raise ModelFileError(
            f"{path} holds a {type(model).__name__} that cannot score: with factor rows of "
            f"length up to {user_len:.3g} (users) and {item_len:.3g} (items) and biases "
            f"adding up to {base:.3g}, its scores could pass float32's range and be "
            "infinite or NaN (the model was saved from a diverged fit, or edited)"
        )


def _build(cls, manifest: dict, arrays: dict):
    """The model of class ``cls`` from a checked manifest and arrays."""
    users = Vocabulary.from_array(arrays["users"], "user")
    items = Vocabulary.from_array(arrays["items"], "item")
    indices = arrays["seen_indices"]
    seen = sp.csr_matrix(
        (np.broadcast_to(np.float32(1), (indices.size,)), indices, arrays["seen_indptr"]),
        shape=(len(users), len(items)),
        copy=False,
    )
    scale = manifest["data"]["rating_scale"]
    data_range = manifest["data"].get("rating_range")
    trained = manifest["data"].get("trained_shape")
    catalog = Catalog(
        users,
        items,
        seen,
        arrays["item_popularity"],
        arrays.get("item_titles"),
        None if scale is None else tuple(scale),
        manifest["data"]["fingerprint"],
        # Files written before the kind was recorded lack it: not known.
        manifest["data"].get("implicit"),
        manifest["data"].get("rating_mean"),
        # Files written before the observed range was recorded lack it: not known.
        None if data_range is None else tuple(float(x) for x in data_range),
        # Files written before the training shape was recorded lack it: not known.
        None if trained is None else (int(trained[0]), int(trained[1])),
    )
    state = {k[len("state.") :]: v for k, v in arrays.items() if k.startswith("state.")}
    state.update(manifest["state"])
    for name, section in _SECTIONS.items():
        if manifest.get(section):
            state[name] = manifest[section]
    known = set(cls.param_names())
    params = _flags_as_trained(cls, {k: v for k, v in manifest["params"].items() if k in known})
    model = cls.from_fitted(Fitted.build(catalog, state), **params)
    # Hyperparameters some scoring reads (num_threads, ...): checked as fit checks them.
    try:
        model.check_params()
    except (TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"its hyperparameters are invalid: {err}") from None
    if "rating_mean" not in manifest["data"]:
        # Written before the training mean was recorded (see the module docstring).
        estimate = estimated_rating_mean(model)
        if estimate is not None:
            catalog = replace(catalog, rating_mean=estimate)
            model = cls.from_fitted(Fitted.build(catalog, state), **params)
    return model


def _flags_as_trained(cls, params: dict) -> dict:
    """``params`` of a file with each flag (a hyperparameter whose default is a bool) and
    ``verbose`` stored as a JSON integer read as the bool it was trained as.

    Before flags were checked, fit took ``biased=1`` or ``verbose=-1`` by their truth
    value and saved them as written; fit now refuses such values (``verbose`` takes an
    integer level >= 0, not a negative one), but the file's model was trained as its
    truth value says, so it loads as that (refusing it would call a valid model
    damaged).  A string stays refused: ``"false"`` was trained as True.

    Example:
        >>> from latentrec.models import BiasedMF
        >>> _flags_as_trained(BiasedMF, {"biased": 1, "verbose": 0, "n_factors": 1})
        {'biased': True, 'verbose': False, 'n_factors': 1}
    """
    flags = {"verbose"} | {
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if isinstance(p.default, bool)
    }
    return {
        k: bool(v) if k in flags and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in params.items()
    }


# Learned arrays whose rows are the users or the items, by the names the factor models
# (and SVD++'s implicit factors) use: their lengths are checked against the vocabularies,
# since the numba kernels index them unchecked.
_USER_ROWS = ("user_bias_", "user_factors_", "p_")
_ITEM_ROWS = ("item_bias_", "item_factors_", "y_")
# Item-neighbour CSRs (ItemKNN): indptr over the items, indices into them.
_ITEM_CSRS = (("sim_indptr_", "sim_indices_", "sim_data_"),)
# Learned arrays with a value per seen cell, in the seen CSR's order (ItemKNN's ratings).
_SEEN_CELLS = ("ratings_",)


def check_arrays(manifest: dict, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Raise a ValueError naming the array at fault unless ``arrays`` form a model.

    The checks are the ones a model file's digests cannot make (a file can be written
    wrong, or edited with its digests recomputed): every array the catalogue needs is
    there; the id vocabularies and the seen-item CSR agree with each other and with the
    manifest (item indices in range, rows rising); learned arrays are numbers in native
    byte order, floating-point ones finite; factor and bias arrays have a row per user
    or item; a neighbour CSR indexes items that exist.  An index out of range would
    otherwise read or write outside an array in a numba kernel (a crash, not an error);
    a NaN factor would make every list empty without a word.  Returns the largest
    magnitude of each floating-point array, found by the finiteness check's own pass
    (for the score bound of :func:`_refuse_unscorable`).

    Example:
        >>> users, items = np.array([7, 8]), np.array([1])
        >>> arrays = {"users": users, "items": items, "seen_indptr": np.array([0, 1, 1]),
        ...           "seen_indices": np.array([3]), "item_popularity": np.ones(1)}
        >>> check_arrays({"data": {}, "params": {}, "state": {}}, arrays)
        Traceback (most recent call last):
        ValueError: array 'seen_indices' holds item 3, outside [0, 1)
    """
    for name in ("users", "items", "seen_indptr", "seen_indices", "item_popularity"):
        if name not in arrays:
            raise ValueError(f"array {name!r} is missing")
    largest = {}
    for name, arr in arrays.items():
        if arr.dtype.kind not in "biufU" or not arr.dtype.isnative:
            raise ValueError(f"array {name!r} holds {arr.dtype} values")
        if arr.dtype.kind == "f":
            largest[name] = finite_magnitude(arr)
            if largest[name] is None:
                raise ValueError(f"array {name!r} holds NaN or infinite values")
        # Scores come out as float32: a wider learned value beyond its range is infinite.
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and not within_float32(arr):
            raise ValueError(f"array {name!r} holds values beyond float32's range")
    n_users, n_items = arrays["users"].size, arrays["items"].size
    for section in ("data", "params", "state"):
        if not isinstance(manifest.get(section), dict):
            raise ValueError(f"its manifest has no {section} section")
    data = manifest["data"]
    scale = data.get("rating_scale")
    if scale is not None and not (
        isinstance(scale, list)
        and len(scale) == 2
        and all(_is_number(x) for x in scale)
        and scale[0] < scale[1]
    ):
        raise ValueError(f"its rating_scale {_shown(scale)} is not (low, high) with low < high")
    seen_range = data.get("rating_range")
    if seen_range is not None and not (
        isinstance(seen_range, list)
        and len(seen_range) == 2
        and all(_is_number(x) for x in seen_range)
        and seen_range[0] <= seen_range[1]
    ):
        raise ValueError(
            f"its rating_range {_shown(seen_range)} is not (low, high) with low <= high"
        )
    for name in ("global_mean_",):  # the learned number every rating prediction adds
        if name in manifest["state"] and not _is_number(manifest["state"][name]):
            raise ValueError(
                f"its {name} is {_shown(manifest['state'][name])}, not a finite number "
                "within float32's range"
            )
    mean = data.get("rating_mean")  # the baseline of unknown ids and popularity fallbacks
    if mean is not None and not _is_number(mean):
        raise ValueError(
            f"its rating_mean is {_shown(mean)}, not a finite number within float32's range"
        )
    for key, n in (("n_users", n_users), ("n_items", n_items)):
        if data.get(key, n) != n:
            raise ValueError(f"the manifest says {key}={data[key]!r} but the ids number {n}")
    trained = data.get("trained_shape")
    if trained is not None and not (
        isinstance(trained, list)
        and len(trained) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in trained)
        and 0 <= trained[0] <= n_users
        and 0 <= trained[1] <= n_items
    ):
        raise ValueError(
            f"its trained_shape {trained!r} is not (users, items) within the model's "
            f"{n_users} x {n_items}"
        )
    _check_1d(arrays, "users", n_users, "iuU")
    _check_1d(arrays, "items", n_items, "iuU")
    _check_1d(arrays, "item_popularity", n_items, "f")
    if "item_titles" in arrays:
        _check_1d(arrays, "item_titles", n_items, "U")
    _check_csr(arrays, "seen_indptr", "seen_indices", n_users, n_items)
    # Each user's seen items rise (the catalogue's CSR is canonical; lookups rely on it).
    indptr, indices = arrays["seen_indptr"], arrays["seen_indices"]
    # A slice of cell pairs at a time; a pair that starts a new row may fall.
    for a in range(0, indices.size - 1, _SLICE):
        b = min(a + _SLICE, indices.size - 1)
        rising = indices[a + 1 : b + 1] > indices[a:b]
        lo = np.searchsorted(indptr, a + 1, side="left")
        hi = np.searchsorted(indptr, b, side="right")
        rising[indptr[lo:hi] - a - 1] = True
        if not rising.all():
            raise ValueError("array 'seen_indices' is not sorted within each user's row")
    for names, n, side in ((_USER_ROWS, n_users, "user"), (_ITEM_ROWS, n_items, "item")):
        for name in names:
            arr = arrays.get("state." + name)
            if arr is not None and (arr.dtype.kind != "f" or arr.ndim < 1 or len(arr) != n):
                raise ValueError(
                    f"array 'state.{name}' has shape {arr.shape} and dtype {arr.dtype}; "
                    f"a floating-point row per {side} ({n}) is needed"
                )
    p, q = arrays.get("state.user_factors_"), arrays.get("state.item_factors_")
    if p is not None and q is not None and (p.ndim != 2 or q.ndim != 2 or p.shape[1] != q.shape[1]):
        raise ValueError(
            f"the user factors {p.shape} and item factors {q.shape} differ in dimension"
        )
    # Other factor tables (HybridMF's feature rows) live in the same latent space, and a
    # feature's bias goes with its row.
    k = None if p is None or p.ndim != 2 else p.shape[1]
    for name, arr in arrays.items():
        if name.startswith("state.") and name.endswith("factors_") and k is not None:
            if arr.ndim != 2 or arr.shape[1] != k:
                raise ValueError(f"array {name!r} has shape {arr.shape}; {k} factors a row needed")
        if name.startswith("state.") and name.endswith("feature_bias_"):
            rows = arrays.get(name.replace("feature_bias_", "feature_factors_"))
            if rows is not None and arr.shape != rows.shape[:1]:
                raise ValueError(f"array {name!r} does not have a value per feature row")
    for name in _SEEN_CELLS:
        arr = arrays.get("state." + name)
        if arr is not None and arr.shape != indices.shape:
            raise ValueError(
                f"array 'state.{name}' has shape {arr.shape}; a value per seen cell "
                f"({indices.size}) is needed"
            )
    for ptr_name, idx_name, val_name in _ITEM_CSRS:
        if "state." + ptr_name in arrays:
            _check_csr(arrays, "state." + ptr_name, "state." + idx_name, n_items, n_items)
            if arrays["state." + val_name].shape != arrays["state." + idx_name].shape:
                raise ValueError(f"array 'state.{val_name}' does not match 'state.{idx_name}'")
    return largest


_SLICE = 1 << 22  # values per step of a check: bounded temporaries at any model size


def all_finite(arr: np.ndarray) -> bool:
    """Whether every value of ``arr`` is finite, checked a slice at a time (a whole-array
    ``isfinite`` would be a temporary of a byte per value: a gigabyte for a big model).

    Example:
        >>> all_finite(np.ones((3, 2))), all_finite(np.array([1.0, np.nan]))
        (True, False)
    """
    flat = arr.reshape(-1)
    return all(np.isfinite(flat[i : i + _SLICE]).all() for i in range(0, flat.size, _SLICE))


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite_magnitude(arr: np.ndarray) -> float | None:
    """The largest |value| of the float array ``arr``, or ``None`` if it holds NaN or an
    infinity (a NaN comes out of ``min`` and ``max`` as NaN), a slice at a time: as fast
    as :func:`all_finite`, and it gives the magnitude too.

    Example:
        >>> finite_magnitude(np.array([1.0, -3.0])), finite_magnitude(np.array([1.0, np.nan]))
        (3.0, None)
    """
    flat = arr.reshape(-1)
    largest = 0.0
    for i in range(0, flat.size, _SLICE):
        part = flat[i : i + _SLICE]
        high, low = float(part.max()), float(part.min())
        if not (np.isfinite(high) and np.isfinite(low)):
            return None
        largest = max(largest, high, -low)
    return largest


def within_float32(arr: np.ndarray) -> bool:
    """Whether every value of the finite float array ``arr`` fits a float32, a slice at a
    time (as :func:`all_finite`).

    Example:
        >>> within_float32(np.array([1.0, -3e38])), within_float32(np.array([1e39]))
        (True, False)
    """
    flat = arr.reshape(-1)
    return all(
        float(np.abs(flat[i : i + _SLICE]).max()) <= _FLOAT32_MAX
        for i in range(0, flat.size, _SLICE)
    )


def factor_reach(bias, factors, exact: bool = False) -> tuple[float, float]:
    """``(largest |b|, longest factor row)`` of one side of a factor model, for
    :func:`scores_past_float32`.  The row length is bounded by √k times the largest
    entry (two passes, no temporary) unless ``exact``, which measures the longest row in
    float64, a slice of rows at a time.

    Example:
        >>> factor_reach(np.array([1.0, -2.0]), np.array([[3.0, 4.0], [0.0, 1.0]]), exact=True)
        (2.0, 5.0)
    """

    def largest(a):
        return max(float(a.max()), -float(a.min())) if a.size else 0.0

    if factors.size == 0:
        return largest(bias), 0.0
    if not exact:
        return largest(bias), float(np.sqrt(factors.shape[1])) * largest(factors)
    step = max(1, (1 << 19) // factors.shape[1])
    longest = max(
        float(np.square(factors[i : i + step], dtype=np.float64).sum(axis=1).max())
        for i in range(0, factors.shape[0], step)
    )
    return largest(bias), float(np.sqrt(longest))


def scores_past_float32(mu, users, items) -> tuple[float, float, float] | None:
    """``None`` when every score μ + b_u + b_i + p·q is sure to be a float32 number, else
    ``(|μ| + largest |b_u| + largest |b_i|, longest user row, longest item row)``.

    Finite factors are not enough: finite p and q can have a p·q past float32's range,
    whose scores are then +inf, -inf or NaN (lists empty or tied in item order).  Bounded
    with |p·q| <= |p| |q| (Cauchy-Schwarz) in float64, first from the largest entries
    (cheap), then from the longest rows.  ``users`` and ``items`` are each a
    ``(bias, factors)`` pair, or a function ``exact -> (largest |b|, longest row)`` as
    :func:`factor_reach` (a side whose reach is remembered, as a fold-in's fixed side).
    Every way a factor model comes to be (a fit, ``FactorModel.from_factors``, a model
    file, a fold-in) asks this one question, each saying what went wrong in its terms.

    Example:
        >>> ones = np.ones((2, 2))
        >>> scores_past_float32(3.0, (np.zeros(2), ones), (np.zeros(2), ones)) is None
        True
        >>> scores_past_float32(0.0, (np.zeros(1), [[3e19, 4e19]]), (np.zeros(1), [[1e19, 0]]))
        (0.0, 5e+19, 1e+19)
    """

    def reach_of(side):
        if callable(side):
            return side
        bias, factors = (np.asarray(a) for a in side)
        return lambda exact: factor_reach(bias, factors, exact)

    user_reach, item_reach = reach_of(users), reach_of(items)
    (user_b, user_len), (item_b, item_len) = user_reach(False), item_reach(False)
    base = abs(float(mu)) + user_b + item_b
    if base + user_len * item_len <= _FLOAT32_MAX:
        return None
    if user_len * item_len:
        user_len, item_len = user_reach(True)[1], item_reach(True)[1]
    if base + user_len * item_len <= _FLOAT32_MAX:
        return None
    return base, user_len, item_len


def _is_number(x) -> bool:
    """A JSON number a float32 holds (an integer too big for a float is none).

    Example:
        >>> _is_number(3.5), _is_number(1e300), _is_number(10**400), _is_number(True)
        (True, False, False, False)
    """
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return abs(float(x)) <= _FLOAT32_MAX  # False for NaN as well
    except OverflowError:
        return False


def _shown(value) -> str:
    """A manifest value for a message, cut short (a damaged one can be any length).

    Example:
        >>> _shown(10**400)
        '1000000000000000000000000000000000000000...'
    """
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _check_1d(arrays: dict, name: str, n: int, kinds: str) -> None:
    arr = arrays[name]
    if arr.ndim != 1 or arr.size != n or arr.dtype.kind not in kinds:
        raise ValueError(
            f"array {name!r} has shape {arr.shape} and dtype {arr.dtype}; {n} entries needed"
        )


def _check_csr(arrays: dict, indptr_name: str, indices_name: str, rows: int, cols: int):
    """A CSR whose rows rise from 0 to its size and whose indices are in [0, cols)."""
    indptr, indices = arrays[indptr_name], arrays[indices_name]
    if indptr.dtype.kind not in "iu" or indptr.ndim != 1 or indptr.size != rows + 1:
        raise ValueError(
            f"array {indptr_name!r} has shape {indptr.shape} and dtype {indptr.dtype}; "
            f"{rows + 1} integers needed"
        )
    if indices.dtype.kind not in "iu" or indices.ndim != 1:
        raise ValueError(f"array {indices_name!r} is not a list of integers")
    if indptr[0] != 0 or indptr[-1] != indices.size or (np.diff(indptr) < 0).any():
        raise ValueError(
            f"array {indptr_name!r} does not rise from 0 to {indices.size}, the length "
            f"of {indices_name!r}"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= cols):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise ValueError(f"array {indices_name!r} holds item {bad}, outside [0, {cols})")


def estimated_rating_mean(model) -> float | None:
    """For a rating model without μ whose training mean is not recorded, the mean of its
    predictions on its training cells (a least-squares fit leaves residuals of mean about
    0); ``None`` for a model that has μ, predicts no ratings or lists no training cells.

    Example:
        >>> import numpy as np, latentrec
        >>> from latentrec.models import BiasedMF
        >>> data = latentrec.Interactions.from_dense(np.array([[5, 3], [4, 1]]))
        >>> estimated_rating_mean(BiasedMF(n_epochs=2).fit(data)) is None  # it has μ
        True
    """
    seen = model.seen_
    mu = getattr(model, "global_mean_", None)
    if not model.predicts_ratings or mu is None or float(mu) != 0.0 or seen.nnz == 0:
        return None
    total = 0.0
    step = 1 << 18  # cells per slice: bounded memory at any size
    for start in range(0, seen.nnz, step):
        cells = np.arange(start, min(start + step, seen.nnz))
        users = np.searchsorted(seen.indptr, cells, side="right") - 1
        total += float(model.predict_idx(users, np.asarray(seen.indices[cells])).sum())
    return total / seen.nnz
