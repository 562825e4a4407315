"""Detect stage: a lazily flattened view of one event for the rules that actually run on it.

Neighbours: :class:`detections.sigma.engine.Detector` wraps each event in a :class:`LazyFlat`;
the evaluators of :mod:`detections.sigma.compiler` and the correlation state read it exactly like
the eager :func:`~detections.sigma.compiler.flatten_event` result (``get``, ``[]``, ``in``,
``texts``). Only the paths asked for are resolved.

Exactness: when no key of the event contains a dot and every key is a ``str``, a dotted path has
one reading (``a.b.c`` is ``event["a"]["b"]["c"]``) and the nested walk gives what the eager
flattening would. Otherwise (``regular=False``, or unknown and found irregular on first use) the
view flattens the whole event once with the eager function and answers from that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from detections.sigma.compiler import FlatEvent, flatten_event

__all__ = ["LazyFlat", "is_regular"]

_NOTHING: Final = object()
_MAX_PARTS = 33  # flatten_event descends 32 levels below the root: at most 33 keys in a path
_SPLIT_CACHE: dict[str, tuple[str, ...]] = {}


def _parts(path: str) -> tuple[str, ...]:
    parts = _SPLIT_CACHE.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_SPLIT_CACHE) < 65536:
            _SPLIT_CACHE[path] = parts
    return parts


def is_regular(obj: Mapping[str, Any], depth: int = 0) -> bool:
    """Whether every key (at any depth flattening reaches) is a ``str`` without a dot."""
    try:
        if "." in "".join(obj):
            return False
    except TypeError:  # a non-str key
        return False
    if depth >= 32:
        return True
    return all(is_regular(value, depth + 1) for value in obj.values() if isinstance(value, Mapping))


class LazyFlat(FlatEvent):
    """``{"dotted.path": value}`` of one event, resolved on demand (see the module notes)."""

    __slots__ = ("_absent", "_event", "_full", "_regular")

    def __init__(self, event: Mapping[str, Any], regular: bool | None = None) -> None:
        super().__init__()
        self._event = event
        self._regular = regular
        self._absent: set[str] = set()
        self._full = False

    def _materialise(self) -> None:
        if not self._full:
            self._full = True
            self._absent.clear()
            dict.update(self, flatten_event(self._event))

    def _resolve(self, path: str) -> Any:
        if self._regular is None:
            self._regular = is_regular(self._event)
        if not self._regular:
            self._materialise()
            return dict.get(self, path, _NOTHING)
        parts = _parts(path)
        if len(parts) > _MAX_PARTS:
            return _NOTHING
        obj: Any = self._event
        for part in parts:
            if not isinstance(obj, Mapping):
                return _NOTHING
            obj = obj.get(part, _NOTHING)
            if obj is _NOTHING:
                return _NOTHING
        return obj

    def get(self, path: str, default: Any = None) -> Any:
        value = dict.get(self, path, _NOTHING)
        if value is not _NOTHING:
            return value
        if self._full or path in self._absent:
            return default
        value = self._resolve(path)
        if value is _NOTHING:
            if not self._full:
                self._absent.add(path)
            return default
        dict.__setitem__(self, path, value)
        return value

    def __getitem__(self, path: str) -> Any:
        value = self.get(path, _NOTHING)
        if value is _NOTHING:
            raise KeyError(path)
        return value

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path, _NOTHING) is not _NOTHING

    # Whole-view operations need every path: flatten once.
    def __iter__(self) -> Iterator[str]:
        self._materialise()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._materialise()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._materialise()
        return dict.keys(self)

    def values(self) -> Any:
        self._materialise()
        return dict.values(self)

    def items(self) -> Any:
        self._materialise()
        return dict.items(self)

    def __eq__(self, other: object) -> bool:
        self._materialise()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._materialise()
        return f"LazyFlat({dict.__repr__(self)})"
