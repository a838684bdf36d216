"""Many actor-critic seeds in one compiled program: a seed axis through networks, optimisers,
replay and environments.

`SeedBatchAC(config, seeds)` trains `len(seeds)` independent runs of `AC(config)` as one
program, as `tf_equirl.agents.ppo.seed_batch.SeedBatchPPO` does for PPO. Seed `k` runs the
lone `AC(config).train(seed=k)`: the same initial weights and environment resets
(`AC.reset(k)`), the same base key, exploration noise, random actions, minibatches and target
noise, the same update; its parameters and curves equal the lone run's up to float rounding
(tests/test_ac_seed_batch.py).

How the seed axis goes through `AC`'s loop (same steps, same order), with the pieces of
`tf_equirl.seed_axis`:

1. Parameters: one variable `[N, ...]` per weight of the actor, the critic and the target
   critic. The per-seed code is `AC`'s own (`_act`, `_repeat_step`, `critic_loss`,
   `actor_loss`, `augment_batch`), run under `tf.vectorized_map` with the template models'
   weights rebound to the seed's slices (`WeightSwap`).
2. Draws: `tf_equirl.rng`'s vectorizable Philox inside the vectorised functions, so every seed
   draws what its lone run draws.
3. Replay: `replay.SeedReplay`, one ring buffer per seed side by side; the seeds step in
   lockstep, so the random phase, the update schedule and the buffer's count are shared and
   the control flow is the lone run's.
4. Update: the critic's gradient of every seed inside one vectorised function, one Adam step
   over the stacked critic variables (Adam is elementwise: N Adams in lockstep), then the
   actor's gradient against the updated critics and one Adam step, then the targets' moving
   average; Keras constraints are applied to each seed's slice, as the optimiser applies them
   to a lone run's weights.

Evaluations play each seed's actor through `AC`'s compiled players (its weights loaded into
the template), so they are the lone run's evaluations. A seed batch smaller than the seeds
(`seed_batch`) runs them in groups through the same program, the last group padded with
copies of its last seed. Environments that step through Python (`compiles_with_xla` False:
dm_control's tasks) and pixel observations are not vectorised: they train one seed at a time.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import rng, seed_axis
from tf_equirl.agents.ac.config import ACConfig
from tf_equirl.agents.ac.learner import (
  AC,
  ADAM_EPSILON,
  METRICS,
  ACResult,
  Carry,
  actor_loss,
  augment_batch,
  critic_loss,
)
from tf_equirl.agents.ac.replay import SeedReplay, sample_arrays
from tf_equirl.envs.base import value_assertions

__all__ = ["SeedBatchAC", "check_seed_batch"]


def check_seed_batch(config: ACConfig, env: Any, seed_batch: Optional[int]) -> None:
  """Raises a ValueError naming why `config`'s seeds cannot train `seed_batch` at a time:
  a `seed_batch` that is not a positive integer, SAC, pixel observations, or an environment that
  steps through Python (`compiles_with_xla` False)."""
  seed_axis.check_seeds("SeedBatchAC", [0], seed_batch)
  if config.algorithm != "drqv2":
    raise ValueError(
      f"SeedBatchAC vectorises the deterministic actor (algorithm='drqv2'), received "
      f"algorithm={config.algorithm!r}; train SAC's seeds one after another (no seed_batch)."
    )
  if config.observation != "state":
    raise ValueError(
      f"SeedBatchAC vectorises state observations only, received observation="
      f"{config.observation!r}; train pixel agents one seed at a time (no seed_batch)."
    )
  if not getattr(env, "compiles_with_xla", True):
    raise ValueError(
      f"SeedBatchAC: {env.name} steps through Python (tf.numpy_function), which cannot be "
      "vectorised over seeds; train its seeds one at a time (no seed_batch)."
    )


class SeedBatchAC:
  """`len(seeds)` runs of one `ACConfig` trained together in one compiled program.

  Args:
    config: an `ACConfig` with state observations (its `seed` is ignored: `seeds` are the
      runs).
    seeds: the runs' seeds, non-negative integers.
    seed_batch: seeds per program (default all); more seeds run in groups.
    env: optional environment, as `AC` takes it.

  `train(callback)` returns one `ACResult` per seed; `actor_weights(k)` and
  `critic_weights(k)` are seed `seeds[k]`'s trained weights, `load(k)` puts them into the
  template `agent`'s networks (an ordinary `AC`).

  Raises:
    ValueError: empty or negative seeds, a bad `seed_batch`, pixel observations, or an
      environment that steps through Python.
  """

  def __init__(
    self,
    config: ACConfig,
    seeds: Sequence[int],
    seed_batch: Optional[int] = None,
    env: Optional[Any] = None,
  ):
    self.seeds = seed_axis.check_seeds("SeedBatchAC", seeds, seed_batch)
    if not isinstance(config, ACConfig):
      raise ValueError(f"SeedBatchAC expects an ACConfig, received {type(config).__name__}.")
    if config.observation != "state":  # before AC, which refuses pixels less helpfully
      check_seed_batch(config, env, seed_batch)
    self.config = cfg = config
    self.seed_batch = n = min(int(seed_batch or len(self.seeds)), len(self.seeds))
    self.agent = agent = AC(config, env)  # the template: environment, networks, players
    check_seed_batch(config, agent.env, seed_batch)
    models = (agent.actor, agent.critic, agent.target_critic)
    for model in models:
      if len(model.variables) != len(model.trainable_variables):
        raise ValueError(
          f"SeedBatchAC: {model.name} has non-trainable weights, which the seed axis does "
          "not carry; train its seeds one at a time (no seed_batch)."
        )
    self._swaps = [seed_axis.WeightSwap(m, "SeedBatchAC") for m in models]
    self._actor_vars, self._critic_vars, self._target_vars = [
      seed_axis.stacked_variables(swap.variables, n) for swap in self._swaps
    ]
    self._actor_constraints = [v.constraint for v in self._swaps[0].variables]
    self._critic_constraints = [v.constraint for v in self._swaps[1].variables]
    self.actor_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.critic_optimizer = keras.optimizers.Adam(cfg.learning_rate, epsilon=ADAM_EPSILON)
    self.actor_optimizer.build(self._actor_vars)
    self.critic_optimizer.build(self._critic_vars)
    replay = agent.replay
    self.replay = SeedReplay(
      n, replay.slots, replay.num_envs, agent.symmetry.state_dim, agent.symmetry.action_dim
    )
    self._train_call = tf.function(
      self._train_call_impl, jit_compile=cfg.jit_compile, autograph=False
    )
    self._group: List[int] = []
    self._carry: Optional[Carry] = None
    self._trained: Dict[int, List[List[np.ndarray]]] = {}

  # ------------------------------------------------------------------ properties
  @property
  def tracing_count(self) -> int:
    """Times the training call was traced (1 after any number of calls and groups)."""
    return self._train_call.experimental_get_tracing_count()

  def parameter_counts(self) -> Dict[str, int]:
    return self.agent.parameter_counts()

  def actor_weights(self, k: int) -> List[np.ndarray]:
    """Seed `seeds[k]`'s actor weights (trained once `train` ran its group)."""
    return self._seed_weights(k)[0]

  def critic_weights(self, k: int) -> List[np.ndarray]:
    return self._seed_weights(k)[1]

  def load(self, k: int) -> AC:
    """The template agent with seed `seeds[k]`'s weights in its actor, critic and target
    critic (its `evaluate`, `final_evaluation` and `.keras` saving then act for that seed)."""
    for model, values in zip(
      (self.agent.actor, self.agent.critic, self.agent.target_critic), self._seed_weights(k)
    ):
      for variable, value in zip(model.trainable_variables, values):
        variable.assign(value)
    return self.agent

  def _seed_weights(self, k: int) -> List[List[np.ndarray]]:
    if not 0 <= k < len(self.seeds):
      raise ValueError(f"SeedBatchAC: seed index {k} is out of range for {len(self.seeds)} seeds.")
    if k in self._trained:
      return self._trained[k]
    if k in self._group:
      i = self._group.index(k)
      return [[v[i].numpy() for v in stacked] for stacked in self._stacked]
    raise ValueError(f"SeedBatchAC: seed {self.seeds[k]} has not been trained yet.")

  @property
  def _stacked(self):
    return (self._actor_vars, self._critic_vars, self._target_vars)

  # ---------------------------------------------------------------------- runs
  def reset(self, group: Sequence[int]) -> None:
    """Starts the runs of the seeds with indices `group` (at most `seed_batch`; padded):
    each seed's `AC.reset`, stacked."""
    group = list(group)
    padded = group + [group[-1]] * (self.seed_batch - len(group))
    weights: List[List[List[np.ndarray]]] = []
    carries: List[Carry] = []
    for k in padded:
      self.agent.reset(self.seeds[k])
      weights.append([[v.numpy() for v in swap.variables] for swap in self._swaps])
      carry = self.agent._carry  # pylint: disable=protected-access
      assert carry is not None  # AC.reset sets it
      carries.append(carry)
    for m, stacked in enumerate(self._stacked):
      for i, variable in enumerate(stacked):
        variable.assign(np.stack([w[m][i] for w in weights]))
    for v in self.actor_optimizer.variables + self.critic_optimizer.variables:
      v.assign(tf.zeros_like(v))
    self.replay.clear()
    stack = lambda parts: tf.nest.map_structure(lambda *x: tf.stack(x), *parts)  # noqa: E731
    self._group = group
    self._carry = Carry(
      env_state=stack([c.env_state for c in carries]),
      observation=stack([c.observation for c in carries]),
      episode_return=stack([c.episode_return for c in carries]),
      step=carries[0].step,
      key=stack([c.key for c in carries]),
    )

  def train(
    self, callback: Optional[Callable[[int, int, float, Dict[str, float]], None]] = None
  ) -> List[ACResult]:
    """Trains every seed for `config.total_steps` env steps, group after group.

    `callback(k, env_steps, eval_return, metrics)` is called after every evaluation of seed
    index `k`. Returns one `ACResult` per seed, in the order of `seeds` (`compile_seconds` and
    `train_seconds` are those of its group's program). A seed whose values turn non-finite
    does not change the others: `tf_equirl.agents.ac.experiment` checks each.
    """
    out: List[ACResult] = []
    for start in range(0, len(self.seeds), self.seed_batch):
      group = list(range(start, min(start + self.seed_batch, len(self.seeds))))
      out.extend(self._train_group(group, callback))
    return out

  def train_group(
    self,
    group: Sequence[int],
    callback: Optional[Callable[[int, int, float, Dict[str, float]], None]] = None,
  ) -> List[ACResult]:
    """Trains the seeds with indices `group` (into `seeds`; at most `seed_batch` of them) in
    one program run and returns their results as `train` does; a caller that writes each
    group's outputs as it finishes (`tf_equirl.agents.ac.experiment`) calls it group by
    group.

    Raises:
      ValueError: an empty group, more than `seed_batch` indices, or an index out of range.
    """
    group = [int(k) for k in group]
    if not group or len(group) > self.seed_batch:
      raise ValueError(
        f"SeedBatchAC.train_group: expected 1 to {self.seed_batch} seed indices, received "
        f"{group!r}."
      )
    if len(set(group)) != len(group) or any(not 0 <= k < len(self.seeds) for k in group):
      raise ValueError(
        f"SeedBatchAC.train_group: indices must be distinct and in [0, {len(self.seeds)}), "
        f"received {group!r}."
      )
    return self._train_group(group, callback)

  def _evaluate(self, i: int, k: int, index: int) -> float:
    self._load_slot(i)
    return self.agent.evaluate(self.seeds[k], index)

  def _load_slot(self, i: int) -> None:
    for model, stacked in zip((self.agent.actor, self.agent.critic), self._stacked[:2]):
      for variable, value in zip(model.trainable_variables, stacked):
        variable.assign(value[i])

  def _train_group(self, group, callback) -> List[ACResult]:
    cfg = self.config
    with seed_axis.PYTHON_STATE:  # seeding, building and tracing; the program runs outside
      self.reset(group)
      carry = self._carry
    calls = cfg.total_steps // cfg.eval_every
    steps = [0]
    returns = {k: [self._evaluate(i, k, 0)] for i, k in enumerate(group)}
    metrics = {k: {name: [np.nan] for name in METRICS} for k in group}
    compile_s = train_s = 0.0
    for call in range(calls):
      start = time.perf_counter()
      carry, values = self._train_call(carry)
      values = {name: v.numpy() for name, v in values.items()}  # [N] each
      elapsed = time.perf_counter() - start
      if call == 0:
        compile_s = elapsed
      else:
        train_s += elapsed
      steps.append((call + 1) * cfg.eval_every)
      for i, k in enumerate(group):
        returns[k].append(self._evaluate(i, k, call + 1))
        row = {name: float(values[name][i]) for name in METRICS}
        for name in METRICS:
          metrics[k][name].append(row[name])
        if callback is not None:
          callback(k, steps[-1], returns[k][-1], row)
    self._carry = carry
    out = []
    for i, k in enumerate(group):
      self._trained[k] = [[v[i].numpy() for v in stacked] for stacked in self._stacked]
      self._load_slot(i)
      final, noisy = self.agent.final_evaluation(self.seeds[k])
      out.append(
        ACResult(
          env_steps=np.asarray(steps, np.int64),
          eval_return=np.asarray(returns[k], np.float64),
          metrics={name: np.asarray(v, np.float64) for name, v in metrics[k].items()},
          compile_seconds=compile_s,
          train_seconds=train_s,
          final_returns=final,
          final_noisy_returns=noisy,
        )
      )
    return out

  # ------------------------------------------------------------ compiled graph
  def _vmap(self, fn, elems):
    return seed_axis.vmap(fn, elems, self.config.jit_compile)

  @staticmethod
  def _keys(base, *data):
    """`rng.fold_in(...rng.fold_in(base_k, data[0])..., data[-1])` of every seed's base key
    `base [N, 2]`, as the lone run folds its keys."""
    key = base
    for d in data:
      key = rng.batched_fold_in(key, tf.convert_to_tensor(d))
    return key

  def _normals(self, keys, shape):
    """Every seed's `rng.normal(shape, keys[k])`, drawn as the lone run draws it (outside the
    vectorised functions: TensorFlow's normal draws have no vectorised form)."""
    return tf.stack([rng.normal(shape, keys[k]) for k in range(self.seed_batch)])

  def _update(self, keys, t, j, std):
    """Every seed's `AC._update`: `(critic_loss, actor_loss, q_mean)`, `[N]` each."""
    cfg, agent = self.config, self.agent
    actor_swap, critic_swap, target_swap = self._swaps
    read = lambda vs: [tf.convert_to_tensor(v) for v in vs]  # noqa: E731

    def seed_key(base):
      key = rng.fold_in(rng.fold_in(base, t), 1)
      return rng.fold_in(key, tf.cast(j, tf.int64))

    update_keys = self._keys(keys, t, 1, tf.cast(j, tf.int64))
    shape = [cfg.batch_size, agent.symmetry.action_dim]
    target_normal = self._normals(self._keys(update_keys, 2), shape)
    actor_normal = self._normals(self._keys(update_keys, 3), shape)

    def critic_step(args):
      actor_w, critic_w, target_w, arrays, base, normal = args
      key = seed_key(base)
      batch = sample_arrays(
        arrays, self.replay.count, rng.fold_in(key, 0), cfg.batch_size, cfg.n_step, cfg.gamma
      )
      if cfg.network == "augment":
        batch = augment_batch(agent.symmetry, batch, rng.fold_in(key, 1))
      with tf.GradientTape() as tape:
        tape.watch(critic_w)
        with actor_swap(actor_w), critic_swap(critic_w), target_swap(target_w):
          loss, q = critic_loss(
            agent.critic,
            agent.target_critic,
            agent.actor,
            batch,
            agent._noise(None, std, normal),  # pylint: disable=protected-access
          )
      grads = tape.gradient(loss, critic_w, unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return grads, loss, tf.reduce_mean(q), batch.observation

    grads, c_loss, q_mean, observation = self._vmap(
      critic_step,
      (
        read(self._actor_vars),
        read(self._critic_vars),
        read(self._target_vars),
        self.replay.arrays(),
        keys,
        target_normal,
      ),
    )
    self.critic_optimizer.apply_gradients(zip(grads, self._critic_vars))
    seed_axis.apply_constraints(self._critic_vars, self._critic_constraints)

    def actor_step(args):
      actor_w, critic_w, obs, normal = args
      with tf.GradientTape() as tape:
        tape.watch(actor_w)
        with actor_swap(actor_w), critic_swap(critic_w):
          loss = actor_loss(
            agent.actor,
            agent.critic,
            obs,
            agent._noise(None, std, normal),  # pylint: disable=protected-access
          )
      grads = tape.gradient(loss, actor_w, unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return grads, loss

    grads, a_loss = self._vmap(
      actor_step, (read(self._actor_vars), read(self._critic_vars), observation, actor_normal)
    )
    self.actor_optimizer.apply_gradients(zip(grads, self._actor_vars))
    seed_axis.apply_constraints(self._actor_vars, self._actor_constraints)
    tau = cfg.tau
    for target, source in zip(self._target_vars, self._critic_vars):
      target.assign(tau * source + (1.0 - tau) * target)
    return c_loss, a_loss, q_mean

  def _train_call_impl(self, carry: Carry):
    """`AC._agent_steps` with every seed's acting and stepping in one vectorised function
    and every seed's updates in `_update`."""
    cfg, agent = self.config, self.agent
    actor_swap = self._swaps[0]

    def act_and_step(carry: Carry, t):
      def per_seed(args):
        actor_w, observation, env_state, base, normal = args
        key = rng.fold_in(base, t)
        with actor_swap(actor_w):
          action = agent._act(observation, t, rng.fold_in(key, 0), normal)  # pylint: disable=W0212
        stepped = agent._repeat_step(env_state, action)  # pylint: disable=protected-access
        return (action,) + stepped

      actor_w = [tf.convert_to_tensor(v) for v in self._actor_vars]
      shape = [cfg.num_envs, agent.symmetry.action_dim]
      normal = self._normals(self._keys(carry.key, t, 0, 0), shape)
      # Under XLA the environments' action assertions are left out (envs.base).
      with value_assertions(not cfg.jit_compile):
        return self._vmap(
          per_seed, (actor_w, carry.observation, carry.env_state, carry.key, normal)
        )

    return agent._agent_steps(  # pylint: disable=protected-access
      carry,
      tf.zeros([self.seed_batch]),
      act_and_step,
      self._update,
      self.replay,
      lambda x: tf.reduce_sum(x, axis=1),
    )
