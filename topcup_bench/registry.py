"""One generic registry: decorator registration, lazy ``"module:attr"`` entries, entry points.

Built-in entries are lazy strings so that importing topcup-bench does not
import heavy modules (torch is imported only by the pickers that need it).
Third-party packages add entries through an entry-point group, e.g. in their
``pyproject.toml``::

    [project.entry-points."topcup_bench.pickers"]
    mypicker = "my_package.picker:MyPicker"

Registering a name twice is an error; an unknown name gets a did-you-mean hint.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from topcup_bench.errors import InputError, TopcupBenchError, did_you_mean

__all__ = ["Registry", "RegistryError"]

T = TypeVar("T")


class RegistryError(TopcupBenchError):
    """A duplicate registration or an entry that cannot be loaded."""


class Registry(Generic[T]):
    """Name → object registry.

    Parameters
    ----------
    kind : str
        What is registered, for messages (``"picker"``).
    entry_point_group : str, optional
        Entry-point group scanned (once, lazily) for third-party entries.
    """

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._origins: dict[str, str] = {}
        self._scanned = entry_point_group is None

    def register(self, name: str, target: T | str | None = None, *, origin: str = "code") -> Any:
        """Register ``target`` (an object or ``"module:attr"``) under ``name``.

        Used as a decorator when ``target`` is omitted::

            @PICKERS.register("mine")
            class MyPicker(Picker): ...
        """
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj, origin=origin)
                return obj

            return decorator
        if name in self._entries:
            raise RegistryError(
                f"{self.kind} {name!r} is registered twice ({self._origins[name]} and {origin})"
            )
        self._entries[name] = target
        self._origins[name] = origin
        return target

    def get(self, name: str) -> T:
        """The object registered as ``name``, importing it on first use."""
        self._scan_entry_points()
        if name not in self._entries:
            known = sorted(self._entries)
            raise InputError(
                self.kind,
                f"unknown {self.kind} {name!r}; known: {known}." + did_you_mean(name, known),
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._load(name, entry)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._scan_entry_points()
        return sorted(self._entries)

    def origin(self, name: str) -> str:
        """Where ``name`` was registered: ``"builtin"``, ``"code"`` or ``"entry point <dist>"``."""
        self._scan_entry_points()
        return self._origins[name]

    def __contains__(self, name: object) -> bool:
        self._scan_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load(self, name: str, path: str) -> T:
        module_name, _, attr = path.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as error:
            raise RegistryError(
                f"{self.kind} {name!r}: cannot load {path!r} ({type(error).__name__}: {error})"
            ) from error
        return obj

    def _scan_entry_points(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for point in entry_points(group=self.entry_point_group):
            dist = point.dist.name if point.dist is not None else "unknown"
            if point.name in self._entries and self._entries[point.name] == point.value:
                continue  # our own package's entry points
            self.register(point.name, point.value, origin=f"entry point of {dist}")

    def clear_entry_point_cache(self) -> None:
        """Scan entry points again on next use (after installing a plugin at run time)."""
        self._scanned = self.entry_point_group is None
        for name in [n for n, o in self._origins.items() if o.startswith("entry point")]:
            del self._entries[name]
            del self._origins[name]
