"""Many Dyna seeds in one compiled program: the Dyna driver on `SeedBatchPPO`.

`SeedBatchDyna(config, seeds)` trains `len(seeds)` Dyna agents of one `DynaConfig` together,
supervised (thesis Alg. 6) or online (Alg. 2); seed `k` runs exactly the lone
`Dyna(config).train(seed=k)` (`tf_equirl.agents.dyna.learner`): the same acting carry
(`PPO.reset(k)`), the same planning carry (key `[k, _PLAN_SEED]`), the same initial world model
and model shuffles (online), the same planning schedule and learning-rate annealing, so its
parameters after a Dyna iteration equal the lone run's up to float rounding
(tests/test_dyna_seed_batch.py: 1e-5 relative) and its episodes, real and planned, are the
same.

Each Dyna iteration is the lone driver's phases with a leading seed axis, one XLA call each:

1. acting: `acting_iterations` PPO iterations of every seed on the real environment
   (`SeedBatchPPO._train_chunk_impl`); online, each seed's transitions go to its own model
   buffer (`_SeedBuffer`: `[N, capacity, ...]`, one fill level for all, since every seed adds
   as many);
2. model learning (online): `model_epochs` epochs of every seed's world model over its own
   buffer, each seed's shuffle from its own key (`tf_equirl.rng`'s batched draws), the steps
   `SeedBatchTransitionTrainer.train_step` (stacked world-model weights, per-seed clipping);
3. planning: PPO iterations of every seed whose collection steps the world model
   (`ModelEnvironment.pure_step`, vectorised over the seeds like the real environment's
   step); supervised, the pretrained weights are shared (loop-invariant under
   `tf.vectorized_map`); online, the world model is rebound to each seed's weights. With
   branched rollouts (`rollout_start="buffer"`) a planned episode starts from a real state of
   its own seed's model buffer: the planning environment's start buffer is rebound to the
   seed's slice as the world model's weights are (`_PlanSwap`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import rng, runs, seed_axis
from tf_equirl.agents.dyna.config import DynaConfig
from tf_equirl.agents.dyna.learner import (
  _LOSSES,
  _PLAN_SEED,
  _PLAN_SUMS,
  add_planning_metrics,
  Dyna,
  build_world_model,
  model_train_config,
)
from tf_equirl.agents.dyna.world import ModelBuffer
from tf_equirl.agents.ppo.learner import TrainResult
from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO, SeedCarry, stack_carry
from tf_equirl.envs.base import BatchedEnvironment
from tf_equirl.models.seed_batch import SeedBatchTransitionTrainer

__all__ = ["SeedBatchDyna", "supports"]


def supports(config) -> bool:
  """Whether `SeedBatchDyna` trains `config`: every `DynaConfig` (supervised or online, any
  world model, planned episodes from resets or branched from real states)."""
  return isinstance(config, DynaConfig)


class SeedBatchDyna(SeedBatchPPO):
  """`len(seeds)` Supervised-Dyna runs of one `DynaConfig` in one compiled program per phase.

  Args:
    config: a `DynaConfig` that `supports` (its `ppo.seed` is ignored: `seeds` are the runs).
    seeds: the runs' seeds, non-negative integers.
    seed_batch: seeds per program call (default all); more seeds run in groups.
    env: optional real environment, as for `Dyna`.
    world_model: optional Keras world model, as for `Dyna` (supervised: frozen as given;
      online: of `config.world_model`'s architecture, re-initialised per seed).

  `train()` / `train_group()` return what `SeedBatchPPO`'s do, each entry the `TrainResult`
  `Dyna.train` returns (curves over real steps, planning columns in `extras`);
  `actor_model(k)` / `critic_model(k)` give seed `k`'s networks.

  Raises:
    ValueError: a config that is not a `DynaConfig`, or bad seeds or seed batch.
  """

  def __init__(
    self,
    config: DynaConfig,
    seeds: Sequence[int],
    seed_batch: Optional[int] = None,
    env: Optional[BatchedEnvironment] = None,
    world_model: Optional[keras.Model] = None,
  ):
    if not isinstance(config, DynaConfig):
      raise ValueError(f"SeedBatchDyna expects a DynaConfig, received {type(config).__name__}.")
    # The template driver: real environment, frozen world model, planning environment and
    # schedule (its own PPO learner stays unused).
    self.dyna = Dyna(config, env=env, world_model=world_model)
    self.dyna_config = config
    ppo = config.ppo
    iterations = config.acting_iterations * config.dyna_iterations + sum(
      self.dyna._plan_counts  # pylint: disable=protected-access
    )
    super().__init__(
      ppo,
      seeds,
      seed_batch=seed_batch,
      env=self.dyna.env,
      num_updates=iterations * ppo.num_epochs * ppo.num_minibatches,
    )
    self._world: Optional[SeedBatchTransitionTrainer] = None
    self._world_swap: Optional[seed_axis.WeightSwap] = None
    self._buffer: Optional[_SeedBuffer] = None
    if config.mode == "online" and config.world_model != "true":
      dyna = self.dyna
      # Stacked world-model weights and their Adam; each seed's initial weights come from
      # `Dyna.reset` in `reset` (with model_training=False they are never updated).
      self._world = SeedBatchTransitionTrainer(
        lambda: build_world_model(config.world_model, dyna.spec),
        dyna.spec,
        list(range(self.seed_batch)),
        dataclasses.replace(model_train_config(config), jit_compile=ppo.jit_compile),
      )
      assert dyna.world_model is not None  # a learned kind
      self._world_swap = seed_axis.WeightSwap(dyna.world_model, "SeedBatchDyna")
    if self._world is not None or config.rollout_start == "buffer":
      # Each seed's real transitions: its world model's data (online) and the start states
      # of its branched rollouts.
      self._buffer = _SeedBuffer(self.seed_batch, self.dyna.buffer)
    self._plan_swap = _PlanSwap(self._world_swap, self.dyna.plan_env, self._buffer)
    compile_ = dict(jit_compile=ppo.jit_compile, autograph=False)
    self._act = tf.function(self._act_impl, **compile_)
    self._learn = tf.function(self._learn_impl, **compile_)
    self._plan = tf.function(self._plan_impl, **compile_)
    self._plan_carry: Optional[SeedCarry] = None
    self._trained_world: Dict[int, List[np.ndarray]] = {}

  # ------------------------------------------------------------------ properties
  @property
  def online(self) -> bool:
    """Whether every seed has its own world model (`mode="online"` with a learned kind; with
    `model_training=False` each keeps its initial weights)."""
    return self._world is not None

  @property
  def total_real_steps(self) -> int:
    return self.dyna_config.total_real_steps

  @property
  def tracing_counts(self) -> Dict[str, int]:
    """Times each phase was traced (1 each after any number of iterations and groups)."""
    return {
      name: fn.experimental_get_tracing_count()
      for name, fn in (("act", self._act), ("learn", self._learn), ("plan", self._plan))
    }

  def world_model(self, k: int) -> Optional[keras.Model]:
    """Seed `seeds[k]`'s world model (online: its trained weights after `train()`) as an
    ordinary Keras model; None for `world_model="true"` (the real environment)."""
    if self._world is None:
      return self.dyna.world_model
    with seed_axis.PYTHON_STATE:
      return self._world_model(k)

  def _world_model(self, k: int) -> keras.Model:
    assert self._world is not None
    model = build_world_model(self.dyna_config.world_model, self.dyna.spec)
    values = self._trained_world.get(k)
    if values is None:
      if k not in self._group:
        raise ValueError(f"SeedBatchDyna.world_model: seed index {k} has not been trained.")
      values = self._world.weights(self._group.index(k))
    for variable, value in zip(model.trainable_variables, values):
      variable.assign(value)
    return model

  def parameter_counts(self) -> Dict[str, int]:
    """`Dyna.parameter_counts`: one seed's actor and critic, and the world model."""
    return self.dyna.parameter_counts()

  def describe(self) -> str:
    return self.dyna.describe()

  # ---------------------------------------------------------------------- runs
  def reset(self, group: Sequence[int]) -> None:
    """`SeedBatchPPO.reset`, and every seed's planning carry as `Dyna.reset` makes it."""
    super().reset(group)
    group = list(group)
    padded = group + [group[-1]] * (self.seed_batch - len(group))
    if self._world is not None:
      initial = []
      for k in padded:
        self.dyna.reset(self.seeds[k])  # the world model's initial weights of seed k
        initial.append([v.numpy() for v in self._world_swap.variables])  # type: ignore[union-attr]
      self._world.reset(initial)
    if self._buffer is not None:
      self._buffer.clear()
    states, observations, keys = [], [], []
    branched = self.dyna.plan_env.start_buffer is not None
    for j, k in enumerate(padded):
      key = tf.constant([self.seeds[k], _PLAN_SEED], dtype=tf.int64)
      with self._plan_swap([self._buffer.obs[j]] if branched else []):  # type: ignore[union-attr]
        # an empty buffer: the reset distribution, as `Dyna.reset`
        env_state, time_step = self.dyna.plan_env.pure_reset(rng.fold_in(key, -1))
      states.append(env_state)
      observations.append(time_step.observation)
      keys.append(key)
    self._plan_carry = stack_carry(states, observations, keys, self.config.num_envs)

  def _train_group(self, group, callback):
    cfg, ppo = self.dyna_config, self.config
    with seed_axis.PYTHON_STATE:  # seeding, building and tracing; the programs run outside
      self.reset(group)
      padded = list(group) + [group[-1]] * (self.seed_batch - len(group))
      self._trace(padded)
    allow_nan = ("finished_return",) + (("entropy",) if ppo.ent_coef == 0 else ())
    allow_nan += tuple(f"plan_{k}" for k in allow_nan)
    acting: Dict[int, List[Dict[str, np.ndarray]]] = {k: [] for k in group}
    planned: Dict[int, List[Dict[str, float]]] = {k: [] for k in group}
    diverged: Dict[int, runs.TrainingDiverged] = {}
    compile_s = train_s = 0.0
    planned_steps = 0
    for i in range(cfg.dyna_iterations):
      begin = time.perf_counter()
      self._carry, metrics = self._act(self._carry)
      metrics = {name: value.numpy() for name, value in metrics.items()}  # [iterations, N]
      model_loss = None
      if self._world is not None and cfg.learns_world_model:
        model_loss = self._learn(tf.constant(cfg.epochs), self._model_keys(padded, i)).numpy()
      count = self.dyna._plan_counts[i]  # pylint: disable=protected-access
      plan: Dict[str, np.ndarray] = {}
      if count:
        self._plan_carry, plan_t = self._plan(self._plan_carry, tf.constant(count))
        plan = {name: value.numpy() for name, value in plan_t.items()}  # [N]
      before, planned_steps = planned_steps, planned_steps + count * ppo.batch_size
      elapsed = time.perf_counter() - begin
      if i == 0:
        compile_s = elapsed
      else:
        train_s += elapsed
      values = [v.numpy() for v in self._variables]
      if self._world is not None:
        values += [v.numpy() for v in self._world._variables]  # pylint: disable=W0212
      for j, k in enumerate(group):
        if k in diverged:
          continue
        seed_metrics = {name: value[:, j] for name, value in metrics.items()}
        row: Dict[str, float] = {"planned_steps_before": before}
        if model_loss is not None:
          row["model_loss"] = float(model_loss[j])
        row.update({f"plan_{name}": float(value[j]) for name, value in plan.items()})
        row["planned_steps"] = planned_steps
        acting[k].append(seed_metrics)
        planned[k].append(row)
        try:
          runs.check_finite(
            dict(seed_metrics, **{name: np.array([v]) for name, v in row.items()}),
            [seed_axis.Named(v.name, value[j]) for v, value in zip(self._all_variables(), values)],
            self.seeds[k],
            i * cfg.acting_iterations,
            ppo.batch_size,
            allow_nan,
          )
        except runs.TrainingDiverged as error:
          error.columns = self.dyna._columns(acting[k], planned[k])  # pylint: disable=W0212
          diverged[k] = error
          continue
        if callback is not None:
          callback(k, seed_metrics)
    out: List[Union[TrainResult, runs.TrainingDiverged]] = []
    for j, k in enumerate(group):
      self._trained[k] = [v[j].numpy() for v in self._variables]
      if self._world is not None:
        self._trained_world[k] = self._world.weights(j)
      if k in diverged:
        out.append(diverged[k])
        continue
      columns = self.dyna._columns(acting[k], planned[k])  # pylint: disable=protected-access
      extras = {
        name: columns.pop(name)
        for name in list(columns)
        if name in ("dyna_iteration", "planned_steps", "model_loss") or name.startswith("plan_")
      }
      out.append(
        TrainResult(
          env_steps=columns.pop("env_steps"),
          mean_return=columns.pop("mean_return"),
          episodes=columns.pop("episodes"),
          finished_return=columns.pop("finished_return"),
          losses=columns,
          compile_seconds=compile_s,
          train_seconds=train_s,
          compile_steps=cfg.real_steps_per_iteration,
          extras=extras,
        )
      )
    return out

  def _model_keys(self, padded: Sequence[int], iteration: int) -> tf.Tensor:
    """Each seed's key of its world model's shuffles in Dyna iteration `iteration`, `[N, 2]`."""
    return tf.stack(
      [rng.fold_in(tf.constant([self.seeds[k], 0x30DE1], tf.int64), iteration) for k in padded]
    )

  def _trace(self, padded: Sequence[int]) -> None:
    """Traces the phases `_train_group` calls (once per trainer), with the arguments of
    those calls, so that groups training side by side never trace at the same time."""
    if self._act.experimental_get_tracing_count() == 0:
      self._act.get_concrete_function(self._carry)
    cfg = self.dyna_config
    if (
      self._world is not None
      and cfg.learns_world_model
      and self._learn.experimental_get_tracing_count() == 0
    ):
      self._learn.get_concrete_function(tf.constant(cfg.epochs), self._model_keys(padded, 0))
    planning = any(self.dyna._plan_counts)  # pylint: disable=protected-access
    if planning and self._plan.experimental_get_tracing_count() == 0:
      count = next(c for c in self.dyna._plan_counts if c)  # pylint: disable=protected-access
      self._plan.get_concrete_function(self._plan_carry, tf.constant(count))

  # ----------------------------------------------------------- compiled phases
  def _all_variables(self) -> list:
    world = [] if self._world is None else self._world._variables  # pylint: disable=W0212
    return list(self._variables) + list(world)

  def _act_impl(self, carry: SeedCarry):
    store = None if self._buffer is None else self._store
    return self._train_chunk_impl(carry, self.dyna_config.acting_iterations, None, store)

  def _store(self, rollout):
    """Each seed's real transitions (rollout `[T, N, B, ...]`) into its buffer, in the order
    `Dyna._store` writes them."""
    n, d = self.seed_batch, self.dyna.spec.state_dim

    def per_seed(x, tail):  # [T, N, B, ...] -> [N, T * B, ...]
      x = tf.transpose(x, [1, 0, 2] + list(range(3, x.shape.rank)))
      return tf.reshape(x, [n, -1] + tail)

    return self._buffer.add(  # type: ignore[union-attr]
      per_seed(rollout.observation, [d]),
      per_seed(rollout.action, []),
      per_seed(rollout.next_observation, [d]),
      per_seed(rollout.terminated, []),
      orbit=self.dyna_config.orbit_augmentation,
      reward=per_seed(rollout.reward, []),
    )

  def _learn_impl(self, epochs, keys):
    """`Dyna._learn_impl` for every seed: `epochs` passes of minibatch Adam steps of each
    seed's world model over its own buffer, shuffled from its key (`keys` `[N, 2]`); returns
    each seed's mean loss `[N]`."""
    buf, size, n = self._buffer, self.dyna_config.model_batch_size, self.seed_batch
    filled = buf.size.read_value()  # type: ignore[union-attr]
    capacity = buf.capacity  # type: ignore[union-attr]
    num_batches = filled // size
    valid = tf.range(capacity) < filled

    def epoch(e, total):
      noise = rng.batched_uniform(
        [capacity], rng.batched_fold_in(keys, e), xla_floats=self.config.jit_compile
      )
      order = tf.argsort(tf.where(valid[None], noise, 2.0), axis=1)  # filled slots first

      def step(m, total):
        index = tf.slice(order, [0, m * size], [n, size])
        loss = self._world.train_step(buf.batch(index))  # type: ignore[union-attr]
        return m + 1, total + loss

      _, total = tf.while_loop(lambda m, _: m < num_batches, step, (tf.constant(0), total))
      return e + 1, total

    _, total = tf.while_loop(lambda e, _: e < epochs, epoch, (tf.constant(0), tf.zeros([n])))
    return total / tf.cast(tf.maximum(num_batches * epochs, 1), tf.float32)

  def _plan_impl(self, carry: SeedCarry, num_iterations):
    """`num_iterations` PPO iterations of every seed on the world model; returns each seed's
    means of their metrics (`Dyna._plan_impl` per seed, `[N]` each)."""
    step_fn = self.dyna.plan_env.pure_step
    n = self.seed_batch
    stacked = [] if self._world is None else list(self._world._variables)  # pylint: disable=W0212
    if self.dyna.plan_env.start_buffer is not None:
      stacked.append(self._buffer.obs)  # type: ignore[union-attr]
    swap = (self._plan_swap, stacked) if stacked else None

    def body(i, carry, sums):
      carry, values, _ = self._iteration(carry, step_fn, swap)
      return i + 1, carry, add_planning_metrics(sums, values)

    names = _PLAN_SUMS
    _, carry, sums = tf.while_loop(
      lambda i, *_: i < num_iterations,
      body,
      (tf.constant(0), carry, {k: tf.zeros([n]) for k in names}),
    )
    count = tf.cast(num_iterations, tf.float32)
    out = {
      "episodes": sums["episodes"],
      "finished_return": tf.math.divide_no_nan(sums["return_sum"], sums["episodes"]),
      "mean_return": sums["mean_return"] / count,
    }
    out.update({k: sums[k] / count for k in _LOSSES})
    return carry, out


class _BufferView:
  """One seed's start states as `ModelEnvironment` reads a start buffer (`obs`, `size`)."""

  def __init__(self, obs: tf.Tensor, size: tf.Variable):
    self.obs, self.size = obs, size


class _PlanSwap:
  """Rebinds what a planned step reads to one seed's tensors for the duration of a `with`:
  the world model's weights (online) and, for branched rollouts, the planning environment's
  start buffer (the seed's `[capacity, d]` slice of `_SeedBuffer.obs`; the fill level is
  every seed's). Called with the per-seed tensors in the order `world weights..., buffer
  obs` (each part only where it applies), like `seed_axis.WeightSwap`."""

  def __init__(self, world_swap, plan_env, buffer: Optional["_SeedBuffer"]):
    self._world_swap, self._env = world_swap, plan_env
    self._buffer = buffer if plan_env.start_buffer is not None else None
    self._tensors: List[tf.Tensor] = []
    self._saved: List[tuple] = []

  def __call__(self, tensors: Sequence[tf.Tensor]) -> "_PlanSwap":
    self._tensors = list(tensors)
    return self

  def __enter__(self):
    tensors = list(self._tensors)
    if self._buffer is not None:
      view = _BufferView(tensors.pop(), self._buffer.size)
      self._saved.append(("buffer", self._env.start_buffer))
      self._env.start_buffer = view
    if tensors:
      self._world_swap(tensors).__enter__()
      self._saved.append(("world", None))
    return self

  def __exit__(self, *exc):
    for kind, value in reversed(self._saved):
      if kind == "buffer":
        self._env.start_buffer = value
      else:
        self._world_swap.__exit__(*exc)
    self._saved = []
    return False


class _SeedBuffer:
  """`ModelBuffer` with a seed axis: `[N, capacity, ...]` variables, one fill level and write
  position for all seeds (every seed adds as many transitions per acting phase).

  Args:
    seeds: N.
    like: the lone driver's `ModelBuffer` (capacity, width, symmetry).
  """

  def __init__(self, seeds: int, like: ModelBuffer):
    self.capacity, self.symmetry, n = like.capacity, like.symmetry, seeds
    d = like.obs.shape[-1]

    def var(shape, dtype, name):
      return tf.Variable(tf.zeros(shape, dtype), trainable=False, name=name)

    self.obs = var([n, self.capacity, d], tf.float32, "seeds_buffer_obs")
    self.action = var([n, self.capacity], tf.int32, "seeds_buffer_action")
    self.next_obs = var([n, self.capacity, d], tf.float32, "seeds_buffer_next_obs")
    self.terminated = var([n, self.capacity], tf.float32, "seeds_buffer_terminated")
    self.reward = var([n, self.capacity], tf.float32, "seeds_buffer_reward")
    self.size = tf.Variable(0, dtype=tf.int32, trainable=False, name="seeds_buffer_size")
    self.position = tf.Variable(0, dtype=tf.int32, trainable=False, name="seeds_buffer_position")

  def clear(self) -> None:
    self.size.assign(0)
    self.position.assign(0)

  def add(self, obs, action, next_obs, terminated, orbit: bool = False, reward=None):
    """Appends `[N, M, ...]` (graph-safe); with `orbit`, all |G| images of each, in the order
    `ModelBuffer.add` stores them (`reward` None: zeros, as there)."""
    obs, next_obs = tf.cast(obs, tf.float32), tf.cast(next_obs, tf.float32)
    action, terminated = tf.cast(action, tf.int32), tf.cast(terminated, tf.float32)
    reward = tf.zeros_like(terminated) if reward is None else tf.cast(reward, tf.float32)
    if orbit:
      sym = self.symmetry
      assert sym is not None  # orbit storage needs the environment's symmetry
      g_all = range(sym.group.order)
      obs = tf.concat([sym.state_rep.transform(obs, g) for g in g_all], 1)
      next_obs = tf.concat([sym.state_rep.transform(next_obs, g) for g in g_all], 1)
      action = tf.concat([sym.action_rep.transform(action, g) for g in g_all], 1)
      terminated = tf.tile(terminated, [1, sym.group.order])
      reward = tf.tile(reward, [1, sym.group.order])
    n, m = tf.shape(action)[0], tf.shape(action)[1]
    slots = tf.math.floormod(self.position + tf.range(m), self.capacity)  # [M]
    index = tf.stack(
      [tf.repeat(tf.range(n)[:, None], m, axis=1), tf.tile(slots[None], [n, 1])], axis=-1
    )  # [N, M, 2]
    ops = [
      self.obs.scatter_nd_update(index, obs),
      self.action.scatter_nd_update(index, action),
      self.next_obs.scatter_nd_update(index, next_obs),
      self.terminated.scatter_nd_update(index, terminated),
      self.reward.scatter_nd_update(index, reward),
      self.position.assign(tf.math.floormod(self.position + m, self.capacity)),
      self.size.assign(tf.minimum(self.size + m, self.capacity)),
    ]
    return tf.group(ops)

  def batch(self, index) -> dict:
    """Each seed's transitions at its `index` row (`[N, batch]`), `[N, batch, ...]` each."""
    return {
      "obs": tf.gather(self.obs, index, axis=1, batch_dims=1),
      "action": tf.gather(self.action, index, axis=1, batch_dims=1),
      "next_obs": tf.gather(self.next_obs, index, axis=1, batch_dims=1),
      "terminated": tf.gather(self.terminated, index, axis=1, batch_dims=1),
      "reward": tf.gather(self.reward, index, axis=1, batch_dims=1),
    }
