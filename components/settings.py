"""Declaring a setting once: its default, its bounds and its help live on the dataclass field.

The frozen config dataclasses (``ConversionConfig``, ``TrainingConfig``, ``ModelConfig``,
the pipeline's ``PipelineConfig``) declare each field with ``setting(...)``. Everything
else is derived from that one declaration: validation (``validate``), the ``quickdraw``
flags (``pipeline.cli``), the ExampleGen's execution parameters, the Trainer's
``custom_config`` (``to_dict`` / ``from_dict``) and the manifest's ``config`` block.

Light on purpose (standard library only), so that ``quickdraw --help`` stays instant.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from components.errors import ConfigError

Check = Callable[[Any], str | None]  # returns why a value is out of bounds, or None
T = TypeVar("T")


def setting(default: Any, help: str, check: Check | None = None, flag: bool = True) -> Any:
    """A dataclass field: ``default``, one line of ``help``, an optional bounds ``check``.
    ``flag=False`` keeps it off the command line (still a parameter everywhere else)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check, "flag": flag})


def flag_name(name: str) -> str:
    """``eval_fraction`` → ``--eval-fraction``: how errors and the CLI name a setting."""
    return "--" + name.replace("_", "-")


# --------------------------------------------------------------------------- bounds


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be >= {low}, got {v}"


def between(low: float, high: float, high_open: bool = False) -> Check:
    def check(v: float) -> str | None:
        ok = low <= v < high if high_open else low <= v <= high
        return None if ok else f"must be in [{low}, {high}{')' if high_open else ']'}, got {v}"

    return check


def each(check: Check) -> Check:
    """Applies ``check`` to every item of a tuple setting."""
    return lambda values: next((why for why in map(check, values) if why), None)


# --------------------------------------------------------------------------- derived behaviour


def fields(cls_or_config: Any) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(cls_or_config)


def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotation of every field (the modules use postponed annotations)."""
    return typing.get_type_hints(cls)


def base_type(annotation: Any) -> type:
    """``int | None`` → ``int``; ``tuple[int, ...]`` → ``tuple``; a nested config → its class."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation
    if origin is tuple:
        return tuple
    return base_type(args[0]) if len(args) == 1 else annotation


def item_type(annotation: Any) -> type:
    """The type of a tuple setting's items: ``tuple[float, ...]`` → ``float`` (else ``int``)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(args[0]) is tuple:  # tuple[...] | None
        return item_type(args[0])
    return float if args and args[0] is float else int


def validate(config: Any) -> None:
    """Every field's ``check`` (None passes: "not set"); raises ConfigError naming the flag."""
    for f in fields(config):
        check, value = f.metadata.get("check"), getattr(config, f.name)
        if check is not None and value is not None:
            why = check(value)
            if why:
                raise ConfigError(f"{flag_name(f.name)} {why}")


def to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready values (tuples as lists), nested configs as nested dicts."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return to_dict(value)
        return list(value) if isinstance(value, tuple) else value

    return {f.name: plain(getattr(config, f.name)) for f in fields(config)}


def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
    """The config from (possibly partial) values; absent or None → the default.

    Unknown keys are refused, so a misspelt setting fails instead of being ignored.
    """
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)} for {cls.__name__}; known: {sorted(known)}")
    types = field_types(cls)
    given: dict[str, Any] = {}
    for name, value in values.items():
        if value is None and known[name].default is not None:
            continue
        kind = base_type(types[name])
        if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            value = from_dict(kind, value)
        elif kind is tuple and value is not None:
            value = tuple(value)
        elif kind in (bool, int, float) and value is not None:
            value = kind(value)
        given[name] = value
    return cls(**given)
