"""Business rules over one user's list: pin, boost, bury, never show, at most k per group.

:func:`rules` is the plain function over item indices; :class:`Rules` is the pipeline
stage over raw item ids and side-table columns, built in code or read from a TOML file
(:meth:`Rules.from_toml`, which the command line's ``--rules`` uses)::

    never = [1, 2]               # never shown
    bury = [50]                  # shown only after every other candidate
    [pin]                        # item id = rank it is shown at (1 = first)
    "181" = 1
    [boost]                      # item id = amount added to its relevance in [0, 1]
    "100" = 0.2
    [max_per]                    # side-table column = most items per value
    genres = 3

A stage's guarantees hold in the list it returns, so ``Rules`` runs last in a pipeline.
"""

from __future__ import annotations

import decimal
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..data.genres import is_list_cell
from ..evaluation.metrics import check_count
from .context import Context, genre_matrix
from .history import as_history
from .rerank import rescaled
from .stages import Reranker, StageDataError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Rules", "rules"]

_KEYS = ("never", "bury", "pin", "boost", "max_per")
# The largest pin rank (64-bit); a pin past any list's length is shown to nobody.
_RANK_MAX = 2**63 - 1


def rules(
    candidates,
    scores,
    n: int,
    *,
    pin=None,
    boost=None,
    bury=(),
    never=(),
    caps=(),
) -> np.ndarray:
    """Up to ``n`` items after business rules, best first (item indices).

    * ``never``: these items are dropped.
    * ``pin``: ``{item: rank}``; the item is shown at that 1-based rank (pinned items
      need not be candidates). If the other items run out before a pinned rank, the
      pinned items left follow them in rank order; a rank beyond ``n`` is not shown.
    * ``boost``: ``{item: amount}`` added to the item's relevance, the candidates'
      scores min-max rescaled to ``[0, 1]`` (negative amounts demote).
    * ``bury``: these come after every other candidate.
    * ``caps``: pairs ``(item_groups, k)``, ``item_groups`` items x groups (dense or
      sparse, non-zero = member): no group has more than ``k`` listed items; an item in
      several groups counts in each, and a candidate that would break a cap is skipped.
      Pinned items count first; pins that alone break a cap are an error.

    The rest are ordered by (buried last, boosted relevance, raw score, candidate order).

    Example:
        >>> rules([0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0], 3, never=[1], pin={3: 1}).tolist()
        [3, 0, 2]
        >>> import numpy as np
        >>> groups = np.array([[1], [1], [0], [0]])
        >>> rules([0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0], 3, caps=[(groups, 1)]).tolist()
        [0, 2, 3]
    """
    check_count(n, "n")
    cands = np.asarray(candidates, dtype=np.int64).ravel()
    raw = np.asarray(scores, dtype=np.float64).ravel()
    if raw.shape != cands.shape:
        raise ValueError(f"scores has shape {raw.shape} but candidates has shape {cands.shape}")
    if cands.size and not np.isfinite(raw).all():
        j = int(np.flatnonzero(~np.isfinite(raw))[0])
        raise ValueError(f"scores[{j}] = {raw[j]} (candidate {cands[j]}) is not a finite number")
    if np.unique(cands).size != cands.size:
        raise ValueError("candidates lists an item more than once")
    banned = {int(i) for i in never}
    pins = {int(i): int(r) for i, r in (pin or {}).items()}
    for item, rank in pins.items():
        if rank < 1:
            raise ValueError(f"item {item} is pinned at rank {rank}; ranks start at 1")
        if item in banned:
            raise ValueError(f"item {item} is both pinned and never shown")
    by_rank: dict[int, int] = {}
    for item, rank in sorted(pins.items(), key=lambda kv: (kv[1], kv[0])):
        if rank in by_rank:
            raise ValueError(f"items {by_rank[rank]} and {item} are both pinned at rank {rank}")
        by_rank[rank] = item
    shown_pins = {item for item, rank in pins.items() if rank <= n}
    groups = [(_groups_matrix(g), check_count(k, "a cap")) for g, k in caps]

    relevance = rescaled(raw) if cands.size else raw
    extra = boost or {}
    for item, amount in extra.items():
        # A NaN amount would make the sort below order items arbitrarily, silently.
        if not np.isfinite(float(amount)):
            raise ValueError(f"item {item} is boosted by {amount}; a boost is a finite number")
    buried = {int(i) for i in bury}
    keep = [j for j, c in enumerate(cands.tolist()) if c not in banned and c not in pins]
    order = sorted(
        keep,
        key=lambda j: (
            int(cands[j]) in buried,
            -(relevance[j] + float(extra.get(int(cands[j]), 0.0))),
            -raw[j],
            j,
        ),
    )

    counts = [np.zeros(g.shape[1], dtype=np.int64) for g, _ in groups]

    def members(item: int, g: sp.csr_matrix) -> np.ndarray:
        if item >= g.shape[0]:
            return np.empty(0, dtype=np.int64)
        return g.indices[g.indptr[item] : g.indptr[item + 1]]

    for item in shown_pins:
        for (g, k), count in zip(groups, counts, strict=True):
            count[members(item, g)] += 1
            if (count > k).any():
                raise ValueError(
                    f"the pinned items alone put {int(count.max())} items in group "
                    f"{int(np.argmax(count))}, above its cap of {k}"
                )

    def fits(item: int) -> bool:
        return all(
            (count[members(item, g)] < k).all()
            for (g, k), count in zip(groups, counts, strict=True)
        )

    out: list[int] = []
    queue = iter(order)
    waiting = sorted(r for r in by_rank if r <= n)
    while len(out) < n:
        rank = len(out) + 1
        if by_rank.get(rank) in shown_pins:
            out.append(by_rank[rank])
            waiting.remove(rank)
            continue
        picked = None
        for j in queue:
            item = int(cands[j])
            if fits(item):
                picked = item
                break
        if picked is None:
            out.extend(by_rank[r] for r in waiting)  # the list ends before these ranks
            break
        for (g, _), count in zip(groups, counts, strict=True):
            count[members(picked, g)] += 1
        out.append(picked)
    return np.array(out[:n], dtype=np.int64)


