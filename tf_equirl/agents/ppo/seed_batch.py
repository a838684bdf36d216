"""Many PPO seeds in one compiled program: a seed axis through parameters, optimiser and envs.

`SeedBatchPPO(config, seeds)` trains `len(seeds)` independent PPO agents as one XLA program,
as PureJaxRL vectorises `make_train` over seed keys with `jax.vmap`. Seed `k` runs exactly
the lone `PPO(config).train(seed=k)` (`tf_equirl.agents.ppo.learner`): the same initial
weights (`PPO.reset(k)`: `keras.utils.set_random_seed(k)`, then the builders), the same base
key `[k, 0x5EED]`, the same environment resets, action samples and minibatch permutations,
the same update; its parameters after an iteration equal the lone run's up to float
rounding (tests/test_seed_batch.py: 1e-5 relative).

How the seed axis goes through the loop of `learner.PPO` (same steps, same order):

The seed axis itself (stacked variables, weight rebinding, per-seed clipping, vectorised
products) is `tf_equirl.seed_axis`, shared with the transition-model trainer.

1. Parameters: one variable `[N, ...]` per network weight. The per-seed computations (the
   policy and environment step, the critic's values, the loss) are written for one seed and
   vectorised over the seed axis with `tf.vectorized_map`; inside, the ordinary Keras actor
   and critic run with their weights rebound to the seed's slices (`_WeightSwap`), so every
   network kind the builders make is covered at once.
2. Random streams: TensorFlow's stateless random ops have no vectorised form in TF 2.15
   (pfor loops over them one seed at a time), so inside the vectorised functions the
   library's draws (`tf_equirl.rng`) use its integer Philox (`rng.vectorizable`), which gives
   every seed the numbers its lone run draws, bit for bit.
3. Collection, GAE and the update keep the learner's `tf.while_loop`s, with a leading seed
   axis on every carried tensor; GAE runs on `[T, N, B]` at once.
4. Update: each seed's gradient is taken inside the vectorised function (a tape in the
   per-seed code, vectorised with it). A tape around `tf.vectorized_map` would differentiate
   the function call pfor makes, whose gradient call needs some forward values (the
   reduction axes of pfor's sums) as compile-time constants; XLA's constant analysis then
   marks every input of the forward call constant, weights included, and XLA compiles the
   program again on every call, keyed on the weights' values (tests/test_seed_batch.py
   counts one compilation). Each gradient is clipped by its own global norm (over all of
   that seed's weights), and one Keras Adam over the `[N, ...]` variables is N Adams in
   lockstep (Adam is elementwise; all seeds share the learning-rate schedule). Keras
   constraints (the relaxed and RPP layers') are applied to each seed's slice after the
   step, as the optimiser applies them to a lone run's weights.

5. Products: pfor turns a product of a per-seed activation and a per-seed weight into a
   batched matrix product, which XLA's CPU backend runs through a slow Eigen contraction.
   With `split_products` (and `config.jit_compile`) such products, forward and in
   the gradients, are written as one plain matrix product per seed instead
   (`_split_products`), the products each lone run computes; matrix-vector products keep the
   batched form. On by default for up to 8 seeds per program; beyond, the update gains
   little and XLA's compilation grows with the number of products.

A seed batch smaller than the seeds (`seed_batch`) runs the seeds in groups through the same
program; the last group is padded with copies of its last seed (their results dropped), so
there is one trace. What differs from `PPO.train`: no checkpoints. `_iteration` takes a
step function as the learner's does (one seed's `StepFn`, vectorised with the rest), which
`tf_equirl.agents.dyna.seed_batch.SeedBatchDyna` plans with.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from tf_agents.trajectories import time_step as ts

from tf_equirl import rng, runs, seed_axis
from tf_equirl.agents.ppo import augmentation, learner
from tf_equirl.agents.ppo.config import PPOConfig
from tf_equirl.envs.base import EnvState
from tf_equirl.networks import builders

from tensorflow import keras

_standardize = learner._standardize  # pylint: disable=protected-access
_largest_divisor = learner._largest_divisor  # pylint: disable=protected-access
_WeightSwap = seed_axis.WeightSwap
_split_products = seed_axis.split_products
_split = seed_axis.split
_clip_per_seed = seed_axis.clip_per_seed
_Named = seed_axis.Named

__all__ = ["SeedBatchPPO", "SeedCarry", "SPLIT_PRODUCTS_MAX_SEEDS"]

SPLIT_PRODUCTS_MAX_SEEDS = 8
"""Programs of at most this many seeds write their products one per seed (module docstring,
point 5); the runner's default seed groups on a CPU are no larger."""


