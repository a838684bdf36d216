"""Supervised training of transition models (thesis 4.7.1, Table 5.5).

Adam with learning rate 1e-3, global gradient-norm clipping at 0.5 and minibatches of 64
(thesis Table 5.5). One training step is a `tf.function(jit_compile=True)`; one epoch is a
`tf.function` looping over the `tf.data` pipeline, so no Python runs per batch.

`train_one` is one whole training run with its files (model, history, summary, TensorBoard),
shared by `launchers/train_transition.py` (one run) and the transition-model study
(`tf_equirl.experiments.transition_study`, the grid of thesis 4.7.5-4.7.6), so both train
identically.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

from tf_equirl import checks, envs, results
from tf_equirl.models.data import as_tf_dataset, dataset_dir, load_split
from tf_equirl.models.networks import build_transition_model
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.params import clip_by_global_norm, count_params

from tensorflow import keras

__all__ = [
  "TrainConfig",
  "TransitionTrainer",
  "RunWriter",
  "evaluate",
  "history_row",
  "label",
  "run_folder",
  "action_splits",
  "train_one",
]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Optimisation settings; defaults are the thesis' (Table 5.5).

  Attributes:
    epochs: passes over the training set.
    learning_rate: Adam step size (thesis: 1e-3).
    max_grad_norm: global gradient-norm clip (thesis: 0.5).
    batch_size: minibatch size (thesis: 64).
    adam_epsilon: Adam epsilon (thesis: 1e-8).
    mask_terminal: drop terminal transitions from the loss (eq. 4.30/4.32).
    jit_compile: compile the training step with XLA.
    seed: shuffling seed (>= 0).

  Float fields must be finite and positive; `__post_init__` raises `ValueError` naming the
  field otherwise.
  """

  epochs: int = 10
  learning_rate: float = 1e-3  # thesis Table 5.5
  max_grad_norm: float = 0.5  # thesis Table 5.5
  batch_size: int = 64  # thesis Table 5.5
  adam_epsilon: float = 1e-8  # thesis Table 5.5
  mask_terminal: bool = True
  jit_compile: bool = True
  seed: int = 0

  def __post_init__(self):
    for name in ("epochs", "batch_size"):
      checks.positive_int("TrainConfig", name, getattr(self, name))
    checks.non_negative_int("TrainConfig", "seed", self.seed)
    for name in ("learning_rate", "max_grad_norm", "adam_epsilon"):
      checks.positive_number("TrainConfig", name, getattr(self, name))
    checks.check_float_fields(self)  # any other float field: finite
    for name in ("mask_terminal", "jit_compile"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(
          f"TrainConfig.{name} must be True or False, received " f"{getattr(self, name)!r}."
        )


def evaluate(
  model, spec: TransitionSpec, data: Dict[str, np.ndarray], batch_size: int = 4096
) -> Dict[str, float]:
  """Validation metrics over non-terminal transitions.

  Returns `loss` (mean masked loss per non-terminal transition) and `rms` (continuous:
  root mean squared error per state component) or `accuracy` (grid: both modes right).
  """
  sums: Dict[str, float] = {}
  n = len(data["action"])
  for i in range(0, n, batch_size):
    sl = slice(i, i + batch_size)
    pred = _predict(model, data["obs"][sl], data["action"][sl])
    for k, v in spec.metrics(pred, data["next_obs"][sl], data["terminated"][sl]).items():
      sums[k] = sums.get(k, 0.0) + float(v)
  count = max(sums["count"], 1.0)
  out = {"loss": sums["loss_sum"] / count, "count": sums["count"]}
  if "sq_error" in sums:
    out["rms"] = math.sqrt(sums["sq_error"] / (count * spec.state_dim))
  else:
    out["accuracy"] = sums["correct"] / count
  return out


def _predict(model, obs, action):
  return model([tf.constant(obs, tf.float32), tf.constant(action, tf.int32)], training=False)


class TransitionTrainer:
  """Trains one transition model on one dataset.

  Args:
    model: a transition model from `MLPTransitionModel` / `EquivariantTransitionModel`.
    spec: its `TransitionSpec` (loss and metrics).
    config: `TrainConfig`; None: `TrainConfig()`.
  """

  def __init__(
    self, model: keras.Model, spec: TransitionSpec, config: Optional[TrainConfig] = None
  ):
    config = config if config is not None else TrainConfig()
    if spec.kind == "grid" and not config.mask_terminal:
      # A terminal Catch grid has the ball in the paddle's row: which 1 is the paddle is
      # ambiguous, so the grid targets exist only for non-terminal transitions.
      raise ValueError(
        "TrainConfig.mask_terminal=False needs a continuous spec; grid targets "
        "are undefined for terminal transitions (ball in the paddle's row)."
      )
    self.model, self.spec, self.config = model, spec, config
    self.optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=config.adam_epsilon)
    self.optimizer.build(model.trainable_variables)
    self._step = tf.function(self.train_step, jit_compile=config.jit_compile)
    self._epoch = tf.function(self._epoch_impl)

  def reset_optimizer(self) -> None:
    """Zeroes Adam's moments and step count (a fresh run with the same compiled graphs)."""
    for v in self.optimizer.variables:
      v.assign(tf.zeros_like(v))

  def train_step(self, batch):
    """One Adam step on a batch dict (`obs`, `action`, `next_obs`, `terminated`, and `reward`
    for a spec with `outcome`); graph-safe, so compiled loops (the Dyna driver's model phase)
    call it directly. Returns the loss."""
    with tf.GradientTape() as tape:
      pred = self.model([batch["obs"], batch["action"]], training=True)
      loss = self.spec.loss(
        pred,
        batch["next_obs"],
        batch["terminated"],
        self.config.mask_terminal,
        reward=batch.get("reward") if self.spec.outcome else None,
      )
    variables = self.model.trainable_variables
    grads = tape.gradient(loss, variables)
    grads, _ = clip_by_global_norm(grads, self.config.max_grad_norm)
    self.optimizer.apply_gradients(zip(grads, variables))
    return loss

  def _epoch_impl(self, dataset):
    total, count = tf.constant(0.0), tf.constant(0.0)
    for batch in dataset:
      total += self._step(batch)
      count += 1.0
    return total / tf.maximum(count, 1.0)

  def fit(
    self,
    train: Dict[str, np.ndarray],
    validation: Optional[Dict[str, np.ndarray]] = None,
    on_epoch: Optional[Callable[[int, Dict[str, float]], None]] = None,
    progress: bool = False,
    validation_splits: Optional[Dict[str, np.ndarray]] = None,
  ) -> List[Dict[str, float]]:
    """Trains for `config.epochs`; returns one row per epoch (epoch 0 = before training).

    Each row has `train_loss` and the `evaluate` metrics of `validation` prefixed `val_`,
    plus, for every `validation_splits[name]` (a boolean mask over `validation`), the same
    metrics prefixed `val_<name>_` (e.g. per action).
    """
    dataset = as_tf_dataset(train, self.config.batch_size, self.config.seed)
    history = [self._row(0, float("nan"), validation, validation_splits)]
    if on_epoch:
      on_epoch(0, history[-1])
    bar = None
    if progress:
      from tqdm import tqdm

      bar = tqdm(range(1, self.config.epochs + 1), desc=self.model.name, unit="epoch")
    for epoch in bar if bar is not None else range(1, self.config.epochs + 1):
      loss = float(self._epoch(dataset))
      history.append(self._row(epoch, loss, validation, validation_splits))
      if bar is not None:
        bar.set_postfix(
          {
            k: f"{v:.4g}"
            for k, v in history[-1].items()
            if k in ("train_loss", "val_loss", "val_rms", "val_accuracy")
          }
        )
      if on_epoch:
        on_epoch(epoch, history[-1])
    return history

  def _row(self, epoch, loss, validation, splits):
    return history_row(self.model, self.spec, epoch, loss, validation, splits)


