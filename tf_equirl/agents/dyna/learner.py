"""Dyna with a PPO actor-critic and a (possibly equivariant) world model, every phase compiled.

The driver follows thesis Algorithm 2 (online Dyna) and Algorithm 6 (Supervised-Dyna). Each of
`dyna_iterations` iterations runs three phases, each one `tf.function(jit_compile=True)`
call with no Python per environment step, per model minibatch or per planned step:

1. acting (`_act`): `acting_iterations` PPO iterations on the real environment
   (`PPO._train_chunk_impl`: collect, GAE, minibatch updates); every real transition
   `(s, a, s', terminated)` is written to the `ModelBuffer` (with its whole orbit under
   `orbit_augmentation`).
2. model learning (`_learn`, online mode only): `model_epochs` epochs of Adam minibatches
   (`TransitionTrainer.train_step`, thesis Table 5.5) over the buffer, reshuffled each epoch.
3. planning (`_plan`): PPO iterations whose collection steps a `ModelEnvironment` (the world
   model's next state, the environment's own reward and termination rule, eq. 4.21) until the
   run has planned `planning_ratio` steps per real step (eq. 4.35).

Two controls bracket a learned model: `world_model="true"` plans on the real environment itself
(the upper bound: no model error; no model phase), and `model_training=False` (online) plans
on a world model that keeps its random initial weights (the lower bound: no model learning).

The counts that vary between Dyna iterations (planning iterations, model epochs) are tensor
arguments, so each phase is traced once per driver and reused for every Dyna iteration and
every seed (`tracing_counts`). Curves are indexed by **real** environment steps; planned
steps are recorded beside them (`TrainResult.extras["planned_steps"]`), never added.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import envs, rng, runs
from tf_equirl.envs.base import BatchedEnvironment
from tf_equirl.envs.defaults import TRANSITION_ENVS, env_defaults
from tf_equirl.agents.dyna.config import LEARNED_WORLD_MODELS, DynaConfig
from tf_equirl.agents.dyna.world import ModelBuffer, ModelEnvironment
from tf_equirl.agents.ppo.learner import PPO, Carry, TrainResult
from tf_equirl.models.networks import EquivariantTransitionModel, MLPTransitionModel
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.models.training import TrainConfig, TransitionTrainer
from tf_equirl.params import count_params


__all__ = ["Dyna", "build_world_model", "load_world_model", "default_world_model_name"]

_LOSSES = ("policy_loss", "value_loss", "entropy", "clip_fraction", "grad_norm")
_PLAN_SEED = 0x91A7  # second word of the planning carry's key (the acting carry uses 0x5EED)
_PLAN_SUMS = ("episodes", "return_sum", "mean_return") + _LOSSES  # summed over planning


def add_planning_metrics(sums: Dict[str, tf.Tensor], values: Dict[str, tf.Tensor]):
  """`sums` (keys `_PLAN_SUMS`) plus one planning iteration's metrics `values`: its finished
  episodes, their returns' sum, its mean return and its losses. Elementwise, so the same for
  one run's scalars and for a seed batch's `[N]`."""
  episodes = values["episodes"]
  finished = tf.where(episodes > 0, values["finished_return"] * episodes, 0.0)
  return dict(
    sums,
    episodes=sums["episodes"] + episodes,
    return_sum=sums["return_sum"] + finished,
    mean_return=sums["mean_return"] + values["mean_return"],
    **{k: sums[k] + values[k] for k in _LOSSES},
  )


def default_world_model_name(env: str, world_model: str) -> str:
  """Zoo name of the pretrained world model of `env`: `"cartpole/gcnn_transition"` (mean
  pooling), `"cartpole/gcnn_proximal_transition"`, `"cartpole/mlp_transition"`."""
  if env not in TRANSITION_ENVS:
    raise ValueError(
      f"No zoo world models for environment {env!r}; the zoo has them for "
      f"{list(TRANSITION_ENVS)}. Pass DynaConfig.world_model_path."
    )
  if world_model not in LEARNED_WORLD_MODELS:
    raise ValueError(
      f"No zoo world model of kind {world_model!r}; expected one of {LEARNED_WORLD_MODELS} "
      "('true' plans on the real environment and loads nothing)."
    )
  return f"{env_defaults(env).zoo_folder}/{world_model}_transition"


def load_world_model(name_or_path: str, spec: TransitionSpec) -> keras.Model:
  """A pretrained world model from a zoo name or a `.keras` file (`zoo.load_any`), checked
  against `spec`."""
  from tf_equirl import zoo  # pylint: disable=import-outside-toplevel

  model = zoo.load_any(name_or_path)
  _check_world_model(model, spec, name_or_path)
  return model


def build_world_model(kind: str, spec: TransitionSpec) -> keras.Model:
  """A fresh world model: `"mlp"`, `"gcnn"` (mean pooling) or `"gcnn_proximal"`."""
  if kind == "mlp":
    return MLPTransitionModel().build(spec)
  if kind == "gcnn":
    return EquivariantTransitionModel(pool="mean").build(spec)
  if kind == "gcnn_proximal":
    return EquivariantTransitionModel(pool="proximal").build(spec)
  raise ValueError(f"Unknown world model {kind!r}; expected 'mlp', 'gcnn' or 'gcnn_proximal'.")


def _check_world_model(model, spec: TransitionSpec, source: str) -> None:
  inputs = getattr(model, "inputs", None) or []
  if len(inputs) != 2:
    raise ValueError(
      f"World model {source!r} must take [observation, action] (two inputs), "
      f"it has {len(inputs)}."
    )
  width = inputs[0].shape[-1]
  if width != spec.state_dim:
    raise ValueError(
      f"World model {source!r} reads observations of width {width}, but the "
      f"environment's observations have width {spec.state_dim}: it is a model "
      "of another environment."
    )
  out = model.outputs[0].shape[-1]
  if out != spec.prediction_dim:
    learned = " with the learned outcome (termination logit and reward)" if spec.outcome else ""
    raise ValueError(
      f"World model {source!r} outputs width {out}, but this environment's "
      f"transition spec ({spec.kind}{learned}) needs width {spec.prediction_dim}."
    )


def model_train_config(config: DynaConfig) -> TrainConfig:
  """The world model's `TrainConfig` of `config` (epochs, Adam settings, batch size)."""
  return TrainConfig(
    epochs=config.epochs,
    learning_rate=config.model_learning_rate,
    max_grad_norm=config.model_max_grad_norm,
    batch_size=config.model_batch_size,
    adam_epsilon=config.model_adam_epsilon,
  )


