"""Config sections that check themselves from their annotations.

One rule for every section, so a config built in code (``TrainingConfig(lr=float("nan"))``)
is refused exactly like the same value read from YAML: a section subclasses ``Checked`` and
its ``__post_init__`` checks each field against its annotation (``bool``, ``int``, ``float``,
``str``, ``Literal[...]``, ``X | None``, a nested ``Checked`` section) and against the range in
its metadata (``bounded(default, min=..., max=..., above=...)``).  ``from_mapping`` is the one
loader: it rejects unknown keys, naming the allowed ones, then calls the constructor.

YAML 1.1 reads ``1e-3`` as a string; a float field takes a numeric string (``"1e-3"`` ->
0.001), an int field refuses it with a hint, so the user sees why.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, ClassVar, Literal, Mapping

import yaml

from search_space.errors import FusionscopeError


class ConfigError(FusionscopeError, ValueError):
    """A config problem; the message names the key (``section.key``) and what is allowed."""


def bounded(default: Any, *, min: float | None = None, max: float | None = None,  # noqa: A002
            above: float | None = None, below: float | None = None) -> Any:
    """A dataclass field with a range: ``min``/``max`` inclusive, ``above``/``below`` exclusive."""
    return dataclasses.field(default=default, metadata={"min": min, "max": max, "above": above, "below": below})


def _name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if _is_optional(hint):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(_name(a) for a in inner) + " or null"
    return getattr(hint, "__name__", str(hint))


def _is_optional(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return (origin is typing.Union or origin is types.UnionType) and type(None) in typing.get_args(hint)


def _convert(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the annotation wants it, or ConfigError naming ``key``."""
    if _is_optional(hint):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(key, value, inner)
    if typing.get_origin(hint) is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool) != any(isinstance(a, bool) for a in allowed):
            raise ConfigError(f"{key}={value!r}: choose one of {', '.join(map(repr, allowed))}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r}: expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            hint_text = ""
            if isinstance(value, float) and value.is_integer():
                hint_text = f" (write {int(value)})"
            elif isinstance(value, str):
                try:
                    number = float(value)
                    if number.is_integer():
                        hint_text = f" (write {int(number)}: YAML reads {value!r} as a string)"
                except ValueError:
                    pass
            raise ConfigError(f"{key}={value!r}: expected int{hint_text}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1: 1e-3 (no dot, no sign in the exponent) is a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}={value!r}: expected float") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}={value!r}: expected float")
        if not math.isfinite(value):
            raise ConfigError(f"{key}={value!r}: expected a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r}: expected a string")
        return value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise ConfigError(f"{key}: expected a {hint.__name__}, got {value!r}")
        return value
    return value  # containers (space, objectives) are checked by their owner


def _check_range(key: str, value: Any, meta: Mapping[str, Any]) -> None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{key}={value!r}: must be at least {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{key}={value!r}: must be at most {meta['max']}")
    if meta.get("above") is not None and not value > meta["above"]:
        raise ConfigError(f"{key}={value!r}: must be greater than {meta['above']}")
    if meta.get("below") is not None and not value < meta["below"]:
        raise ConfigError(f"{key}={value!r}: must be less than {meta['below']}")


class Checked:
    """Mixin for a frozen config dataclass: every field checked against its annotation on
    construction (YAML, code, ``dataclasses.replace`` alike).  ``section`` prefixes the keys
    in messages (``training.lr``); the top level has none."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            key = f"{self.section}.{f.name}" if self.section else f.name
            value = _convert(key, getattr(self, f.name), hints[f.name])
            _check_range(key, value, f.metadata)
            object.__setattr__(self, f.name, value)  # frozen: the converted value (1e-3 -> 0.001)


def from_mapping(cls: type, raw: Any, section: str | None = None) -> Any:
    """Build section ``cls`` from a YAML mapping: None is the defaults, unknown keys are named."""
    section = cls.section if section is None else section
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{section or 'the config'}: expected a mapping of keys, got {raw!r}")
    check_keys(cls, raw, section)
    return cls(**raw)


def check_keys(cls: type, raw: Mapping[str, Any], section: str) -> None:
    """ConfigError naming the first key of ``raw`` that ``cls`` has no field for, and the allowed ones."""
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(map(str, raw)) - set(allowed))
    if unknown:
        where = f"{section}.{unknown[0]}" if section else repr(unknown[0])
        scope = f"keys in {section}" if section else "top-level keys"
        raise ConfigError(f"unknown key {where}; allowed {scope}: {', '.join(allowed)}")


class _NoDuplicatesLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (``budget:`` twice: PyYAML
    keeps the last one silently, so half of what the user wrote would be ignored)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"key {key!r} is given twice (lines {seen[key]} and {line}); keep one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse a config document like ``yaml.safe_load``, but a duplicate key is a ConfigError."""
    return yaml.load(text, Loader=_NoDuplicatesLoader)  # noqa: S506 - a SafeLoader subclass
