"""PPO on tf-agents with one compiled graph per training call (collect, GAE, all updates).

The loop reads top to bottom, as in PureJaxRL's `ppo.py` (thesis Algorithm 5):

1. `_collect`: `num_steps` steps of `num_envs` environments inside a `tf.while_loop`,
   sampling from the actor with stateless seeds. The environment step is swappable (the
   Dyna driver passes a learned model's) and starts the next episode in the same call
   where one ended, so every stored step is a real transition and no step is spent on a
   reset (see `StepFn`).
2. `gae`: advantages and value targets, once per iteration.
3. `_update`: `num_epochs` x `num_minibatches` Adam steps on tf-agents'
   `PPOClipAgent.get_loss` (clipped surrogate, clipped value loss, entropy bonus). For the
   `augment` network kind the batch is first extended by its images under the symmetry,
   with old log-probabilities and values recomputed there (`augmentation.augment_batch`);
   the minibatches grow by `|G|`, the number of Adam steps stays the same.

`iterations_per_call` iterations run inside one `tf.function(jit_compile=True)` call;
nothing in Python runs per environment step. The call is traced without AutoGraph
(`autograph=False`): every loop is an explicit `tf.while_loop`/`tf.scan` and every Python
`if` here, in tf-agents' `PPOClipAgent.get_loss` and in the networks branches on
configuration, not on tensors, so AutoGraph would only add tracing time (6.7 s of CPU
against 0.6 s for CartPole's MLP, `benchmarks/ppo_profile.py`). Code called inside it must
keep it that way; tests/test_ppo.py compares every network's curves with ones recorded
before AutoGraph was turned off.

The step function (`StepFn`, `PPO(step_fn=...)`, `_iteration(carry, step_fn)`,
`_collect(carry, key, step_fn)`) is one of:
* a `BatchedEnvironment` (for example `env.with_dynamics(...)` with a learned model, or
  a copy with its own reset distribution or episode limit), or its bound `pure_step`:
  its `pure_step_and_reset` is used, one step's work per step;
* any callable `(state, action) -> (state, time_step, next_observation)` with the
  contract of `BatchedEnvironment.pure_step_and_reset`;
* any callable `(state, action) -> (state, time_step)` with the contract of
  `BatchedEnvironment.pure_step` (auto-reset on the step after a LAST time step): it is
  called a second time with action 0 to start the next episode where one ended (twice
  the work, same transitions).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tf_agents.agents.ppo import ppo_clip_agent
from tf_agents.trajectories import time_step as ts

from tf_equirl import envs, rng, runs, seed_axis
from tf_equirl.envs.base import BatchedEnvironment, EnvState
from tf_equirl.agents.ppo import augmentation
from tf_equirl.agents.ppo.config import PPOConfig
from tf_equirl.networks import ActorNetwork, ValueNetwork, builders
from tf_equirl.params import clip_by_global_norm, count_params


# A pure environment step on an `EnvState` (tf_equirl.envs.base) and an int32 action [B]
# returning `(state, time_step)` or `(state, time_step, next_observation)`, or a
# `BatchedEnvironment` (see the module docstring).
StepFn = Union[BatchedEnvironment, Callable[[EnvState, tf.Tensor], Tuple[Any, ...]]]
_ADV_EPS = 1e-8  # PureJaxRL: (gae - mean) / (std + 1e-8)


def _standardize(adv: tf.Tensor) -> tf.Tensor:
  """PureJaxRL's advantage standardisation, `(adv - mean) / (std + 1e-8)`."""
  return (adv - tf.reduce_mean(adv)) / (tf.math.reduce_std(adv) + _ADV_EPS)


# Per-iteration metrics of a training call, in this order.
METRICS = (
  "mean_return",
  "episodes",
  "finished_return",
  "policy_loss",
  "value_loss",
  "entropy",
  "clip_fraction",
  "grad_norm",
)


class Carry(NamedTuple):
  """State carried from one iteration to the next (all tensors)."""

  env_state: Any
  observation: tf.Tensor  # [B, ...] observation the next action is taken in
  episode_return: tf.Tensor  # [B] return of the running episode
  episode_length: tf.Tensor  # [B]
  returned_return: tf.Tensor  # [B] return of each env's last finished episode (0 before)
  iteration: tf.Tensor  # scalar int64, iterations done
  key: tf.Tensor  # [2] int64 base seed of the run


