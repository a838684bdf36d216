"""The algorithms a sweep can run: a config dataclass, its defaults and a many-seed trainer.

An algorithm is registered once with

  register_algorithm("ppo", config_cls=PPOConfig, default_config=ppo.default_config,
                     run_seeds=tf_equirl.runner.train_seeds, checkpoints=checkpoints,
                     check_config=check_environment, xla_runtime=True)

where `checkpoints` maps each environment to its results-table checkpoints
(`tf_equirl.envs.defaults`) and `run_seeds(config, seeds, report)` trains `config` once per seed *in one learner* (so the
seeds of a trial reuse one compiled graph) and yields `(seed, columns)` per finished seed:
equally long numpy arrays per iteration, `env_steps` and `mean_return` among them, the columns
the algorithm's launcher writes to `seed_<k>.csv`. `report(seed, rows)` is to be called after
every compiled call with that call's rows (the same columns), which the sweep forwards to Tune.
`check_config(config)` raises a ValueError for what the dataclass cannot see by itself (an
unknown environment or symmetry group), so that the sweep's driver rejects it before Ray
starts instead of every trial failing in a worker; `xla_runtime` is the XLA CPU runtime the
algorithm's launcher compiles with by default, which the sweep's trials then use too.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Type

import numpy as np

Columns = Dict[str, np.ndarray]
RunSeeds = Callable[
  [Any, Sequence[int], Optional[Callable[[int, Columns], None]]], Iterator[Tuple[int, Columns]]
]

__all__ = ["Algorithm", "register_algorithm", "get_algorithm", "algorithms"]


@dataclasses.dataclass(frozen=True)
class Algorithm:
  """What a sweep needs to know about an algorithm.

  Attributes:
    name: the name sweeps and `launchers.sweep --algo` use ("ppo", "dyna", "ac").
    config_cls: its typed config dataclass (validates itself in `__post_init__`).
    default_config: `default_config(env, **overrides) -> config_cls` with per-environment
      defaults (the thesis' tables).
    run_seeds: the many-seed trainer described in the module docstring.
    checkpoints: env steps to summarise at per environment (the thesis' table columns).
    check_config: `check_config(config)` raises a ValueError for a config that would fail in
      a trial although the dataclass accepts it (None: nothing beyond the dataclass).
    xla_runtime: whether trials compile with XLA's newer CPU runtime by default (as the
      algorithm's launcher does: `launchers.train_ppo` yes, `launchers.train_dyna` no), so
      that a sweep's trials equal the launcher's runs on defaults (`tf_equirl.compilation`).
  """

  name: str
  config_cls: Type[Any]
  default_config: Callable[..., Any]
  run_seeds: RunSeeds
  checkpoints: Mapping[str, Sequence[int]] = dataclasses.field(default_factory=dict)
  check_config: Optional[Callable[[Any], None]] = None
  xla_runtime: bool = True

  def field_names(self) -> Tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(self.config_cls))


_ALGORITHMS: Dict[str, Algorithm] = {}


def register_algorithm(
  name: str,
  config_cls: Type[Any],
  default_config: Callable[..., Any],
  run_seeds: RunSeeds,
  checkpoints: Optional[Mapping[str, Sequence[int]]] = None,
  check_config: Optional[Callable[[Any], None]] = None,
  xla_runtime: bool = True,
) -> Algorithm:
  """Makes `name` available to `tf_equirl.sweeps` and `launchers.sweep --algo=name`."""
  if not dataclasses.is_dataclass(config_cls):
    raise TypeError(
      f"register_algorithm({name!r}): config_cls must be a dataclass, received " f"{config_cls!r}."
    )
  for needed in ("env", "seed"):  # a field, or a property (DynaConfig reads its PPO's)
    if needed not in {f.name for f in dataclasses.fields(config_cls)} and not isinstance(
      getattr(config_cls, needed, None), property
    ):
      raise TypeError(
        f"register_algorithm({name!r}): {config_cls.__name__} needs a field "
        f"{needed!r} (sweeps set the environment and the seeds)."
      )
  algorithm = Algorithm(
    name,
    config_cls,
    default_config,
    run_seeds,
    dict(checkpoints or {}),
    check_config,
    bool(xla_runtime),
  )
  _ALGORITHMS[name] = algorithm
  return algorithm


def get_algorithm(name: str) -> Algorithm:
  if name not in _ALGORITHMS:
    raise ValueError(
      f"Unknown sweep algorithm {name!r}; registered: {sorted(_ALGORITHMS)} "
      "(add one with tf_equirl.sweeps.register_algorithm)."
    )
  return _ALGORITHMS[name]


def algorithms() -> Tuple[str, ...]:
  return tuple(sorted(_ALGORITHMS))


@functools.lru_cache(maxsize=64)
def _check_symmetry(env: str, group: Optional[str]) -> None:
  from tf_equirl import envs  # pylint: disable=import-outside-toplevel

  envs.make(env).get_symmetry(group)


def check_environment(config) -> None:
  """The config's environment (a registered name, or a symmetry-breaking variant such as
  `"Catch-v0:global:0.5"`) can be made and has its symmetry group (`PPOConfig.group`); for a
  `DynaConfig` also the zoo world model its supervised mode loads. Raises a ValueError
  naming what is wrong otherwise."""
  ppo = getattr(config, "ppo", config)
  _check_symmetry(ppo.env, ppo.group)
  if (
    getattr(config, "mode", None) == "supervised"
    and config.world_model_path is None
    and config.world_model != "true"
  ):
    from tf_equirl.agents.dyna.learner import default_world_model_name  # pylint: disable=import-outside-toplevel

    default_world_model_name(ppo.env, config.world_model)


def _register_builtin() -> None:
  from tf_equirl.agents.ppo import PPOConfig, default_config
  from tf_equirl.envs.defaults import DEFAULTS
  from tf_equirl.runner import train_seeds

  checkpoints = {env: row.checkpoints for env, row in DEFAULTS.items()}
  register_algorithm(
    "ppo",
    config_cls=PPOConfig,
    default_config=default_config,
    run_seeds=train_seeds,
    checkpoints=checkpoints,
    check_config=check_environment,
    xla_runtime=True,
  )
  from tf_equirl.agents.dyna import DynaConfig, default_dyna_config

  # launchers.train_dyna compiles with the classic runtime: the newer one cannot lower a
  # learned world model's step (launchers.common.with_runtime_fallback).
  register_algorithm(
    "dyna",
    config_cls=DynaConfig,
    default_config=default_dyna_config,
    run_seeds=train_seeds,
    checkpoints=checkpoints,
    check_config=check_environment,
    xla_runtime=False,
  )
  from tf_equirl.agents.ac.config import ACConfig, check_ac_config, default_ac_config
  from tf_equirl.agents.ac.experiment import train_ac_seeds

  # launchers.train_ac compiles with the classic runtime (TensorFlow's default).
  register_algorithm(
    "ac",
    config_cls=ACConfig,
    default_config=default_ac_config,
    run_seeds=train_ac_seeds,
    check_config=check_ac_config,
    xla_runtime=False,
  )


_register_builtin()
