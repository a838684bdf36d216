"""Training a PRAE: one XLA graph per epoch.

Each epoch, inside one `tf.function(jit_compile=True)`:

1. shuffle the transitions by a stateless permutation drawn from `(seed, epoch)`;
2. draw `K` negatives per transition, uniformly (with replacement) among the states of its
   own episode, from the same key (the reference draws them per sample in its data loader);
3. take Adam steps on consecutive batches of the permutation (a `tf.while_loop` over the
   full batches, then one step on the remainder, as the reference's loader keeps it);
4. return each loss term, Hits@1 and MRR averaged over the epoch's transitions (each
   batch's metrics measured before its step).

The same seed gives the same epochs, bit for bit, on the same machine.
"""

from __future__ import annotations

import math
import weakref
from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf

from tf_equirl import rng
from tf_equirl.prae.config import PRAEConfig
from tf_equirl.prae.losses import TERMS, loss_terms, ranking_metrics
from tf_equirl.prae.networks import PRAEModel

from tensorflow import keras

__all__ = ["EPISODE_FIELDS", "check_episodes", "PRAETrainer", "evaluate_ranking"]

EPISODE_FIELDS = ("obs", "action", "next_obs", "reward", "episode")
METRICS = TERMS + ("loss", "hits_at_1", "mrr")


def check_episodes(data: Dict[str, np.ndarray], state_dim: int, num_actions: int) -> None:
  """Raises `ValueError` unless `data` holds transitions grouped in contiguous episodes.

  Expected: `obs`, `next_obs` `[N, state_dim]`, `action` `[N]` in `[0, num_actions)`,
  `reward` `[N]`, `episode` `[N]` integers, non-decreasing (`collect_episodes` gives this).
  """
  missing = [k for k in EPISODE_FIELDS if k not in data]
  if missing:
    raise ValueError(
      f"PRAE data lacks {missing}; expected the arrays {EPISODE_FIELDS} "
      "(tf_equirl.models.collect_episodes gives them)."
    )
  n = len(data["action"])
  if n < 1:
    raise ValueError("PRAE data holds no transitions.")
  for name in ("obs", "next_obs"):
    shape = np.shape(data[name])
    if shape != (n, state_dim):
      raise ValueError(f"PRAE data: {name} must have shape [{n}, {state_dim}], received {shape}.")
  for name in ("action", "reward", "episode"):
    if np.shape(data[name]) != (n,):
      raise ValueError(f"PRAE data: {name} must have shape [{n}], received {np.shape(data[name])}.")
  action = np.asarray(data["action"])
  if not np.issubdtype(action.dtype, np.integer):
    raise ValueError(f"PRAE data: action must be integers, received dtype {action.dtype}.")
  bad = np.flatnonzero((action < 0) | (action >= num_actions))
  if bad.size:
    raise ValueError(
      f"PRAE data: action {action[bad[:5]].tolist()} at rows {bad[:5].tolist()} out of "
      f"range; expected integers in [0, {num_actions - 1}]."
    )
  if np.any(np.diff(np.asarray(data["episode"])) < 0):
    raise ValueError("PRAE data: episode must be non-decreasing (each episode contiguous).")


def _episode_bounds(episode: np.ndarray):
  """Per transition: the first row of its episode and the episode's length."""
  _, start, inverse, length = np.unique(
    episode, return_index=True, return_inverse=True, return_counts=True
  )
  return start[inverse].astype(np.int32), length[inverse].astype(np.int32)


def evaluate_ranking(
  model: PRAEModel, data: Dict[str, np.ndarray], batch_size: int = 1024
) -> Dict[str, float]:
  """Hits@1 and MRR of one-step predictions on `data`, ranked within consecutive batches of
  `batch_size` (the last one keeps the remainder); transition-weighted means."""
  n = len(data["action"])
  ranking = _ranking_fn(model)
  sums = {"hits_at_1": 0.0, "mrr": 0.0}
  for i in range(0, n, batch_size):
    sl = slice(i, i + batch_size)
    out = ranking(
      tf.constant(data["obs"][sl], tf.float32),
      tf.constant(data["action"][sl], tf.int32),
      tf.constant(data["next_obs"][sl], tf.float32),
    )
    size = len(data["action"][sl])
    for k in sums:
      sums[k] += float(out[k]) * size
  return {k: v / n for k, v in sums.items()}


_RANKING_FNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _ranking_fn(model):
  """The compiled ranking of `model`, made once per model."""
  if model not in _RANKING_FNS:

    @tf.function(jit_compile=True)
    def ranking(obs, action, next_obs):
      z_pred = model.transition([model.encoder(obs), action])
      return ranking_metrics(z_pred, model.encoder(next_obs))

    _RANKING_FNS[model] = ranking
  return _RANKING_FNS[model]


