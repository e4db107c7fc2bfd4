"""Reading config files: YAML 1.2 scalars, duplicate keys refused, and `_base_` inheritance.

A detector YAML may start with ``_base_: fbi_clip.yaml`` (or a list, ``_base_: [a.yaml, b.yaml]``):
paths relative to the YAML that names them (absolute paths allowed). The file then holds only what
differs from its bases. `read_chain` returns the files in merge order — every base before the files
that name it, a list of bases left to right, each file once (a base shared by two bases comes first)
— so the loader merges them one by one and each problem names the file its key came from. A cycle
or a missing base is a `ConfigError` naming the chain of files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fbi_common.paths import REPO_ROOT
from training.config.schema import ConfigError

BASE_KEY = "_base_"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars — `1e-4` is a float, only true/false are booleans (so
    `amp: off` stays the string 'off'), dates stay strings — that refuses duplicate keys
    (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """One YAML document (or scalar, for `--opts` values) with the config loader's rules."""
    return yaml.load(text, Loader=_Loader)


def display(path: Path) -> str:
    """Repo-relative POSIX path for messages when possible (shorter, machine-independent)."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML mapping with the config loader; an empty file is an empty mapping."""
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read config file {display(path)}: {e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{display(path)} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{display(path)} must hold a mapping of keys, not a {type(data).__name__}")
    return data


def _bases(data: dict[str, Any], path: Path) -> list[Path]:
    """The files `data`'s `_base_` names, resolved against the folder of `path`."""
    value = data.pop(BASE_KEY, None)
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(
            f"'{BASE_KEY}' in {display(path)}: expected a file name or a list of them "
            f"(e.g. {BASE_KEY}: fbi_clip.yaml), got {value!r}"
        )
    return [(path.parent / Path(n).expanduser()).resolve() for n in names]


def read_chain(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """`(display name, mapping without _base_)` for `path` and all its bases, bases first."""
    out: list[tuple[str, dict[str, Any]]] = []
    done: set[Path] = set()

    def visit(p: Path, stack: list[Path]) -> None:
        if p in stack:
            chain = " → ".join(display(s) for s in [*stack[stack.index(p) :], p])
            raise ConfigError(f"'{BASE_KEY}' cycle: {chain}; remove one of these {BASE_KEY} entries")
        if p in done:
            return
        if not p.is_file():
            named_by = display(stack[-1])
            raise ConfigError(
                f"'{BASE_KEY}' in {named_by} names {display(p)}, which does not exist "
                f"(paths are relative to {display(stack[-1].parent)}/)"
            )
        data = read_yaml(p)
        for base in _bases(data, p):
            visit(base, [*stack, p])
        done.add(p)
        out.append((display(p), data))

    visit(path.resolve(), [])
    return out
