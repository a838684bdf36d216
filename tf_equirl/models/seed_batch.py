"""Many seeds of one transition model trained as one compiled program per epoch.

`SeedBatchTransitionTrainer(build, spec, seeds, config)` trains `len(seeds)` copies of one
architecture, seed `k` exactly as the lone run `train_one` makes with `TrainConfig(seed=k)`
(`tf_equirl.models.training`): the same initial weights (`keras.utils.set_random_seed(k)`,
then `build()`), the same minibatches in the same order, the same Adam steps and clipping;
its weights after an epoch equal the lone run's up to float rounding
(tests/test_models_seed_batch.py: 1e-5 relative).

1. Parameters: one variable `[N, ...]` per weight (`tf_equirl.seed_axis`); the ordinary
   Keras model runs for each seed under `tf.vectorized_map` with its weights rebound to the
   seed's slice, so every transition model the builders make is covered.
2. Data: the seeds share one dataset. Each seed's shuffle is its lone run's: a `tf.data`
   index pipeline (`as_tf_dataset`'s, seeded as `train_one` seeds it) drawn once per epoch
   on the host, `[N, steps, batch]` indices handed to the compiled epoch.
3. Epoch: one `tf.function(jit_compile=config.jit_compile)` whose `tf.while_loop` runs every
   step of the epoch: gather each seed's minibatch, each seed's loss and gradient inside
   the vectorised function, each gradient clipped by its own global norm, one Adam step over
   the stacked variables (N Adams in lockstep: Adam is elementwise).
4. Validation: after every epoch each seed's weights go into an ordinary model and
   `training.history_row` evaluates it, as the lone run does.

`train_together` is `train_one` for several seeds: the same files in each seed's run folder.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from tf_equirl import envs, seed_axis
from tf_equirl.models.data import dataset_dir, load_split
from tf_equirl.models.networks import build_transition_model
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.models.training import (
  RunWriter,
  TrainConfig,
  action_splits,
  history_row,
  label,
)

from tensorflow import keras

__all__ = ["SeedBatchTransitionTrainer", "train_together"]

OnEpoch = Callable[[int, int, Dict[str, float]], None]


class SeedBatchTransitionTrainer:
  """`len(seeds)` runs of one transition model trained together, one program per epoch.

  Args:
    build: builds one seed's untrained model (`[observation, action] -> prediction`); it is
      called after `keras.utils.set_random_seed(seed)`, as `train_one` builds its model.
    spec: the models' `TransitionSpec` (loss and metrics).
    seeds: the runs' seeds (initial weights and shuffles), non-negative integers.
    config: `TrainConfig` (its `seed` is ignored: `seeds` are the runs); None:
      `TrainConfig()`.

  After `fit`, `model(k)` is seed `seeds[k]`'s trained model as an ordinary Keras model.
  `keras.utils.set_random_seed` is called for every seed (the global seeds are left at the
  last seed's), as each lone run calls it.

  Raises:
    ValueError: empty or negative seeds, a spec that is not a `TransitionSpec`, or
      `mask_terminal=False` for a grid spec.
  """

  def __init__(
    self,
    build: Callable[[], keras.Model],
    spec: TransitionSpec,
    seeds: Sequence[int],
    config: Optional[TrainConfig] = None,
  ):
    self.seeds = seed_axis.check_seeds("SeedBatchTransitionTrainer", seeds, None)
    if not isinstance(spec, TransitionSpec):
      raise ValueError(
        "SeedBatchTransitionTrainer: spec must be a tf_equirl.models.TransitionSpec, "
        f"received {type(spec).__name__}."
      )
    config = config if config is not None else TrainConfig()
    if spec.kind == "grid" and not config.mask_terminal:
      raise ValueError(
        "TrainConfig.mask_terminal=False needs a continuous spec; grid targets "
        "are undefined for terminal transitions (ball in the paddle's row)."
      )
    self.build, self.spec, self.config = build, spec, config
    self._initial = [self._initial_weights(s) for s in self.seeds]
    self._template = self._fresh(self.seeds[0])
    self._swap = seed_axis.WeightSwap(self._template, "SeedBatchTransitionTrainer")
    n = len(self.seeds)
    self._variables = seed_axis.stacked_variables(self._swap.variables, n)
    self._constraints = [v.constraint for v in self._swap.variables]
    self.optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=config.adam_epsilon)
    self.optimizer.build(self._variables)
    self.reset()
    # Products of two per-seed operands as one product per seed under XLA, as SeedBatchPPO
    # does for up to 8 seeds per program.
    self.split_products = n <= 8
    self._epoch = tf.function(
      self._epoch_impl, jit_compile=config.jit_compile, reduce_retracing=True, autograph=False
    )
    # Test hook: per-seed factors `[N]` on the losses (None: 1), read when traced.
    self._loss_scale: Optional[np.ndarray] = None
    self.compile_seconds = self.train_seconds = 0.0

  # ------------------------------------------------------------------ models
  def _fresh(self, seed: int) -> keras.Model:
    keras.utils.set_random_seed(int(seed))
    return self.build()

  def _initial_weights(self, seed: int) -> List[np.ndarray]:
    return [v.numpy() for v in self._fresh(seed).trainable_variables]

  @property
  def tracing_count(self) -> int:
    """How often the epoch program was traced."""
    return self._epoch.experimental_get_tracing_count()

  def weights(self, k: int) -> List[np.ndarray]:
    """Seed `seeds[k]`'s trainable weights, in the order of the model's."""
    if not 0 <= k < len(self.seeds):
      raise ValueError(
        f"SeedBatchTransitionTrainer: seed index {k} is out of range for "
        f"{len(self.seeds)} seeds."
      )
    return [v[k].numpy() for v in self._variables]

  def model(self, k: int) -> keras.Model:
    """Seed `seeds[k]`'s model (its current weights) as an ordinary Keras model."""
    values = self.weights(k)
    net = self._fresh(self.seeds[k])
    for variable, value in zip(net.trainable_variables, values):
      variable.assign(value)
    return net

  def reset(self, initial: Optional[Sequence[Sequence[np.ndarray]]] = None) -> None:
    """Every seed back to its initial weights, Adam's moments and step count to zero.

    Args:
      initial: optional new initial weights, one list per seed in the order of the model's
        trainable weights (the Dyna seed batch starts each seed from `Dyna.reset`'s model).

    Raises:
      ValueError: `initial` does not hold one list per seed.
    """
    if initial is not None:
      if len(initial) != len(self.seeds):
        raise ValueError(
          f"SeedBatchTransitionTrainer.reset: expected initial weights for "
          f"{len(self.seeds)} seeds, received {len(initial)}."
        )
      self._initial = [[np.asarray(w) for w in weights] for weights in initial]
    for i, variable in enumerate(self._variables):
      variable.assign(np.stack([w[i] for w in self._initial]))
    for v in self.optimizer.variables:
      v.assign(tf.zeros_like(v))

  # -------------------------------------------------------------------- fit
  def fit(
    self,
    train: Dict[str, np.ndarray],
    validation: Optional[Dict[str, np.ndarray]] = None,
    on_epoch: Optional[OnEpoch] = None,
    progress: bool = False,
    validation_splits: Optional[Dict[str, np.ndarray]] = None,
  ) -> List[List[Dict[str, float]]]:
    """Trains every seed for `config.epochs` on `train` (shared by the seeds).

    Args:
      train: the training arrays (`obs`, `action`, `next_obs`, `terminated`).
      validation: optional validation arrays, evaluated after every epoch.
      on_epoch: `on_epoch(k, epoch, row)` for every seed index `k` after every epoch
        (epoch 0: before training).
      progress: show a progress bar over the epochs.
      validation_splits: boolean masks over `validation` with their own metrics, as in
        `TransitionTrainer.fit`.

    Returns:
      One history per seed, in the order of `seeds`: the rows `TransitionTrainer.fit`
      returns (epoch 0 = before training).

    Raises:
      ValueError: `train` lacks an array or holds fewer transitions than a minibatch.
    """
    cfg = self.config
    names = _fields(self.spec)
    missing = [k for k in names if k not in train]
    if missing:
      raise ValueError(
        f"SeedBatchTransitionTrainer.fit: train lacks the arrays {missing}; expected "
        f"{', '.join(names)}."
      )
    n = len(train["action"])
    steps = n // cfg.batch_size
    if steps < 1:
      raise ValueError(
        f"SeedBatchTransitionTrainer.fit: batch_size={cfg.batch_size} does not fit a "
        f"dataset of {n} transitions."
      )
    data = {
      "obs": tf.constant(train["obs"], tf.float32),
      "action": tf.constant(train["action"], tf.int32),
      "next_obs": tf.constant(train["next_obs"], tf.float32),
      "terminated": tf.constant(train["terminated"], tf.bool),
    }
    if self.spec.outcome:
      data["reward"] = tf.constant(train["reward"], tf.float32)
    streams = [self._order_stream(seed, n, steps) for seed in self.seeds]
    histories = [
      [self._row(k, 0, float("nan"), validation, validation_splits)] for k in range(len(self.seeds))
    ]
    self._report(on_epoch, histories)
    epochs = range(1, cfg.epochs + 1)
    bar = None
    if progress:
      from tqdm import tqdm

      bar = tqdm(epochs, desc=f"{self._template.name} x{len(self.seeds)}", unit="epoch")
    self.compile_seconds = self.train_seconds = 0.0
    for epoch in bar if bar is not None else epochs:
      order = tf.constant(np.stack([next(iter(s)).numpy() for s in streams]), tf.int32)
      start = time.perf_counter()
      losses = self._epoch(order, data).numpy()
      elapsed = time.perf_counter() - start
      if epoch == 1:
        self.compile_seconds = elapsed
      else:
        self.train_seconds += elapsed
      for k, history in enumerate(histories):
        history.append(self._row(k, epoch, float(losses[k]), validation, validation_splits))
      self._report(on_epoch, histories)
    return histories

  def _order_stream(self, seed: int, n: int, steps: int) -> tf.data.Dataset:
    """Seed `seed`'s minibatch indices, one `[steps, batch]` element per iteration: the
    order `as_tf_dataset(train, batch_size, seed)` gives `train_one`'s run, whose global
    seed is `seed` too (`tf.data` seeds a shuffle from the global and the op seed)."""
    tf.random.set_seed(int(seed))
    index = tf.data.Dataset.range(n).shuffle(n, seed=int(seed), reshuffle_each_iteration=True)
    return index.batch(self.config.batch_size, drop_remainder=True).batch(steps)

  def _row(self, k, epoch, loss, validation, splits):
    if validation is None:
      return {"epoch": epoch, "train_loss": loss}
    for variable, value in zip(self._swap.variables, self._variables):
      variable.assign(value[k])
    return history_row(self._template, self.spec, epoch, loss, validation, splits)

  @staticmethod
  def _report(on_epoch, histories):
    if on_epoch is not None:
      for k, history in enumerate(histories):
        on_epoch(k, history[-1]["epoch"], history[-1])

  # ---------------------------------------------------------- compiled epoch
  def train_step(self, batch: Dict[str, tf.Tensor]) -> tf.Tensor:
    """One Adam step of every seed on its own minibatch; graph-safe, as
    `TransitionTrainer.train_step`, for compiled loops.

    Args:
      batch: `obs`, `action`, `next_obs`, `terminated` (and `reward` for a spec with
        `outcome`), each with a leading seed axis `[N, batch, ...]`.

    Returns:
      Each seed's loss `[N]` (before the step).
    """
    cfg = self.config
    seeds = len(self.seeds)
    scale = tf.constant(
      np.ones([seeds]) if self._loss_scale is None else self._loss_scale, tf.float32
    )

    names = _fields(self.spec)

    def loss_and_gradients(args):
      weights, factor = args[0], args[-1]
      data = dict(zip(names, args[1:-1]))
      with tf.GradientTape() as tape:
        tape.watch(weights)
        with self._swap(weights):
          prediction = self._template([data["obs"], data["action"]], training=True)
        loss = self.spec.loss(
          prediction,
          data["next_obs"],
          data["terminated"],
          cfg.mask_terminal,
          reward=data.get("reward"),
        )
        total = loss * factor
      grads = tape.gradient(total, weights, unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return grads, loss

    weights = [tf.convert_to_tensor(v) for v in self._variables]
    fields = [batch[k] for k in names]
    grads, loss = seed_axis.vmap(
      loss_and_gradients,
      (weights, *fields, scale),
      xla_floats=cfg.jit_compile,
      split=cfg.jit_compile and self.split_products,
    )
    grads, _ = seed_axis.clip_per_seed(grads, cfg.max_grad_norm)
    self.optimizer.apply_gradients(zip(grads, self._variables))
    seed_axis.apply_constraints(self._variables, self._constraints)
    return loss

  def _epoch_impl(self, order: tf.Tensor, data: Dict[str, tf.Tensor]) -> tf.Tensor:
    """One epoch for every seed: `order` `[N, steps, batch]` indices into `data`; returns
    each seed's mean training loss `[N]`."""
    seeds = len(self.seeds)
    steps = tf.shape(order)[1]

    def body(step, total):
      idx = order[:, step]  # [N, batch]
      batch = {k: tf.gather(data[k], idx) for k in _fields(self.spec)}
      return step + 1, total + self.train_step(batch)

    _, total = tf.while_loop(
      lambda step, _: step < steps, body, (tf.constant(0), tf.zeros([seeds]))
    )
    return total / tf.cast(tf.maximum(steps, 1), tf.float32)


def _fields(spec: TransitionSpec) -> tuple:
  """The batch arrays a training step reads: the transition's, and the reward for a spec with
  `outcome`."""
  return ("obs", "action", "next_obs", "terminated") + (("reward",) if spec.outcome else ())


def train_together(
  env_name: str,
  model: str,
  pool: str,
  dataset: str,
  outs: Dict[int, str],
  config: Optional[TrainConfig] = None,
  data_dir: str = "data",
  data_seed: int = 0,
  progress: bool = True,
  tensorboard: bool = True,
  commands: Optional[Dict[int, str]] = None,
) -> Dict[int, List[Dict[str, float]]]:
  """`train_one` for every seed of `outs` (`{seed: run folder}`), the seeds trained together
  by a `SeedBatchTransitionTrainer`: each folder gets the files `train_one` writes, its
  summary also `seeds_together` (how many seeds shared the program) and `seconds` the wall
  time of the whole program. `config.seed` is ignored; `commands[seed]` is the command line
  recorded for a seed.

  Returns:
    `{seed: history rows}`.
  """
  config = config or TrainConfig()
  env = envs.make(env_name, batch_size=1)
  spec = TransitionSpec.for_env(env)
  folder = dataset_dir(data_dir, env_name, data_seed)
  train, validation = load_split(folder, dataset), load_split(folder, "validation")
  seeds = list(outs)
  trainer = SeedBatchTransitionTrainer(
    lambda: build_transition_model(model, spec, pool), spec, seeds, config
  )
  writers = [RunWriter(outs[seed], tensorboard) for seed in seeds]
  start = time.time()
  histories = trainer.fit(
    train,
    validation,
    on_epoch=lambda k, epoch, row: writers[k].on_epoch(epoch, row),
    progress=progress,
    validation_splits=action_splits(validation, spec.num_actions),
  )
  seconds = time.time() - start
  for k, seed in enumerate(seeds):
    writers[k].finish(
      trainer.model(k),
      histories[k],
      env=env_name,
      model=label(model, pool),
      dataset=dataset,
      config=dataclasses.replace(config, seed=seed),
      train_size=len(train["action"]),
      seconds=seconds,
      command=(commands or {}).get(seed, ""),
      seeds_together=len(seeds),
    )
  return dict(zip(seeds, histories))
