"""Environments by name: `make("CartPole-v1", batch_size=64, seed=0)`."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Dict, List

from tf_equirl.envs.base import BatchedEnvironment
from tf_equirl.envs.breaking import parse_variant

__all__ = ["register", "make", "list_envs"]

EnvFactory = Callable[..., BatchedEnvironment]

_REGISTRY: Dict[str, EnvFactory] = {}


def register(name: str, factory: EnvFactory, overwrite: bool = False) -> None:
  """Makes `make(name, batch_size, seed, **kwargs)` call `factory(batch_size=, seed=, **kwargs)`.

  Args:
    name: the environment's name.
    factory: callable returning a `BatchedEnvironment` (usually its class).
    overwrite: replace an existing entry instead of raising.

  Raises:
    ValueError: if `name` is taken and `overwrite` is False, or the arguments have
      the wrong types.
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f"Environment name must be a non-empty string, received {name!r}.")
  if not callable(factory):
    raise ValueError(f"Factory for {name!r} must be callable, received {factory!r}.")
  if name in _REGISTRY and not overwrite:
    raise ValueError(
      f"An environment named {name!r} is already registered; pass " "overwrite=True to replace it."
    )
  _REGISTRY[name] = factory


def list_envs() -> List[str]:
  """Sorted names accepted by `make`."""
  return sorted(_REGISTRY)


def make(name: str, batch_size: int = 1, seed: Any = 0, **kwargs: Any) -> BatchedEnvironment:
  """Builds the registered environment `name`.

  A symmetry-breaking variant (`tf_equirl.envs.breaking`) is asked for either with keyword
  arguments, `make("CartPole-v1", breaking="global", strength=0.5)`, or by name,
  `make("CartPole-v1:global:0.5")` (the form a `PPOConfig.env` string can carry).

  Pixel observations: `make("CartPole-v1", observation="pixels", image_size=85,
  frame_stack=3, frame_spacing=1)` wraps the environment in `tf_equirl.envs.render.pixels`
  (`image_size`, `frame_stack` and `frame_spacing` are optional and only go with
  `observation="pixels"`).

  Raises:
    ValueError: for an unknown name (the message lists the registered ones and the variant
      syntax), a variant of an environment without variants, an unknown variant or a bad
      strength, an `observation` other than "state" or "pixels", or pixel options without
      `observation="pixels"`.
  """
  observation = kwargs.pop("observation", "state")
  pixel_options = {
    k: kwargs.pop(k) for k in ("image_size", "frame_stack", "frame_spacing") if k in kwargs
  }
  if observation not in ("state", "pixels"):
    raise ValueError(
      f"make: observation must be 'state' or 'pixels', received observation={observation!r}."
    )
  if pixel_options and observation != "pixels":
    raise ValueError(
      f"make: {sorted(pixel_options)} only apply to observation='pixels', received "
      f"observation={observation!r}."
    )
  if isinstance(name, str) and ":" in name:
    base, variant = parse_variant(name)
    clash = sorted(set(variant) & set(kwargs))
    if clash:
      raise ValueError(
        f"Environment {name!r} names its variant and also received {clash} as "
        "keyword arguments; give the variant one way."
      )
    if base in _REGISTRY and not _takes_breaking(_REGISTRY[base]):
      raise ValueError(
        f"Environment {base!r} has no symmetry-breaking variants, received " f"{name!r}."
      )
    name, kwargs = base, {**kwargs, **variant}
  if name not in _REGISTRY:
    raise ValueError(
      f"Unknown environment {name!r}; registered environments are "
      f"{list_envs()}, and a symmetry-breaking variant of one reads "
      f"'<env>:<breaking>:<strength>', e.g. 'Catch-v0:global:0.5'."
    )
  env = _REGISTRY[name](batch_size=batch_size, seed=seed, **kwargs)
  if observation == "pixels":
    options = dict(pixel_options)
    if "image_size" in options:
      options["size"] = options.pop("image_size")
    # By name: the renderers load with the first pixel environment, so that what trains on
    # states imports none of them (`tf_equirl.agents.ac.ACConfig.training_modules`).
    env = importlib.import_module("tf_equirl.envs.render").pixels(env, **options)
  return env


def _takes_breaking(factory: EnvFactory) -> bool:
  """Whether `factory` accepts `breaking=` (or any keyword)."""
  try:
    parameters = inspect.signature(factory).parameters.values()
  except (TypeError, ValueError):  # no signature to read: let the call decide
    return True
  return any(p.name == "breaking" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
