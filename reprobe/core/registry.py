"""A tiny name → object registry shared by metrics, cutoffs, models, datasets, decoders, adapters."""

from __future__ import annotations

from typing import Any, Callable, Dict, Generic, Iterator, Optional, TypeVar

from .errors import ReprobeError, unknown_name_message

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; unknown names raise a :class:`ReprobeError` listing valid ones.

    Args:
        kind: what the entries are ("metric", "model", …), used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._help: Dict[str, str] = {}

    def register(self, name: str, obj: Optional[T] = None, *, help: str = "", overwrite: bool = True):
        """Register ``obj`` under ``name``; without ``obj`` returns a decorator."""

        def deco(o: T) -> T:
            if not overwrite and name in self._items:
                raise ReprobeError(f"{self.kind} {name!r} is already registered")
            self._items[name] = o
            doc = help or (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
            self._help[name] = doc
            return o

        return deco(obj) if obj is not None else deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ReprobeError(unknown_name_message(self.kind, name, self._items)) from None

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self):
        return self._items.items()
