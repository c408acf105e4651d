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
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from .._version import __version__
from ..data.vocabulary import Vocabulary
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
        },
        "metrics": sections.get("metrics", {}),
    }
    write_archive(path, manifest, arrays)


def load(path):
    """Load a model written by ``model.save(path)``; checks every array's digest.

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
    cls = model_class(manifest["algorithm"])
    users = Vocabulary.from_array(arrays["users"], "user")
    items = Vocabulary.from_array(arrays["items"], "item")
    indices = arrays["seen_indices"]
    seen = sp.csr_matrix(
        (np.broadcast_to(np.float32(1), (indices.size,)), indices, arrays["seen_indptr"]),
        shape=(len(users), len(items)),
        copy=False,
    )
    scale = manifest["data"]["rating_scale"]
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
    )
    state = {k[len("state.") :]: v for k, v in arrays.items() if k.startswith("state.")}
    state.update(manifest["state"])
    for name, section in _SECTIONS.items():
        if manifest.get(section):
            state[name] = manifest[section]
    known = set(cls.param_names())
    params = {k: v for k, v in manifest["params"].items() if k in known}
    model = cls.from_fitted(Fitted.build(catalog, state), **params)
    if "rating_mean" not in manifest["data"]:
        # Written before the training mean was recorded (see the module docstring).
        estimate = estimated_rating_mean(model)
        if estimate is not None:
            catalog = replace(catalog, rating_mean=estimate)
            model = cls.from_fitted(Fitted.build(catalog, state), **params)
    return model


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