class Rollout(NamedTuple):
  observation: tf.Tensor  # [T, B, ...]
  action: tf.Tensor  # [T, B]
  log_prob: tf.Tensor  # [T, B]
  reward: tf.Tensor  # [T, B]
  terminated: tf.Tensor  # [T, B] float, 1 where the episode terminated (no bootstrap)
  ended: tf.Tensor  # [T, B] float, 1 where it terminated or was truncated
  next_observation: tf.Tensor  # [T, B, ...] observation after the action (before any reset)
  returned_return: tf.Tensor  # [T, B] PureJaxRL's `returned_episode_returns`
  finished_return: tf.Tensor  # [T, B] return of an episode finishing here, else 0


def gae(
  reward: tf.Tensor,
  value: tf.Tensor,
  next_value: tf.Tensor,
  terminated: tf.Tensor,
  ended: tf.Tensor,
  gamma: float,
  lam: float,
) -> Tuple[tf.Tensor, tf.Tensor]:
  """Generalised advantage estimation over `[T, B]` tensors, once per iteration.

  `delta_t = r_t + gamma (1 - terminated_t) V(s'_t) - V(s_t)`, where `s'_t` is the
  observation the step produced (for a truncated episode the last observation, so a time
  limit bootstraps and a termination does not), and `A_t = delta_t + gamma lam (1 - ended_t)
  A_{t+1}`: the recursion stops at every episode end. The last step bootstraps through
  `V(s'_T)` in its delta.

  Returns:
    `(advantages, value_targets)` with `value_targets = advantages + value`.
  """
  delta = reward + gamma * (1.0 - terminated) * next_value - value
  weight = gamma * lam * (1.0 - ended)
  advantages = tf.scan(
    lambda acc, x: x[0] + x[1] * acc,
    (delta, weight),
    initializer=tf.zeros_like(delta[0]),
    reverse=True,
  )
  return advantages, advantages + value


def make_agent(
  config: PPOConfig, time_step_spec, action_spec, actor_net, value_net, optimizer
) -> ppo_clip_agent.PPOClipAgent:
  """tf-agents' PPOClipAgent with every default that differs from the thesis overridden."""
  return ppo_clip_agent.PPOClipAgent(
    time_step_spec,
    action_spec,
    optimizer=optimizer,
    actor_net=actor_net,
    value_net=value_net,
    greedy_eval=True,
    importance_ratio_clipping=config.clip_eps,
    lambda_value=config.gae_lambda,
    discount_factor=config.gamma,
    entropy_regularization=config.ent_coef,
    value_pred_loss_coef=0.5 * config.vf_coef,  # PureJaxRL: vf_coef * 0.5 * err^2
    num_epochs=config.num_epochs,
    use_gae=True,
    use_td_lambda_return=True,
    normalize_rewards=False,
    normalize_observations=False,
    gradient_clipping=config.max_grad_norm,
    value_clipping=config.clip_eps,
    compute_value_and_advantage_in_train=True,
    update_normalizers_in_train=False,
    debug_summaries=False,
    summarize_grads_and_vars=False,
    # Its own counter, not tf-agents' default (the process-wide global step): XLA locks
    # every resource variable a program uses while it runs, so agents sharing the global
    # step would run their programs one at a time however many threads train them.
    train_step_counter=tf.Variable(0, dtype=tf.int64, trainable=False, name="train_step"),
  )


@dataclasses.dataclass
class TrainResult:
  """Per-iteration curves of one training run (numpy arrays of length `num_iterations`)."""

  env_steps: np.ndarray
  mean_return: np.ndarray  # PureJaxRL metric: mean over steps and envs of each env's
  # last finished episodic return (0 before the first finishes)
  episodes: np.ndarray  # episodes finished during the iteration
  finished_return: np.ndarray  # mean return of the episodes finished in the iteration (nan if none)
  losses: Dict[str, np.ndarray]
  compile_seconds: float  # wall time of the first call (tracing + XLA + its iterations)
  train_seconds: float  # wall time of all later calls
  compile_steps: int  # env steps done by the first call
  extras: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # e.g. Dyna's
  # planned steps beside each real-step point

  @property
  def steps_per_second(self) -> float:
    """Env steps per second after compilation (nan if everything ran in the first call)."""
    done_after_compile = self.env_steps[-1] - self.compile_steps
    return (
      float(done_after_compile / self.train_seconds) if self.train_seconds > 0 else float("nan")
    )


