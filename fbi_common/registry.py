"""The registry class: names → classes or objects, duplicates refused, a miss answered with the names.

Two registries exist, where a config or flag names the thing: `training.registry.DETECTORS`
(`model_name`) and `preprocessing.fbi_prep.adapters.ADAPTERS` (`--dataset`). Backbones and losses are
chosen by a detector's own `model:` keys (`arch`, `loss_weights`) and imported directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class Registry:
    """A mapping from names to classes, functions or instances, filled by `register` (a decorator)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str | None = None) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            key = name or obj.__name__
            if key in self._items:
                raise KeyError(
                    f"{self.kind} '{key}' is already registered by {_origin(self._items[key])}; "
                    f"pick another name for {_origin(obj)}"
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

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _origin(obj: Any) -> str:
    """Where a registered object was defined (its class for instances)."""
    named = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{named.__module__}.{named.__qualname__}"