class SeedCarry(NamedTuple):
  """`learner.Carry` with a leading seed axis `N` on every tensor but `iteration`."""

  env_state: EnvState  # fields [N, B, ...]; key [N, 2]
  observation: tf.Tensor  # [N, B, ...]
  episode_return: tf.Tensor  # [N, B]
  episode_length: tf.Tensor  # [N, B]
  returned_return: tf.Tensor  # [N, B]
  iteration: tf.Tensor  # scalar int64, shared by the seeds
  key: tf.Tensor  # [N, 2] int64 base seeds


def stack_carry(
  states: Sequence[EnvState],
  observations: Sequence[tf.Tensor],
  keys: Sequence[tf.Tensor],
  num_envs: int,
) -> SeedCarry:
  """The seed-batched carry of fresh runs: each seed's reset env state, observation and key
  stacked on a leading seed axis, episode bookkeeping at zero, iteration 0."""
  zeros = tf.zeros([len(keys), num_envs], tf.float32)
  return SeedCarry(
    env_state=EnvState(*[tf.stack(parts) for parts in zip(*states)]),
    observation=tf.stack(observations),
    episode_return=zeros,
    episode_length=zeros,
    returned_return=zeros,
    iteration=tf.constant(0, tf.int64),
    key=tf.stack(keys),
  )


