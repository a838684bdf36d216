"""Search spaces over a config dataclass's fields, checked before any trial starts.

A space maps field names to either a grid (a non-empty list of values, every combination is
run) or one of Ray Tune's samplers (`tune.uniform`, `tune.loguniform`, `tune.randint`,
`tune.choice`, ...; each trial draws its own value). Checking happens on the driver: unknown
fields, values of the wrong type, empty or repeated grids, configurations the dataclass
itself rejects (its `__post_init__`) and ones the algorithm's `check_config` rejects (an
unknown environment or symmetry group) fail with an error naming the field, so a bad sweep
never starts a worker.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import typing
from typing import Any, Dict, List, Mapping, Sequence, Tuple

__all__ = [
  "parse_sampler",
  "SAMPLER_KINDS",
  "validate_space",
  "grid_points",
  "label",
  "config_key",
  "check_seeds",
  "parse_value",
  "build_config",
]

# Set by the sweep itself, never searched.
RESERVED = {
  "env": "pass env= to the sweep (one environment per sweep)",
  "seed": "pass seeds= to the sweep (every configuration runs every seed)",
}


def _is_sampler(value) -> bool:
  try:
    from ray.tune.search.sample import Domain
  except ImportError:  # without Ray there are no samplers to recognise
    return False
  return isinstance(value, Domain)


def _field_types(config_cls) -> Dict[str, Any]:
  """Field types; a nested config dataclass' fields as `outer.inner` (`ppo.learning_rate`)."""
  types = typing.get_type_hints(config_cls)
  for name, kind in list(types.items()):
    if dataclasses.is_dataclass(kind):
      types.update({f"{name}.{k}": v for k, v in _field_types(kind).items()})
  return types


def build_config(config_cls, fields: Mapping[str, Any], values: Mapping[str, Any]):
  """`config_cls` from `dataclasses.asdict`-style `fields` with `values` set on top; a dotted
  name sets a field of a nested config (`{"ppo.total_steps": 100000}`)."""
  tree: Dict[str, Any] = copy.deepcopy(dict(fields))
  for name, value in values.items():
    *outer, last = name.split(".")
    target = tree
    for part in outer:
      target = target[part]
    target[last] = value
  return config_cls(**tree)


def _coerce(config_cls, name: str, expected, value):
  """`value` as field `name` of type `expected` holds it, else a ValueError naming both."""
  where = f"{config_cls.__name__}.{name}"
  origin, args = typing.get_origin(expected), typing.get_args(expected)
  if origin is typing.Union and type(None) in args:  # Optional[X]
    if value is None:
      return None
    expected = next(a for a in args if a is not type(None))
  ok = False
  if expected is bool:
    ok = isinstance(value, bool)
  elif expected is int:
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif expected is float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    value = float(value) if ok else value
  elif expected is str:
    ok = isinstance(value, str)
  else:
    ok = True  # a field of another type: the dataclass' own checks decide
  if not ok:
    raise ValueError(
      f"Search space: {where} expects {getattr(expected, '__name__', expected)}, "
      f"received {value!r} ({type(value).__name__})."
    )
  return value


def _check_sampler(config_cls, name: str, expected, domain) -> None:
  from ray.tune.search import sample

  where = f"{config_cls.__name__}.{name}"
  base = expected
  if typing.get_origin(expected) is typing.Union:
    base = next(a for a in typing.get_args(expected) if a is not type(None))
  if isinstance(domain, sample.Categorical):
    if not domain.categories:
      raise ValueError(f"Search space: {where} has a tune.choice with no categories.")
    for value in domain.categories:
      _coerce(config_cls, name, expected, value)
  elif isinstance(domain, sample.Float):
    if base is not float:
      raise ValueError(
        f"Search space: {where} expects {getattr(base, '__name__', base)}, "
        f"received a float sampler ({domain!r}); use tune.randint / "
        "tune.choice for integer fields."
      )
  elif isinstance(domain, sample.Integer):
    if base not in (int, float):
      raise ValueError(
        f"Search space: {where} expects {getattr(base, '__name__', base)}, "
        f"received an integer sampler ({domain!r})."
      )
  else:
    raise ValueError(
      f"Search space: {where} received an unsupported sampler {domain!r}; "
      "expected a grid list, tune.choice, a float or an integer sampler."
    )