def history_row(
  model: keras.Model,
  spec: TransitionSpec,
  epoch: int,
  loss: float,
  validation: Optional[Dict[str, np.ndarray]] = None,
  splits: Optional[Dict[str, np.ndarray]] = None,
) -> Dict[str, float]:
  """One row of a training history: `epoch`, `train_loss` and the `evaluate` metrics of
  `validation` prefixed `val_`, plus those of each `splits[name]` (a boolean mask over
  `validation`) prefixed `val_<name>_`."""
  row = {"epoch": epoch, "train_loss": loss}
  if validation is not None:
    row.update({f"val_{k}": v for k, v in evaluate(model, spec, validation).items()})
    for name, mask in (splits or {}).items():
      part = {k: v[mask] for k, v in validation.items()}
      row.update({f"val_{name}_{k}": v for k, v in evaluate(model, spec, part).items()})
  return row


def label(model: str, pool: str) -> str:
  """A transition model's name in run folders and reports: "mlp", "gcnn_mean",
  "gcnn_proximal"."""
  return "mlp" if model == "mlp" else f"gcnn_{pool}"


def run_folder(runs_dir: str, env_name: str, model: str, pool: str, dataset: str, seed: int) -> str:
  """`<runs_dir>/<env>/<label>_<dataset>/seed_<seed>`: where `train_one` writes a run."""
  return os.path.join(runs_dir, env_name, f"{label(model, pool)}_{dataset}", f"seed_{seed}")