class SeedBatchPPO:
  """`len(seeds)` PPO runs of one `PPOConfig` trained together in one compiled program.

  Args:
    config: a `PPOConfig` (its `seed` is ignored: `seeds` are the runs).
    seeds: the runs' seeds, non-negative integers.
    seed_batch: seeds per program call (default all); more seeds run in groups.
    env: optional `BatchedEnvironment` as for `PPO` (default `envs.make(config.env, ...)`).
    num_updates: Adam steps the learning-rate annealing spans, as for `PPO` (default: those
      of `config.num_iterations` iterations; the Dyna seed batch adds its planning updates).

  Use `train()`; `actor_model(k)` / `critic_model(k)` give the `k`-th seed's networks as
  ordinary Keras models (after `train()`, its trained weights).

  Raises:
    ValueError: for empty or negative seeds or a seed batch that is not a positive integer.
  """

  def __init__(
    self,
    config: PPOConfig,
    seeds: Sequence[int],
    seed_batch: Optional[int] = None,
    env=None,
    num_updates: Optional[int] = None,
  ):
    seeds = seed_axis.check_seeds("SeedBatchPPO", seeds, seed_batch)
    self.config = config
    self.seeds = seeds
    self.seed_batch = min(int(seed_batch or len(seeds)), len(seeds))
    # The template: environment, symmetry, tf-agents agent (its loss) and Keras models whose
    # weights are rebound per seed.
    self._ppo = learner.PPO(config, env=env)
    self.env, self.symmetry = self._ppo.env, self._ppo.symmetry
    self._step_fn, self._reset_fn = self._ppo._step_fn, self._ppo._reset_fn  # pylint: disable=W0212
    self._actor, self._critic = self._ppo.actor_model, self._ppo.critic_model
    self._actor_swap = _WeightSwap(self._actor, "SeedBatchPPO")
    self._critic_swap = _WeightSwap(self._critic, "SeedBatchPPO")
    template = self._actor_swap.variables + self._critic_swap.variables
    self._sizes = (len(self._actor_swap.variables), len(self._critic_swap.variables))
    n = self.seed_batch
    self._variables = seed_axis.stacked_variables(template, n)
    self._constraints = [v.constraint for v in template]
    updates = num_updates or config.num_iterations * config.num_epochs * config.num_minibatches
    lr = (
      keras.optimizers.schedules.PolynomialDecay(config.learning_rate, updates, 0.0)
      if config.anneal_lr
      else config.learning_rate
    )
    self.optimizer = keras.optimizers.Adam(lr, epsilon=config.adam_epsilon)
    self.optimizer.build(self._variables)
    self._chunk = _largest_divisor(config.num_iterations, config.iterations_per_call)
    self._train_chunk = tf.function(
      self._train_chunk_impl, jit_compile=config.jit_compile, reduce_retracing=True, autograph=False
    )
    self._group: List[int] = []
    self._carry: Optional[SeedCarry] = None
    self._trained: Dict[int, List[np.ndarray]] = {}
    # Test hook: per-seed factors `[seed_batch]` on the losses (None: 1), read when traced.
    self._loss_scale: Optional[np.ndarray] = None
    # Products of two per-seed operands as one product per seed under XLA (module docstring,
    # point 5): on for up to 8 seeds per program, where it shortens the update and the
    # compilation stays as long; at 32 the update gains nothing and compilation grows
    # (benchmarks/seed_batch.py --split_products=false,true).
    self.split_products = self.seed_batch <= SPLIT_PRODUCTS_MAX_SEEDS

  # ------------------------------------------------------------------ properties
  @property
  def tracing_count(self) -> int:
    return self._train_chunk.experimental_get_tracing_count()

  def actor_model(self, k: int) -> keras.Model:
    """Seed `seeds[k]`'s actor as an ordinary Keras model (built by the builders)."""
    with seed_axis.PYTHON_STATE:
      return self._actor_model(k)

  def critic_model(self, k: int) -> keras.Model:
    """Seed `seeds[k]`'s critic as an ordinary Keras model (built by the builders)."""
    with seed_axis.PYTHON_STATE:
      return self._critic_model(k)

  def _actor_model(self, k: int) -> keras.Model:
    model = builders.build_actor(
      self.config.network,
      self.symmetry,
      self.config.width,
      self.config.hidden,
      self.config.relaxed_parameterization,
    )
    self._load(model, self._seed_weights(k)[: self._sizes[0]])
    return model

  def _critic_model(self, k: int) -> keras.Model:
    model = builders.build_critic(
      self.config.critic,
      self.symmetry,
      self.config.critic_width,
      self.config.hidden,
      self.config.relaxed_parameterization,
    )
    self._load(model, self._seed_weights(k)[self._sizes[0] :])
    return model

  @staticmethod
  def _load(model: keras.Model, values: Sequence[np.ndarray]) -> None:
    for variable, value in zip(model.trainable_variables, values):
      variable.assign(value)

  def _seed_weights(self, k: int) -> List[np.ndarray]:
    if not 0 <= k < len(self.seeds):
      raise ValueError(
        f"SeedBatchPPO: seed index {k} is out of range for {len(self.seeds)} " "seeds."
      )
    if k in self._trained:
      return self._trained[k]
    if k in self._group:
      return [v[self._group.index(k)].numpy() for v in self._variables]
    return self._initial_weights(self.seeds[k])

  def _initial_weights(self, seed: int) -> List[np.ndarray]:
    """`PPO.reset(seed)`'s initial trainable weights, actor's then critic's."""
    keras.utils.set_random_seed(int(seed))
    cfg = self.config
    actor = builders.build_actor(
      cfg.network, self.symmetry, cfg.width, cfg.hidden, cfg.relaxed_parameterization
    )
    critic = builders.build_critic(
      cfg.critic, self.symmetry, cfg.critic_width, cfg.hidden, cfg.relaxed_parameterization
    )
    # Through the template models, as PPO.reset does (set_weights of every weight).
    self._actor.set_weights(actor.get_weights())
    self._critic.set_weights(critic.get_weights())
    return [v.numpy() for v in self._actor_swap.variables + self._critic_swap.variables]

  # ---------------------------------------------------------------------- runs
  def reset(self, group: Sequence[int]) -> None:
    """Starts the runs of the seeds with indices `group` (at most `seed_batch`; padded)."""
    group = list(group)
    padded = group + [group[-1]] * (self.seed_batch - len(group))
    weights = [self._initial_weights(self.seeds[k]) for k in padded]
    for i, variable in enumerate(self._variables):
      variable.assign(np.stack([w[i] for w in weights]))
    for v in self.optimizer.variables:
      v.assign(tf.zeros_like(v))
    states, observations, keys = [], [], []
    for k in padded:
      key = tf.constant([self.seeds[k], 0x5EED], dtype=tf.int64)
      env_state, time_step = self._reset_fn(rng.fold_in(key, -1))
      states.append(env_state)
      observations.append(time_step.observation)
      keys.append(key)
    self._group = group
    self._carry = stack_carry(states, observations, keys, self.config.num_envs)

  def train(
    self, callback: Optional[Callable[[int, Dict[str, np.ndarray]], None]] = None
  ) -> List[Union[learner.TrainResult, runs.TrainingDiverged]]:
    """Trains every seed for `config.num_iterations` iterations.

    `callback(k, metrics)` is called after every compiled call for each seed index `k` of
    the group with that call's per-iteration metrics.

    Returns:
      One entry per seed, in the order of `seeds`: its `TrainResult` (`compile_seconds` and
      `train_seconds` are those of the program its group ran in, shared by the group), or,
      for a seed whose losses or parameters became non-finite, the
      `tf_equirl.runs.TrainingDiverged` error (with its `columns`); a diverged seed does
      not affect the others.
    """
    results: List[Union[learner.TrainResult, runs.TrainingDiverged]] = []
    indices = list(range(len(self.seeds)))
    for start in range(0, len(indices), self.seed_batch):
      results.extend(self._train_group(indices[start : start + self.seed_batch], callback))
    return results

  def train_group(
    self,
    group: Sequence[int],
    callback: Optional[Callable[[int, Dict[str, np.ndarray]], None]] = None,
  ) -> List[Union[learner.TrainResult, runs.TrainingDiverged]]:
    """Trains the seeds with indices `group` (into `seeds`; at most `seed_batch` of them) in
    one program run; returns their entries as `train` does. `train` is this over the groups
    of `seed_batch` consecutive seeds; a caller that writes each group's outputs as it
    finishes (`tf_equirl.runner`) calls it group by group.

    Raises:
      ValueError: an empty group, more than `seed_batch` indices, or an index out of range.
    """
    group = [int(k) for k in group]
    if not group or len(group) > self.seed_batch:
      raise ValueError(
        f"SeedBatchPPO.train_group: expected 1 to {self.seed_batch} seed "
        f"indices, received {group!r}."
      )
    bad = [k for k in group if not 0 <= k < len(self.seeds)]
    if bad or len(set(group)) != len(group):
      raise ValueError(
        f"SeedBatchPPO.train_group: indices must be distinct and in "
        f"[0, {len(self.seeds)}), received {group!r}."
      )
    return self._train_group(group, callback)

  def parameter_counts(self) -> Dict[str, int]:
    """Parameters of one seed's actor and critic (as `PPO.parameter_counts`)."""
    return self._ppo.parameter_counts()

  def _train_group(self, group, callback):
    cfg = self.config
    with seed_axis.PYTHON_STATE:  # seeding, building and tracing; the program runs outside
      self.reset(group)
      if self.tracing_count == 0:
        self._train_chunk.get_concrete_function(self._carry, self._chunk)
    num_calls = cfg.num_iterations // self._chunk
    allow_nan = ("finished_return",) + (("entropy",) if cfg.ent_coef == 0 else ())
    chunks = {k: [] for k in group}
    diverged: Dict[int, runs.TrainingDiverged] = {}
    compile_s = train_s = 0.0
    for call in range(num_calls):
      start = time.perf_counter()
      self._carry, metrics = self._train_chunk(self._carry, self._chunk)
      metrics = {name: value.numpy() for name, value in metrics.items()}  # [iterations, N]
      elapsed = time.perf_counter() - start
      if call == 0:
        compile_s = elapsed
      else:
        train_s += elapsed
      values = [v.numpy() for v in self._variables]
      for i, k in enumerate(group):
        if k in diverged:
          continue
        seed_metrics = {name: value[:, i] for name, value in metrics.items()}
        chunks[k].append(seed_metrics)
        try:
          runs.check_finite(
            seed_metrics,
            [_Named(v.name, value[i]) for v, value in zip(self._variables, values)],
            self.seeds[k],
            call * self._chunk,
            cfg.batch_size,
            allow_nan,
          )
        except runs.TrainingDiverged as error:
          error.columns = self._columns(chunks[k])
          diverged[k] = error
          continue
        if callback is not None:
          callback(k, seed_metrics)
    out = []
    for i, k in enumerate(group):
      self._trained[k] = [v[i].numpy() for v in self._variables]
      if k in diverged:
        out.append(diverged[k])
        continue
      columns = self._columns(chunks[k])
      out.append(
        learner.TrainResult(
          env_steps=columns.pop("env_steps"),
          mean_return=columns.pop("mean_return"),
          episodes=columns.pop("episodes"),
          finished_return=columns.pop("finished_return"),
          losses=columns,
          compile_seconds=compile_s,
          train_seconds=train_s,
          compile_steps=int(self._chunk * cfg.batch_size),
        )
      )
    return out

  def _columns(self, chunks) -> Dict[str, np.ndarray]:
    curves = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    steps = np.arange(1, len(curves["mean_return"]) + 1) * self.config.batch_size
    return {"env_steps": steps, **curves}

  # ------------------------------------------------------------ compiled graph
  def _vmap(self, fn, elems):
    """`fn` on each seed's slice of `elems` (leading axis N), vectorised; draws through
    `tf_equirl.rng` inside give each seed its own stream."""

    return seed_axis.vmap(
      fn, elems, self.config.jit_compile, self.config.jit_compile and self.split_products
    )

  def _weights(self):
    return [tf.convert_to_tensor(v) for v in self._variables]

  def _logits(self, observation):
    return self._actor(tf.reshape(observation, [tf.shape(observation)[0], -1]))

  def _value(self, observation):
    flat = tf.reshape(observation, [tf.shape(observation)[0], -1])
    return tf.squeeze(self._critic(flat), -1)

  def _train_chunk_impl(
    self, carry: SeedCarry, num_iterations: int, step_fn=None, on_rollout=None, step_swap=None
  ):
    """`num_iterations` iterations of every seed in one graph; `on_rollout(rollout)` (rollout
    `[T, N, B, ...]`) may return an op run after each iteration's collection, as the
    learner's; `step_fn` and `step_swap` as `_iteration`'s."""
    n = self.seed_batch
    metrics = {
      name: tf.TensorArray(tf.float32, size=num_iterations, element_shape=[n])
      for name in learner.METRICS
    }

    def body(i, carry, arrays):
      carry, values, rollout = self._iteration(carry, step_fn, step_swap)
      deps = [] if on_rollout is None else [on_rollout(rollout)]
      with tf.control_dependencies(deps):
        i = tf.identity(i)
      return i + 1, carry, {k: arrays[k].write(i, values[k]) for k in arrays}

    _, carry, metrics = tf.while_loop(
      lambda i, *_: i < num_iterations, body, (tf.constant(0), carry, metrics)
    )
    return carry, {k: v.stack() for k, v in metrics.items()}

  def _iteration(self, carry: SeedCarry, step_fn=None, step_swap=None):
    """One PPO iteration of every seed on `step_fn` (one seed's `StepFn`, vectorised; default
    the environment's step): `(carry, metrics {name: [N]}, rollout [T, N, B, ...])`.
    `step_swap` `(WeightSwap, stacked variables)` rebinds a model the step reads (a world
    model) to each seed's weights."""
    cfg = self.config
    key = rng.batched_fold_in(carry.key, carry.iteration)  # [N, 2]
    carry, rollout = self._collect(carry, key, step_fn, step_swap)
    t, b = cfg.num_steps, cfg.num_envs
    # [T, N, B, ...] -> [N, T * B, ...]: each seed's batch in the learner's order.
    per_seed = (
      lambda x: tf.reshape(  # noqa: E731
        tf.transpose(x, [1, 0, 2] + list(range(3, x.shape.rank))),
        tf.concat([[self.seed_batch, t * b], tf.shape(x)[3:]], 0),
      )
    )
    observation, next_observation = (
      per_seed(rollout.observation),
      per_seed(rollout.next_observation),
    )
    critic = _split(self._weights(), self._sizes)[1]

    def values(args):
      weights, obs, next_obs = args
      with self._critic_swap(weights):
        return self._value(obs), self._value(next_obs)

    value, next_value = self._vmap(values, (critic, observation, next_observation))

    def to_steps(x):  # [N, T * B] -> [T, N, B]
      return tf.transpose(tf.reshape(x, [self.seed_batch, t, b]), [1, 0, 2])

    advantages, targets = learner.gae(
      rollout.reward,
      to_steps(value),
      to_steps(next_value),
      rollout.terminated,
      rollout.ended,
      cfg.gamma,
      cfg.gae_lambda,
    )
    batch = (
      observation,
      per_seed(rollout.action),
      per_seed(rollout.log_prob),
      per_seed(advantages),
      per_seed(targets),
      value,
    )
    size, weights = cfg.batch_size, None
    if cfg.network in builders.AUGMENTED_KINDS:
      actor, critic = _split(self._weights(), self._sizes)

      def augment(args):
        actor_w, critic_w, one = args
        with self._actor_swap(actor_w), self._critic_swap(critic_w):
          return augmentation.augment_batch(
            self.symmetry, tuple(one), self._logits, self._value, with_weights=cfg.augment_weights
          )

      augmented = self._vmap(augment, (actor, critic, batch))
      if cfg.augment_weights:
        augmented, weights = augmented
      batch = tuple(augmented)
      size *= augmentation.augmentation_factor(self.symmetry)
    losses = self._update(batch, rng.batched_fold_in(key, 1), size, weights)
    returns = _rollout_metrics(rollout)
    return carry._replace(iteration=carry.iteration + 1), dict(returns, **losses), rollout

  def _collect(self, carry: SeedCarry, key, step_fn=None, step_swap=None):
    cfg = self.config
    per_env = tf.TensorShape([self.seed_batch, cfg.num_envs])
    arrays = learner.rollout_arrays(carry.observation, per_env, cfg.num_steps)
    step_fn = step_fn or self._step_fn

    def body(step, carry: SeedCarry, arrays):
      actor = _split(self._weights(), self._sizes)[0]
      world = [] if step_swap is None else [tf.convert_to_tensor(v) for v in step_swap[1]]

      def act(args):
        weights, world_weights, observation, env_state, seed_key = args
        with self._actor_swap(weights):
          logits = self._logits(observation)
        seed = rng.fold_in(seed_key, tf.cast(step, tf.int64))
        # Gumbel-max sampling, as the learner.
        uniform = rng.uniform(tf.shape(logits), seed, minval=1e-12, maxval=1.0)
        action = tf.argmax(
          logits - tf.math.log(-tf.math.log(uniform)), axis=1, output_type=tf.int32
        )
        log_prob = tf.gather(tf.nn.log_softmax(logits), action, axis=1, batch_dims=1)
        if step_swap is None:
          stepped = learner.step_and_reset(step_fn, env_state, action)
        else:
          with step_swap[0](world_weights):
            stepped = learner.step_and_reset(step_fn, env_state, action)
        env_state, time_step, next_obs = stepped
        return action, log_prob, env_state, time_step, next_obs

      action, log_prob, env_state, time_step, next_obs = self._vmap(
        act, (actor, world, carry.observation, carry.env_state, key)
      )
      carry, arrays = learner.record_step(
        carry, arrays, step, action, log_prob, env_state, time_step, next_obs
      )
      return step + 1, carry, arrays

    _, carry, arrays = tf.while_loop(
      lambda s, *_: s < cfg.num_steps, body, (tf.constant(0), carry, arrays)
    )
    return carry, learner.Rollout(*[a.stack() for a in arrays])

  def _update(self, batch, key, size: int, weights=None) -> Dict[str, tf.Tensor]:
    """The learner's `_update` for every seed: per-seed permutations, losses, gradients,
    global-norm clips; one Adam step over the `[N, ...]` variables per minibatch."""
    cfg = self.config
    n, seeds = size, self.seed_batch
    mb = n // cfg.num_minibatches
    num_updates = cfg.num_epochs * cfg.num_minibatches
    order = tf.argsort(
      rng.batched_uniform([cfg.num_epochs, n], key, xla_floats=cfg.jit_compile), axis=2
    )  # [N, E, n]
    names = ("policy_loss", "value_loss", "entropy", "clip_fraction", "grad_norm")
    if cfg.advantage_normalization == "batch":
      batch = batch[:3] + (self._vmap(_standardize, batch[3]),) + batch[4:]
    agent = self._ppo.agent
    loss_scale = tf.constant(
      np.ones([seeds]) if self._loss_scale is None else self._loss_scale, tf.float32
    )

    def loss_and_gradients(args):
      actor_w, critic_w, obs, action, log_prob, adv, target, old_value, weight, scale = args
      if cfg.advantage_normalization == "minibatch":
        adv = _standardize(adv)
      steps = ts.TimeStep(
        step_type=tf.fill([mb], ts.StepType.MID),
        reward=tf.zeros([mb]),
        discount=tf.ones([mb]),
        observation=obs,
      )
      with tf.GradientTape() as tape:
        tape.watch(actor_w + critic_w)
        with self._actor_swap(actor_w), self._critic_swap(critic_w):
          info = agent.get_loss(
            steps,
            action,
            log_prob,
            target,
            adv,
            action_distribution_parameters=None,
            weights=weight,
            train_step=agent.train_step_counter,
            debug_summaries=False,
            old_value_predictions=old_value,
            training=True,
          )
        total = info.loss * scale
      grads = tape.gradient(
        total, actor_w + critic_w, unconnected_gradients=tf.UnconnectedGradients.ZERO
      )
      extra = info.extra
      entropy = (
        -extra.entropy_regularization_loss / cfg.ent_coef
        if cfg.ent_coef > 0
        else tf.constant(np.nan)
      )
      return grads, tuple(
        tf.cast(v, tf.float32)
        for v in (
          extra.policy_gradient_loss,
          extra.value_estimation_loss,
          entropy,
          extra.clip_fraction,
        )
      )

    def body(u, sums):
      epoch, m = u // cfg.num_minibatches, u % cfg.num_minibatches
      idx = tf.slice(order, [0, epoch, m * mb], [seeds, 1, mb])[:, 0]  # [N, mb]
      minibatch = [tf.gather(x, idx, axis=1, batch_dims=1) for x in batch]
      weight = (
        tf.ones([seeds, mb]) if weights is None else tf.gather(weights, idx, axis=1, batch_dims=1)
      )
      actor, critic = _split(self._weights(), self._sizes)
      grads, values = self._vmap(
        loss_and_gradients, (actor, critic, *minibatch, weight, loss_scale)
      )
      grads, norm = _clip_per_seed(grads, cfg.max_grad_norm)
      self.optimizer.apply_gradients(zip(grads, self._variables))
      seed_axis.apply_constraints(self._variables, self._constraints)
      values = values + (norm,)
      return u + 1, tuple(s + tf.reshape(v, [seeds]) for s, v in zip(sums, values))

    _, sums = tf.while_loop(
      lambda u, _: u < num_updates, body, (tf.constant(0), tuple(tf.zeros([seeds]) for _ in names))
    )
    return {name: s / num_updates for name, s in zip(names, sums)}


def _rollout_metrics(rollout: learner.Rollout) -> Dict[str, tf.Tensor]:
  """`learner.rollout_metrics` per seed (`[T, N, B]` tensors): `[N]` each."""
  finished = tf.reduce_sum(rollout.ended, axis=[0, 2])
  return dict(
    mean_return=tf.reduce_mean(rollout.returned_return, axis=[0, 2]),
    episodes=finished,
    finished_return=tf.math.divide_no_nan(
      tf.reduce_sum(rollout.finished_return, axis=[0, 2]), finished
    )
    + tf.where(finished > 0, 0.0, np.nan),
  )
