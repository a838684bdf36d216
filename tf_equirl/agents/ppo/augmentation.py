"""Symmetry data augmentation for PPO (the `augment` network kind).

An unconstrained network is trained on each iteration's batch together with its images
under every non-identity group element `g` of the environment's `MDPSymmetry`:

1. states `rho(g) s` and actions `pi(g) a` (`Representation.transform`, the project's one
   group action); advantages and value targets are copied unchanged, since in a symmetric
   MDP `A(rho(g) s, pi(g) a) = A(s, a)` and `V(rho(g) s) = V(s)` (thesis 2.6), and so are
   the rewards and episode ends they were computed from;
2. the old log-probability of each transformed pair is recomputed with the network that
   collected the batch (before any update of the iteration):
   `log pi_old(pi(g) a | rho(g) s)`. Reusing the behaviour log-probability
   `log pi_old(a | s)` would be wrong for an unconstrained network, for which the two
   differ: PPO's ratio `pi_new / pi_old` and its clip measure how far the update moves the
   policy at the state the sample is scored at, and that state is `rho(g) s`. (The
   transformed action was not sampled from `pi_old(. | rho(g) s)`; the ratio makes the
   surrogate a trust-region objective around `pi_old` there, not an unbiased on-policy
   estimate. Only an equivariant `pi_old` makes the two log-probabilities equal.)
3. the old value predictions used by value clipping are likewise recomputed,
   `V_old(rho(g) s)`;
4. with `PPOConfig.augment_weights` (the default), each image's losses are weighted by
   `min(1, pi_old(pi(g) a | rho(g) s) / pi_old(a | s))`: how likely the old policy makes the
   transformed pair relative to the behaviour that produced it (decoupled PPO, Hilton et
   al. 2021, truncated at 1 as V-trace). Without it the images count as on-policy samples;
   on the grid world the augmented MLP then stalls and falls back (results/ppo_grid/README.md).

Everything is TF ops on static shapes, called inside the learner's compiled iteration; the
Python loop over group elements runs once, at tracing time.

The learner keeps the number of Adam steps per iteration (`num_epochs x num_minibatches`)
and so the learning-rate schedule of the plain MLP: the minibatches are `|G|` times larger
(each holds, on average, the same number of collected samples plus their images), so a
comparison with the MLP is at equal gradient steps and equal environment steps.
"""

from __future__ import annotations

from typing import Callable, Tuple

import tensorflow as tf

from tf_equirl.groups import MDPSymmetry

# (observation, action, log_prob, advantage, value_target, old_value), leading axis the
# sample; the order of the learner's update batch.
Batch = Tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]


def augmentation_factor(symmetry: MDPSymmetry) -> int:
  """How many times larger the augmented batch is than the collected one: `|G|`."""
  return symmetry.group.order


def transform_pairs(
  symmetry: MDPSymmetry, observation: tf.Tensor, action: tf.Tensor, g: int
) -> Tuple[tf.Tensor, tf.Tensor]:
  """`(rho(g) s, pi(g) a)` for a batch of observations `[N, ...]` and actions `[N]`.

  Observations are flattened to the symmetry's state vectors for the action of `rho(g)` and
  returned in their own shape.
  """
  flat = tf.reshape(observation, [tf.shape(observation)[0], -1])
  moved = symmetry.state_rep.transform(flat, g)
  return tf.reshape(moved, tf.shape(observation)), symmetry.action_rep.transform(action, g)


def augment_batch(
  symmetry: MDPSymmetry,
  batch: Batch,
  logits_fn: Callable[[tf.Tensor], tf.Tensor],
  value_fn: Callable[[tf.Tensor], tf.Tensor],
  with_weights: bool = False,
):
  """The batch followed by its image under each non-identity `g` (in `group.elements()` order).

  Args:
    symmetry: the environment's `MDPSymmetry`.
    batch: `(observation, action, log_prob, advantage, value_target, old_value)`, each with
      leading axis `N`; `log_prob` and `old_value` are the behaviour policy's and the critic's
      at collection.
    logits_fn: observation batch -> logits of the pre-update actor (old log-probabilities).
    value_fn: observation batch -> values `[N]` of the pre-update critic (old values).

    with_weights: also return per-sample loss weights `[|G| N]`: 1 for the collected
      samples, `min(1, pi_old(g a | g s) / pi_old(a | s))` for their images. The surrogate
      is then clipped around `pi_old` at the transformed state (the ratio above) and
      weighted by how likely the behaviour made the transformed pair relative to that
      policy (decoupled PPO, Hilton et al. 2021; truncated at 1 as V-trace does), which
      removes the bias of treating the images as on-policy samples as far as the truncation
      allows.

  Returns:
    The same six tensors with leading axis `|G| N`; the first `N` rows are `batch` itself
    (the identity's old log-probabilities and values are the collected ones). With
    `with_weights`, `(batch, weights)`.
  """
  observation, action, log_prob, advantage, target, old_value = batch
  parts = [list(batch)]
  weights = [tf.ones_like(log_prob)]
  for g in symmetry.group.elements():
    if g == symmetry.group.identity:
      continue
    obs_g, action_g = transform_pairs(symmetry, observation, action, g)
    log_prob_g = tf.gather(tf.nn.log_softmax(logits_fn(obs_g)), action_g, axis=1, batch_dims=1)
    parts.append([obs_g, action_g, log_prob_g, advantage, target, value_fn(obs_g)])
    weights.append(tf.exp(tf.minimum(log_prob_g - log_prob, 0.0)))
  augmented = tuple(tf.concat(column, axis=0) for column in zip(*parts))
  return (augmented, tf.concat(weights, axis=0)) if with_weights else augmented
