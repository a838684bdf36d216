"""Per-environment defaults: one table of what the thesis (or this library) sets per environment.

`env_defaults("Catch-v0")` (or a variant, `"Catch-v0:global:0.5"`, which takes its base
environment's row) is the `EnvDefaults` of that environment: the checkpoints of its results
tables, the PPO and Dyna settings that differ between environments, the transition-model
study's data sizes and zoo folder, and the approximate-equivariance study's grid. An
environment without a row raises a `ValueError` naming the environments that have one;
`find_env_defaults` returns None instead (a user-registered environment trains on the
dataclasses' own defaults).

Plain data: this module imports nothing from the rest of the library, so that every layer
above `envs` (agents, runner, sweeps, experiments, launchers) reads the same numbers.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping, Optional, Tuple

__all__ = [
  "ContinuousDefaults",
  "CONTINUOUS_DEFAULTS",
  "continuous_defaults",
  "EnvDefaults",
  "ApproxGrid",
  "DEFAULTS",
  "TRANSITION_ENVS",
  "env_defaults",
  "find_env_defaults",
  "base_env",
]


def _frozen(mapping: Optional[Mapping[str, Any]] = None) -> Mapping[str, Any]:
  return types.MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class ApproxGrid:
  """The approximate-equivariance study's defaults for one environment
  (`tf_equirl.experiments.approx_equivariance`).

  Attributes:
    variants: symmetry-breaking variants trained besides the original environment, as
      `"breaking:strength"` (`tf_equirl.envs.breaking`).
    total_steps: environment steps per run.
    checkpoints: steps the tables report at (those beyond `total_steps` are dropped).
    noise_sigmas: standard deviations of the Gaussian observation noise at test time.
  """

  variants: Tuple[str, ...]
  total_steps: int
  checkpoints: Tuple[int, ...]
  noise_sigmas: Tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class EnvDefaults:
  """What the library sets per environment; `env_defaults(env)` reads it.

  Attributes:
    env: the registered environment id ("CartPole-v1").
    short_name: the short name of its results folders (`results/ppo_<short>/`,
      `results/dyna_<short>/`) and run folders.
    checkpoints: environment steps of the rows of its results tables (the thesis' table
      columns where it has them).
    ppo: `PPOConfig` fields that differ from the dataclass's defaults
      (`tf_equirl.agents.ppo.default_config`).
    dyna_ppo: `PPOConfig` fields of Dyna's actor-critic, applied after `ppo`
      (`tf_equirl.agents.dyna.default_dyna_config`).
    dyna_model_epochs: online Dyna's world-model epochs per Dyna iteration (None: no row,
      `DynaConfig.epochs` falls back to 10).
    zoo_folder: the zoo's folder of its models (`zoo/<folder>/...`).
    transition_expert: zoo name of the expert that collects the transition datasets (None:
      no transition models for this environment).
    transition_samples: transitions in the joint and random datasets.
    approx: the approximate-equivariance study's grid (None: not part of it).
  """

  env: str
  short_name: str
  checkpoints: Tuple[int, ...]
  ppo: Mapping[str, Any] = dataclasses.field(default_factory=_frozen)
  dyna_ppo: Optional[Mapping[str, Any]] = None
  dyna_model_epochs: Optional[int] = None
  zoo_folder: Optional[str] = None
  transition_expert: Optional[str] = None
  transition_samples: Optional[int] = None
  approx: Optional[ApproxGrid] = None

  def require_zoo_folder(self) -> str:
    """`zoo_folder`, for code that writes into the zoo.

    Raises:
      ValueError: the environment has no zoo folder.
    """
    if self.zoo_folder is None:
      raise ValueError(
        f"{self.env} has no zoo folder (EnvDefaults.zoo_folder is None); the "
        f"zoo covers {sorted(k for k, v in DEFAULTS.items() if v.zoo_folder)}."
      )
    return self.zoo_folder

  @property
  def has_dyna(self) -> bool:
    """Whether the thesis' Dyna settings cover this environment."""
    return self.dyna_ppo is not None

  @property
  def has_transition_models(self) -> bool:
    """Whether the transition-model study (and the zoo's world models) cover it."""
    return self.transition_expert is not None


DEFAULTS: Mapping[str, EnvDefaults] = types.MappingProxyType(
  {
    "CartPole-v1": EnvDefaults(
      env="CartPole-v1",
      short_name="cartpole",
      checkpoints=(10_000, 100_000, 500_000),  # thesis Table 4.2
      ppo=_frozen({"total_steps": 500_000, "num_minibatches": 4}),  # thesis Table 5.1
      dyna_ppo=_frozen(),
      dyna_model_epochs=100,  # thesis 4.8
      zoo_folder="cartpole",
      transition_expert="cartpole/mlp_actor",
      # thesis Fig. 4.6 caption: "These datasets contain 40,000 transitions"
      transition_samples=40_000,
      approx=ApproxGrid(
        variants=("global:0.1", "global:0.3", "reflect:0.5", "reflect:1", "repeat:0.5", "repeat:1"),
        total_steps=100_000,  # the thesis trains 500k
        # thesis Table 4.2 has 10k, 100k, 500k; 50k added below 100k
        checkpoints=(10_000, 50_000, 100_000, 500_000),
        noise_sigmas=(0.05, 0.2),
      ),
    ),
    "Catch-v0": EnvDefaults(
      env="Catch-v0",
      short_name="catch",
      checkpoints=(2_000, 10_000, 20_000),  # thesis Table 4.4
      ppo=_frozen({"total_steps": 20_000, "num_minibatches": 51}),  # thesis Table 5.2, 4.6.2
      # 50 Dyna iterations (and the online grid's 100) need the 20,000 real steps in whole
      # PPO iterations, so an iteration is 4 envs x 50 steps (200 steps, 100 iterations)
      # with minibatches of 10 (thesis Table 5.2) instead of 4 x 128.
      dyna_ppo=_frozen({"num_steps": 50, "num_minibatches": 20}),
      dyna_model_epochs=10,  # thesis 4.8
      zoo_folder="catch",
      transition_expert="catch/mlp_actor",
      # thesis Fig. 4.9 caption: "These datasets contain 400,000 transitions"
      transition_samples=400_000,
      approx=ApproxGrid(
        variants=(
          "global:0.25",
          "global:0.5",
          "reflect:0.5",
          "reflect:1",
          "repeat:0.5",
          "repeat:1",
        ),
        total_steps=20_000,  # thesis 4.6.2
        checkpoints=(2_000, 10_000, 20_000),  # thesis Table 4.4
        noise_sigmas=(0.1, 0.3),
      ),
    ),
    "GridWorld-v0": EnvDefaults(  # not in the thesis
      env="GridWorld-v0",
      short_name="grid",
      checkpoints=(20_000, 100_000, 200_000),
      ppo=_frozen({"total_steps": 200_000, "num_minibatches": 4}),
      zoo_folder="gridworld",
    ),
  }
)

