"""Name → class registries for detectors, backbones and losses (duplicates refused, misses explained)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Registry:
    """A mapping from names to classes/functions, filled by the `register` decorator."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str | None = None) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            key = name or obj.__name__
            if key in self._items:
                prev = self._items[key]
                raise KeyError(
                    f"{self.kind} '{key}' is already registered by {prev.__module__}.{prev.__qualname__}; "
                    f"pick another name for {obj.__module__}.{obj.__qualname__}"
                )
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> Any:
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}'; registered: {self.names()}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)


DETECTORS = Registry("detector")
BACKBONES = Registry("backbone")
LOSSES = Registry("loss")
