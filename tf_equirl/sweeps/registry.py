"""The algorithms a sweep can run: a config dataclass, its defaults and a many-seed trainer.

An algorithm is registered once with

  register_algorithm("ppo", config_cls=PPOConfig, default_config=ppo.default_config,
                     run_seeds=ppo.experiment.train_seeds, checkpoints=DEFAULT_CHECKPOINTS)

where `run_seeds(config, seeds, report)` trains `config` once per seed *in one learner* (so the
seeds of a trial reuse one compiled graph) and yields `(seed, columns)` per finished seed:
equally long numpy arrays per iteration, `env_steps` and `mean_return` among them, the columns
the algorithm's launcher writes to `seed_<k>.csv`. `report(seed, rows)` is to be called after
every compiled call with that call's rows (the same columns), which the sweep forwards to Tune.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np

Columns = Dict[str, np.ndarray]
RunSeeds = Callable[[Any, Sequence[int], Optional[Callable[[int, Columns], None]]],
                    Iterator[Tuple[int, Columns]]]

__all__ = ["Algorithm", "register_algorithm", "get_algorithm", "algorithms"]


@dataclasses.dataclass(frozen=True)
class Algorithm:
  """What a sweep needs to know about an algorithm.

  Attributes:
    name: the name sweeps and `launchers.sweep --algo` use ("ppo", "dyna").
    config_cls: its typed config dataclass (validates itself in `__post_init__`).
    default_config: `default_config(env, **overrides) -> config_cls` with per-environment
      defaults (the thesis' tables).
    run_seeds: the many-seed trainer described in the module docstring.
    checkpoints: env steps to summarise at per environment (the thesis' table columns).
  """
  name: str
  config_cls: type
  default_config: Callable[..., Any]
  run_seeds: RunSeeds
  checkpoints: Mapping[str, Sequence[int]] = dataclasses.field(default_factory=dict)

  def field_names(self) -> Tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(self.config_cls))


_ALGORITHMS: Dict[str, Algorithm] = {}


def register_algorithm(name: str, config_cls: type, default_config: Callable[..., Any],
                       run_seeds: RunSeeds,
                       checkpoints: Optional[Mapping[str, Sequence[int]]] = None) -> Algorithm:
  """Makes `name` available to `tf_equirl.sweeps` and `launchers.sweep --algo=name`."""
  if not dataclasses.is_dataclass(config_cls):
    raise TypeError(f"register_algorithm({name!r}): config_cls must be a dataclass, received "
                    f"{config_cls!r}.")
  for needed in ("env", "seed"):  # a field, or a property (DynaConfig reads its PPO's)
    if needed not in {f.name for f in dataclasses.fields(config_cls)} \
        and not isinstance(getattr(config_cls, needed, None), property):
      raise TypeError(f"register_algorithm({name!r}): {config_cls.__name__} needs a field "
                      f"{needed!r} (sweeps set the environment and the seeds).")
  algorithm = Algorithm(name, config_cls, default_config, run_seeds, dict(checkpoints or {}))
  _ALGORITHMS[name] = algorithm
  return algorithm


def get_algorithm(name: str) -> Algorithm:
  if name not in _ALGORITHMS:
    raise ValueError(f"Unknown sweep algorithm {name!r}; registered: {sorted(_ALGORITHMS)} "
                     "(add one with tf_equirl.sweeps.register_algorithm).")
  return _ALGORITHMS[name]


def algorithms() -> Tuple[str, ...]:
  return tuple(sorted(_ALGORITHMS))


def _register_builtin() -> None:
  from tf_equirl.agents.ppo import PPOConfig, default_config
  from tf_equirl.agents.ppo.experiment import DEFAULT_CHECKPOINTS, train_seeds
  register_algorithm("ppo", config_cls=PPOConfig, default_config=default_config,
                     run_seeds=train_seeds, checkpoints=DEFAULT_CHECKPOINTS)
  from tf_equirl.agents.dyna import DynaConfig, default_dyna_config
  register_algorithm("dyna", config_cls=DynaConfig, default_config=default_dyna_config,
                     run_seeds=train_seeds, checkpoints=DEFAULT_CHECKPOINTS)

_register_builtin()