def _is_number(value) -> bool:
    """A real number (NumPy's and ``Decimal`` included), not a truth value or text.

    Example:
        >>> from decimal import Decimal
        >>> [_is_number(v) for v in (0.5, np.float32(2), Decimal("0.5"), True, "0.5")]
        [True, True, True, False, False]
    """
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (numbers.Real, decimal.Decimal))


def _is_whole(value) -> bool:
    """A whole number: an integer, or a real number with nothing after the point (a
    rank of 2.0, as a column of ranks with a gap reads); not 1.5, True or "2".

    Example:
        >>> [_is_whole(v) for v in (2, np.int64(2), 2.0, 1.5, True, "2", float("inf"))]
        [True, True, True, False, False, False, False]
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return True
    if not _is_number(value):
        return False
    try:
        return math.isfinite(value) and value == int(value)
    except (OverflowError, ValueError, TypeError):
        return False


def _groups_matrix(groups) -> sp.csr_matrix:
    matrix = sp.csr_matrix(groups)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def _as_mapping(name: str, value, what: str) -> dict:
    """``value`` (a mapping, or None for none) as a dict; anything else is refused by name.

    Example:
        >>> _as_mapping("pin", {7: 1}, "item ids to ranks"), _as_mapping("pin", None, "")
        ({7: 1}, {})
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must map {what}, got {type(value).__name__} {value!r}")
    return dict(value)


def _as_id_list(name: str, value) -> list:
    """``value`` (a list, tuple, set or array of item ids) as a list.

    A single id is refused rather than read as a list: ``never="tt01"`` would otherwise
    become the ids ``t``, ``t``, ``0``, ``1``.

    Example:
        >>> _as_id_list("never", (3, 1)), _as_id_list("never", None)
        ([3, 1], [])
    """
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{name} must be a list of item ids, got {type(value).__name__} {value!r} "
            f"(one id: {name}=[{value!r}])"
        )
    return list(value)