class PPO:
  """PPO with an (equivariant) actor-critic; one compiled graph per call.

  Args:
    config: a `PPOConfig`.
    env: optional `BatchedEnvironment` (default `envs.make(config.env, config.num_envs)`);
      its batch size must be `config.num_envs`.
    step_fn: optional `StepFn` replacing `env` in collection (e.g. a learned transition
      model; see the module docstring).
    reset_fn: optional function replacing `env.pure_reset(seed) -> (state, time_step)`
      likewise.
    num_updates: Adam steps the learning-rate annealing spans (default: those of
      `config.num_iterations` iterations; Dyna adds its planning updates).

  Use `reset(seed)` to start a run (weights, optimiser and environments re-initialised
  without retracing) and `train()` to run it.
  """

  def __init__(
    self,
    config: PPOConfig,
    env: Optional[BatchedEnvironment] = None,
    step_fn: Optional[StepFn] = None,
    reset_fn: Optional[Callable[[Any], Tuple[Any, ts.TimeStep]]] = None,
    num_updates: Optional[int] = None,
  ):
    self.config = config
    self.env = (
      env
      if env is not None
      else envs.make(config.env, batch_size=config.num_envs, seed=config.seed)
    )
    if self.env.batch_size != config.num_envs:
      raise ValueError(
        f"PPO: the environment has batch_size {self.env.batch_size} but "
        f"config.num_envs is {config.num_envs}."
      )
    self.symmetry = (
      self.env.symmetry if config.group is None else self.env.get_symmetry(config.group)
    )
    self._step_fn = step_fn if step_fn is not None else self.env
    self._reset_fn = reset_fn or self.env.pure_reset
    obs_spec, action_spec = self.env.observation_spec(), self.env.action_spec()
    self.actor_net = ActorNetwork(
      obs_spec,
      action_spec,
      config.network,
      self.symmetry,
      config.width,
      config.hidden,
      relaxed_parameterization=config.relaxed_parameterization,
    )
    self.value_net = ValueNetwork(
      obs_spec,
      config.critic,
      self.symmetry,
      config.critic_width,
      config.hidden,
      relaxed_parameterization=config.relaxed_parameterization,
    )
    self.actor_net.create_variables(obs_spec)
    self.value_net.create_variables(obs_spec)
    updates = num_updates or config.num_iterations * config.num_epochs * config.num_minibatches
    lr = (
      keras.optimizers.schedules.PolynomialDecay(config.learning_rate, updates, 0.0)
      if config.anneal_lr
      else config.learning_rate
    )
    self.optimizer = keras.optimizers.Adam(lr, epsilon=config.adam_epsilon)
    self.agent = make_agent(
      config, self.env.time_step_spec(), action_spec, self.actor_net, self.value_net, self.optimizer
    )
    self.agent.initialize()
    self._variables = self.actor_net.trainable_variables + self.value_net.trainable_variables
    self.optimizer.build(self._variables)
    self._chunk = _largest_divisor(config.num_iterations, config.iterations_per_call)
    self._train_chunk = tf.function(
      self._train_chunk_impl, jit_compile=config.jit_compile, reduce_retracing=True, autograph=False
    )
    self._carry: Optional[Carry] = None

  # ------------------------------------------------------------------ properties
  @property
  def actor_model(self) -> keras.Model:
    """Keras model observation batch -> action logits (what the zoo saves)."""
    return self.actor_net.keras_model

  @property
  def critic_model(self) -> keras.Model:
    return self.value_net.keras_model

  def parameter_counts(self) -> Dict[str, int]:
    return {"actor": count_params(self.actor_model), "critic": count_params(self.critic_model)}

  @property
  def tracing_count(self) -> int:
    return self._train_chunk.experimental_get_tracing_count()

  # ---------------------------------------------------------------------- runs
  def reset(self, seed: int) -> None:
    """Re-initialises weights (seeded), optimiser state and environments for a new run."""
    keras.utils.set_random_seed(int(seed))
    fresh_actor = builders.build_actor(
      self.config.network,
      self.symmetry,
      self.config.width,
      self.config.hidden,
      self.config.relaxed_parameterization,
    )
    fresh_critic = builders.build_critic(
      self.config.critic,
      self.symmetry,
      self.config.critic_width,
      self.config.hidden,
      self.config.relaxed_parameterization,
    )
    self.actor_model.set_weights(fresh_actor.get_weights())
    self.critic_model.set_weights(fresh_critic.get_weights())
    for v in self.optimizer.variables:
      v.assign(tf.zeros_like(v))
    self.agent.train_step_counter.assign(0)
    key = tf.constant([int(seed), 0x5EED], dtype=tf.int64)
    env_state, time_step = self._reset_fn(rng.fold_in(key, -1))
    zeros = tf.zeros([self.config.num_envs], tf.float32)
    self._carry = Carry(
      env_state=env_state,
      observation=time_step.observation,
      episode_return=zeros,
      episode_length=zeros,
      returned_return=zeros,
      iteration=tf.constant(0, tf.int64),
      key=key,
    )

  def train(
    self,
    callback: Optional[Callable[[Dict[str, np.ndarray]], None]] = None,
    seed: Optional[int] = None,
    on_compile: Optional[Callable[[], None]] = None,
    checkpoint: Optional[runs.TrainingCheckpoint] = None,
  ) -> TrainResult:
    """Runs `config.num_iterations` iterations from `reset(seed or config.seed)`.

    `callback(metrics)` is called after every compiled call with that call's per-iteration
    metrics (numpy arrays), e.g. for a progress bar or TensorBoard. `on_compile()` is called
    once the training call is traced, just before its first call, which compiles it with XLA
    and releases Python's GIL meanwhile: work started there in another thread (e.g.
    `run_experiment` preparing its outputs) runs beside the compilation.

    With a `checkpoint` (`tf_equirl.runs.TrainingCheckpoint`) the run continues from its last
    saved state, if any, and saves its state every `checkpoint.every` iterations; the result
    is the same as an uninterrupted run's.

    Raises:
      tf_equirl.runs.TrainingDiverged: a loss, metric or parameter became non-finite (its
        `columns` attribute holds the rows so far).
    """
    seed = self.config.seed if seed is None else seed
    # Seeding (Keras' global random state), building and tracing run one thread at a time:
    # `tf_equirl.runner` trains several agents at once, each in its own thread.
    with seed_axis.PYTHON_STATE:
      self.reset(seed)
    num_calls = self.config.num_iterations // self._chunk
    chunks, start_call = [], 0
    if checkpoint is not None:
      restored = checkpoint.restore(self.state_variables(), {"carry": self._carry})
      if restored is not None:
        done, carries, progress = restored
        self._carry, start_call, chunks = carries["carry"], done // self._chunk, [progress]
    if on_compile is not None or self.tracing_count == 0:
      with seed_axis.PYTHON_STATE:
        self._train_chunk.get_concrete_function(self._carry, self._chunk)
    if on_compile is not None:
      on_compile()
    allow_nan = ("finished_return",) + (("entropy",) if self.config.ent_coef == 0 else ())
    compile_s, train_s, saved = 0.0, 0.0, start_call * self._chunk
    for call in range(start_call, num_calls):
      start = time.perf_counter()
      self._carry, metrics = self._train_chunk(self._carry, self._chunk)
      metrics = {k: v.numpy() for k, v in metrics.items()}
      elapsed = time.perf_counter() - start
      if call == start_call:
        compile_s = elapsed
      else:
        train_s += elapsed
      chunks.append(metrics)
      try:
        runs.check_finite(
          metrics, self._variables, seed, call * self._chunk, self.config.batch_size, allow_nan
        )
      except runs.TrainingDiverged as error:
        error.columns = self._columns(chunks)
        raise
      if callback is not None:
        callback(metrics)
      done = (call + 1) * self._chunk
      if (
        checkpoint is not None and done < self.config.num_iterations and checkpoint.due(done, saved)
      ):
        progress = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        checkpoint.save(done, self.state_variables(), {"carry": self._carry}, progress)
        saved = done
    columns = self._columns(chunks)
    result = TrainResult(
      env_steps=columns.pop("env_steps"),
      mean_return=columns.pop("mean_return"),
      episodes=columns.pop("episodes"),
      finished_return=columns.pop("finished_return"),
      losses=columns,
      compile_seconds=compile_s,
      train_seconds=train_s,
      compile_steps=int((start_call + 1) * self._chunk * self.config.batch_size),
    )
    return result

  def _columns(self, chunks) -> Dict[str, np.ndarray]:
    """Per-iteration columns from the metrics of the calls so far, with their env steps."""
    curves = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    steps = np.arange(1, len(curves["mean_return"]) + 1) * self.config.batch_size
    return {"env_steps": steps, **curves}

  def state_variables(self) -> list:
    """Every variable a run changes: parameters, optimiser state, the update counter (what a
    checkpoint saves besides the carry)."""
    return (
      list(self.actor_model.variables)
      + list(self.critic_model.variables)
      + list(self.optimizer.variables)
      + [self.agent.train_step_counter]
    )

  # ------------------------------------------------------------ compiled graph
  def _train_chunk_impl(
    self,
    carry: Carry,
    num_iterations: int,
    step_fn: Optional[StepFn] = None,
    on_rollout: Optional[Callable[[Rollout], Any]] = None,
  ):
    """`num_iterations` iterations in one graph; `on_rollout(rollout)` may return an op run
    after each iteration's collection (Dyna stores the real transitions with it)."""
    # Element shapes given: XLA's bridge compiles a while body twice when a TensorArray in
    # its loop state has an unknown element shape (once to find it), and the loops nest.
    metrics = {
      name: tf.TensorArray(tf.float32, size=num_iterations, element_shape=[]) for name in METRICS
    }

    def body(i, carry, arrays):
      carry, values, rollout = self._iteration(carry, step_fn)
      deps = [] if on_rollout is None else [on_rollout(rollout)]
      with tf.control_dependencies(deps):
        i = tf.identity(i)
      return i + 1, carry, {k: arrays[k].write(i, values[k]) for k in arrays}

    _, carry, metrics = tf.while_loop(
      lambda i, *_: i < num_iterations, body, (tf.constant(0), carry, metrics)
    )
    return carry, {k: v.stack() for k, v in metrics.items()}

  def _iteration(self, carry: Carry, step_fn: Optional[StepFn] = None):
    """One PPO iteration (collect, GAE, update) on `step_fn` (default: the env's step).

    Returns `(carry, metrics, rollout)`; the Dyna driver stores the rollout's real
    transitions for its world model and runs planning iterations with a model's step.
    """
    cfg = self.config
    carry, key, rollout, batch = self._collect_batch(carry, step_fn)
    size, weights = cfg.batch_size, None
    if cfg.network in builders.AUGMENTED_KINDS:
      batch = augmentation.augment_batch(
        self.symmetry, batch, self._logits, self._value, with_weights=cfg.augment_weights
      )
      if cfg.augment_weights:
        batch, weights = batch
      size *= augmentation.augmentation_factor(self.symmetry)
    losses = self._update(batch, rng.fold_in(key, 1), size, weights)
    values = dict(rollout_metrics(rollout), **losses)
    return carry._replace(iteration=carry.iteration + 1), values, rollout

  def _collect_batch(self, carry: Carry, step_fn: Optional[StepFn] = None):
    """An iteration's collection and GAE: `(carry, key, rollout, batch)`, `batch` the flat
    `(observation, action, log_prob, advantage, value_target, value)` that `_update` takes
    (before any augmentation) and `key` the iteration's key."""
    cfg = self.config
    key = rng.fold_in(carry.key, carry.iteration)
    carry, rollout = self._collect(carry, key, self._step_fn if step_fn is None else step_fn)
    t, b = cfg.num_steps, cfg.num_envs
    flat = lambda x: tf.reshape(x, tf.concat([[t * b], tf.shape(x)[2:]], 0))
    value = tf.reshape(self._value(flat(rollout.observation)), [t, b])
    next_value = tf.reshape(self._value(flat(rollout.next_observation)), [t, b])
    advantages, targets = gae(
      rollout.reward,
      value,
      next_value,
      rollout.terminated,
      rollout.ended,
      cfg.gamma,
      cfg.gae_lambda,
    )
    batch = (
      flat(rollout.observation),
      flat(rollout.action),
      flat(rollout.log_prob),
      flat(advantages),
      flat(targets),
      flat(value),
    )
    return carry, key, rollout, batch

  def _value(self, observation):
    return tf.squeeze(
      self.critic_model(tf.reshape(observation, [tf.shape(observation)[0], -1])), -1
    )

  def _logits(self, observation):
    return self.actor_model(tf.reshape(observation, [tf.shape(observation)[0], -1]))

  def _collect(self, carry: Carry, key, step_fn: StepFn) -> Tuple[Carry, Rollout]:
    cfg = self.config
    arrays = rollout_arrays(carry.observation, tf.TensorShape([cfg.num_envs]), cfg.num_steps)

    def body(step, carry: Carry, arrays: Rollout):
      logits = self._logits(carry.observation)
      seed = rng.fold_in(key, tf.cast(step, tf.int64))
      # Gumbel-max sampling: XLA has no StatelessMultinomial kernel for int64 seeds.
      uniform = rng.uniform(tf.shape(logits), seed, minval=1e-12, maxval=1.0)
      action = tf.argmax(logits - tf.math.log(-tf.math.log(uniform)), axis=1, output_type=tf.int32)
      log_prob = tf.gather(tf.nn.log_softmax(logits), action, axis=1, batch_dims=1)
      env_state, time_step, next_obs = step_and_reset(step_fn, carry.env_state, action)
      carry, arrays = record_step(
        carry, arrays, step, action, log_prob, env_state, time_step, next_obs
      )
      return step + 1, carry, arrays

    _, carry, arrays = tf.while_loop(
      lambda s, *_: s < cfg.num_steps, body, (tf.constant(0), carry, arrays)
    )
    return carry, Rollout(*[a.stack() for a in arrays])

  def _update(
    self, batch, key, size: Optional[int] = None, weights: Optional[tf.Tensor] = None
  ) -> Dict[str, tf.Tensor]:
    """`num_epochs` x `num_minibatches` Adam steps on a batch of `size` samples (default
    `config.batch_size`; more for an augmented batch, whose minibatches are then larger);
    `weights` `[size]` scale each sample's losses (default 1)."""
    cfg = self.config
    n = size or cfg.batch_size
    mb = n // cfg.num_minibatches
    num_updates = cfg.num_epochs * cfg.num_minibatches
    order = tf.argsort(rng.uniform([cfg.num_epochs, n], key), axis=1)
    names = ("policy_loss", "value_loss", "entropy", "clip_fraction", "grad_norm")
    if cfg.advantage_normalization == "batch":
      batch = batch[:3] + (_standardize(batch[3]),) + batch[4:]

    def body(u, sums):
      epoch, m = u // cfg.num_minibatches, u % cfg.num_minibatches
      idx = tf.slice(order, [epoch, m * mb], [1, mb])[0]
      obs, action, log_prob, adv, target, old_value = [tf.gather(x, idx) for x in batch]
      weight = tf.ones([mb]) if weights is None else tf.gather(weights, idx)
      if cfg.advantage_normalization == "minibatch":
        adv = _standardize(adv)
      steps = ts.TimeStep(
        step_type=tf.fill([mb], ts.StepType.MID),
        reward=tf.zeros([mb]),
        discount=tf.ones([mb]),
        observation=obs,
      )
      with tf.GradientTape() as tape:
        info = self.agent.get_loss(
          steps,
          action,
          log_prob,
          target,
          adv,
          action_distribution_parameters=None,
          weights=weight,
          train_step=self.agent.train_step_counter,
          debug_summaries=False,
          old_value_predictions=old_value,
          training=True,
        )
      grads = tape.gradient(info.loss, self._variables)
      grads, norm = clip_by_global_norm(grads, cfg.max_grad_norm)
      self.optimizer.apply_gradients(zip(grads, self._variables))
      self.agent.train_step_counter.assign_add(1)
      extra = info.extra
      # tf-agents' entropy loss is -ent_coef * entropy; report the entropy itself.
      entropy = (
        -extra.entropy_regularization_loss / cfg.ent_coef
        if cfg.ent_coef > 0
        else tf.constant(np.nan)
      )
      values = (
        extra.policy_gradient_loss,
        extra.value_estimation_loss,
        entropy,
        extra.clip_fraction,
        norm,
      )
      return u + 1, tuple(s + tf.cast(v, tf.float32) for s, v in zip(sums, values))

    _, sums = tf.while_loop(
      lambda u, _: u < num_updates, body, (tf.constant(0), tuple(tf.constant(0.0) for _ in names))
    )
    return {name: s / num_updates for name, s in zip(names, sums)}