class Dyna:
  """The Dyna driver (supervised or online) around one PPO learner.

  Args:
    config: a `DynaConfig`.
    env: optional real environment (default `envs.make(config.env, config.ppo.num_envs)`).
    world_model: optional Keras transition model to use instead of the configured one
      (supervised: frozen as given; online: re-initialised at every `reset`). Refused with
      `config.world_model="true"`, which plans on the real environment (`world_model` is
      then None).

  `train(seed=...)` runs a whole run and returns a `TrainResult` over real steps.
  """

  def __init__(
    self,
    config: DynaConfig,
    env: Optional[BatchedEnvironment] = None,
    world_model: Optional[keras.Model] = None,
  ):
    if not isinstance(config, DynaConfig):
      raise ValueError(f"Dyna expects a DynaConfig, received {type(config).__name__}.")
    self.config = cfg = config
    ppo_cfg = cfg.ppo
    self.env = (
      env
      if env is not None
      else envs.make(ppo_cfg.env, batch_size=ppo_cfg.num_envs, seed=ppo_cfg.seed)
    )
    self.spec = TransitionSpec.for_env(self.env, outcome=cfg.learned_outcome)
    self.world_model: Optional[keras.Model]
    if cfg.world_model == "true":
      if world_model is not None:
        raise ValueError(
          "Dyna: config.world_model='true' plans on the real environment; a world_model "
          "cannot be given too (set config.world_model to its kind instead)."
        )
      self.world_model = None
    elif world_model is not None:
      _check_world_model(world_model, self.spec, "given world_model")
      self.world_model = world_model
    elif cfg.mode == "supervised":
      self.world_model = load_world_model(
        cfg.world_model_path or default_world_model_name(ppo_cfg.env, cfg.world_model), self.spec
      )
    else:
      self.world_model = build_world_model(cfg.world_model, self.spec)
    self._initial_model_weights = (
      None if self.world_model is None else self.world_model.get_weights()
    )

    order = self.env.symmetry.group.order if cfg.orbit_augmentation else 1
    real = cfg.real_steps_per_iteration if cfg.model_buffer == "iteration" else cfg.total_real_steps
    self.buffer = ModelBuffer(real * order, self.spec.state_dim, self.env.symmetry)
    # With the "true" model the planning environment steps the real physics (its own
    # states and random stream: the planning carry, key [seed, _PLAN_SEED]).
    self.plan_env = ModelEnvironment(
      self.env,
      self.world_model,
      self.spec,
      batch_size=ppo_cfg.num_envs,
      seed=ppo_cfg.seed,
      start_buffer=self.buffer if cfg.rollout_start == "buffer" else None,
      horizon=cfg.rollout_horizon,
      physics=self.env.physics if self.world_model is None else None,
    )
    self._plan_counts = [cfg.planning_iterations(i) for i in range(cfg.dyna_iterations)]
    iterations = cfg.acting_iterations * cfg.dyna_iterations + sum(self._plan_counts)
    self.ppo = PPO(
      ppo_cfg, env=self.env, num_updates=iterations * ppo_cfg.num_epochs * ppo_cfg.num_minibatches
    )
    self.trainer: Optional[TransitionTrainer] = None
    if cfg.learns_world_model:
      assert self.world_model is not None  # a learned kind
      self.trainer = TransitionTrainer(self.world_model, self.spec, model_train_config(cfg))
    compile_ = dict(jit_compile=ppo_cfg.jit_compile, autograph=False)
    self._act = tf.function(self._act_impl, **compile_)
    self._learn = tf.function(self._learn_impl, **compile_)
    self._plan = tf.function(self._plan_impl, **compile_)
    self._plan_carry: Optional[Carry] = None

  # ------------------------------------------------------------------ properties
  @property
  def actor_model(self) -> keras.Model:
    return self.ppo.actor_model

  @property
  def critic_model(self) -> keras.Model:
    return self.ppo.critic_model

  @property
  def total_real_steps(self) -> int:
    return self.config.total_real_steps

  def parameter_counts(self) -> Dict[str, int]:
    model = 0 if self.world_model is None else count_params(self.world_model)
    return {**self.ppo.parameter_counts(), "world_model": model}

  def describe(self) -> str:
    cfg = self.config
    if cfg.world_model == "true":
      model = "the real environment as world model"
    elif cfg.mode == "online" and not cfg.model_training:
      model = f"untrained {cfg.world_model} world model"
    else:
      model = f"{cfg.mode} {cfg.world_model} world model"
    extras = [
      model,
      f"planning ratio {cfg.planning_ratio:g}",
      f"{cfg.dyna_iterations} Dyna iterations",
    ]
    if cfg.learned_outcome:
      extras.append("learned reward and termination")
    if cfg.orbit_augmentation:
      extras.append("orbit-augmented model data")
    if cfg.rollout_start == "buffer":
      extras.append(f"rollouts branched from real states, horizon {cfg.rollout_horizon}")
    return "Dyna (" + ", ".join(extras) + ")"

  @property
  def tracing_counts(self) -> Dict[str, int]:
    """Times each phase was traced (1 each after any number of iterations and seeds)."""
    return {
      name: fn.experimental_get_tracing_count()
      for name, fn in (("act", self._act), ("learn", self._learn), ("plan", self._plan))
    }

  # ---------------------------------------------------------------------- runs
  def reset(self, seed: int) -> None:
    """Fresh actor-critic, optimisers, buffer, environments and (online) world model."""
    self.ppo.reset(seed)  # seeds Keras, then re-initialises the actor-critic
    if self.world_model is None:  # the "true" model: nothing to reset
      pass
    elif self.config.mode == "online":  # learning or untrained: the seed's initial weights
      fresh = build_world_model(self.config.world_model, self.spec)
      self.world_model.set_weights(fresh.get_weights())
      if self.trainer is not None:
        self.trainer.reset_optimizer()
    else:
      self.world_model.set_weights(self._initial_model_weights)
    self.buffer.clear()
    key = tf.constant([int(seed), _PLAN_SEED], dtype=tf.int64)
    env_state, time_step = self.plan_env.pure_reset(rng.fold_in(key, -1))
    zeros = tf.zeros([self.config.ppo.num_envs], tf.float32)
    self._plan_carry = Carry(
      env_state=env_state,
      observation=time_step.observation,
      episode_return=zeros,
      episode_length=zeros,
      returned_return=zeros,
      iteration=tf.constant(0, tf.int64),
      key=key,
    )
    self._seed = int(seed)

  def train(
    self,
    callback: Optional[Callable[[Dict[str, np.ndarray]], None]] = None,
    seed: Optional[int] = None,
    on_compile: Optional[Callable[[], None]] = None,
    checkpoint: Optional[runs.TrainingCheckpoint] = None,
  ) -> TrainResult:
    """A whole run from `reset(seed or config.ppo.seed)`.

    `callback(metrics)` gets each acting phase's per-iteration metrics, `on_compile()` is
    called once the acting phase is traced, before it compiles, and `checkpoint` saves and
    resumes the run between Dyna iterations (all three as `PPO.train`; a checkpoint holds the
    world model, its optimiser and the model buffer too).

    Raises:
      tf_equirl.runs.TrainingDiverged: as `PPO.train`, for the acting metrics, the model loss
        and the planning metrics.
    """
    cfg = self.config
    seed = cfg.ppo.seed if seed is None else seed
    self.reset(seed)
    acting: List[Dict[str, np.ndarray]] = []
    planned: List[Dict[str, float]] = []
    start = 0
    planned_steps = 0
    if checkpoint is not None:
      restored = checkpoint.restore(self.state_variables(), self._carries())
      if restored is not None:
        done, carries, progress = restored
        self.ppo._carry, self._plan_carry = carries["act"], carries["plan"]  # pylint: disable=protected-access
        start = done // cfg.acting_iterations
        acting = [{k[4:]: v for k, v in progress.items() if k.startswith("act/")}]
        planned = [
          {k[5:]: float(v[i]) for k, v in progress.items() if k.startswith("plan/")}
          for i in range(start)
        ]
        planned_steps = int(planned[-1]["planned_steps"]) if planned else 0
    if on_compile is not None:
      self._act.get_concrete_function(self.ppo._carry)  # pylint: disable=protected-access
      on_compile()
    compile_s = train_s = 0.0
    model_key = tf.constant([self._seed, 0x30DE1], dtype=tf.int64)
    allow_nan = ("finished_return",) + (("entropy",) if cfg.ppo.ent_coef == 0 else ())
    saved = start
    for i in range(start, cfg.dyna_iterations):
      begin = time.perf_counter()
      self.ppo._carry, metrics = self._act(self.ppo._carry)  # pylint: disable=protected-access
      metrics = {k: v.numpy() for k, v in metrics.items()}
      row: Dict[str, float] = {"planned_steps_before": planned_steps}
      if self.trainer is not None:
        row["model_loss"] = float(self._learn(tf.constant(cfg.epochs), rng.fold_in(model_key, i)))
      count = self._plan_counts[i]
      if count:
        self._plan_carry, plan = self._plan(self._plan_carry, tf.constant(count))
        row.update({f"plan_{k}": float(v) for k, v in plan.items()})
        planned_steps += count * cfg.ppo.batch_size
      row["planned_steps"] = planned_steps
      elapsed = time.perf_counter() - begin
      if i == start:
        compile_s = elapsed
      else:
        train_s += elapsed
      acting.append(metrics)
      planned.append(row)
      try:
        checked = dict(metrics, **{k: np.array([v]) for k, v in row.items()})
        runs.check_finite(
          checked,
          self.ppo._variables + self._model_variables(),
          seed,  # pylint: disable=protected-access
          i * cfg.acting_iterations,
          cfg.ppo.batch_size,
          allow_nan + tuple(f"plan_{k}" for k in allow_nan),
        )
      except runs.TrainingDiverged as error:
        error.columns = self._columns(acting, planned)
        raise
      if callback is not None:
        callback(metrics)
      if (
        checkpoint is not None
        and i + 1 < cfg.dyna_iterations
        and checkpoint.due((i + 1) * cfg.acting_iterations, saved * cfg.acting_iterations)
      ):
        progress = {f"act/{k}": np.concatenate([a[k] for a in acting]) for k in acting[0]}
        progress.update(
          {
            f"plan/{k}": np.array([r.get(k, np.nan) for r in planned])
            for k in sorted({k for r in planned for k in r})
          }
        )
        checkpoint.save(
          (i + 1) * cfg.acting_iterations, self.state_variables(), self._carries(), progress
        )
        saved = i + 1
    columns = self._columns(acting, planned)
    extras = {
      k: columns.pop(k)
      for k in list(columns)
      if k == "dyna_iteration" or k == "planned_steps" or k == "model_loss" or k.startswith("plan_")
    }
    return TrainResult(
      env_steps=columns.pop("env_steps"),
      mean_return=columns.pop("mean_return"),
      episodes=columns.pop("episodes"),
      finished_return=columns.pop("finished_return"),
      losses=columns,
      compile_seconds=compile_s,
      train_seconds=train_s,
      compile_steps=(start + 1) * cfg.real_steps_per_iteration,
      extras=extras,
    )

  def _columns(self, acting, planned) -> Dict[str, np.ndarray]:
    """Per-iteration columns (real steps) of the Dyna iterations so far: the acting metrics,
    then each Dyna iteration's planning values repeated over its acting iterations."""
    cfg = self.config
    curves = {k: np.concatenate([a[k] for a in acting]) for k in acting[0]}
    steps = np.arange(1, len(curves["mean_return"]) + 1) * cfg.ppo.batch_size
    per_iteration = np.repeat(np.arange(len(planned)), cfg.acting_iterations)
    columns = {
      "env_steps": steps,
      **curves,
      "dyna_iteration": per_iteration,
      "planned_steps": np.array(
        [planned[i]["planned_steps_before"] for i in per_iteration], np.int64
      ),
    }
    for name in sorted(
      {k for row in planned for k in row} - {"planned_steps_before", "planned_steps"}
    ):
      columns[name] = np.array([planned[i].get(name, np.nan) for i in per_iteration])
    return columns

  def _model_variables(self) -> list:
    if self.trainer is None or self.world_model is None:
      return []
    return list(self.world_model.trainable_variables)

  def _carries(self) -> Dict[str, Optional[Carry]]:
    return {"act": self.ppo._carry, "plan": self._plan_carry}  # pylint: disable=protected-access

  def state_variables(self) -> list:
    """`PPO.state_variables`, the world model and its optimiser, and the model buffer."""
    extra = [] if self.world_model is None else list(self.world_model.variables)
    if self.trainer is not None:
      extra += list(self.trainer.optimizer.variables)
    buf = self.buffer
    return (
      self.ppo.state_variables()
      + extra
      + [buf.obs, buf.action, buf.next_obs, buf.terminated, buf.reward, buf.size, buf.position]
    )

  # ----------------------------------------------------------- compiled phases
  def _act_impl(self, carry: Carry):
    return self.ppo._train_chunk_impl(  # pylint: disable=protected-access
      carry, self.config.acting_iterations, None, self._store
    )

  def _store(self, rollout):
    flat = lambda x: tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))
    obs = tf.reshape(rollout.observation, [-1, self.spec.state_dim])
    next_obs = tf.reshape(rollout.next_observation, [-1, self.spec.state_dim])
    return self.buffer.add(
      obs,
      flat(rollout.action),
      next_obs,
      flat(rollout.terminated),
      orbit=self.config.orbit_augmentation,
      reward=flat(rollout.reward),
    )

  def _learn_impl(self, epochs, key):
    """`epochs` passes of minibatch Adam steps over the buffer; returns the mean loss."""
    buf, size = self.buffer, self.config.model_batch_size
    n = buf.size.read_value()
    num_batches = n // size
    valid = tf.range(buf.capacity) < n

    def epoch(e, total):
      noise = rng.uniform([buf.capacity], rng.fold_in(key, e))
      order = tf.argsort(tf.where(valid, noise, 2.0))  # a shuffle of the filled slots first

      def step(m, total):
        index = tf.slice(order, [m * size], [size])
        return m + 1, total + self.trainer.train_step(buf.batch(index))

      _, total = tf.while_loop(lambda m, _: m < num_batches, step, (tf.constant(0), total))
      return e + 1, total

    _, total = tf.while_loop(lambda e, _: e < epochs, epoch, (tf.constant(0), tf.constant(0.0)))
    return total / tf.cast(tf.maximum(num_batches * epochs, 1), tf.float32)

  def _plan_impl(self, carry: Carry, num_iterations):
    """`num_iterations` PPO iterations on the world model; returns means of their metrics."""
    step_fn = self.plan_env.pure_step

    def body(i, carry, sums):
      carry, values, _ = self.ppo._iteration(carry, step_fn)  # pylint: disable=protected-access
      return i + 1, carry, add_planning_metrics(sums, values)

    names = _PLAN_SUMS
    _, carry, sums = tf.while_loop(
      lambda i, *_: i < num_iterations,
      body,
      (tf.constant(0), carry, {k: tf.constant(0.0) for k in names}),
    )
    count = tf.cast(num_iterations, tf.float32)
    out = {
      "episodes": sums["episodes"],
      "finished_return": tf.math.divide_no_nan(sums["return_sum"], sums["episodes"]),
      "mean_return": sums["mean_return"] / count,
    }
    out.update({k: sums[k] / count for k in _LOSSES})
    return carry, out
