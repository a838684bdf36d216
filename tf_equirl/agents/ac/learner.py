"""Off-policy deterministic actor-critic (DrQ-v2 on states) with one compiled graph per call.

The recipe of the seed (Park et al. 2025, section 4.2 and D.1.1: DrQ-v2, Yarats et al. 2021,
with equivariant, relaxed or residual-pathway actor and critics). Each training call runs
`eval_every` env steps inside one `tf.function(jit_compile=True)`, top to bottom:

1. Act: the actor's mean action plus Gaussian noise whose standard deviation falls linearly
   from `noise_start` to `noise_end` over `noise_steps` agent steps, clipped to `[-1, 1]`;
   uniformly random actions for the first `random_steps` agent steps.
2. Step: every environment applies the action `action_repeat` times (rewards summed, an
   episode that ends inside the repeat stays at its next episode's start until the others
   finish the repeat).
3. Store: the agent step goes into the in-graph replay ring buffer (`replay.Replay`).
4. Update, once every `update_every` env steps after the random phase:
   a. sample `batch_size` n-step transitions (`replay.n_step_targets`); with
      `network="augment"` move each by a random group element;
   b. critic: `y = R + gamma^n d min_i Q'_i(s', clip(mu(s') + eps))`, `eps` the scheduled
      noise clipped to `noise_clip` (target policy smoothing), loss
      `mean (Q_1(s, a) - y)^2 + mean (Q_2(s, a) - y)^2` (`critic_loss`);
   c. actor: `-mean min_i Q_i(s, mu(s) + eps)` (`actor_loss`, the clip to `[-1, 1]` passes
      the gradient straight through, as DrQ-v2's truncated normal);
   d. target critic: `Q' <- tau Q + (1 - tau) Q'`.
Between calls the mean action is evaluated (`evaluate`) on `eval_episodes` parallel episodes,
optionally with Gaussian observation noise. After the last call the seed's evaluation protocol
(Park et al. 2025, 5.1) plays `final_episodes` episodes with the mean action, clean and, with
`final_obs_noise`, again on the same episodes with Gaussian noise on the observations the
actor sees (`final_evaluation`). Every draw is stateless from the seed
(`tf_equirl.rng`): a seed gives the same curve every time. The call is traced once (no
AutoGraph; every loop is an explicit `tf.while_loop`) and not retraced between calls.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tf_agents.trajectories import time_step as ts

from tf_equirl import checks, envs, rng, seed_axis
from tf_equirl.agents.ac.config import ACConfig, check_compiles
from tf_equirl.agents.ac.replay import NStepBatch, Replay
from tf_equirl.groups import MDPSymmetry
from tf_equirl.networks.continuous import (
  build_continuous_actor,
  build_continuous_critic,
  check_continuous,
)
from tf_equirl.params import count_params

__all__ = [
  "AC",
  "ACResult",
  "actor_loss",
  "critic_loss",
  "noise_std",
  "augment_batch",
  "METRICS",
]

ADAM_EPSILON = 1e-8  # PyTorch's default, DrQ-v2's optimiser
METRICS = ("critic_loss", "actor_loss", "q_mean", "updates", "episodes", "train_return")
_TRAIN_KEY, _EVAL_KEY, _FINAL_KEY = 0xAC, 0xE7A1, 0xF1A1


def noise_std(step, config: ACConfig) -> tf.Tensor:
  """DrQ-v2's `linear(noise_start, noise_end, noise_steps)` schedule at agent step `step`."""
  mix = tf.minimum(tf.cast(step, tf.float32) / float(config.noise_steps), 1.0)
  return (1.0 - mix) * config.noise_start + mix * config.noise_end


def _straight_through_clip(x: tf.Tensor) -> tf.Tensor:
  """`clip(x, -1, 1)` whose gradient is the identity (DrQ-v2's `TruncatedNormal._clamp`)."""
  return x + tf.stop_gradient(tf.clip_by_value(x, -1.0, 1.0) - x)