def validate_space(
  algorithm,
  base,
  space: Mapping[str, Any],
  samples: int = 3,
) -> Tuple[Dict[str, List[Any]], Dict[str, Any]]:
  """Checks `space` against `algorithm.config_cls` around the `base` config.

  Returns:
    `(grid, samplers)`: the grid fields with their (type-coerced) value lists, in the order
    given, and the sampler fields.

  Raises:
    ValueError: naming the field for an unknown or reserved field, a value of the wrong
      type, an empty or repeated grid, a sampler of the wrong kind, or a configuration the
      config class or `algorithm.check_config` rejects (every grid point is built and
      checked, with `samples` draws of the samplers).
  """
  config_cls = algorithm.config_cls
  if not isinstance(space, Mapping):
    raise ValueError(
      f"Search space must be a mapping of {config_cls.__name__} field names to "
      f"value lists or Tune samplers, received {type(space).__name__}."
    )
  types = _field_types(config_cls)
  grid, samplers = {}, {}
  for name, values in space.items():
    if name.split(".")[-1] in RESERVED:
      raise ValueError(
        f"Search space: field {name!r} cannot be searched: " f"{RESERVED[name.split('.')[-1]]}."
      )
    if name not in types:
      raise ValueError(
        f"Search space: {config_cls.__name__} has no field {name!r}; its fields "
        f"are {', '.join(algorithm.field_names())}."
      )
    if _is_sampler(values):
      _check_sampler(config_cls, name, types[name], values)
      samplers[name] = values
      continue
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
      raise ValueError(
        f"Search space: {config_cls.__name__}.{name} needs a list of values (a "
        f"grid) or a Tune sampler, received {values!r}."
      )
    if len(values) == 0:
      raise ValueError(
        f"Search space: the grid of {config_cls.__name__}.{name} is empty; give "
        "at least one value."
      )
    coerced = [_coerce(config_cls, name, types[name], v) for v in values]
    if len({json.dumps(v) for v in coerced}) != len(coerced):
      raise ValueError(
        f"Search space: the grid of {config_cls.__name__}.{name} repeats a value "
        f"({values!r}); each configuration must be distinct."
      )
    grid[name] = coerced
  fields = dataclasses.asdict(base)
  draws = max(1, samples) if samplers else 1
  # Every category of a tune.choice is checked (a random draw could miss a bad one).
  choices = [{n: c} for n, d in samplers.items() if hasattr(d, "categories") for c in d.categories]
  for point in grid_points(grid):
    for k in range(max(draws, len(choices))):
      drawn = {n: _coerce(config_cls, n, types[n], d.sample()) for n, d in samplers.items()}
      if k < len(choices):
        drawn.update(choices[k])
      values = {**point, **drawn}
      try:
        config = build_config(config_cls, fields, values)
        if algorithm.check_config is not None:  # environment and symmetry group
          algorithm.check_config(config)
      except (ValueError, TypeError) as e:
        raise ValueError(f"Search space: the configuration {label(values)} is invalid: {e}") from e
  return grid, samplers