class Rules(Reranker):
    """The business-rule stage over raw item ids (see :func:`rules` for the semantics).

    ``pin`` maps item ids to 1-based ranks, ``boost`` item ids to amounts, ``bury`` and
    ``never`` list item ids, ``max_per`` maps an item side-table column to the most
    items per value: ``genres`` is read as the pipeline reads genres (``|``-joined text or
    a list of names, see :func:`~latentrec.pipeline.context.genre_labels`; an item counts
    in each of its genres), and so is any column holding lists (tags); any other column
    is one value per item (a provider, a studio). A pinned item the user has already
    seen is not shown. ``fit`` raises :class:`~latentrec.pipeline.StageDataError` when
    the data lacks a listed item or a capped column, or the pinned items alone break a
    cap.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec import Interactions
        >>> from latentrec.pipeline.context import build_context
        >>> df = pd.DataFrame({"user_id": [1, 2, 2], "item_id": [5, 6, 7], "rating": 1.0})
        >>> table = pd.DataFrame({"genres": ["A", "A", "B"]}, index=[5, 6, 7])
        >>> ctx = build_context(Interactions.from_frame(df, item_features=table))
        >>> stage = Rules(pin={7: 1}, max_per={"genres": 1}).fit(ctx)
        >>> stage.rerank(ctx, -1, [0, 1], [0.9, 0.8], n=3).tolist()
        [2, 0]
    """

    def __init__(self, pin=None, boost=None, bury=(), never=(), max_per=None):
        self.pin = _as_mapping("pin", pin, "item ids to 1-based ranks")
        self.boost = _as_mapping("boost", boost, "item ids to amounts")
        self.bury = _as_id_list("bury", bury)
        self.never = _as_id_list("never", never)
        self.max_per = _as_mapping("max_per", max_per, "side-table columns to counts")

    @classmethod
    def from_toml(cls, path) -> Rules:
        """Rules read from a TOML file; a bad file raises a ValueError naming its line.

        What only the data can tell (an id the catalogue lacks, a missing cap column) is
        checked by :meth:`fit`, whose errors then name this file's line as well.

        Example:
            >>> import os, tempfile
            >>> path = os.path.join(tempfile.mkdtemp(), "rules.toml")
            >>> _ = open(path, "w").write('never = [1]\\n[max_per]\\ngenres = 2\\n')
            >>> Rules.from_toml(path)
            Rules(pin={}, boost={}, bury=[], never=[1], max_per={'genres': 2})
        """
        path = Path(path)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            # TOML is UTF-8 by definition: name the place rather than suggest an encoding.
            line = raw.count(b"\n", 0, err.start) + 1
            raise ValueError(
                f"{path}, line {line}: not UTF-8 text (byte {raw[err.start]:#04x}); "
                "TOML files are UTF-8: save it as UTF-8"
            ) from None
        # Windows editors save "UTF-8" with a byte-order mark, which tomllib calls an
        # invalid statement at line 1, column 1: it is no part of the rules.
        text = text.removeprefix("\ufeff")
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            # tomllib names a line, except for what runs off the end (an unclosed array):
            # name the file's last line that holds anything, where the reader ran out.
            lines = text.splitlines()
            last = max((k + 1 for k, line in enumerate(lines) if line.strip()), default=1)
            said = str(err).replace("(at end of document)", f"(at the end, line {last})")
            raise ValueError(f"{path}: not valid TOML: {said}") from None

        source = _RulesFile(path, table, _toml_lines(text))
        where = source.where

        for key in table:
            if key not in _KEYS:
                raise ValueError(f"{where(key)}: unknown key {key!r}; known: {', '.join(_KEYS)}")
        for key in ("never", "bury"):
            if not isinstance(table.get(key, []), list):
                raise ValueError(f"{where(key)}: {key} must be a list of item ids")
            for place, value in enumerate(table.get(key, [])):
                # true would match item 1, [5] nothing and 5.5 no id: an id is a whole
                # number or a string.
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    raise ValueError(
                        f"{where(key, place)}: {key} lists {_toml_text(value)}; an item id is "
                        "a whole number or a string"
                    )
        for key in ("pin", "boost", "max_per"):
            section = table.get(key, {})
            if not isinstance(section, dict):
                raise ValueError(f"{where(key)}: {key} must be a table ([{key}])")
            for name, value in section.items():
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                whole = isinstance(value, int) and not isinstance(value, bool)
                at = where(key, name)
                if not (whole if key != "boost" else number):
                    kind = "a number" if key == "boost" else "an integer"
                    raise ValueError(f"{at}: {key}.{name} must be {kind}, got {value!r}")
                if key != "boost" and value < 1:
                    raise ValueError(f"{at}: {key}.{name} must be at least 1, got {value}")
                if key == "boost" and not math.isfinite(value):
                    # TOML has nan and inf; a NaN would make the rule's sort arbitrary.
                    raise ValueError(
                        f"{at}: boost.{name} is {_toml_text(value)}; a boost is a finite number"
                    )
        stage = cls(
            pin=table.get("pin"),
            boost=table.get("boost"),
            bury=table.get("bury", []),
            never=table.get("never", []),
            max_per=table.get("max_per"),
        )
        # Which ids exist is known only at fit: its errors then name this file's lines.
        stage._source = source
        return stage

    def fit(self, context: Context) -> Rules:
        """Resolve item ids to indices and each capped column to item groups.

        An error names the stage's knob (``Rules bury: ...``) or, for rules read by
        :meth:`from_toml`, the file and line of the value at fault (``rules.toml, line 2:
        bury: ...``).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(3)))  # item ids 0, 1, 2
            >>> Rules(never=[2]).fit(ctx).never_.tolist()
            [2]
            >>> Rules(bury=[9]).fit(ctx)
            Traceback (most recent call last):
                ...
            latentrec.pipeline.stages.StageDataError: Rules bury: item 9 is not in the catalogue
        """
        items = context.items

        def index(ids, what: str) -> np.ndarray:
            ids = list(ids)
            if not ids:
                return np.empty(0, dtype=np.int64)
            typed = [_typed(items, i) for i in ids]
            found = items.lookup(np.asarray(typed))
            if (found < 0).any():
                place = int(np.flatnonzero(found < 0)[0])
                bad = ids[place]
                # A list's entries are found by position, a table's by key.
                at, from_file = self._at(what, place if what in ("never", "bury") else bad)
                # A file's pin keys are strings ("181"); say the id as the catalogue has it.
                shown = _typed(items, bad) if from_file else bad
                raise StageDataError(f"{at}: item {shown!r} is not in the catalogue")
            if what in ("pin", "boost"):
                # "181" and "0181" (or " 181") are one item: the later would silently win.
                first: dict[int, int] = {}
                for place, item in enumerate(found.tolist()):
                    if item in first:
                        at = self._at(what, ids[place])[0]
                        raise ValueError(
                            f"{at}: {ids[first[item]]!r} and {ids[place]!r} both name item "
                            f"{_typed(items, ids[place])!r}; give each item once"
                        )
                    first[item] = place
            return found.astype(np.int64)

        self.never_ = index(self.never, "never")
        self.bury_ = index(self.bury, "bury")
        self.pin_items_ = index(self.pin, "pin")
        self.boost_items_ = index(self.boost, "boost")
        # rules() below checks these too, but names item indices; the user wrote ids.
        for raw, amount in self.boost.items():
            # float() read "0.5" as 0.5 and True as 1 without a word.
            if not _is_number(amount):
                raise ValueError(
                    f"{self._at('boost', raw)[0]}: item {raw!r} is boosted by {amount!r}; a "
                    "boost is a number"
                )
            try:
                finite = bool(np.isfinite(float(amount)))
            except OverflowError:  # a whole number past any float (10**400)
                finite = False
            if not finite:
                raise ValueError(
                    f"{self._at('boost', raw)[0]}: item {raw!r} is boosted by {amount}; a "
                    "boost is a finite number"
                )
        self.boost_values_ = np.array([float(v) for v in self.boost.values()])

        def raw_id(i: int):
            value = items.ids[i]
            return value.item() if isinstance(value, np.generic) else value

        pin_keys = list(self.pin)
        for place, rank in enumerate(self.pin.values()):
            # int() read a rank of 1.5 (or True) as 1, and "2" as 2, without a word.
            if not _is_whole(rank):
                raise ValueError(
                    f"{self._at('pin', pin_keys[place])[0]}: item "
                    f"{raw_id(self.pin_items_[place])!r} is pinned at rank {rank!r}; a rank is "
                    "a whole number"
                )
        ranks = [int(r) for r in self.pin.values()]
        for place, rank in enumerate(ranks):
            # Before the 64-bit array below: a rank under -2**63 failed there as an
            # OverflowError, which the command reports as a bug.
            if rank < 1:
                raise ValueError(
                    f"{self._at('pin', pin_keys[place])[0]}: item "
                    f"{raw_id(self.pin_items_[place])!r} is pinned at rank {rank}; ranks "
                    "start at 1"
                )
            # Kept as 64-bit integers: a larger rank failed as an OverflowError.
            if rank > _RANK_MAX:
                raise ValueError(
                    f"{self._at('pin', pin_keys[place])[0]}: item "
                    f"{raw_id(self.pin_items_[place])!r} is pinned at rank {rank}; a rank is "
                    f"at most {_RANK_MAX}"
                )
        self.pin_ranks_ = np.array(ranks, dtype=np.int64)
        # A pin outranks a bury: an item in both would be pinned and its bury ignored.
        for other, verb in ((self.never_, "never shown"), (self.bury_, "buried")):
            both = np.flatnonzero(np.isin(self.pin_items_, other))
            if both.size:
                at, from_file = self._at("pin", pin_keys[both[0]])
                item = raw_id(self.pin_items_[both[0]])
                raise ValueError(
                    f"{at if from_file else 'Rules'}: item {item!r} is both pinned and {verb}"
                )
        # Never shown outranks a boost that would lift the item, which would be dropped
        # without a word.  A bury, or a boost of 0 or less, asks the item down too, and
        # never showing it does what they ask and more: refusing them turned rules files
        # that were valid (and saved pipelines, when retraining refits them) into errors.
        boost_keys = list(self.boost)
        lifted = np.isin(self.boost_items_, self.never_) & (self.boost_values_ > 0)
        both = np.flatnonzero(lifted)
        if both.size:
            place = int(both[0])
            at, from_file = self._at("boost", boost_keys[place])
            raise ValueError(
                f"{at if from_file else 'Rules'}: item {raw_id(self.boost_items_[place])!r} is "
                f"both boosted by {self.boost_values_[place]:g} and never shown"
            )
        taken: dict[int, int] = {}
        for place, (item, rank) in enumerate(
            zip(self.pin_items_.tolist(), self.pin_ranks_.tolist(), strict=True)
        ):
            at = self._at("pin", pin_keys[place])[0]
            if rank < 1:
                raise ValueError(
                    f"{at}: item {raw_id(item)!r} is pinned at rank {rank}; ranks start at 1"
                )
            if rank in taken:
                raise ValueError(
                    f"{at}: items {raw_id(taken[rank])!r} and {raw_id(item)!r} are both "
                    f"pinned at rank {rank}"
                )
            taken[rank] = item
        self.caps_ = []
        for column, k in self.max_per.items():
            at = self._at("max_per", column)[0]
            if isinstance(k, dict):
                # {"genres": {"Drama": 1}} reads as a cap on one genre, which does not exist.
                raise ValueError(
                    f"{at}: {column} = {k!r}: a cap is one number per column (genres = 3 caps "
                    "every genre at 3); a single genre or value cannot be capped alone"
                )
            check_count(k, f"{at}: {column}: a cap")
            table = context.item_features
            if table is None or column not in table.columns:
                names = [] if table is None else [str(c) for c in table.columns]
                raise StageDataError(
                    f"{at}: the item side table has no column {column!r} (its columns: "
                    f"{', '.join(names) or 'none'})"
                )
            # A column of lists is multi-label (tags, several providers): an item counts in
            # each of its values, read as genres are (factorize would fail on the lists).
            if column == "genres" or any(is_list_cell(c) for c in table[column].tolist()):
                matrix, labels = genre_matrix(table, context.n_items, column)
            else:
                codes, labels = table[column].factorize()  # NaN: code -1, in no group
                codes = np.asarray(codes)
                has = np.flatnonzero(codes >= 0)
                matrix = sp.csr_matrix(
                    (np.ones(has.size), (has, codes[has])),
                    shape=(context.n_items, max(int(codes.max(initial=-1)) + 1, 1)),
                )
            matrix = sp.csr_matrix(matrix)
            pinned = np.asarray(matrix[self.pin_items_].sum(axis=0)).ravel()
            if pinned.size and pinned.max() > k:
                label = labels[int(np.argmax(pinned))]
                label = label.item() if isinstance(label, np.generic) else label
                raise StageDataError(
                    f"{at}: the pinned items alone put {int(pinned.max())} items with "
                    f"{column} {label!r} in a list, above its cap of {int(k)}"
                )
            self.caps_.append((matrix, int(k)))
        # Check the pins against each other (and the boosts) now, not per user.
        rules(
            [],
            [],
            max(1, int(self.pin_ranks_.max(initial=1))),
            pin=dict(zip(self.pin_items_.tolist(), self.pin_ranks_.tolist(), strict=True)),
            boost=dict(zip(self.boost_items_.tolist(), self.boost_values_.tolist(), strict=True)),
            never=self.never_,
            caps=self.caps_,
        )
        return self

    def _at(self, key: str, entry=None) -> tuple[str, bool]:
        """``(where, from_file)``: ``"rules.toml, line 2: bury"`` for a value
        :meth:`from_toml` read (``entry``: a list position or a table key), else
        ``"Rules bury"``."""
        source = getattr(self, "_source", None)
        # A knob changed since the file was read is no longer the file's to name.
        if source is None or source.table.get(key) != getattr(self, key):
            return f"Rules {key}", False
        return f"{source.where(key, entry)}: {key}", True

    def never_shown(self) -> np.ndarray:
        return self.never_

    def rerank(self, context, user, candidates, scores, n):
        """Up to ``n`` of ``candidates`` with the rules applied (:func:`rules`); a pinned
        item ``user`` has seen is left out.

        Example (item 0 pinned first, item 1 buried; user 0 had item 0, user 1 did not):
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.pipeline.context import build_context
            >>> ctx = build_context(Interactions.from_dense(np.eye(4)))
            >>> stage = Rules(pin={0: 1}, bury=[1]).fit(ctx)
            >>> stage.rerank(ctx, 1, [1, 2, 3], [0.9, 0.8, 0.7], n=3).tolist()
            [0, 2, 3]
            >>> stage.rerank(ctx, 0, [1, 2, 3], [0.9, 0.8, 0.7], n=3).tolist()
            [2, 3, 1]
        """
        seen = as_history(context, user).exclude
        pins = {
            int(i): int(r)
            for i, r in zip(self.pin_items_, self.pin_ranks_, strict=True)
            if not np.isin(i, seen)
        }
        cands = np.asarray(candidates, dtype=np.int64)
        keep = ~np.isin(cands, list(pins))
        return rules(
            cands[keep],
            np.asarray(scores, dtype=np.float64)[keep],
            n,
            pin=pins,
            boost=dict(zip(self.boost_items_.tolist(), self.boost_values_.tolist(), strict=True)),
            bury=self.bury_,
            never=self.never_,
            caps=self.caps_,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "never": self.never_,
            "bury": self.bury_,
            "pin_items": self.pin_items_,
            "pin_ranks": self.pin_ranks_,
            "boost_items": self.boost_items_,
            "boost_values": self.boost_values_,
        }
        for c, (matrix, _) in enumerate(self.caps_):
            out[f"cap{c}_indptr"] = matrix.indptr
            out[f"cap{c}_indices"] = matrix.indices
            out[f"cap{c}_shape"] = np.array(matrix.shape, dtype=np.int64)
        return out

    @classmethod
    def from_saved(cls, params: dict, arrays: dict) -> Rules:
        stage = cls(**params)
        stage.never_ = arrays["never"]
        stage.bury_ = arrays["bury"]
        stage.pin_items_ = arrays["pin_items"]
        stage.pin_ranks_ = arrays["pin_ranks"]
        stage.boost_items_ = arrays["boost_items"]
        stage.boost_values_ = arrays["boost_values"]
        stage.caps_ = []
        for c, k in enumerate(stage.max_per.values()):
            indices = arrays[f"cap{c}_indices"]
            matrix = sp.csr_matrix(
                (np.ones(indices.size), indices, arrays[f"cap{c}_indptr"]),
                shape=tuple(arrays[f"cap{c}_shape"].tolist()),
            )
            stage.caps_.append((matrix, int(k)))
        return stage


