"""A tiny name → object registry shared by metrics, cutoffs, models, datasets, decoders, adapters, predictors.

Each package that keeps a registry offers it under one vocabulary of module-level functions:
``register_<x>`` (a decorator), ``get_<x>(name)`` (the entry; an unknown name raises a
:class:`ReprobeError` listing the valid ones) and ``list_<x>s()`` (the names, in the order the
registry uses them). Entries may carry a priority: registries whose entries are *tried* in turn (adapters finding stages,
decoder builders, model resolvers) walk :meth:`Registry.by_priority`, highest first, ties in
registration order.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, Tuple, TypeVar

from .errors import ReprobeError, unknown_name_message

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[T]):
    """Maps names to objects; unknown names raise a :class:`ReprobeError` listing valid ones.

    Args:
        kind: what the entries are ("metric", "model", …), used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._help: Dict[str, str] = {}
        self._priority: Dict[str, int] = {}

    def register(self, name: str, obj: Optional[T] = None, *, help: str = "", overwrite: bool = True,
                 priority: int = 0):
        """Register ``obj`` under ``name``; without ``obj`` returns a decorator.

        Args:
            name: the entry's name (a name registered again keeps its place, unless ``overwrite`` is False:
                then it is an error).
            obj: the entry; None: return a decorator that registers what it decorates.
            help: one line for listings (default: the first line of the object's docstring).
            overwrite: allow replacing an entry of the same name.
            priority: order of :meth:`by_priority` (higher first).

        Returns:
            ``obj``, or the decorator.
        """

        def deco(o: T) -> T:
            if not overwrite and name in self._items:
                raise ReprobeError(f"{self.kind} {name!r} is already registered")
            self._items[name] = o
            doc = help or (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
            self._help[name] = doc
            self._priority[name] = int(priority)
            return o

        return deco(obj) if obj is not None else deco

    def decorator(self, name: str, entry: Optional[Callable[[Any, str], T]] = None, *, help: str = "",
                  priority: int = 0) -> Callable[[F], F]:
        """A decorator that registers ``entry(fn, help)`` (default: ``fn`` itself) as ``name`` and returns ``fn``.

        The help line is ``help``, else the first line of ``fn``'s docstring (not the entry's: an
        entry is often a record of a type shared by every name). Behind every package's ``register_<x>``.
        """

        def deco(fn: F) -> F:
            doc = help or (getattr(fn, "__doc__", None) or "").strip().split("\n")[0]
            self.register(name, fn if entry is None else entry(fn, doc), priority=priority)
            self._help[name] = doc
            return fn

        return deco

    def unregister(self, name: str) -> None:
        """Remove ``name`` (unknown names: a :class:`ReprobeError`), e.g. a plug-in a test registered."""
        self.get(name)
        del self._items[name], self._help[name], self._priority[name]

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ReprobeError(unknown_name_message(self.kind, name, self._items)) from None

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def priority(self, name: str) -> int:
        """The priority ``name`` was registered with (unknown names: a :class:`ReprobeError`)."""
        self.get(name)
        return self._priority[name]

    def by_priority(self) -> List[Tuple[str, T]]:
        """``(name, object)`` pairs, highest priority first; equal priorities in registration order."""
        return sorted(self._items.items(), key=lambda kv: -self._priority[kv[0]])

    def names(self) -> list[str]:
        """Names in registration order."""
        return list(self._items)

    def listed(self) -> List[str]:
        """Names in the order the registry is used (behind every ``list_<x>s``): highest priority first,
        ties in registration order (all of them, in a registry whose entries carry no priority)."""
        return [name for name, _ in self.by_priority()]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self):
        return self._items.items()