def critic_loss(
  critic: keras.Model,
  target_critic: keras.Model,
  actor: keras.Model,
  batch: NStepBatch,
  target_noise: tf.Tensor,
):
  """Clipped double-Q loss on an n-step batch; `(loss, q [B, 2])`.

  `y = reward + discount * min_i Q'_i(s', clip(actor(s') + target_noise, -1, 1))` (no
  gradient), loss `mean (Q_1 - y)^2 + mean (Q_2 - y)^2`: tf-agents' `Td3Agent.critic_loss`
  with a squared TD error, the online actor in place of a target actor (DrQ-v2 has none)
  and `target_noise` already clipped.
  """
  next_action = tf.clip_by_value(actor(batch.next_observation) + target_noise, -1.0, 1.0)
  target_q = tf.reduce_min(target_critic([batch.next_observation, next_action]), axis=1)
  y = tf.stop_gradient(batch.reward + batch.discount * target_q)
  q = critic([batch.observation, batch.action])
  loss = tf.reduce_sum(tf.reduce_mean(tf.square(q - y[:, None]), axis=0))
  return loss, q


def actor_loss(actor: keras.Model, critic: keras.Model, observation, noise) -> tf.Tensor:
  """`-mean min_i Q_i(s, clip(actor(s) + noise))`, the clip straight-through (DrQ-v2)."""
  action = _straight_through_clip(actor(observation) + noise)
  return -tf.reduce_mean(tf.reduce_min(critic([observation, action]), axis=1))


def augment_batch(symmetry: MDPSymmetry, batch: NStepBatch, key) -> NStepBatch:
  """Moves every sample by a uniformly drawn group element `g`: states by `rho(g)`, actions by
  `pi(g)`; rewards and discounts are invariant."""
  n = symmetry.group.order
  size = tf.shape(batch.reward)[0]
  g = tf.minimum(tf.cast(tf.floor(rng.uniform([size], key) * n), tf.int32), n - 1)
  rho = tf.gather(tf.constant(symmetry.state_rep.matrices, tf.float32), g)
  pi = tf.gather(tf.constant(symmetry.action_rep.matrices, tf.float32), g)
  move = lambda m, x: tf.einsum("bij,bj->bi", m, x)  # noqa: E731
  return batch._replace(
    observation=move(rho, batch.observation),
    action=move(pi, batch.action),
    next_observation=move(rho, batch.next_observation),
  )


def call_metrics(sums: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """`METRICS` of one training call from its sums (scalars, or `[N]` for N seeds): the
  losses and `q_mean` per update, the mean return of the episodes that finished (nan where
  there was no update or no finished episode)."""
  updates, episodes = sums["updates"], sums["episodes"]
  nan = tf.constant(np.nan)
  per_update = lambda x: tf.where(updates > 0, x / tf.maximum(updates, 1.0), nan)  # noqa: E731
  return {
    "critic_loss": per_update(sums["critic_loss"]),
    "actor_loss": per_update(sums["actor_loss"]),
    "q_mean": per_update(sums["q_mean"]),
    "updates": updates,
    "episodes": episodes,
    "train_return": tf.where(episodes > 0, sums["finished"] / tf.maximum(episodes, 1.0), nan),
  }


class Carry(NamedTuple):
  """What one training call hands to the next (all tensors)."""

  env_state: Any
  observation: tf.Tensor  # [E, d] the state the next action is taken in
  episode_return: tf.Tensor  # [E] return of the running episodes
  step: tf.Tensor  # int64 agent steps done
  key: tf.Tensor  # [2] int64 base key of the run


@dataclasses.dataclass
class ACResult:
  """Curves of one run: evaluations at `env_steps` (the first before any training)."""

  env_steps: np.ndarray
  eval_return: np.ndarray  # mean return of the evaluation episodes (mean action)
  metrics: Dict[str, np.ndarray]  # per training call (nan at the first point)
  compile_seconds: float  # wall time of the first call (tracing and XLA included)
  train_seconds: float  # wall time of the later calls
  # Per-episode returns of the final evaluation (`[final_episodes]`, empty when skipped) and
  # of the same episodes under `final_obs_noise` (empty when that is 0).
  final_returns: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros([0]))
  final_noisy_returns: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros([0]))

  @property
  def steps_per_second(self) -> float:
    """Env steps per second of the calls after the first (nan if there was one call)."""
    per_call = self.env_steps[1] - self.env_steps[0] if len(self.env_steps) > 1 else 0
    later = (len(self.env_steps) - 2) * per_call
    return float(later / self.train_seconds) if self.train_seconds > 0 else float("nan")

  def columns(self) -> Dict[str, np.ndarray]:
    """The per-seed CSV's columns: env steps, eval return, the training metrics."""
    return {"env_steps": self.env_steps, "eval_return": self.eval_return, **self.metrics}