class _RulesFile:
    """A rules file as read: its path, its table, and the line of each key and value.

    Example:
        >>> source = _RulesFile("r.toml", {"bury": [5, 7]}, {("bury",): 1, ("bury", 1): 2})
        >>> source.where("bury", 1), source.where("bury", 0), source.where("pin")
        ('r.toml, line 2', 'r.toml, line 1', 'r.toml')
    """

    def __init__(self, path, table: dict, lines: dict):
        self.path = path
        self.table = table
        self.lines = lines

    def where(self, key: str, entry=None) -> str:
        """``"path, line N"`` of ``key``'s ``entry`` (else of ``key``), else ``"path"``."""
        line = self.lines.get((key, entry)) or self.lines.get((key,))
        return f"{self.path}, line {line}" if line else str(self.path)


_BARE = re.compile(r"[A-Za-z0-9_+.:-]+")


def _toml_tokens(text: str) -> list[tuple[str, object, int]]:
    """``(kind, value, line)`` for each token of valid TOML text: kind ``"str"`` (value
    decoded), ``"bare"`` (a bare key, number, date or word), ``"nl"`` or the punctuation
    itself; comments and blanks are skipped.

    Example:
        >>> [kind for kind, _, _ in _toml_tokens('a = ["x"]  # a comment')]
        ['bare', '=', '[', 'str', ']']
        >>> _toml_tokens("b.c = 2")[0]
        ('bare', 'b.c', 1)
    """
    out: list[tuple[str, object, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(("nl", c, line))
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if c == '"' and text[j] == "\\" else 1
            j = min(j + len(quote), n)
            while len(quote) == 3 and j < n and text[j] == c:  # """a"""" ends in a quote
                j += 1
            token = text[i:j]
            out.append(("str", tomllib.loads(f"v = {token}")["v"], line))
            line += token.count("\n")
            i = j
        else:
            bare = _BARE.match(text, i)
            word = bare.group() if bare else c
            out.append(("bare" if bare else c, word, line))
            i += len(word)
    return out


def _toml_lines(text: str) -> dict[tuple, int]:
    """The line of each key (``("pin",)``, ``("pin", "181")``) and of each array element
    (``("bury", 0)``) of valid TOML text, the first mention of each; what it cannot follow
    is left out (the caller then names the key's line, or the file).  Scanned here
    because tomllib (like the other TOML readers on PyPI) keeps no source positions.

    Example:
        >>> found = _toml_lines(chr(10).join(['bury = [5,', '  7]', '[pin]', '"181" = 1']))
        >>> found[("bury", 1)], found[("pin",)], found[("pin", "181")]
        (2, 3, 4)
    """
    tokens = _toml_tokens(text)
    found: dict[tuple, int] = {}
    pos = 0

    def peek() -> tuple[str, object, int]:
        return tokens[pos] if pos < len(tokens) else ("end", None, 0)

    def take() -> tuple[str, object, int]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def note(path: tuple, line: int) -> None:
        for end in range(1, len(path) + 1):
            found.setdefault(path[:end], line)

    def key_path() -> tuple:
        parts: list = []
        while peek()[0] in ("bare", "str"):
            kind, value, _ = take()
            if kind == "bare":
                parts.extend(p for p in value.split(".") if p)  # a.b is two keys
            else:
                parts.append(value)
        return tuple(parts)

    def skip(*kinds: str) -> None:
        while peek()[0] in kinds:
            take()

    def value(path: tuple) -> None:
        kind, _, line = peek()
        if kind == "[":
            take()
            place = 0
            while True:
                skip("nl", ",")
                if peek()[0] in ("]", "end"):
                    take()
                    return
                note((*path, place), peek()[2])
                value((*path, place))
                place += 1
        elif kind == "{":
            take()
            while True:
                skip("nl", ",")
                if peek()[0] in ("}", "end"):
                    take()
                    return
                at = peek()[2]
                key = (*path, *key_path())
                note(key, at)
                skip("=")
                value(key)
        else:  # a scalar: a date-time may be two words
            while peek()[0] not in (",", "]", "}", "nl", "end"):
                take()

    table: tuple = ()
    try:
        while peek()[0] != "end":
            kind, _, line = peek()
            if kind == "nl":
                take()
                continue
            if kind == "[":
                skip("[")
                table = key_path()
                note(table, line)
            else:
                key = (*table, *key_path())
                note(key, line)
                skip("=")
                value(key)
            while peek()[0] not in ("nl", "end"):
                take()
    except (IndexError, AttributeError, TypeError, tomllib.TOMLDecodeError):
        pass  # keep what was found: a message then names a key's line or the file
    return found


def _toml_text(value) -> str:
    """A TOML value as the file spells it (``true``, ``[101]``, ``1.5``), for messages.

    Example:
        >>> _toml_text(True), _toml_text([101, "a"]), _toml_text(1.5)
        ('true', '[101, "a"]', '1.5')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _typed(items, raw):
    """A TOML id (keys are strings) as the catalogue's id type: "181" -> 181 for int ids."""
    if items.is_integer and isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            return raw
    if not items.is_integer and not isinstance(raw, str):
        return str(raw)
    return raw
