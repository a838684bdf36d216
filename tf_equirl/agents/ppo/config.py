"""Typed configuration of the PPO agent; defaults are the thesis' (Appendix 5.2)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from tf_equirl import checks
from tf_equirl.envs.defaults import find_env_defaults
from tf_equirl.networks import ACTOR_KINDS, CRITIC_KINDS
from tf_equirl.networks.builders import HIDDEN_KINDS
from tf_equirl.layers.relaxed import PARAMETERIZATIONS

# Where PPO standardises its advantages (PPOConfig.advantage_normalization).
ADVANTAGE_NORMALIZATIONS = ("minibatch", "batch", "none")


@dataclasses.dataclass
class PPOConfig:
  """PPO hyperparameters and the networks to train.

  Defaults follow thesis Appendix 5.2 (Tables 5.1, 5.3) and PureJaxRL's `ppo.py` where the
  thesis is silent. Where tf-agents' `PPOClipAgent` defaults differ they are overridden
  explicitly (see `tf_equirl.agents.ppo.learner.make_agent`):
    * tf-agents normalises observations and rewards by default: both off here.
    * tf-agents runs 25 full-batch epochs: here `num_epochs` epochs of `num_minibatches`
      shuffled minibatches, with GAE computed once per iteration and advantages normalised
      per minibatch (PureJaxRL).
    * tf-agents scales the squared value error by `value_pred_loss_coef`; PureJaxRL uses
      `vf_coef * 0.5 * max(err, clipped_err)`, so the agent gets `value_pred_loss_coef =
      0.5 * vf_coef`. Value clipping uses `clip_eps`, as PureJaxRL does.
    * tf-agents clips each gradient's norm separately; here the global norm is clipped
      (`max_grad_norm`), as optax.clip_by_global_norm in PureJaxRL.
    * tf-agents' GAE would bootstrap a truncated episode only with weight (1 - lambda);
      advantages are computed here so that truncation bootstraps fully and termination
      does not (see `learner.gae`).

  Attributes:
    env: registered environment name ("CartPole-v1", "Catch-v0", "GridWorld-v0").
    network: actor kind, one of `tf_equirl.networks.ACTOR_KINDS` ("mlp", "gcnn",
      "symmetrizer", "relaxed", "rpp", "encoder", "augment"). "augment" is the MLP trained on
      each batch and its images under the symmetry (`tf_equirl.agents.ppo.augmentation`):
      its minibatches are `|G|` times larger, so the Adam steps per iteration, the
      learning-rate schedule and the environment steps equal the plain MLP's.
    augment_weights: with `network="augment"`, weight each transformed sample's losses by
      the truncated importance weight `min(1, pi_old(g a | g s) / pi_old(a | s))` of the
      old policy at the transformed state against the behaviour that sampled `a` at `s`
      (decoupled PPO, Hilton et al. 2021, with V-trace's truncation at 1); the collected
      samples keep weight 1. On by default: without the weights the augmented MLP stalls on
      the grid world (0.58 at 50k steps, 0.45 at 100k; with them 0.68 and 0.78, 32 seeds,
      results/ppo_grid/README.md).
    group: which of the environment's symmetry groups the networks are built with, a key
      of `env.symmetries` ("C2" or "trivial" for CartPole and Catch; "D4", "C4", "C2" or
      "trivial" for the grid world); None is the environment's full `symmetry`. Checked
      against the environment when the agent is built.
    critic: critic kind, "mlp" (the thesis' choice) or "invariant" (GroupPool).
    width: hidden width of the actor, a positive integer; None matches the 64-64 MLP's
      parameter count.
    critic_width: hidden width of the critic, a positive integer; None matches the MLP
      critic.
    hidden: hidden regular layer of lifted G-CNNs: "permutation" (thesis eq. 4.15),
      "group_conv" or "siamese" (a dense layer shared by the group elements).
    relaxed_parameterization: how the `relaxed` networks store their relaxed weights,
      "direct" (one weight per group element and kernel) or "centered" (a mean plus a
      deviation with its own Adam normaliser, so that the weights can spread where the data
      is nearly symmetric; `tf_equirl.layers.relaxed`).
    total_steps: environment steps to train for (rounded down to whole iterations).
    num_envs: parallel environments (PureJaxRL NUM_ENVS = 4).
    num_steps: steps per environment per iteration (thesis Table 5.3 "update length" 128).
    num_epochs: passes over each iteration's batch (PureJaxRL UPDATE_EPOCHS = 4).
    num_minibatches: minibatches per epoch; the minibatch size is
      `num_envs * num_steps // num_minibatches` and a remainder is dropped (reshuffled each
      epoch). CartPole: 4 (minibatch 128, Table 5.1); Catch: 51 (minibatch 10, Table 5.2).
    learning_rate: Adam step size (thesis Tables 5.1/5.2: 3.5e-4).
    anneal_lr: linearly anneal the step size to 0 over training (PureJaxRL ANNEAL_LR).
    adam_epsilon: Adam epsilon (thesis: 1e-8).
    max_grad_norm: global gradient-norm clip (thesis: 0.5).
    clip_eps: PPO ratio clip and value clip (thesis Table 5.3: 0.2).
    vf_coef: value loss coefficient (0.5).
    ent_coef: entropy bonus coefficient (0.01).
    gamma: discount (0.99).
    gae_lambda: GAE lambda (0.95).
    advantage_normalization: where advantages are standardised (mean 0, standard deviation
      1): "minibatch" (PureJaxRL, the default), "batch" (once over the iteration's batch)
      or "none".
    seed: seed of the weights, the environment resets and the action sampling (>= 0).

  Every float field must be finite; `__post_init__` also checks the ranges (step sizes,
  epsilon, clips positive; `vf_coef`, `ent_coef` >= 0; `gamma`, `gae_lambda` in [0, 1]) and
  raises `ValueError` naming the field.
    iterations_per_call: iterations run inside one compiled call (fewer Python round trips;
      results do not depend on it).
    jit_compile: compile each call with XLA (turn off only for debugging).
  """

  env: str = "CartPole-v1"
  network: str = "gcnn"
  critic: str = "mlp"
  group: Optional[str] = None
  augment_weights: bool = True
  width: Optional[int] = None
  critic_width: Optional[int] = None
  hidden: str = "permutation"
  relaxed_parameterization: str = "direct"
  total_steps: int = 500_000
  num_envs: int = 4
  num_steps: int = 128
  num_epochs: int = 4
  num_minibatches: int = 4
  learning_rate: float = 3.5e-4
  anneal_lr: bool = True
  adam_epsilon: float = 1e-8
  max_grad_norm: float = 0.5
  clip_eps: float = 0.2
  vf_coef: float = 0.5
  ent_coef: float = 0.01
  gamma: float = 0.99
  gae_lambda: float = 0.95
  advantage_normalization: str = "minibatch"
  seed: int = 0
  iterations_per_call: int = 16
  jit_compile: bool = True

  def __post_init__(self):
    if self.network not in ACTOR_KINDS:
      raise ValueError(
        f"PPOConfig.network must be one of {ACTOR_KINDS}, received " f"{self.network!r}."
      )
    if self.critic not in CRITIC_KINDS:
      raise ValueError(
        f"PPOConfig.critic must be one of {CRITIC_KINDS}, received " f"{self.critic!r}."
      )
    if self.hidden not in HIDDEN_KINDS:
      raise ValueError(
        f"PPOConfig.hidden must be one of {HIDDEN_KINDS}, received " f"{self.hidden!r}."
      )
    if self.relaxed_parameterization not in PARAMETERIZATIONS:
      raise ValueError(
        f"PPOConfig.relaxed_parameterization must be one of "
        f"{PARAMETERIZATIONS}, received {self.relaxed_parameterization!r}."
      )
    if self.group is not None and (not isinstance(self.group, str) or not self.group):
      raise ValueError(
        f"PPOConfig.group must be None (the environment's full symmetry) or the "
        f"name of one of its symmetry groups, received {self.group!r}."
      )
    if not isinstance(self.env, str) or not self.env:
      raise ValueError(
        f"PPOConfig.env must be the name of a registered environment (or a "
        f"variant '<env>:<breaking>:<strength>'), received {self.env!r}."
      )
    for name in ("augment_weights", "anneal_lr", "jit_compile"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(
          f"PPOConfig.{name} must be True or False, received " f"{getattr(self, name)!r}."
        )
    for name in ("width", "critic_width"):
      checks.positive_int(
        "PPOConfig",
        name,
        getattr(self, name),
        allow_none=True,
        none_means="match the MLP's parameter count",
      )
    for name in (
      "total_steps",
      "num_envs",
      "num_steps",
      "num_epochs",
      "num_minibatches",
      "iterations_per_call",
    ):
      checks.positive_int("PPOConfig", name, getattr(self, name))
    checks.non_negative_int("PPOConfig", "seed", self.seed)
    if self.num_minibatches > self.batch_size:
      raise ValueError(
        f"PPOConfig.num_minibatches={self.num_minibatches} exceeds the batch of "
        f"{self.batch_size} transitions (num_envs * num_steps)."
      )
    if self.total_steps < self.batch_size:
      raise ValueError(
        f"PPOConfig.total_steps={self.total_steps} is less than one iteration "
        f"({self.batch_size} steps = num_envs * num_steps)."
      )
    for name in ("learning_rate", "adam_epsilon", "max_grad_norm", "clip_eps"):
      checks.positive_number("PPOConfig", name, getattr(self, name))
    for name in ("vf_coef", "ent_coef"):
      checks.non_negative_number("PPOConfig", name, getattr(self, name))
    for name in ("gamma", "gae_lambda"):
      checks.unit_interval("PPOConfig", name, getattr(self, name))
    checks.check_float_fields(self)  # any other float field: finite
    if self.advantage_normalization not in ADVANTAGE_NORMALIZATIONS:
      raise ValueError(
        f"PPOConfig.advantage_normalization must be one of "
        f"{ADVANTAGE_NORMALIZATIONS}, received {self.advantage_normalization!r}."
      )

  @property
  def batch_size(self) -> int:
    """Transitions collected per iteration."""
    return self.num_envs * self.num_steps

  @property
  def minibatch_size(self) -> int:
    return self.batch_size // self.num_minibatches

  @property
  def num_iterations(self) -> int:
    return self.total_steps // self.batch_size


# Named settings beside the thesis' printed ones. Each is measured against them by the
# registry's studies (`python -m launchers.reproduce_all --only=NAME`): ppo_gaps_catch and
# ppo_gaps_cartpole one hypothesis at a time, ppo_catch_large_step,
# ppo_catch_frequent_updates and ppo_cartpole_purejaxrl_step as 128-seed tables.
PRESETS = {
  # PureJaxRL ppo.py's own step size and Adam epsilon, against the 3.5e-4 that the thesis'
  # Table 5.1 prints for CartPole.
  "purejaxrl_step": {"learning_rate": 2.5e-4, "adam_epsilon": 1e-5},
  # A 7x larger Adam step.
  "large_step": {"learning_rate": 2.5e-3},
  # Updates twice as often: 64-step rollouts (256 transitions per iteration, still in
  # minibatches of about 10 on Catch), Adam 1e-3, no entropy bonus, GAE lambda 0.8.
  "frequent_updates": {
    "num_steps": 64,
    "num_minibatches": 25,
    "learning_rate": 1e-3,
    "ent_coef": 0.0,
    "gae_lambda": 0.8,
  },
}


def default_config(
  env: str = "CartPole-v1", preset: Optional[str] = None, **overrides: Any
) -> PPOConfig:
  """`PPOConfig` with the thesis' settings for `env` (`tf_equirl.envs.defaults`), then
  `PRESETS[preset]`, then `overrides`. A variant `env` ("Catch-v0:global:0.5") takes the
  settings of its base environment; an environment without defaults gets the dataclass's."""
  if preset is not None and preset not in PRESETS:
    raise ValueError(f"Unknown PPO preset {preset!r}; expected one of {sorted(PRESETS)}.")
  found = find_env_defaults(env) if isinstance(env, str) and env else None
  fields = dict(found.ppo) if found is not None else {}
  if preset is not None:
    fields.update(PRESETS[preset])
  fields.update(overrides)
  return PPOConfig(env=env, **fields)
