"""The PRAE loss in two forms, and C-SWM's ranking metrics.

A batch holds transitions `(s, a, r, s')` and, per sample, `K` negatives `s~_k` drawn from
the sample's own episode. With `z = Z(s)`, `z' = Z(s')`, `z_hat = T(z, a) = z + A(z, a)`,
`z~_k = Z(s~_k)`, `d(x, y) = 1/2 ||x - y||^2`, `eps` the hinge and means over the batch:

`form="reference"`, what the reference code computes (ElisevanderPol/PRAE,
`prae/losses.py`, `prae/trainers.py`, `prae/distances.py`):

    transition  = mean ||z' - z_hat||^2                  (no 1/2: `square_dist`)
    reward      = mean 1/2 (r - R(z_hat))^2              (reward of the predicted latent)
    contrastive = mean sum_k max(0, eps - d(z', z~_k))   (negatives against the true z')

`form="thesis"`, eqs. 3.6-3.7 as the thesis writes them (section 3.2.1):

    transition  = mean d(z', z_hat)                      (with the 1/2)
    reward      = mean 1/2 (r - R(z))^2                  (reward of the current latent)
    contrastive = mean sum_k max(0, eps - d(z~_k, z_hat))  (negatives against the prediction)

So the forms differ in three places: the factor 1/2 on the transition term (the reference's
transition term weighs twice as much against the other two), the latent the reward is read
from (predicted next latent against current latent), and what the negatives are pushed away
from (the encoded next state against the predicted one). The thesis writes sums over the
dataset; both forms here average over the batch, which scales the loss and leaves its
minimisers alone. The loss is the sum of the three terms.

The autoencoder baseline (`PRAEConfig.objective="autoencoder"`, the paper's comparison)
keeps the transition and reward terms of the chosen form and replaces the contrastive term
with a reconstruction term through a decoder `D`, over the batch's states and next states:

    reconstruction = mean over {s, s'} of ||D(Z(s)) - s||^2

Ranking metrics (Kipf et al. 2020, C-SWM): for each sample, the true next latent `z'_i` is
ranked among the batch's encoded next states by the distance to the prediction `z_hat_i`;
`rank_i = 1 + #{j : ||z_hat_i - z'_j|| < ||z_hat_i - z'_i||}`. Hits@1 is the share of rank
1, MRR the mean of `1 / rank`. A predictor that knows nothing scores about `1 / B` on both
(B the batch size).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import tensorflow as tf

from tf_equirl.prae.config import LOSS_FORMS, OBJECTIVES

__all__ = [
  "TERMS",
  "AUTOENCODER_TERMS",
  "objective_terms",
  "latent_loss_terms",
  "loss_terms",
  "autoencoder_loss_terms",
  "ranking_metrics",
]

TERMS = ("transition", "reward", "contrastive")
AUTOENCODER_TERMS = ("transition", "reward", "reconstruction")


def objective_terms(objective: str) -> Tuple[str, ...]:
  """The loss terms of an objective: `TERMS` ("contrastive") or `AUTOENCODER_TERMS`
  ("autoencoder").

  Raises:
    ValueError: an unknown objective.
  """
  if objective not in OBJECTIVES:
    raise ValueError(f"PRAE objective must be one of {OBJECTIVES}, received {objective!r}.")
  return TERMS if objective == "contrastive" else AUTOENCODER_TERMS


def _half_square(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
  return 0.5 * tf.reduce_sum(tf.square(x - y), axis=-1)


def latent_loss_terms(
  z_next: tf.Tensor,
  z_pred: tf.Tensor,
  z_negative: tf.Tensor,
  reward: tf.Tensor,
  reward_pred: tf.Tensor,
  hinge: float = 1.0,
  form: str = "reference",
) -> Dict[str, tf.Tensor]:
  """The three terms from latents (see the module docstring).

  Args:
    z_next: encoded next states `[B, k]`.
    z_pred: predicted next latents `T(z, a)` `[B, k]`.
    z_negative: encoded negatives `[B, K, k]`.
    reward: rewards `[B]`.
    reward_pred: the reward model's prediction `[B]` (of `z_pred` for the reference form,
      of `z` for the thesis form).
    hinge: eps of the hinge.
    form: "reference" or "thesis".

  Returns:
    `{"transition", "reward", "contrastive"}`, scalars.
  """
  if form not in LOSS_FORMS:
    raise ValueError(f"PRAE loss form must be one of {LOSS_FORMS}, received {form!r}.")
  scale = 2.0 if form == "reference" else 1.0
  transition = scale * tf.reduce_mean(_half_square(z_next, z_pred))
  reward = 0.5 * tf.reduce_mean(tf.square(reward - reward_pred))
  anchor = z_next if form == "reference" else z_pred
  distance = _half_square(anchor[:, None, :], z_negative)
  contrastive = tf.reduce_mean(tf.reduce_sum(tf.nn.relu(hinge - distance), axis=1))
  return {"transition": transition, "reward": reward, "contrastive": contrastive}


def loss_terms(
  model: Any, batch: Dict[str, tf.Tensor], hinge: float = 1.0, form: str = "reference"
) -> Tuple[Dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
  """The three terms of `model` (a `PRAEModel`) on a batch, and the latents they used.

  Args:
    model: a `PRAEModel`.
    batch: `obs [B, d]`, `action [B]`, `next_obs [B, d]`, `reward [B]`, `negatives
      [B, K, d]` (K = 0, known statically: no contrastive term).
    hinge: eps of the hinge.
    form: "reference" or "thesis".

  Returns:
    `(terms, z_pred, z_next)`: the terms as in `latent_loss_terms`, the predicted and the
    encoded next latents `[B, k]` (for `ranking_metrics`).
  """
  obs = batch["obs"]
  negatives = batch["negatives"]
  if negatives.shape[1] == 0:
    # No negatives (the collapse ablation): only states and next states are encoded.
    z, z_next = tf.split(model.encoder(tf.concat([obs, batch["next_obs"]], 0), training=True), 2)
    z_negative = tf.zeros([tf.shape(obs)[0], 0, z.shape[-1]], z.dtype)
  else:
    batch_size, num_negatives = tf.shape(negatives)[0], tf.shape(negatives)[1]
    # One encoder pass over states, next states and negatives.
    everything = tf.concat([obs, batch["next_obs"], tf.reshape(negatives, [-1, obs.shape[-1]])], 0)
    latents = model.encoder(everything, training=True)
    z, z_next, z_negative = tf.split(
      latents, [batch_size, batch_size, batch_size * num_negatives], axis=0
    )
    z_negative = tf.reshape(z_negative, [batch_size, num_negatives, -1])
  z_pred = model.transition([z, batch["action"]], training=True)
  reward_from = z_pred if form == "reference" else z
  reward_pred = model.reward(reward_from, training=True)[:, 0]
  terms = latent_loss_terms(z_next, z_pred, z_negative, batch["reward"], reward_pred, hinge, form)
  return terms, z_pred, z_next


def autoencoder_loss_terms(
  model: Any, batch: Dict[str, tf.Tensor], form: str = "reference"
) -> Tuple[Dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
  """The autoencoder baseline's terms of `model` (a `PRAEModel` with a decoder) on a batch.

  Args:
    model: a `PRAEModel` with a decoder.
    batch: `obs [B, d]`, `action [B]`, `next_obs [B, d]`, `reward [B]` (negatives, if
      present, are not used).
    form: "reference" or "thesis": the form of the transition and reward terms.

  Returns:
    `(terms, z_pred, z_next)`: `{"transition", "reward", "reconstruction"}` scalars (see the
    module docstring), the predicted and the encoded next latents `[B, k]`.

  Raises:
    ValueError: a model without a decoder, or an unknown form.
  """
  if model.decoder is None:
    raise ValueError(
      "PRAE autoencoder loss: the model has no decoder (build it with "
      "PRAEConfig(objective='autoencoder'))."
    )
  states = tf.concat([batch["obs"], batch["next_obs"]], 0)
  latents = model.encoder(states, training=True)
  z, z_next = tf.split(latents, 2)
  reconstruction = tf.reduce_mean(
    tf.reduce_sum(tf.square(model.decoder(latents, training=True) - states), axis=-1)
  )
  z_pred = model.transition([z, batch["action"]], training=True)
  reward_from = z_pred if form == "reference" else z
  reward_pred = model.reward(reward_from, training=True)[:, 0]
  no_negatives = tf.zeros([tf.shape(z)[0], 0, z.shape[-1]], z.dtype)
  terms = latent_loss_terms(z_next, z_pred, no_negatives, batch["reward"], reward_pred, 1.0, form)
  return (
    {
      "transition": terms["transition"],
      "reward": terms["reward"],
      "reconstruction": reconstruction,
    },
    z_pred,
    z_next,
  )


def ranking_metrics(z_pred: tf.Tensor, z_next: tf.Tensor) -> Dict[str, tf.Tensor]:
  """`{"hits_at_1", "mrr"}` (batch means) of predictions `[B, k]` against targets `[B, k]`."""
  # ||p_i - n_j||^2 as ||p_i||^2 + ||n_j||^2 - 2 p_i.n_j: a [B, B] product rather than a
  # [B, B, k] difference tensor (a fifth of a gigabyte at the batch of 1,024). The diagonal
  # is computed the same way, so a target ties with itself exactly. The metrics are logged,
  # not trained on.
  cross = tf.matmul(z_pred, z_next, transpose_b=True)
  distance = (
    tf.reduce_sum(tf.square(z_pred), axis=-1)[:, None]
    + tf.reduce_sum(tf.square(z_next), axis=-1)[None, :]
    - 2.0 * cross
  )
  true = tf.linalg.diag_part(distance)
  rank = 1.0 + tf.reduce_sum(tf.cast(distance < true[:, None], tf.float32), axis=1)
  return {
    "hits_at_1": tf.reduce_mean(tf.cast(rank == 1.0, tf.float32)),
    "mrr": tf.reduce_mean(1.0 / rank),
  }
