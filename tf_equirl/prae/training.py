"""Training a PRAE: one XLA graph per epoch.

Each epoch, inside one `tf.function(jit_compile=True)`:

1. shuffle the transitions by a stateless permutation drawn from `(seed, epoch)`;
2. draw `K` negatives per transition, uniformly (with replacement) among the states of its
   own episode, from the same key (the reference draws them per sample in its data loader);
3. take Adam steps on consecutive batches of the permutation (a `tf.while_loop` over the
   full batches, then one step on the remainder, as the reference's loader keeps it);
4. return each loss term, Hits@1 and MRR averaged over the epoch's transitions (each
   batch's metrics measured before its step).

After each epoch, `fit` measures the same terms, Hits@1 and MRR on the held-out episodes in
one more compiled call (`PRAETrainer.evaluate`): consecutive batches of `batch_size`
(ranked within each batch), transition-weighted means, so each loss term is the term on the
whole held-out set. The held-out negatives are drawn once from the seed
(`PRAETrainer.validation_batch`), so the validation losses of successive epochs measure the
same sample.

The loss is the PRAE loss (`config.objective="contrastive"`) or the autoencoder baseline's
(`"autoencoder"`), `tf_equirl.prae.losses`.

The same seed gives the same epochs, bit for bit, on the same machine.
"""

from __future__ import annotations

import math
import weakref
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from tf_equirl import rng
from tf_equirl.prae.config import PRAEConfig
from tf_equirl.prae.losses import (
  autoencoder_loss_terms,
  loss_terms,
  objective_terms,
  ranking_metrics,
)
from tf_equirl.prae.networks import PRAEModel

from tensorflow import keras

__all__ = [
  "EPISODE_FIELDS",
  "BATCH_FIELDS",
  "check_episodes",
  "PRAETrainer",
  "evaluate_ranking",
]