def action_splits(validation, num_actions):
  """Validation masks per action taken (`{"a0": ..., "a1": ...}`), for per-action metrics."""
  return {f"a{a}": validation["action"] == a for a in range(num_actions)}


def train_one(
  env_name: str,
  model: str,
  pool: str,
  dataset: str,
  out: str,
  config: Optional[TrainConfig] = None,
  data_dir: str = "data",
  data_seed: int = 0,
  progress: bool = True,
  tensorboard: bool = True,
  command: str = "",
):
  """Trains one model on the `dataset` split (of `make_datasets` with `data_seed`, under
  `data_dir`) with `config` (default `TrainConfig()`, the thesis' settings; its seed also
  seeds the weights) and writes `model.keras`, `history.csv`, `summary.json` and TensorBoard
  scalars (`tb/`) into `out`; returns (keras model, history rows)."""
  config = config or TrainConfig()
  env = envs.make(env_name, batch_size=1)
  spec = TransitionSpec.for_env(env)
  folder = dataset_dir(data_dir, env_name, data_seed)
  train, validation = load_split(folder, dataset), load_split(folder, "validation")
  tf.keras.utils.set_random_seed(config.seed)
  net = build_transition_model(model, spec, pool)
  trainer = TransitionTrainer(net, spec, config)
  writer = RunWriter(out, tensorboard)
  start = time.time()
  history = trainer.fit(
    train,
    validation,
    on_epoch=writer.on_epoch,
    progress=progress,
    validation_splits=action_splits(validation, spec.num_actions),
  )
  writer.finish(
    net,
    history,
    env=env_name,
    model=label(model, pool),
    dataset=dataset,
    config=config,
    train_size=len(train["action"]),
    seconds=time.time() - start,
    command=command,
  )
  return net, history


class RunWriter:
  """The files of one training run in folder `out`: TensorBoard scalars (`tb/`, one step per
  epoch, with `tensorboard`), then `model.keras`, `history.csv` and `summary.json`.

  Args:
    out: the run folder (created).
    tensorboard: write TensorBoard scalars.
  """

  def __init__(self, out: str, tensorboard: bool = True):
    os.makedirs(out, exist_ok=True)
    self.out = out
    self._writer = tf.summary.create_file_writer(os.path.join(out, "tb")) if tensorboard else None

  def on_epoch(self, epoch: int, row: Dict[str, float]) -> None:
    """Writes an epoch's finite metrics as TensorBoard scalars."""
    if self._writer is not None:
      with self._writer.as_default(step=epoch):
        for k, v in row.items():
          if k != "epoch" and np.isfinite(v):
            tf.summary.scalar(k, v)

  def finish(
    self,
    net: keras.Model,
    history: List[Dict[str, float]],
    env: str,
    model: str,
    dataset: str,
    config: TrainConfig,
    train_size: int,
    seconds: float,
    command: str = "",
    **extra,
  ) -> None:
    """Saves the model, the history and the summary (`extra` goes into the summary)."""
    net.save(os.path.join(self.out, "model.keras"))
    results.write_seed_csv(
      os.path.join(self.out, "history.csv"), {k: [r[k] for r in history] for k in history[0]}
    )
    summary = {
      "env": env,
      "model": model,
      "dataset": dataset,
      "seed": config.seed,
      "epochs": config.epochs,
      "params": count_params(net),
      "train_size": train_size,
      "seconds": round(seconds, 1),
      "final": history[-1],
      "command": command,
      "mask_terminal": config.mask_terminal,
      **extra,
    }
    results.write_json(os.path.join(self.out, "summary.json"), summary)
