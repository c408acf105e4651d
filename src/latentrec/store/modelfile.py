"""Model files: one ``.npz`` of plain arrays plus a JSON manifest inside it, never a pickle.

Layout (a zip archive that ``numpy.load(path, allow_pickle=False)`` also reads)::

    manifest.json     format, version, algorithm, hyperparameters, scalars, data info,
                      and a SHA-256 per array
    <array>.npy       one per learned array, the id vocabularies and the seen-item CSR

The file is written under a temporary name and renamed, so a crash never leaves half a
model behind; on load every array is checked against its digest.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

FORMAT = "latentrec-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, truncated, tampered with or of an unknown format.

    Example:
        >>> import latentrec, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "junk.npz")
        >>> _ = open(path, "wb").write(b"not a model")
        >>> try:
        ...     latentrec.load(path)
        ... except ModelFileError as err:
        ...     print("not a latentrec model file" in str(err))
        True
    """


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
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
        params[name] = _jsonable(value)
    return params


def save_model(model, path) -> None:
    """Write a fitted model to ``path`` atomically (see the module docstring).

    Example:
        >>> import numpy as np, tempfile, os, latentrec
        >>> from latentrec.models import GlobalMean
        >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
        >>> save_model(m, os.path.join(tempfile.mkdtemp(), "m.npz"))
    """
    from .. import __version__

    model._check_fitted()
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "users": model.users_.to_array(),
        "items": model.items_.to_array(),
        "seen_indptr": model.seen_.indptr,
        "seen_indices": model.seen_.indices,
        "item_popularity": model.item_popularity_,
    }
    if model.item_titles_ is not None:
        arrays["item_titles"] = np.asarray(model.item_titles_).astype(str)
    for name in model._array_state:
        arrays["state." + name] = np.asarray(getattr(model, name))
    for name, arr in arrays.items():
        if arr.dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects and cannot be saved safely")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "latentrec_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "algorithm": type(model).__name__,
        "params": _params_for_manifest(model),
        "state": {name: _jsonable(getattr(model, name)) for name in model._scalar_state},
        "history": _jsonable(getattr(model, "history_", None)),
        "data": {
            "fingerprint": model.data_fingerprint_,
            "n_users": len(model.users_),
            "n_items": len(model.items_),
            "n_interactions": int(model.seen_.nnz),
            "rating_scale": _jsonable(model.rating_scale_),
        },
        "metrics": _jsonable(getattr(model, "metrics_", {})),
        "arrays": {
            name: {"dtype": arr.dtype.str, "shape": list(arr.shape), "sha256": _digest(arr)}
            for name, arr in arrays.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("manifest.json", json.dumps(manifest, indent=2))
                for name, arr in arrays.items():
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                    zf.writestr(name + ".npy", buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_manifest(path) -> dict:
    """The JSON manifest of a model file, without loading its arrays.

    Example:
        >>> import numpy as np, tempfile, os, latentrec
        >>> from latentrec.models import GlobalMean
        >>> m = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
        >>> p = os.path.join(tempfile.mkdtemp(), "m.npz"); m.save(p)
        >>> read_manifest(p)["algorithm"]
        'GlobalMean'
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read("manifest.json")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as err:
        raise ModelFileError(
            f"{path} is not a latentrec model file or is truncated ({err})"
        ) from None
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: the manifest is not valid JSON ({err})") from None
    if manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a latentrec model file")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this latentrec reads up to "
            f"{FORMAT_VERSION} — upgrade latentrec"
        )
    return manifest


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
    from ..data.vocabulary import Vocabulary
    from ..models.base import model_class

    path = Path(path)
    manifest = read_manifest(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name, info in manifest["arrays"].items():
                arr = npz[name]
                if _digest(arr) != info["sha256"] or list(arr.shape) != info["shape"]:
                    raise ModelFileError(
                        f"{path}: array {name!r} does not match its checksum; the file was "
                        "modified or damaged"
                    )
                arrays[name] = arr
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as err:
        raise ModelFileError(f"{path} is damaged or truncated ({err})") from None

    cls = model_class(manifest["algorithm"])
    known = set(cls.param_names())
    model = cls(**{k: v for k, v in manifest["params"].items() if k in known})
    model.users_ = Vocabulary.from_array(arrays["users"], "user")
    model.items_ = Vocabulary.from_array(arrays["items"], "item")
    n_users, n_items = len(model.users_), len(model.items_)
    indices = arrays["seen_indices"]
    model.seen_ = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.float32), indices, arrays["seen_indptr"]),
        shape=(n_users, n_items),
    )
    model.item_popularity_ = arrays["item_popularity"]
    model.item_titles_ = arrays.get("item_titles")
    scale = manifest["data"]["rating_scale"]
    model.rating_scale_ = None if scale is None else tuple(scale)
    model.data_fingerprint_ = manifest["data"]["fingerprint"]
    for name in cls._array_state:
        setattr(model, name, arrays["state." + name])
    for name, value in manifest["state"].items():
        setattr(model, name, value)
    if manifest.get("history") is not None:
        model.history_ = manifest["history"]
    if manifest.get("metrics"):
        model.metrics_ = manifest["metrics"]
    return model