# The environments of the transition-model study and of the zoo's world models.
TRANSITION_ENVS: Tuple[str, ...] = tuple(
  sorted(env for env, row in DEFAULTS.items() if row.has_transition_models)
)


def base_env(env: str) -> str:
  """The registered environment of `env`: `"Catch-v0:global:0.5"` -> `"Catch-v0"`."""
  if not isinstance(env, str) or not env:
    raise ValueError(
      f"An environment must be a non-empty name such as 'CartPole-v1', " f"received {env!r}."
    )
  return env.split(":")[0]


def find_env_defaults(env: str) -> Optional[EnvDefaults]:
  """`env_defaults(env)`, or None for an environment without a row."""
  return DEFAULTS.get(base_env(env))


def env_defaults(env: str) -> EnvDefaults:
  """The `EnvDefaults` of `env` (a registered id, or a variant `"<env>:<breaking>:<strength>"`
  of one, which takes its base environment's row).

  Raises:
    ValueError: `env` has no row in the table.
  """
  found = find_env_defaults(env)
  if found is None:
    raise ValueError(
      f"No per-environment defaults for {env!r}; the table "
      f"(tf_equirl.envs.defaults) has {sorted(DEFAULTS)}."
    )
  return found


@dataclasses.dataclass(frozen=True)
class ContinuousDefaults:
  """The continuous-control study's settings per environment (Park et al. 2025, 5.1 and
  D.1.1, which train DrQ-v2 (Yarats et al. 2021)); `continuous_defaults(env)` reads them.

  Attributes:
    env: the registered environment id ("CartPoleSwingup-v0").
    episode_steps: environment steps per episode (the environment's own time limit).
    action_repeat: times the agent's action is repeated (DrQ-v2's recipe for the DeepMind
      Control Suite: 2).
    exploration_steps: length of DrQ-v2's linear exploration-noise schedule (its
      `stddev_schedule` 'linear(1.0,0.1,N)': 100k for the easy tasks, 500k for the medium).
    eval_noise_sigma: standard deviation of the Gaussian observation noise at test time.
  """

  env: str
  episode_steps: int
  action_repeat: int
  exploration_steps: int
  eval_noise_sigma: float


CONTINUOUS_DEFAULTS: Mapping[str, ContinuousDefaults] = types.MappingProxyType(
  {
    # Park et al. 2025, 5.1 / D.1.1: noise 0.06 for CartPole and BallInCup, 0.02 for Acrobot
    # and Reacher; episodes of 1000 steps. Exploration lengths from DrQ-v2's easy (cartpole)
    # and medium (acrobot, reacher hard) task groups.
    "CartPoleSwingup-v0": ContinuousDefaults("CartPoleSwingup-v0", 1000, 2, 100_000, 0.06),
    "AcrobotSwingup-v0": ContinuousDefaults("AcrobotSwingup-v0", 1000, 2, 500_000, 0.02),
    "Reacher-v0": ContinuousDefaults("Reacher-v0", 1000, 2, 500_000, 0.02),
    # dm_control's own tasks (tf_equirl.envs.dmc), with the same settings; ball-in-cup
    # catch is in DrQ-v2's easy group.
    "dm_control/cartpole-swingup-v0": ContinuousDefaults(
      "dm_control/cartpole-swingup-v0", 1000, 2, 100_000, 0.06
    ),
    "dm_control/acrobot-swingup-v0": ContinuousDefaults(
      "dm_control/acrobot-swingup-v0", 1000, 2, 500_000, 0.02
    ),
    "dm_control/reacher-hard-v0": ContinuousDefaults(
      "dm_control/reacher-hard-v0", 1000, 2, 500_000, 0.02
    ),
    "dm_control/ball_in_cup-catch-v0": ContinuousDefaults(
      "dm_control/ball_in_cup-catch-v0", 1000, 2, 100_000, 0.06
    ),
  }
)


def continuous_defaults(env: str) -> ContinuousDefaults:
  """The `ContinuousDefaults` of `env` (a variant takes its base environment's row).

  Raises:
    ValueError: `env` has no row (the message names those that have one).
  """
  found = CONTINUOUS_DEFAULTS.get(base_env(env))
  if found is None:
    raise ValueError(
      f"No continuous-control defaults for {env!r}; the table "
      f"(tf_equirl.envs.defaults.CONTINUOUS_DEFAULTS) has {sorted(CONTINUOUS_DEFAULTS)}."
    )
  return found