def parse_value(config_cls, name: str, text: str):
  """A command-line string as a value of field `name` (int, float, bool, str or None)."""
  types = _field_types(config_cls)
  if name not in types:
    raise ValueError(
      f"{config_cls.__name__} has no field {name!r}; its fields are " f"{', '.join(types)}."
    )
  expected, optional = types[name], False
  if typing.get_origin(expected) is typing.Union and type(None) in typing.get_args(expected):
    expected, optional = next(a for a in typing.get_args(expected) if a is not type(None)), True
  text = text.strip()
  if optional and text.lower() == "none":
    return None
  try:
    if expected is bool:
      if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError
      return text.lower() in ("true", "1")
    if expected is int:
      return int(text)
    if expected is float:
      return float(text)
  except ValueError:
    raise ValueError(
      f"{config_cls.__name__}.{name} expects "
      f"{getattr(expected, '__name__', expected)}"
      f"{' or none' if optional else ''}, received {text!r}."
    ) from None
  return text


def grid_points(grid: Mapping[str, Sequence[Any]]) -> List[Dict[str, Any]]:
  """Every combination of the grid's values (one empty point for an empty grid)."""
  names = list(grid)
  return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def check_seeds(seeds: Sequence[int]) -> List[int]:
  seeds = list(seeds)
  if not seeds:
    raise ValueError("A sweep needs at least one seed.")
  for s in seeds:
    if isinstance(s, bool) or not isinstance(s, int):
      raise ValueError(f"Sweep seeds must be integers, received {s!r} in {seeds!r}.")
    if s < 0:
      raise ValueError(f"Sweep seeds must be non-negative integers, received {s} in {seeds!r}.")
  if len(set(seeds)) != len(seeds):
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    raise ValueError(
      f"Sweep seeds repeat: {repeated} in {seeds!r}; each seed runs once per "
      "configuration, so give distinct seeds."
    )
  return seeds


def label(values: Mapping[str, Any]) -> str:
  """`field=value, field=value` (`base` for the base configuration itself)."""
  if not values:
    return "base"
  return ", ".join(
    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
  )


def config_key(values: Mapping[str, Any], config: Any) -> str:
  """A folder name for one configuration: its label plus a hash of the whole config."""
  digest = hashlib.sha256(
    json.dumps(dataclasses.asdict(config), sort_keys=True).encode()
  ).hexdigest()[:10]
  readable = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", label(values).replace(", ", "__"))[:80]
  return f"{readable}-{digest}"


SAMPLER_KINDS = "uniform:LOW:HIGH, loguniform:LOW:HIGH, randint:LOW:HIGH or choice:A,B"


def parse_sampler(config_cls, name: str, text: str):
  """A Ray Tune sampler of field `name` from `KIND:ARGS` (`uniform:LOW:HIGH`,
  `loguniform:LOW:HIGH`, `randint:LOW:HIGH`, `choice:A,B,...`; choices parsed as the field's
  type, `parse_value`).

  Raises:
    ValueError: naming `name=text` for an unknown kind, bounds that are not numbers or not
      `LOW < HIGH` (and `LOW > 0` for `loguniform`), or a choice the field cannot take.
  """
  from ray import tune  # pylint: disable=import-outside-toplevel

  kind, _, args = text.partition(":")
  where = f"{name}={text}"
  if kind == "choice":
    try:
      return tune.choice([parse_value(config_cls, name, v) for v in args.split(",")])
    except ValueError as e:
      raise ValueError(f"{where}: {e}") from None
  if kind not in ("uniform", "loguniform", "randint"):
    raise ValueError(f"{where}: unknown sampler {kind!r}; expected {SAMPLER_KINDS}.")
  bounds = args.split(":")
  number = int if kind == "randint" else float
  try:
    if len(bounds) != 2:
      raise ValueError
    low, high = (number(b) for b in bounds)
  except ValueError:
    raise ValueError(
      f"{where}: expected {kind}:LOW:HIGH with {number.__name__} bounds, "
      f"received {kind}:{args}."
    ) from None
  if not low < high or (kind == "loguniform" and low <= 0):
    raise ValueError(
      f"{where}: expected LOW < HIGH{' and LOW > 0' * (kind == 'loguniform')}"
      f", received LOW={low}, HIGH={high}."
    )
  return getattr(tune, kind)(low, high)