def rollout_arrays(observation: tf.Tensor, per_env: tf.TensorShape, num_steps: int) -> Rollout:
  """Empty TensorArrays of `num_steps` entries for each field of a `Rollout`: observations
  shaped like `observation`, every other field shaped `per_env` (`[B]`, or `[N, B]` for
  seed-batched runs)."""
  obs, obs_dtype = observation.shape, observation.dtype
  fields = {"observation": (obs_dtype, obs), "action": (tf.int32, per_env)}
  fields["next_observation"] = (obs_dtype, obs)
  return Rollout(
    *[
      tf.TensorArray(dtype, size=num_steps, element_shape=shape)
      for dtype, shape in (fields.get(name, (tf.float32, per_env)) for name in Rollout._fields)
    ]
  )


def record_step(carry, arrays: Rollout, step, action, log_prob, env_state, time_step, next_obs):
  """Writes one collection step into the rollout's TensorArrays and advances the carry's
  episode bookkeeping (return, length, last finished return); `(carry, arrays)`. Elementwise,
  so the same for `[B]` and for seed-batched `[N, B]` tensors (`seed_batch.SeedBatchPPO`)."""
  ended = tf.equal(time_step.step_type, ts.StepType.LAST)
  terminated = tf.logical_and(ended, tf.equal(time_step.discount, 0.0))
  episode_return = carry.episode_return + time_step.reward
  returned = tf.where(ended, episode_return, carry.returned_return)
  endf = tf.cast(ended, tf.float32)
  values = (
    carry.observation,
    action,
    log_prob,
    time_step.reward,
    tf.cast(terminated, tf.float32),
    endf,
    time_step.observation,
    returned,
    endf * episode_return,
  )
  arrays = Rollout(*[a.write(step, v) for a, v in zip(arrays, values)])
  carry = carry._replace(
    env_state=env_state,
    observation=next_obs,
    episode_return=episode_return * (1.0 - endf),
    episode_length=(carry.episode_length + 1.0) * (1.0 - endf),
    returned_return=returned,
  )
  return carry, arrays