EPISODE_FIELDS = ("obs", "action", "next_obs", "reward", "episode")
BATCH_FIELDS = ("obs", "action", "next_obs", "reward", "negatives")
# Key of the held-out negatives: `(seed, 0)` folded with 2 (the epochs fold (seed, epoch)
# with 0 and 1).
_VALIDATION_FOLD = 2


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
  """Trains a `PRAEModel` on episodes with the PRAE loss (`config.loss_form`), or the
  autoencoder baseline's loss (`config.objective="autoencoder"`).

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
    autoencoder = config.objective == "autoencoder"
    if autoencoder and model.decoder is None:
      raise ValueError(
        "PRAETrainer: config.objective='autoencoder' needs a PRAEModel with a decoder "
        "(build_model builds one for that config)."
      )
    self.model, self.config = model, config
    self.terms = objective_terms(config.objective)
    self.metrics = self.terms + ("loss", "hits_at_1", "mrr")
    # The autoencoder has no contrastive term: no negatives are drawn or encoded.
    self.num_negatives = 0 if autoencoder else config.num_negatives
    self.num_transitions = len(data["action"])
    self._data = self._transitions(data)
    self.optimizer = keras.optimizers.Adam(config.learning_rate)
    self.optimizer.build(model.trainable_variables)
    self._epoch = tf.function(self._epoch_impl, jit_compile=config.jit_compile)
    self._evaluate = tf.function(self._evaluate_impl, jit_compile=config.jit_compile)

  @staticmethod
  def _transitions(data):
    start, length = _episode_bounds(np.asarray(data["episode"]))
    return {
      "obs": tf.constant(data["obs"], tf.float32),
      "action": tf.constant(data["action"], tf.int32),
      "next_obs": tf.constant(data["next_obs"], tf.float32),
      "reward": tf.constant(data["reward"], tf.float32),
      "start": tf.constant(start),
      "length": tf.constant(length),
    }

  def _negative_rows(self, transitions, key):
    """Per transition, `num_negatives` rows drawn uniformly from its own episode."""
    n = int(transitions["start"].shape[0])
    draws = rng.uniform([n, self.num_negatives], key)
    length = transitions["length"][:, None]
    offset = tf.minimum(tf.cast(draws * tf.cast(length, tf.float32), tf.int32), length - 1)
    return transitions["start"][:, None] + offset

  def loss_terms(
    self, batch: Dict[str, tf.Tensor]
  ) -> Tuple[Dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
    """`(terms, z_pred, z_next)` of the config's objective on `batch` (`BATCH_FIELDS`)."""
    if self.config.objective == "autoencoder":
      return autoencoder_loss_terms(self.model, batch, self.config.loss_form)
    return loss_terms(self.model, batch, self.config.hinge, self.config.loss_form)

  def _metrics(self, batch):
    terms, z_pred, z_next = self.loss_terms(batch)
    loss = tf.add_n([terms[k] for k in self.terms])
    return loss, dict(terms, loss=loss, **ranking_metrics(z_pred, z_next))

  def _step(self, batch):
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      loss, metrics = self._metrics(batch)
    grads = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    return tf.stack([metrics[k] for k in self.metrics])

  def _batch(self, index, negative_index):
    batch = {k: tf.gather(self._data[k], index) for k in ("obs", "action", "next_obs", "reward")}
    batch["negatives"] = tf.gather(self._data["obs"], negative_index)
    return batch

  def _over_batches(self, n, order, row_of):
    """Transition-weighted mean of `row_of(index)` over consecutive batches of `order`."""
    size = self.config.batch_size
    full, rest = divmod(n, size)
    totals = tf.zeros([len(self.metrics)])
    if full:
      batches = tf.reshape(order[: full * size], [full, size])

      def body(i, totals):
        return i + 1, totals + row_of(batches[i]) * size

      _, totals = tf.while_loop(lambda i, _: i < full, body, (tf.constant(0), totals))
    if rest:
      totals += row_of(order[full * size :]) * rest
    return totals / n

  def _epoch_impl(self, key):
    n = self.num_transitions
    order = tf.argsort(rng.uniform([n], rng.fold_in(key, 0)))
    negatives = self._negative_rows(self._data, rng.fold_in(key, 1))
    return self._over_batches(
      n, order, lambda index: self._step(self._batch(index, tf.gather(negatives, index)))
    )

  def _evaluate_impl(self, batch):
    n = int(batch["action"].shape[0])

    def row_of(index):
      _, metrics = self._metrics({k: tf.gather(batch[k], index) for k in BATCH_FIELDS})
      return tf.stack([metrics[k] for k in self.metrics])

    return self._over_batches(n, tf.range(n), row_of)

  def epoch(self, epoch: int) -> Dict[str, float]:
    """One epoch (see the module docstring); the means of the objective's terms, `loss`,
    `hits_at_1` and `mrr` over its transitions."""
    key = tf.constant([self.config.seed, epoch], tf.int64)
    values = self._epoch(key).numpy()
    return {k: float(v) for k, v in zip(self.metrics, values)}

  def validation_batch(self, data: Dict[str, np.ndarray]) -> Dict[str, tf.Tensor]:
    """The held-out transitions of `data` as one batch (`BATCH_FIELDS`), with negatives
    drawn once from the config's seed (from each transition's own episode).

    Raises:
      ValueError: data that does not fit the model (see `check_episodes`).
    """
    check_episodes(data, self.model.state_dim, self.model.num_actions)
    transitions = self._transitions(data)
    key = rng.fold_in(tf.constant([self.config.seed, 0], tf.int64), _VALIDATION_FOLD)
    rows = self._negative_rows(transitions, key)
    batch = {k: transitions[k] for k in ("obs", "action", "next_obs", "reward")}
    batch["negatives"] = tf.gather(transitions["obs"], rows)
    return batch

  def evaluate(self, batch: Dict[str, tf.Tensor]) -> Dict[str, float]:
    """The objective's terms, `loss`, `hits_at_1` and `mrr` on `batch` (e.g.
    `validation_batch`) in one compiled call, without a step: transition-weighted means
    over consecutive batches of `batch_size` (ranked within each), so each loss term equals
    the term on the whole of `batch`.

    Raises:
      ValueError: a batch that lacks one of `BATCH_FIELDS`.
    """
    missing = [k for k in BATCH_FIELDS if k not in batch]
    if missing:
      raise ValueError(
        f"PRAETrainer.evaluate: the batch lacks {missing}; expected {BATCH_FIELDS} "
        "(validation_batch gives them)."
      )
    values = self._evaluate({k: batch[k] for k in BATCH_FIELDS}).numpy()
    return {k: float(v) for k, v in zip(self.metrics, values)}

  def fit(
    self,
    validation: Optional[Dict[str, np.ndarray]] = None,
    on_epoch: Optional[Callable[[Dict[str, float]], None]] = None,
    progress: bool = False,
  ) -> List[Dict[str, float]]:
    """`config.epochs` epochs; one row per epoch (`epoch` from 1, the epoch's means, and,
    where `validation` is given, the same metrics on it after the epoch, prefixed `val_`:
    `val_loss`, each `val_<term>`, `val_hits_at_1`, `val_mrr`; see `evaluate`).

    Raises:
      FloatingPointError: a loss that is not finite.
      ValueError: validation data that does not fit the model.
    """
    held_out = None if validation is None else self.validation_batch(validation)
    epochs = range(1, self.config.epochs + 1)
    if progress:
      from tqdm import tqdm

      epochs = tqdm(epochs, desc="prae", unit="epoch")
    history = []
    for epoch in epochs:
      row = {"epoch": epoch, **self.epoch(epoch)}
      if not math.isfinite(row["loss"]):
        raise FloatingPointError(f"PRAE: the loss became {row['loss']} in epoch {epoch}.")
      if held_out is not None:
        row.update({f"val_{k}": v for k, v in self.evaluate(held_out).items()})
      history.append(row)
      if on_epoch is not None:
        on_epoch(row)
    return history
