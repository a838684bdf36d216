"""Typed configuration of the off-policy actor-critic agent (DrQ-v2's recipe on states)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

from tf_equirl import checks
from tf_equirl.networks.continuous import CONTINUOUS_KINDS
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS, latent_size

OBSERVATIONS = ("state", "pixels")
# "drqv2": the deterministic actor with scheduled exploration noise (`AC`); "sac": a
# squashed Gaussian actor with a learned entropy temperature (`tf_equirl.agents.ac.SAC`).
ALGORITHMS = ("drqv2", "sac")
# The actor and critic kinds that each pixel encoder's features can feed (the first is the
# default): the cnn's flat features go to the mlp, a group encoder's regular features to
# equivariant heads of its own kind, so that the whole agent keeps the encoder's symmetry.
_HEADS = {
  "cnn": ("mlp",),
  "gcnn": ("gcnn",),
  "relaxed": ("relaxed", "relaxed_centered"),
  "rpp": ("rpp",),
}


@dataclasses.dataclass
class ACConfig:
  """Hyperparameters of `tf_equirl.agents.ac.AC`; defaults are DrQ-v2's (Yarats et al. 2021),
  as the seed recipe (Park et al. 2025, D.1.1) keeps them, with its 500k replay buffer.

  Counting: an *agent step* chooses one action per environment and repeats it
  `action_repeat` times; `num_envs` environments step together, so an agent step is
  `num_envs * action_repeat` *env steps*. Budgets, evaluation points and the update rate are
  in env steps; the random phase and the exploration schedule in agent steps, as in DrQ-v2.

  Attributes:
    env: registered environment name with continuous actions ("Pendulum-v1").
    algorithm: "drqv2" (the deterministic actor, `AC`) or "sac" (soft actor-critic with the
      same loop, replay, n-step returns, twin critics and target critic: a tanh-squashed
      Gaussian actor and a learned temperature, `tf_equirl.agents.ac.SAC`; state
      observations). SAC ignores the `noise_*` fields: it explores by sampling its policy.
    network: actor and critic kind, one of `tf_equirl.networks.continuous.CONTINUOUS_KINDS`
      ("mlp", "gcnn", "relaxed", "relaxed_centered", "rpp", "augment"). "augment" trains the
      mlp networks on minibatches in which every sample is moved by a random group element.
    group: which of the environment's symmetry groups the networks use (a key of
      `env.symmetries`); None is the environment's full symmetry.
    width: hidden width of the actor; None matches the mlp's parameter count.
    critic_width: hidden width of each critic trunk; None matches the mlp's.
    num_kernels: L of the relaxed layers (the relaxed kinds), 1 as in the seed.
    total_steps: env steps of the run.
    num_envs: environments stepped in parallel.
    action_repeat: env steps each chosen action is applied for (rewards summed).
    random_steps: first agent steps with uniformly random actions (DrQ-v2's 4,000 seed
      frames at action repeat 2); updates start after them.
    update_every: env steps between two updates. DrQ-v2 updates once every 2 agent steps,
      4 env steps at its action repeat 2 (the default).
      Either a multiple or a divisor of `num_envs * action_repeat`.
    noise_start: exploration noise standard deviation at agent step 0 (actions in [-1, 1]).
    noise_end: standard deviation reached at `noise_steps` and kept after.
    noise_steps: agent steps of the linear exploration schedule.
    noise_clip: clip of the noise added to the actions of the critic's target and of the
      actor's loss (target policy smoothing).
    n_step: length of the multi-step returns.
    gamma: discount per agent step.
    tau: speed of the target critic's exponential moving average.
    batch_size: minibatch size of each update.
    learning_rate: Adam step size of the actor and of the critic.
    replay_capacity: transitions the in-graph replay ring buffer holds (all environments
      together; each environment gets `replay_capacity // num_envs` slots).
    eval_every: env steps between two evaluations (the points of the learning curve).
    eval_episodes: episodes per evaluation, played in parallel with the mean action.
    eval_obs_noise: standard deviation of Gaussian noise added to the observations the actor
      sees during the periodic evaluations (0: none).
    final_episodes: episodes of the final evaluation of the mean action after training
      (the seed's 50 per run, Park et al. 2025, 5.1); 0 skips it.
    final_obs_noise: standard deviation of the Gaussian observation noise of a second final
      evaluation on the same episodes (the seed's test-time robustness check: 0.02 for
      Acrobot and Reacher, 0.06 for CartPole, `ContinuousDefaults.eval_noise_sigma`); 0
      skips it.
    seed: seed of the run (networks, environments, noise, minibatches).
    jit_compile: compile each training call with XLA.
    init_temperature: SAC's entropy temperature alpha at the start (0.1 as DrQ and
      pytorch_sac).
    target_entropy: SAC's entropy target of the temperature loss; None is minus the action
      dimension (tf-agents' and pytorch_sac's default).
    log_std_min: lower bound of SAC's log standard deviation (before the tanh).
    log_std_max: upper bound of SAC's log standard deviation.
    observation: "state" (the environment's state vector) or "pixels" (pictures of the
      state, `tf_equirl.envs.render`; the agent is `tf_equirl.agents.ac.pixels.PixelAC`).
    image_size: odd side of the pictures with observation="pixels" (85 as the seed; 53 and
      37 keep the encoder's grid centred too).
    frame_stack: pictures of the last agent steps stacked on the channel axis with
      observation="pixels" (one per agent step, `action_repeat` env steps apart, as DrQ-v2).
    encoder: pixel encoder kind, one of `tf_equirl.networks.pixel.PIXEL_ENCODER_KINDS`
      ("cnn", "gcnn", "relaxed", "rpp"). "cnn" feeds the mlp actor and critic; the group
      kinds feed their regular features to the actor and critic of `network` ("mlp", the
      default, means the encoder's own kind; "relaxed_centered" goes with "relaxed").
    encoder_channels: channels of the encoder's convolutions (per group element for the group
      kinds); None: 32 for "cnn", the cnn's parameter count for the group kinds.
    trunk_features: features of DrQ-v2's trunk between the encoder and the actor and critic
      heads with observation="pixels" (a linear layer, layer normalisation, tanh; 50 as
      DrQ-v2, divided by |G| into channels per element for the group heads); 0 leaves it
      out.
  """

  env: str = "Pendulum-v1"
  algorithm: str = "drqv2"
  network: str = "mlp"
  group: Optional[str] = None
  width: Optional[int] = None
  critic_width: Optional[int] = None
  num_kernels: int = 1
  total_steps: int = 100_000
  num_envs: int = 1
  action_repeat: int = 2
  random_steps: int = 2_000
  update_every: int = 4
  noise_start: float = 1.0
  noise_end: float = 0.1
  noise_steps: int = 100_000
  noise_clip: float = 0.3
  n_step: int = 3
  gamma: float = 0.99
  tau: float = 0.01
  batch_size: int = 256
  learning_rate: float = 1e-4
  replay_capacity: int = 500_000
  eval_every: int = 5_000
  eval_episodes: int = 10
  eval_obs_noise: float = 0.0
  final_episodes: int = 50
  final_obs_noise: float = 0.0
  seed: int = 0
  jit_compile: bool = True
  init_temperature: float = 0.1
  target_entropy: Optional[float] = None
  log_std_min: float = -5.0
  log_std_max: float = 2.0
  observation: str = "state"
  image_size: int = 85
  frame_stack: int = 3
  encoder: str = "cnn"
  encoder_channels: Optional[int] = None
  trunk_features: int = 50

  def __post_init__(self):
    owner = "ACConfig"
    if not isinstance(self.env, str) or not self.env:
      raise ValueError(
        f"{owner}.env must be the name of a registered environment with continuous actions, "
        f"received {self.env!r}."
      )
    if self.algorithm not in ALGORITHMS:
      raise ValueError(
        f"{owner}.algorithm must be one of {ALGORITHMS}, received {self.algorithm!r}."
      )
    if self.network not in CONTINUOUS_KINDS:
      raise ValueError(
        f"{owner}.network must be one of {CONTINUOUS_KINDS}, received {self.network!r}."
      )
    if self.group is not None and (not isinstance(self.group, str) or not self.group):
      raise ValueError(
        f"{owner}.group must be None (the environment's full symmetry) or the name of one "
        f"of its symmetry groups, received {self.group!r}."
      )
    for name in ("width", "critic_width"):
      checks.positive_int(
        owner, name, getattr(self, name), allow_none=True, none_means="match the mlp"
      )
    for name in (
      "num_kernels",
      "total_steps",
      "num_envs",
      "action_repeat",
      "update_every",
      "noise_steps",
      "n_step",
      "batch_size",
      "replay_capacity",
      "eval_every",
      "eval_episodes",
    ):
      checks.positive_int(owner, name, getattr(self, name))
    checks.non_negative_int(owner, "random_steps", self.random_steps)
    checks.non_negative_int(owner, "seed", self.seed)
    checks.non_negative_int(owner, "final_episodes", self.final_episodes)
    checks.check_float_fields(self)
    for name in ("noise_start", "noise_end", "noise_clip", "eval_obs_noise", "final_obs_noise"):
      checks.non_negative_number(owner, name, getattr(self, name))
    checks.positive_number(owner, "learning_rate", self.learning_rate)
    checks.positive_number(owner, "init_temperature", self.init_temperature)
    if self.log_std_min >= self.log_std_max:
      raise ValueError(
        f"{owner}.log_std_min={self.log_std_min} must be below log_std_max=" f"{self.log_std_max}."
      )
    for name in ("gamma", "tau"):
      checks.unit_interval(owner, name, getattr(self, name))
    if self.tau == 0:
      raise ValueError(f"{owner}.tau must lie in (0, 1] (0 never moves the target critic).")
    if not isinstance(self.jit_compile, bool):
      raise ValueError(f"{owner}.jit_compile must be True or False, received {self.jit_compile!r}.")
    per_step = self.env_steps_per_agent_step
    if per_step % self.update_every and self.update_every % per_step:
      raise ValueError(
        f"{owner}.update_every={self.update_every} env steps must be a multiple or a divisor "
        f"of the env steps of one agent step, num_envs * action_repeat = {per_step}."
      )
    if self.eval_every % per_step:
      raise ValueError(
        f"{owner}.eval_every={self.eval_every} must be a multiple of num_envs * action_repeat "
        f"= {per_step} env steps (evaluations fall between agent steps)."
      )
    if self.total_steps % self.eval_every:
      raise ValueError(
        f"{owner}.total_steps={self.total_steps} must be a multiple of eval_every="
        f"{self.eval_every} (one training call between evaluations)."
      )
    slots = self.replay_capacity // self.num_envs
    if slots < max(self.n_step, 2):
      raise ValueError(
        f"{owner}.replay_capacity={self.replay_capacity} leaves {slots} slots per environment "
        f"for num_envs={self.num_envs}; expected at least n_step={self.n_step}."
      )
    self._check_pixels()

  def _check_pixels(self) -> None:
    owner = "ACConfig"
    if self.observation not in OBSERVATIONS:
      raise ValueError(
        f"{owner}.observation must be one of {OBSERVATIONS}, received {self.observation!r}."
      )
    checks.positive_int(owner, "frame_stack", self.frame_stack)
    checks.positive_int(owner, "image_size", self.image_size)
    checks.positive_int(
      owner, "encoder_channels", self.encoder_channels, allow_none=True, none_means="match"
    )
    checks.non_negative_int(owner, "trunk_features", self.trunk_features)
    if self.encoder not in PIXEL_ENCODER_KINDS:
      raise ValueError(
        f"{owner}.encoder must be one of {PIXEL_ENCODER_KINDS}, received {self.encoder!r}."
      )
    if self.observation != "pixels":
      return
    if self.algorithm == "sac":
      raise ValueError(
        f"{owner}: algorithm='sac' trains on state observations; the pixel agent is "
        "DrQ-v2's (algorithm='drqv2')."
      )
    if latent_size(self.image_size) is None:
      working = [n for n in range(3, 130) if latent_size(n) is not None]
      raise ValueError(
        f"{owner}.image_size={self.image_size} does not keep the pixel encoder's grid centred "
        f"(an odd size is needed as well); sizes that work: {working}."
      )
    self.head_kind  # noqa: B018 (raises for an encoder and network that do not fit)

  @property
  def head_kind(self) -> str:
    """Kind of the actor and critic on the encoder's features (observation="pixels")."""
    fits = _HEADS[self.encoder]
    if self.network == "mlp":
      return fits[0]
    if self.network not in fits:
      raise ValueError(
        f"ACConfig: encoder={self.encoder!r} feeds the heads {fits}, received network="
        f"{self.network!r}; "
        + (
          "the cnn encoder has no group axis, so pick a group encoder (encoder='gcnn', "
          "'relaxed' or 'rpp') for equivariant heads."
          if self.encoder == "cnn"
          else "'mlp' (the default) picks the encoder's own kind."
        )
      )
    return self.network

  def training_modules(self) -> Tuple[str, ...]:
    """The modules whose import closure trains this config (`tf_equirl.runs.code_version`):
    the actor-critic's experiment driver, and the pixel agent for `observation="pixels"`. An
    agent on states imports none of the pixel side (renderers, encoders, the pixel agent),
    so editing that keeps its finished runs."""
    modules = ("tf_equirl.agents.ac.experiment",)
    return modules + (("tf_equirl.agents.ac.pixels",) if self.observation == "pixels" else ())

  @property
  def env_steps_per_agent_step(self) -> int:
    return self.num_envs * self.action_repeat

  @property
  def agent_steps_per_call(self) -> int:
    """Agent steps of one compiled training call (one evaluation interval)."""
    return self.eval_every // self.env_steps_per_agent_step


def check_compiles(env, config: ACConfig, agent: str) -> None:
  """Raises a named error where `config.jit_compile` asks XLA to compile an environment that
  steps through Python (`env.compiles_with_xla` False, e.g. dm_control's tasks).

  Raises:
    ValueError: for `jit_compile=True` with such an environment.
  """
  # An environment that is not a BatchedEnvironment (a test's stand-in) is taken to be TF ops.
  if config.jit_compile and not getattr(env, "compiles_with_xla", True):
    raise ValueError(
      f"{agent}: {env.name} steps through Python (tf.numpy_function), which XLA cannot "
      "compile; set ACConfig.jit_compile=False (train_ac --nojit_compile) to train on it "
      "in a graph without XLA."
    )


def default_ac_config(env: str = "Pendulum-v1", **overrides: Any) -> ACConfig:
  """`ACConfig` for `env` with DrQ-v2's settings (the dataclass's defaults), compiled with XLA
  where the environment can be (`compiles_with_xla`; dm_control's tasks step through Python
  and train as graphs without it), then `overrides`. What `tf_equirl.sweeps` builds an
  actor-critic sweep's base config with.

  Raises:
    ValueError: an unknown environment or a bad override.
  """
  from tf_equirl import envs  # pylint: disable=import-outside-toplevel

  fields: dict = {}
  if "jit_compile" not in overrides:
    fields["jit_compile"] = bool(getattr(envs.make(env), "compiles_with_xla", True))
  fields.update(overrides)
  return ACConfig(env=env, **fields)


def check_ac_config(config: ACConfig) -> None:
  """Raises a ValueError naming what the dataclass cannot see: an unknown environment, a
  symmetry group it does not have, discrete actions, or `jit_compile=True` on an environment
  XLA cannot compile (what `tf_equirl.sweeps` checks before any trial starts)."""
  # pylint: disable=import-outside-toplevel
  from tf_equirl import envs
  from tf_equirl.networks.continuous import check_continuous

  env = envs.make(config.env)
  symmetry = env.symmetry if config.group is None else env.get_symmetry(config.group)
  check_continuous(symmetry, f"ACConfig.env={config.env!r}")
  check_compiles(env, config, "ACConfig")
