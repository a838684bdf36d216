"""Checks of configuration values shared by the typed configs (`PPOConfig`, `DynaConfig`,
`TrainConfig`, ...). Each raises `ValueError` naming `<owner>.<name>`, the value received and
what was expected. No TensorFlow import."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Optional

__all__ = [
  "finite_number",
  "positive_number",
  "non_negative_number",
  "unit_interval",
  "positive_int",
  "non_negative_int",
  "check_float_fields",
]


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite_number(owner: str, name: str, value: Any, expected: str = "be a finite number") -> float:
  """`value` as a float; raises unless it is a finite real number (not a bool). `expected`
  completes "must ..." in the message."""
  if not _is_number(value) or not math.isfinite(value):
    raise ValueError(f"{owner}.{name} must {expected}, received {value!r}.")
  return float(value)


def positive_number(owner: str, name: str, value: Any) -> float:
  """A finite number > 0."""
  expected = "be a finite number > 0"
  if finite_number(owner, name, value, expected) <= 0:
    raise ValueError(f"{owner}.{name} must {expected}, received {value!r}.")
  return float(value)


def non_negative_number(owner: str, name: str, value: Any) -> float:
  """A finite number >= 0."""
  expected = "be a finite number >= 0"
  if finite_number(owner, name, value, expected) < 0:
    raise ValueError(f"{owner}.{name} must {expected}, received {value!r}.")
  return float(value)


def unit_interval(owner: str, name: str, value: Any) -> float:
  """A finite number in [0, 1]."""
  expected = "lie in [0, 1]"
  if not 0.0 <= finite_number(owner, name, value, expected) <= 1.0:
    raise ValueError(f"{owner}.{name} must {expected}, received {value!r}.")
  return float(value)


def positive_int(
  owner: str, name: str, value: Any, allow_none: bool = False, none_means: str = ""
) -> Optional[int]:
  """An integer >= 1 (not a bool); with `allow_none`, also None (`none_means` says what None
  stands for in the message)."""
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
    alternative = (
      f" or None ({none_means})"
      if allow_none and none_means
      else (" or None" if allow_none else "")
    )
    raise ValueError(
      f"{owner}.{name} must be a positive integer{alternative}, received " f"{value!r}."
    )
  return int(value)


def non_negative_int(owner: str, name: str, value: Any) -> int:
  """An integer >= 0 (not a bool)."""
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
    raise ValueError(f"{owner}.{name} must be a non-negative integer, received {value!r}.")
  return int(value)


def check_float_fields(config: Any) -> None:
  """Every field of the dataclass `config` annotated `float` or `Optional[float]` holds a
  finite number (or None where optional)."""
  owner = type(config).__name__
  for field in dataclasses.fields(config):
    if field.type not in ("float", "Optional[float]", float, Optional[float]):
      continue
    value = getattr(config, field.name)
    if value is None and field.type in ("Optional[float]", Optional[float]):
      continue
    finite_number(owner, field.name, value)
