"""Many Supervised-Dyna seeds in one compiled program: the Dyna driver on `SeedBatchPPO`.

`SeedBatchDyna(config, seeds)` trains `len(seeds)` Supervised-Dyna agents (thesis Alg. 6) of one
`DynaConfig` together; seed `k` runs exactly the lone `Dyna(config).train(seed=k)`
(`tf_equirl.agents.dyna.learner`): the same acting carry (`PPO.reset(k)`), the same planning
carry (key `[k, _PLAN_SEED]`), the same planning schedule and learning-rate annealing, so its
parameters after a Dyna iteration equal the lone run's up to float rounding
(tests/test_dyna_seed_batch.py: 1e-5 relative) and its episodes, real and planned, are the
same.

Each Dyna iteration is the lone driver's phases with a leading seed axis:

1. acting: `acting_iterations` PPO iterations of every seed on the real environment
   (`SeedBatchPPO._train_chunk_impl`), one XLA call;
2. planning: PPO iterations of every seed whose collection steps the frozen world model
   (`ModelEnvironment.pure_step`, vectorised over the seeds like the real environment's
   step; the pretrained model's weights are shared, loop-invariant under
   `tf.vectorized_map`), one XLA call.

What is vectorised: `mode="supervised"` with planned episodes from the reset distribution
(`rollout_start="reset"`), where the model buffer is written but never read. Online Dyna (a
world model and buffer per seed, their training between the phases) and branched rollouts
(`rollout_start="buffer"`) train their seeds one after another (`supports`).
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import rng, runs, seed_axis
from tf_equirl.agents.dyna.config import DynaConfig
from tf_equirl.agents.dyna.learner import _LOSSES, _PLAN_SEED, Dyna
from tf_equirl.agents.ppo.learner import TrainResult
from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO, SeedCarry
from tf_equirl.envs.base import EnvState

__all__ = ["SeedBatchDyna", "supports"]


def supports(config) -> bool:
  """Whether `SeedBatchDyna` trains `config`: a `DynaConfig` in supervised mode whose planned
  episodes start from the reset distribution."""
  return (
    isinstance(config, DynaConfig)
    and config.mode == "supervised"
    and config.rollout_start == "reset"
  )


class SeedBatchDyna(SeedBatchPPO):
  """`len(seeds)` Supervised-Dyna runs of one `DynaConfig` in one compiled program per phase.

  Args:
    config: a `DynaConfig` that `supports` (its `ppo.seed` is ignored: `seeds` are the runs).
    seeds: the runs' seeds, non-negative integers.
    seed_batch: seeds per program call (default all); more seeds run in groups.
    env: optional real environment, as for `Dyna`.
    world_model: optional frozen Keras world model, as for `Dyna`.

  `train()` / `train_group()` return what `SeedBatchPPO`'s do, each entry the `TrainResult`
  `Dyna.train` returns (curves over real steps, planning columns in `extras`);
  `actor_model(k)` / `critic_model(k)` give seed `k`'s networks.

  Raises:
    ValueError: a config `supports` refuses (naming why), or bad seeds or seed batch.
  """

  def __init__(
    self,
    config: DynaConfig,
    seeds: Sequence[int],
    seed_batch: Optional[int] = None,
    env=None,
    world_model: Optional[keras.Model] = None,
  ):
    if not isinstance(config, DynaConfig):
      raise ValueError(f"SeedBatchDyna expects a DynaConfig, received {type(config).__name__}.")
    if not supports(config):
      raise ValueError(
        "SeedBatchDyna trains mode='supervised' with rollout_start='reset' only, received "
        f"mode={config.mode!r}, rollout_start={config.rollout_start!r}; train the seeds one "
        "after another (Dyna, or run_experiment with vectorize=False)."
      )
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
    compile_ = dict(jit_compile=ppo.jit_compile, autograph=False)
    self._act = tf.function(self._act_impl, **compile_)
    self._plan = tf.function(self._plan_impl, **compile_)
    self._plan_carry: Optional[SeedCarry] = None

  # ------------------------------------------------------------------ properties
  @property
  def total_real_steps(self) -> int:
    return self.dyna_config.total_real_steps

  @property
  def tracing_counts(self) -> Dict[str, int]:
    """Times each phase was traced (1 each after any number of iterations and groups)."""
    return {
      name: fn.experimental_get_tracing_count()
      for name, fn in (("act", self._act), ("plan", self._plan))
    }

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
    states, observations, keys = [], [], []
    for k in padded:
      key = tf.constant([self.seeds[k], _PLAN_SEED], dtype=tf.int64)
      env_state, time_step = self.dyna.plan_env.pure_reset(rng.fold_in(key, -1))
      states.append(env_state)
      observations.append(time_step.observation)
      keys.append(key)
    zeros = tf.zeros([len(padded), self.config.num_envs], tf.float32)
    self._plan_carry = SeedCarry(
      env_state=EnvState(*[tf.stack(parts) for parts in zip(*states)]),
      observation=tf.stack(observations),
      episode_return=zeros,
      episode_length=zeros,
      returned_return=zeros,
      iteration=tf.constant(0, tf.int64),
      key=tf.stack(keys),
    )

  def _train_group(self, group, callback):
    cfg, ppo = self.dyna_config, self.config
    self.reset(group)
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
      for j, k in enumerate(group):
        if k in diverged:
          continue
        seed_metrics = {name: value[:, j] for name, value in metrics.items()}
        row: Dict[str, float] = {"planned_steps_before": before}
        row.update({f"plan_{name}": float(value[j]) for name, value in plan.items()})
        row["planned_steps"] = planned_steps
        acting[k].append(seed_metrics)
        planned[k].append(row)
        try:
          runs.check_finite(
            dict(seed_metrics, **{name: np.array([v]) for name, v in row.items()}),
            [seed_axis.Named(v.name, value[j]) for v, value in zip(self._variables, values)],
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
      if k in diverged:
        out.append(diverged[k])
        continue
      columns = self.dyna._columns(acting[k], planned[k])  # pylint: disable=protected-access
      extras = {
        name: columns.pop(name)
        for name in list(columns)
        if name in ("dyna_iteration", "planned_steps") or name.startswith("plan_")
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

  # ----------------------------------------------------------- compiled phases
  def _act_impl(self, carry: SeedCarry):
    return self._train_chunk_impl(carry, self.dyna_config.acting_iterations)

  def _plan_impl(self, carry: SeedCarry, num_iterations):
    """`num_iterations` PPO iterations of every seed on the world model; returns each seed's
    means of their metrics (`Dyna._plan_impl` per seed, `[N]` each)."""
    step_fn = self.dyna.plan_env.pure_step
    n = self.seed_batch

    def body(i, carry, sums):
      carry, values = self._iteration(carry, step_fn)
      episodes = values["episodes"]
      finished = tf.where(episodes > 0, values["finished_return"] * episodes, 0.0)
      new = dict(
        sums,
        episodes=sums["episodes"] + episodes,
        return_sum=sums["return_sum"] + finished,
        mean_return=sums["mean_return"] + values["mean_return"],
        **{k: sums[k] + values[k] for k in _LOSSES},
      )
      return i + 1, carry, new

    names = ("episodes", "return_sum", "mean_return") + _LOSSES
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
