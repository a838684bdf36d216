"""Typed configuration of the Dyna driver; defaults are the thesis' (4.7.1, 4.8, App. 5.2)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

from tf_equirl import checks
from tf_equirl.agents.ppo.config import PPOConfig, default_config
from tf_equirl.envs.defaults import find_env_defaults

__all__ = [
  "DynaConfig",
  "default_dyna_config",
  "MODES",
  "WORLD_MODELS",
  "LEARNED_WORLD_MODELS",
  "MODEL_BUFFERS",
  "ROLLOUT_STARTS",
]

MODES = ("supervised", "online")
WORLD_MODELS = ("mlp", "gcnn", "gcnn_proximal", "true")
# The learned kinds (a Keras transition model); "true" plans on the real environment itself.
LEARNED_WORLD_MODELS = ("mlp", "gcnn", "gcnn_proximal")
MODEL_BUFFERS = ("iteration", "all")
ROLLOUT_STARTS = ("reset", "buffer")


@dataclasses.dataclass
class DynaConfig:
  """Dyna with a PPO actor-critic and a (possibly equivariant) world model.

  One Dyna iteration (thesis Algorithms 2 and 6) is:

  1. acting: `acting_iterations` PPO iterations on the real environment (`ppo.num_envs x
     ppo.num_steps` real transitions each); the transitions go to the model buffer;
  2. model learning (`mode="online"` only): `model_epochs` epochs over the model buffer;
  3. planning: PPO iterations on the world model until `planning_ratio` times the real
     steps of the run so far have been planned.

  Real steps per Dyna iteration are `total_steps / dyna_iterations` rounded up to whole PPO
  iterations; that is the acting buffer `|D|` of eq. 4.34, and the planned steps per Dyna
  iteration are `|D_p| = planning_ratio |D|` (eq. 4.35). Fractional planning iterations
  carry over (ratio 0.5 with one acting iteration plans one iteration every other Dyna
  iteration), so over a run exactly `planning_ratio` planned steps are made per real step.

  Attributes:
    ppo: the PPO settings of the actor-critic (network kinds, widths, learning rate...).
      `ppo.total_steps` is the budget of real environment steps.
    mode: `"supervised"` (Alg. 6: a pretrained, frozen world model) or `"online"` (Alg. 2:
      the world model starts from scratch and learns from the real transitions).
    world_model: `"mlp"`, `"gcnn"` (G-CNN with exact mean pooling), `"gcnn_proximal"`
      (G-CNN with the thesis' proximal pooling) or `"true"`: the control that plans on the
      real environment itself (its reset distribution, dynamics, reward and termination, in
      planning states of its own and from its own random stream), the upper bound of any
      world model. `"true"` has nothing to learn or load: in both modes the model-learning
      phase is skipped (`model_epochs` and the model optimiser are unused) and
      `world_model_path` must stay None.
    model_training: online mode: whether the world model learns. False is the lower-bound
      control: the world model keeps the random initial weights of its seed (re-drawn per
      seed, as a learning one starts) and is never updated, while acting and planning run
      as usual. Must stay True in supervised mode (the model is pretrained and frozen
      already) and with `world_model="true"` (nothing to learn).
    learned_outcome: online mode, a learned world model: the world model also learns the
      reward and the termination of each step (two invariant output columns, trained on
      every real transition, terminal ones included; `TransitionSpec.outcome`) and planning
      uses its predictions. False (the thesis, eq. 4.21): planning applies the environment's
      own reward and termination rules to the predicted state (and, for Catch, the game's
      rule for the ball's last step, `tf_equirl.agents.dyna.world`).
    world_model_path: supervised mode: a zoo name (`"cartpole/gcnn_transition"`) or a
      `.keras` file; None takes the zoo's model of `world_model` for the environment.
    planning_ratio: planned steps per real step (> 0; thesis: 1, 2, 4, 8).
    dyna_iterations: acting/planning alternations over the run (thesis: 50).
    model_epochs: online mode: epochs over the model buffer per Dyna iteration (None: 100
      for CartPole, 10 for Catch, thesis 4.8).
    model_batch_size, model_learning_rate, model_max_grad_norm, model_adam_epsilon: the
      world model's Adam (thesis Table 5.5: 64, 1e-3, 0.5, 1e-8).
    model_buffer: `"iteration"`: the model learns from the last acting phase's transitions
      only (the thesis' `|D| = steps / dyna_iterations`, eq. 4.34); `"all"`: from every real
      transition of the run.
    orbit_augmentation: add `(rho(g) s, pi(g) a, rho(g) s')` for every group element `g` to
      the model buffer, |G| times the data for free (works for the MLP model too).
    rollout_start: `"reset"`: planned episodes start from the environment's reset
      distribution and run to their end (the thesis); `"buffer"`: they branch from real
      states in the model buffer and are cut after `rollout_horizon` steps.
    rollout_horizon: planned episode length limit (a truncation, bootstrapped). None: the
      environment's own limit with `"reset"` starts; required with `"buffer"` starts.
    seed: seed of everything (weights, environments, sampling, model training).
    iterations_per_call: PPO iterations per compiled call inside a phase (no effect on
      results).

  Every float field must be finite; `__post_init__` raises `ValueError` naming the field for
  a value out of range.
  """

  ppo: PPOConfig = dataclasses.field(
    default_factory=lambda: default_config("CartPole-v1", network="mlp")
  )
  mode: str = "supervised"
  world_model: str = "gcnn"
  world_model_path: Optional[str] = None
  model_training: bool = True
  learned_outcome: bool = False
  planning_ratio: float = 1.0
  dyna_iterations: int = 50  # thesis 4.7.5.3, 4.7.6.2
  model_epochs: Optional[int] = None
  model_batch_size: int = 64  # thesis Table 5.5
  model_learning_rate: float = 1e-3  # thesis Table 5.5
  model_max_grad_norm: float = 0.5  # thesis Table 5.5
  model_adam_epsilon: float = 1e-8  # thesis Table 5.5
  model_buffer: str = "iteration"
  orbit_augmentation: bool = False
  rollout_start: str = "reset"
  rollout_horizon: Optional[int] = None

  def __post_init__(self):
    if isinstance(self.ppo, dict):  # from dataclasses.asdict / JSON (sweeps, summary.json)
      self.ppo = PPOConfig(**self.ppo)
    if not isinstance(self.ppo, PPOConfig):
      raise ValueError(f"DynaConfig.ppo must be a PPOConfig, received {type(self.ppo).__name__}.")
    for name, allowed in (
      ("mode", MODES),
      ("world_model", WORLD_MODELS),
      ("model_buffer", MODEL_BUFFERS),
      ("rollout_start", ROLLOUT_STARTS),
    ):
      if getattr(self, name) not in allowed:
        raise ValueError(
          f"DynaConfig.{name} must be one of {allowed}, received " f"{getattr(self, name)!r}."
        )
    ratio = self.planning_ratio
    if (
      isinstance(ratio, bool)
      or not isinstance(ratio, (int, float))
      or not (math.isfinite(ratio) and ratio > 0)
    ):
      raise ValueError(
        "DynaConfig.planning_ratio must be a positive number (planned steps per "
        f"real step), received {ratio!r}; for no planning train PPO itself."
      )
    for name in ("dyna_iterations", "model_batch_size"):
      checks.positive_int("DynaConfig", name, getattr(self, name))
    for name in ("model_epochs", "rollout_horizon"):
      checks.positive_int("DynaConfig", name, getattr(self, name), allow_none=True)
    for name in ("model_learning_rate", "model_max_grad_norm", "model_adam_epsilon"):
      checks.positive_number("DynaConfig", name, getattr(self, name))
    checks.check_float_fields(self)  # any other float field: finite
    if not isinstance(self.orbit_augmentation, bool):
      raise ValueError(
        "DynaConfig.orbit_augmentation must be True or False, received "
        f"{self.orbit_augmentation!r}."
      )
    if not isinstance(self.model_training, bool):
      raise ValueError(
        f"DynaConfig.model_training must be True or False, received {self.model_training!r}."
      )
    if not isinstance(self.learned_outcome, bool):
      raise ValueError(
        f"DynaConfig.learned_outcome must be True or False, received {self.learned_outcome!r}."
      )
    if self.learned_outcome and (self.mode != "online" or self.world_model == "true"):
      raise ValueError(
        "DynaConfig.learned_outcome=True (a world model that learns reward and termination) "
        f"needs mode='online' and a learned world_model (one of {LEARNED_WORLD_MODELS}), "
        f"received mode={self.mode!r}, world_model={self.world_model!r}: the zoo's "
        "pretrained models predict the next state only, and the 'true' model uses the "
        "environment's own rules."
      )
    if not self.model_training and (self.mode != "online" or self.world_model == "true"):
      raise ValueError(
        "DynaConfig.model_training=False (an untrained, never-updated world model) needs "
        "mode='online' and a learned world_model (one of "
        f"{LEARNED_WORLD_MODELS}), received mode={self.mode!r}, "
        f"world_model={self.world_model!r}: the supervised model is frozen already and the "
        "'true' model has nothing to learn."
      )
    if self.world_model == "true" and self.world_model_path is not None:
      raise ValueError(
        "DynaConfig.world_model='true' plans on the real environment and loads no model; "
        f"world_model_path must be None, received {self.world_model_path!r}."
      )
    if self.world_model_path is not None and (
      not isinstance(self.world_model_path, str) or not self.world_model_path
    ):
      raise ValueError(
        "DynaConfig.world_model_path must be None (the zoo's model) or a zoo "
        f"name or .keras file, received {self.world_model_path!r}."
      )
    if self.rollout_start == "buffer" and self.rollout_horizon is None:
      raise ValueError(
        "DynaConfig.rollout_start='buffer' needs rollout_horizon (planned steps "
        "per branched rollout), received None."
      )
    if self.mode == "online" and self.world_model_path is not None:
      raise ValueError(
        "DynaConfig.world_model_path is for mode='supervised'; the online mode "
        f"learns its world model from scratch (received {self.world_model_path!r})."
      )
    if self.ppo.num_iterations < self.dyna_iterations:
      raise ValueError(
        f"DynaConfig.dyna_iterations={self.dyna_iterations} needs at least one PPO iteration "
        f"({self.ppo.batch_size} real steps = num_envs * num_steps) per Dyna iteration, but "
        f"ppo.total_steps={self.ppo.total_steps} allows {self.ppo.num_iterations}; lower "
        "dyna_iterations or ppo.num_steps."
      )

  # ------------------------------------------------------------------ derived sizes
  @property
  def env(self) -> str:
    return self.ppo.env

  @property
  def seed(self) -> int:
    return self.ppo.seed

  @property
  def acting_iterations(self) -> int:
    """PPO iterations on the real environment per Dyna iteration."""
    return -(-self.ppo.num_iterations // self.dyna_iterations)

  @property
  def real_steps_per_iteration(self) -> int:
    """`|D|` of eq. 4.34: real transitions collected per Dyna iteration."""
    return self.acting_iterations * self.ppo.batch_size

  @property
  def total_real_steps(self) -> int:
    return self.real_steps_per_iteration * self.dyna_iterations

  def planning_iterations(self, dyna_iteration: int) -> int:
    """PPO iterations on the world model in Dyna iteration `dyna_iteration` (0-based)."""
    per = self.planning_ratio * self.acting_iterations
    return int(
      math.floor(per * (dyna_iteration + 1) + 1e-9) - math.floor(per * dyna_iteration + 1e-9)
    )

  @property
  def learns_world_model(self) -> bool:
    """Whether the model-learning phase runs: online mode, a learned kind, `model_training`."""
    return self.mode == "online" and self.world_model != "true" and self.model_training

  @property
  def epochs(self) -> int:
    """Model epochs per Dyna iteration (online mode)."""
    if self.model_epochs is not None:
      return self.model_epochs
    found = find_env_defaults(self.env)
    if found is None or found.dyna_model_epochs is None:
      return 10
    return found.dyna_model_epochs


def default_dyna_config(
  env: str = "CartPole-v1", ppo_overrides: Optional[dict] = None, **overrides: Any
) -> DynaConfig:
  """`DynaConfig` with the thesis' settings for `env` (`tf_equirl.envs.defaults`) and an MLP
  actor-critic (thesis 4.7.5.3: "conventional MLP actor-critics"), then `ppo_overrides` and
  `overrides`."""
  ppo_fields = dict(network="mlp", critic="mlp")
  found = find_env_defaults(env)
  ppo_fields.update((found.dyna_ppo or {}) if found is not None else {})
  ppo_fields.update(ppo_overrides or {})
  return DynaConfig(ppo=default_config(env, **ppo_fields), **overrides)