def _freeze(ended: tf.Tensor, old, new):
  """`new` environment state, but `old` for the elements in `ended` (every field except the
  shared RNG key, which always advances)."""

  def pick(name):
    o, n = getattr(old, name), getattr(new, name)
    if name == "key":
      return n
    mask = tf.reshape(ended, [-1] + [1] * (n.shape.rank - 1))
    return tf.where(mask, o, n)

  return type(new)(*[pick(name) for name in new._fields])


class AC:
  """DrQ-v2-style deterministic actor-critic with (equivariant) networks.

  Args:
    config: an `ACConfig`.
    env: optional environment with continuous actions (default
      `envs.make(config.env, batch_size=config.num_envs)`): `pure_reset(key, batch_size)`,
      `pure_step_and_reset(state, action)`, `symmetry`, `get_symmetry(name)`,
      `max_episode_steps`, and a batch size of `config.num_envs`.

  `train(seed)` runs `config.total_steps` env steps and returns an `ACResult`.

  Raises:
    ValueError: an environment whose batch size is not `config.num_envs`, or whose symmetry
      has discrete actions.
  """

  # The per-call training metrics of `ACResult.metrics` (the CSV's columns after the return).
  metric_names: Tuple[str, ...] = METRICS

  def __init__(self, config: ACConfig, env: Optional[Any] = None):
    if not isinstance(config, ACConfig):
      raise ValueError(f"AC expects an ACConfig, received {type(config).__name__}.")
    if config.observation == "pixels" and type(self) is AC:
      raise ValueError(
        "AC trains on state observations; for observation='pixels' build "
        "tf_equirl.agents.ac.PixelAC(config) (or call make_agent(config), which picks one)."
      )
    self.config = cfg = config
    self.env = (
      env if env is not None else envs.make(cfg.env, batch_size=cfg.num_envs, seed=cfg.seed)
    )
    if self.env.batch_size != cfg.num_envs:
      raise ValueError(
        f"AC: the environment has batch_size {self.env.batch_size} but config.num_envs is "
        f"{cfg.num_envs}."
      )
    check_compiles(self.env, cfg, "AC")
    symmetry = self.env.symmetry if cfg.group is None else self.env.get_symmetry(cfg.group)
    self.symmetry = check_continuous(symmetry, f"AC on {cfg.env}")
    self.actor = self._build_actor()
    self.critic = self._build_critic()
    self.target_critic = self._build_critic()
    self.target_critic.set_weights(self.critic.get_weights())
    self.actor_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.critic_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.actor_optimizer.build(self.actor.trainable_variables)
    self.critic_optimizer.build(self.critic.trainable_variables)
    self.replay = Replay(
      cfg.replay_capacity // cfg.num_envs,
      cfg.num_envs,
      self.symmetry.state_dim,
      self.symmetry.action_dim,
    )
    per_step = cfg.env_steps_per_agent_step
    self._updates_per_step = max(per_step // cfg.update_every, 1)
    self._update_period = max(cfg.update_every // per_step, 1)
    self._train_call = tf.function(
      self._train_call_impl, jit_compile=cfg.jit_compile, autograph=False
    )
    self._players: Dict[Any, Callable] = {}
    self._carry: Optional[Carry] = None

  def _build_actor(self) -> keras.Model:
    c = self.config
    return build_continuous_actor(c.network, self.symmetry, c.width, c.num_kernels)

  def _build_critic(self) -> keras.Model:
    c = self.config
    return build_continuous_critic(c.network, self.symmetry, c.critic_width, c.num_kernels)

  def _reset_networks(self) -> None:
    """Fresh weights (from the seed just set), the target critic a copy of the critic, the
    optimisers' slots zeroed."""
    self.actor.set_weights(self._build_actor().get_weights())
    self.critic.set_weights(self._build_critic().get_weights())
    self.target_critic.set_weights(self.critic.get_weights())
    for v in self.actor_optimizer.variables + self.critic_optimizer.variables:
      v.assign(tf.zeros_like(v))

  # ------------------------------------------------------------------ properties
  @property
  def tracing_count(self) -> int:
    """Times the training call was traced (1 after any number of calls)."""
    return self._train_call.experimental_get_tracing_count()

  def parameter_counts(self) -> Dict[str, int]:
    return {"actor": count_params(self.actor), "critic": count_params(self.critic)}

  @property
  def trained_variables(self) -> list:
    """Every variable training moves (what the divergence check reads)."""
    return list(self.actor.variables) + list(self.critic.variables)

  # ---------------------------------------------------------------------- runs
  def reset(self, seed: int) -> None:
    """Re-initialises weights (seeded), optimisers, replay and environments for a new run."""
    keras.utils.set_random_seed(int(seed))
    self._reset_networks()
    self.replay.clear()
    key = tf.constant([int(seed), _TRAIN_KEY], tf.int64)
    env_state, time_step = self.env.pure_reset(rng.fold_in(key, -1))
    self._carry = Carry(
      env_state=env_state,
      observation=tf.cast(time_step.observation, tf.float32),
      episode_return=tf.zeros([self.config.num_envs]),
      step=tf.constant(0, tf.int64),
      key=key,
    )

  def train(
    self,
    seed: Optional[int] = None,
    callback: Optional[Callable[[int, float, Dict[str, float]], None]] = None,
  ) -> ACResult:
    """Runs `config.total_steps` env steps from `reset(seed or config.seed)`, evaluating the
    mean action before training and every `config.eval_every` env steps.

    `callback(env_steps, eval_return, metrics)` is called after every evaluation.
    """
    cfg = self.config
    seed = cfg.seed if seed is None else int(seed)
    # Seeding (Keras' global random state, which `reset` draws the initial weights from) and
    # tracing run one thread at a time: `run_ac_experiment` trains several agents at once,
    # each in its own thread; only the compiled calls run side by side.
    with seed_axis.PYTHON_STATE:
      self.reset(seed)
      if self.tracing_count == 0:
        self._train_call.get_concrete_function(self._carry)
    calls = cfg.total_steps // cfg.eval_every
    steps, returns = [0], [self.evaluate(seed, 0)]
    metrics = {name: [np.nan] for name in self.metric_names}
    compile_s = train_s = 0.0
    for call in range(calls):
      start = time.perf_counter()
      self._carry, values = self._train_call(self._carry)
      values = {k: float(v.numpy()) for k, v in values.items()}
      elapsed = time.perf_counter() - start
      if call == 0:
        compile_s = elapsed
      else:
        train_s += elapsed
      steps.append((call + 1) * cfg.eval_every)
      returns.append(self.evaluate(seed, call + 1))
      for name in self.metric_names:
        metrics[name].append(values[name])
      if callback is not None:
        callback(steps[-1], returns[-1], values)
    final, noisy = self.final_evaluation(seed)
    return ACResult(
      env_steps=np.asarray(steps, np.int64),
      eval_return=np.asarray(returns, np.float64),
      metrics={k: np.asarray(v, np.float64) for k, v in metrics.items()},
      compile_seconds=compile_s,
      train_seconds=train_s,
      final_returns=final,
      final_noisy_returns=noisy,
    )

  def evaluate(self, seed: int, index: int) -> float:
    """Mean return of `config.eval_episodes` episodes with the mean action (and the
    configured observation noise); `index` picks the episodes' seeds."""
    key = rng.fold_in(tf.constant([int(seed), _EVAL_KEY], tf.int64), int(index))
    returns = self._player(self.config.eval_episodes, self.config.eval_obs_noise)(key)
    return float(np.mean(returns.numpy()))

  def final_evaluation(
    self,
    seed: int,
    episodes: Optional[int] = None,
    obs_noise: Optional[float] = None,
  ) -> Tuple[np.ndarray, np.ndarray]:
    """The seed's final evaluation of the current actor: `(clean, noisy)` per-episode returns.

    Args:
      seed: picks the episodes (the same seed gives the same starts and noise draws).
      episodes: episodes played in parallel with the mean action (default
        `config.final_episodes`; 0 returns two empty arrays).
      obs_noise: standard deviation of the test-time Gaussian observation noise (default
        `config.final_obs_noise`); the noisy episodes start where the clean ones do. 0 leaves
        `noisy` empty.

    Returns:
      `(clean [episodes], noisy [episodes] or [0])`, float64 arrays.

    Raises:
      ValueError: a negative number of episodes or a negative noise.
    """
    cfg = self.config
    episodes = cfg.final_episodes if episodes is None else episodes
    obs_noise = cfg.final_obs_noise if obs_noise is None else obs_noise
    checks.non_negative_int("AC.final_evaluation", "episodes", episodes)
    checks.non_negative_number("AC.final_evaluation", "obs_noise", obs_noise)
    empty = np.zeros([0])
    if episodes == 0:
      return empty, empty
    key = tf.constant([int(seed), _FINAL_KEY], tf.int64)
    clean = self._player(episodes, 0.0)(key).numpy().astype(np.float64)
    if obs_noise == 0:
      return clean, empty
    return clean, self._player(episodes, float(obs_noise))(key).numpy().astype(np.float64)

  def _player(self, episodes: int, obs_noise: float) -> Callable:
    """The compiled evaluation of `episodes` parallel episodes with `obs_noise` (one graph
    per pair, kept)."""
    found = self._players.get((episodes, obs_noise))
    if found is None:
      fn = functools.partial(self._evaluate_impl, episodes=episodes, obs_noise=obs_noise)
      found = tf.function(fn, jit_compile=self.config.jit_compile, autograph=False)
      self._players[(episodes, obs_noise)] = found
    return found

  # ------------------------------------------------------------ compiled graph
  def _repeat_step(self, env_state, action):
    """`action_repeat` env steps of every environment; `(state, reward, discount, ended,
    next_observation, observation_to_act_in)`."""
    e = self.config.num_envs if action is None else action.shape[0]
    reward = tf.zeros([e])
    discount = tf.ones([e])
    ended = tf.zeros([e], tf.bool)
    next_obs = act_obs = None
    for _ in range(self.config.action_repeat):
      new_state, time_step, obs = self.env.pure_step_and_reset(env_state, action)
      active = tf.logical_not(ended)
      last = tf.logical_and(active, tf.equal(time_step.step_type, ts.StepType.LAST))
      reward += tf.where(active, time_step.reward, 0.0)
      discount = tf.where(active, discount * time_step.discount, discount)
      stepped_obs = tf.cast(time_step.observation, tf.float32)
      obs = tf.cast(obs, tf.float32)
      keep = tf.reshape(ended, [-1] + [1] * (stepped_obs.shape.rank - 1))  # vectors or images
      next_obs = stepped_obs if next_obs is None else tf.where(keep, next_obs, stepped_obs)
      act_obs = obs if act_obs is None else tf.where(keep, act_obs, obs)
      env_state = _freeze(ended, env_state, new_state)
      ended = tf.logical_or(ended, last)
    return env_state, reward, discount, ended, next_obs, act_obs

  def _act(self, observation, step, key, normal=None):
    """The exploring action; `normal` replaces the unit normal draw (with key `fold_in(key,
    0)`) where it was drawn outside (a seed axis cannot vectorise normal draws)."""
    cfg = self.config
    k = self.symmetry.action_dim
    # A static shape where there is one (a seed axis needs it to vectorise the draws).
    e = observation.shape[0]
    shape = [e, k] if e is not None else tf.concat([tf.shape(observation)[:1], [k]], 0)
    if normal is None:
      normal = rng.normal(shape, rng.fold_in(key, 0))
    explore = tf.clip_by_value(self._explore(observation, step, normal), -1.0, 1.0)
    # Uniform on the open (-1, 1): an env refuses actions outside [-1, 1].
    random = rng.uniform(shape, rng.fold_in(key, 1), -1.0, 1.0)
    return tf.where(step < cfg.random_steps, random, explore)

  def _explore(self, observation, step, normal):
    """The exploring action before its clip to `[-1, 1]` (which also catches XLA's tanh
    rounding past 1, see `_evaluate_impl`): the mean action plus the scheduled noise."""
    return self.actor(observation) + normal * noise_std(step, self.config)

  def _noise(self, key, std, normal=None):
    """Clipped target-smoothing noise; `normal` replaces the unit normal draw with `key`."""
    shape = [self.config.batch_size, self.symmetry.action_dim]
    c = self.config.noise_clip
    normal = rng.normal(shape, key) if normal is None else normal
    return tf.clip_by_value(normal * std, -c, c)

  def _update(self, key, std):
    """One critic step, one actor step, one target update; `(critic_loss, actor_loss, q)`."""
    cfg = self.config
    batch = self.replay.sample(rng.fold_in(key, 0), cfg.batch_size, cfg.n_step, cfg.gamma)
    if cfg.network == "augment":
      batch = augment_batch(self.symmetry, batch, rng.fold_in(key, 1))
    critic_vars = self.critic.trainable_variables
    with tf.GradientTape() as tape:
      c_loss, q = critic_loss(
        self.critic, self.target_critic, self.actor, batch, self._noise(rng.fold_in(key, 2), std)
      )
    self.critic_optimizer.apply_gradients(zip(tape.gradient(c_loss, critic_vars), critic_vars))
    actor_vars = self.actor.trainable_variables
    with tf.GradientTape() as tape:
      a_loss = actor_loss(
        self.actor, self.critic, batch.observation, self._noise(rng.fold_in(key, 3), std)
      )
    self.actor_optimizer.apply_gradients(zip(tape.gradient(a_loss, actor_vars), actor_vars))
    tau = cfg.tau
    for target, source in zip(self.target_critic.variables, self.critic.variables):
      target.assign(tau * source + (1.0 - tau) * target)
    return c_loss, a_loss, tf.reduce_mean(q)

  def _train_call_impl(self, carry: Carry):
    def act_and_step(carry: Carry, t):
      key = rng.fold_in(carry.key, t)
      action = self._act(carry.observation, t, rng.fold_in(key, 0))
      return (action,) + self._repeat_step(carry.env_state, action)

    def update(base_key, t, j, std):
      key = rng.fold_in(rng.fold_in(base_key, t), 1)
      return self._update(rng.fold_in(key, tf.cast(j, tf.int64)), std)

    return self._agent_steps(
      carry, tf.constant(0.0), act_and_step, update, self.replay, tf.reduce_sum
    )

  def _agent_steps(self, carry: Carry, zero, act_and_step, update, replay, total):
    """`config.agent_steps_per_call` agent steps, each: `act_and_step(carry, t)` (the action
    and `_repeat_step`'s outputs), store it in `replay`, and the due updates, `update(
    carry.key, t, j, std)` each; returns `(carry, call_metrics)`. `zero` is the sums' zero
    and `total` sums a step's per-environment values into it: a scalar and `tf.reduce_sum`
    here, `[N]` and a sum over the environment axis for a seed axis (`SeedBatchAC`, with its
    vectorised functions and replay)."""
    cfg = self.config
    names = ("critic_loss", "actor_loss", "q_mean", "updates", "episodes", "finished")
    sums = dict.fromkeys(names, zero)

    def agent_step(i, carry: Carry, sums):
      t = carry.step
      action, env_state, reward, discount, ended, next_obs, act_obs = act_and_step(carry, t)
      endf = tf.cast(ended, tf.float32)
      stored = replay.add(carry.observation, action, reward, discount, endf, next_obs)
      episode_return = carry.episode_return + reward
      sums = dict(sums)
      sums["episodes"] += total(endf)
      sums["finished"] += total(endf * episode_return)
      due = tf.logical_and(
        t >= cfg.random_steps, tf.equal(tf.math.floormod(t, self._update_period), 0)
      )
      with tf.control_dependencies([stored]):
        ready = tf.logical_and(due, replay.count >= cfg.n_step)
      num_updates = tf.where(ready, self._updates_per_step, 0)
      std = noise_std(t, cfg)

      def body(j, c_sum, a_sum, q_sum):
        c, a, q = update(carry.key, t, j, std)
        return j + 1, c_sum + c, a_sum + a, q_sum + q

      with tf.control_dependencies([stored]):
        _, c_sum, a_sum, q_sum = tf.while_loop(
          lambda j, *_: j < num_updates, body, (tf.constant(0), zero, zero, zero)
        )
      sums["critic_loss"] += c_sum
      sums["actor_loss"] += a_sum
      sums["q_mean"] += q_sum
      sums["updates"] += tf.cast(num_updates, tf.float32)
      carry = Carry(
        env_state=env_state,
        observation=act_obs,
        episode_return=episode_return * (1.0 - endf),
        step=t + 1,
        key=carry.key,
      )
      return i + 1, carry, sums

    _, carry, sums = tf.while_loop(
      lambda i, *_: i < cfg.agent_steps_per_call, agent_step, (tf.constant(0), carry, sums)
    )
    return carry, call_metrics(sums)

  def _evaluate_impl(self, key, episodes: int, obs_noise: float):
    """Returns `[episodes]` of one episode each with the mean action, the actor seeing the
    observations plus Gaussian noise of standard deviation `obs_noise`."""
    cfg = self.config
    b = episodes
    state, time_step = self.env.pure_reset(rng.fold_in(key, 0), batch_size=b)
    limit = self.env.max_episode_steps or 10_000
    max_steps = -(-limit // cfg.action_repeat)

    def body(i, state, obs, returns, done):
      seen = obs
      if obs_noise > 0:
        seen = obs + obs_noise * rng.normal(
          tf.shape(obs), rng.fold_in(key, tf.cast(i, tf.int64) + 1)
        )
      # XLA's tanh can land a rounding error outside [-1, 1], which an env refuses.
      action = tf.clip_by_value(self.actor(seen), -1.0, 1.0)
      for _ in range(cfg.action_repeat):
        state, time_step, next_obs = self.env.pure_step_and_reset(state, action)
        returns += tf.where(done, 0.0, time_step.reward)
        done = tf.logical_or(done, tf.equal(time_step.step_type, ts.StepType.LAST))
        obs = tf.cast(next_obs, tf.float32)
      return i + 1, state, obs, returns, done

    obs = tf.cast(time_step.observation, tf.float32)
    _, _, _, returns, _ = tf.while_loop(
      lambda i, s, o, r, done: tf.logical_and(i < max_steps, tf.logical_not(tf.reduce_all(done))),
      body,
      (tf.constant(0), state, obs, tf.zeros([b]), tf.zeros([b], tf.bool)),
    )
    return returns