def rollout_metrics(rollout: Rollout) -> Dict[str, tf.Tensor]:
  """An iteration's return metrics: PureJaxRL's mean return, the episodes that finished and
  their mean return (nan if none)."""
  finished = tf.reduce_sum(rollout.ended)
  return dict(
    mean_return=tf.reduce_mean(rollout.returned_return),
    episodes=finished,
    finished_return=tf.math.divide_no_nan(tf.reduce_sum(rollout.finished_return), finished)
    + tf.where(finished > 0, 0.0, np.nan),
  )


def step_and_reset(step_fn: StepFn, state, action):
  """One collection step: `(state, time_step, next_observation)` from any `StepFn`.

  The next episode starts in the same call where one ended (the environments follow
  tf-agents and would otherwise spend one more step on the reset), so every stored step
  is a real transition.
  """
  if isinstance(step_fn, BatchedEnvironment):
    return step_fn.pure_step_and_reset(state, action)
  owner = getattr(step_fn, "__self__", None)
  if (
    isinstance(owner, BatchedEnvironment)
    and getattr(step_fn, "__func__", None) is type(owner).pure_step
  ):
    return owner.pure_step_and_reset(state, action)
  if not callable(step_fn):
    raise ValueError(
      f"PPO: step_fn must be a BatchedEnvironment or a callable (state, "
      f"action) -> (state, time_step[, next_observation]), received {step_fn!r}."
    )
  out = step_fn(state, action)
  if not isinstance(out, tuple) or len(out) not in (2, 3):
    raise ValueError(
      "PPO: step_fn must return (state, time_step) or (state, time_step, "
      f"next_observation), received {type(out).__name__} {out!r:.200}."
    )
  if len(out) == 3:
    return out
  env_state, time_step = out
  ended = tf.equal(time_step.step_type, ts.StepType.LAST)
  # A plain pure step resets on the step after a LAST one and ignores its action.
  reset_state, reset_step = step_fn(env_state, tf.zeros_like(action))
  env_state = EnvState(
    physics=_select(ended, reset_state.physics, env_state.physics),
    step_count=_select(ended, reset_state.step_count, env_state.step_count),
    done=_select(ended, reset_state.done, env_state.done),
    key=reset_state.key,
  )
  return env_state, time_step, _select(ended, reset_step.observation, time_step.observation)


def _select(mask, new, old):
  """Per batch element: `new` where `mask`, else `old` (mask `[B]`, tensors `[B, ...]`)."""
  mask = tf.reshape(mask, [-1] + [1] * (old.shape.rank - 1))
  return tf.where(mask, new, old)


def _largest_divisor(n: int, at_most: int) -> int:
  return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)