class PRAETrainer:
  """Trains a `PRAEModel` on episodes with the PRAE loss (`config.loss_form`).

  Args:
    model: the `PRAEModel`.
    data: training transitions with their episodes (see `check_episodes`).
    config: `PRAEConfig` (epochs, batch size, learning rate, negatives, hinge, loss form,
      seed, jit_compile).

  Raises:
    ValueError: data that does not fit the model (see `check_episodes`).
  """

  def __init__(self, model: PRAEModel, data: Dict[str, np.ndarray], config: PRAEConfig):
    check_episodes(data, model.state_dim, model.num_actions)
    self.model, self.config = model, config
    self.num_transitions = len(data["action"])
    start, length = _episode_bounds(np.asarray(data["episode"]))
    self._data = {
      "obs": tf.constant(data["obs"], tf.float32),
      "action": tf.constant(data["action"], tf.int32),
      "next_obs": tf.constant(data["next_obs"], tf.float32),
      "reward": tf.constant(data["reward"], tf.float32),
      "start": tf.constant(start),
      "length": tf.constant(length),
    }
    self.optimizer = keras.optimizers.Adam(config.learning_rate)
    self.optimizer.build(model.trainable_variables)
    self._epoch = tf.function(self._epoch_impl, jit_compile=config.jit_compile)

  def _step(self, batch):
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      terms, z_pred, z_next = loss_terms(
        self.model, batch, self.config.hinge, self.config.loss_form
      )
      loss = tf.add_n([terms[k] for k in TERMS])
    grads = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    metrics = dict(terms, loss=loss, **ranking_metrics(z_pred, z_next))
    return tf.stack([metrics[k] for k in METRICS])

  def _batch(self, index, negative_index):
    batch = {k: tf.gather(self._data[k], index) for k in ("obs", "action", "next_obs", "reward")}
    batch["negatives"] = tf.gather(self._data["obs"], negative_index)
    return batch

  def _epoch_impl(self, key):
    n, size = self.num_transitions, self.config.batch_size
    order = tf.argsort(rng.uniform([n], rng.fold_in(key, 0)))
    draws = rng.uniform([n, self.config.num_negatives], rng.fold_in(key, 1))
    length = self._data["length"][:, None]
    offset = tf.minimum(tf.cast(draws * tf.cast(length, tf.float32), tf.int32), length - 1)
    negatives = self._data["start"][:, None] + offset
    full, rest = divmod(n, size)
    totals = tf.zeros([len(METRICS)])
    if full:
      batches = tf.reshape(order[: full * size], [full, size])

      def body(i, totals):
        index = batches[i]
        row = self._step(self._batch(index, tf.gather(negatives, index)))
        return i + 1, totals + row * size

      _, totals = tf.while_loop(lambda i, _: i < full, body, (tf.constant(0), totals))
    if rest:
      index = order[full * size :]
      totals += self._step(self._batch(index, tf.gather(negatives, index))) * rest
    return totals / n

  def epoch(self, epoch: int) -> Dict[str, float]:
    """One epoch (see the module docstring); the means of `TERMS`, `loss`, `hits_at_1` and
    `mrr` over its transitions."""
    key = tf.constant([self.config.seed, epoch], tf.int64)
    values = self._epoch(key).numpy()
    return {k: float(v) for k, v in zip(METRICS, values)}

  def fit(
    self,
    validation: Optional[Dict[str, np.ndarray]] = None,
    on_epoch: Optional[Callable[[Dict[str, float]], None]] = None,
    progress: bool = False,
  ) -> List[Dict[str, float]]:
    """`config.epochs` epochs; one row per epoch (`epoch` from 1, the epoch's means, and
    `val_hits_at_1` / `val_mrr` on `validation` after the epoch where given).

    Raises:
      FloatingPointError: a loss that is not finite.
    """
    if validation is not None:
      check_episodes(validation, self.model.state_dim, self.model.num_actions)
    epochs = range(1, self.config.epochs + 1)
    if progress:
      from tqdm import tqdm

      epochs = tqdm(epochs, desc="prae", unit="epoch")
    history = []
    for epoch in epochs:
      row = {"epoch": epoch, **self.epoch(epoch)}
      if not math.isfinite(row["loss"]):
        raise FloatingPointError(f"PRAE: the loss became {row['loss']} in epoch {epoch}.")
      if validation is not None:
        val = evaluate_ranking(self.model, validation, self.config.batch_size)
        row.update({f"val_{k}": v for k, v in val.items()})
      history.append(row)
      if on_epoch is not None:
        on_epoch(row)
    return history
