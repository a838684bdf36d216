"""Hyperparameter grids and many-seed tables on Ray Tune, from this machine to a cluster.

  from tf_equirl import sweeps
  result = sweeps.run_sweep("ppo", {"learning_rate": [3.5e-4, 1e-3], "num_epochs": [2, 4]},
                            seeds=range(8), out="runs/sweep_lr_epochs", env="CartPole-v1")

A sweep is a registered algorithm (`register_algorithm`: "ppo", "dyna", and "ac", the
continuous-control actor-critic, whose curves are the mean action's evaluations), a base config, a search space
over its fields (grid lists and Tune samplers, checked before anything starts) and seeds.
Trials run the algorithm's own training code, the seeds of a trial in one learner (one compiled
graph), report the launchers' per-iteration metrics to Tune, and write each finished seed
once, so retried trials and resumed sweeps never redo finished work (`runner`). Ray is
imported only when a sweep runs: `pip install -e ".[sweep]"`.
"""

from tf_equirl.sweeps.registry import Algorithm, algorithms, get_algorithm, register_algorithm
from tf_equirl.sweeps.runner import (
  ConfigResult,
  RunStore,
  SweepIncomplete,
  SweepResult,
  aggregate,
  connect,
  default_xla_runtime,
  resume_sweep,
  run_arms_on_ray,
  run_config_on_ray,
  run_sweep,
  seed_groups,
)
from tf_equirl.sweeps.space import (
  build_config,
  check_seeds,
  grid_points,
  label,
  parse_sampler,
  parse_value,
  validate_space,
)

__all__ = [
  "Algorithm",
  "algorithms",
  "get_algorithm",
  "register_algorithm",
  "run_sweep",
  "resume_sweep",
  "aggregate",
  "connect",
  "default_xla_runtime",
  "seed_groups",
  "ConfigResult",
  "SweepResult",
  "SweepIncomplete",
  "RunStore",
  "validate_space",
  "grid_points",
  "label",
  "check_seeds",
  "parse_value",
  "parse_sampler",
  "build_config",
  "run_config_on_ray",
  "run_arms_on_ray",
]
