"""TransitionSpec: what a transition model needs to know about its environment.

A spec is built from the environment's `MDPSymmetry` plus the shape of its output:
`continuous` (CartPole: the next observation itself, real-valued) or `grid` (Catch: a
categorical distribution over ball cells and one over paddle columns, thesis 4.7.6).
Everything else (input and output representations, action codes, the proximal distance,
losses and metrics) is derived here, so a user's own environment with its own group needs
only a new spec.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from tf_equirl.groups import MDPSymmetry, Representation, direct_sum
from tf_equirl.layers.action_encoding import (
  encoding_representation,
  one_hot_action_codes,
  signed_action_codes,
)

__all__ = ["TransitionSpec", "KINDS", "ACTION_ENCODINGS", "OUTCOME_DIM"]

KINDS = ("continuous", "grid")
ACTION_ENCODINGS = ("signed", "one_hot")
OUTCOME_DIM = 2  # the termination logit and the reward, after the transition's columns


@dataclasses.dataclass(frozen=True)
class TransitionSpec:
  """The interface of a transition model `T(s, a)` for one environment.

  Attributes:
    symmetry: the environment's `MDPSymmetry` (state and action representations).
    kind: `"continuous"` (output: next observation, same width and representation as the
      input) or `"grid"` (output: logits over the `rows*columns` ball cells, then over the
      `columns` paddle cells of the last row; the input is the flat grid).
    grid_shape: `(rows, columns)` for `"grid"`, else None.
    action_encoding: `"signed"` (thesis 4.7.5.1: `{0, 1} -> {-1, 1}`, the code flips sign
      under the mirror) or `"one_hot"` (works for every action permutation).
    outcome: the model also predicts the outcome of the step: two more output columns after
      the transition's `output_dim`, the logit that the step terminates the episode and the
      reward, both invariant under the group (an MDP homomorphism keeps rewards and
      terminations). They are learned on every transition, terminal ones included
      (`loss(..., reward=...)`), and read back with `outcome_of`. False (the thesis, eq.
      4.21): the environment's own reward and termination rules are applied to the
      predicted state.
  """

  symmetry: MDPSymmetry
  kind: str = "continuous"
  grid_shape: Optional[Tuple[int, int]] = None
  action_encoding: str = "signed"
  outcome: bool = False

  def __post_init__(self):
    if not isinstance(self.symmetry, MDPSymmetry):
      raise ValueError(
        "TransitionSpec: symmetry must be a tf_equirl.groups.MDPSymmetry, "
        f"received {type(self.symmetry).__name__}."
      )
    if self.kind not in KINDS:
      raise ValueError(f"TransitionSpec: kind must be one of {KINDS}, received {self.kind!r}.")
    if self.action_encoding not in ACTION_ENCODINGS:
      raise ValueError(
        f"TransitionSpec: action_encoding must be one of {ACTION_ENCODINGS}, "
        f"received {self.action_encoding!r}."
      )
    if self.kind == "grid":
      shape = self.grid_shape
      if (
        not isinstance(shape, tuple)
        or len(shape) != 2
        or not all(isinstance(v, int) and v >= 1 for v in shape)
      ):
        raise ValueError(
          "TransitionSpec: kind='grid' needs grid_shape=(rows, columns) of "
          f"positive ints, received {shape!r}."
        )
      if shape[0] * shape[1] != self.symmetry.state_dim:
        raise ValueError(
          f"TransitionSpec: grid_shape {shape} has {shape[0] * shape[1]} cells "
          f"but the state representation has dimension "
          f"{self.symmetry.state_dim}."
        )
    elif self.grid_shape is not None:
      raise ValueError(
        "TransitionSpec: grid_shape is only used with kind='grid', received "
        f"grid_shape={self.grid_shape!r} with kind={self.kind!r}."
      )
    if not isinstance(self.outcome, bool):
      raise ValueError(f"TransitionSpec: outcome must be True or False, received {self.outcome!r}.")
    self.action_rep_encoded  # noqa: B018  fails early when the codes admit no action

  @classmethod
  def for_env(cls, env, action_encoding: str = "signed", outcome: bool = False) -> "TransitionSpec":
    """The spec of a tf_equirl environment: grid for environments with `rows`/`columns`
    and a flat observation (Catch), continuous otherwise (CartPole); `outcome`: the model
    learns reward and termination too."""
    symmetry = env.symmetry
    if hasattr(env, "rows") and hasattr(env, "columns"):
      if not getattr(env, "flat_observation", True):
        raise ValueError(
          f"{env.name}: transition models read the flat observation; build "
          "the environment with flat_observation=True."
        )
      return cls(symmetry, "grid", (int(env.rows), int(env.columns)), action_encoding, outcome)
    return cls(symmetry, "continuous", None, action_encoding, outcome)

  # ------------------------------------------------------------------------ shapes
  @property
  def state_dim(self) -> int:
    return self.symmetry.state_dim

  @property
  def _grid(self) -> Tuple[int, int]:
    if self.grid_shape is None:
      raise ValueError(f"TransitionSpec: kind={self.kind!r} has no grid_shape.")
    return self.grid_shape

  @property
  def num_actions(self) -> int:
    return self.symmetry.num_actions

  @property
  def output_dim(self) -> int:
    """Width of the transition's prediction (the next observation or the grid logits)."""
    return self.state_dim + (self._grid[1] if self.kind == "grid" else 0)

  @property
  def prediction_dim(self) -> int:
    """Width of the model's whole output: `output_dim`, plus the termination logit and the
    reward with `outcome`."""
    return self.output_dim + (OUTCOME_DIM if self.outcome else 0)

  # ------------------------------------------------------------- representations
  @property
  def action_codes(self) -> np.ndarray:
    if self.action_encoding == "signed":
      return signed_action_codes(self.num_actions)
    return one_hot_action_codes(self.num_actions)

  @property
  def action_rep_encoded(self) -> Representation:
    """How the action code transforms: `codes[pi(g) a] = rho_enc(g) codes[a]`."""
    return encoding_representation(self.symmetry.action_rep, self.action_codes)

  @property
  def input_rep(self) -> Representation:
    """`rho_S + rho_enc` on the concatenated `[s, code(a)]` that the lift reads."""
    return direct_sum(self.symmetry.state_rep, self.action_rep_encoded)

  @property
  def output_rep(self) -> Representation:
    """The state rep (continuous), or the state rep on ball cells + its restriction to
    the last row on paddle columns (grid)."""
    if self.kind == "continuous":
      return self.symmetry.state_rep
    rows, columns = self._grid
    rep = self.symmetry.state_rep
    if not rep.is_permutation:
      raise ValueError("TransitionSpec: a grid spec needs a permutation state representation.")
    last = np.arange((rows - 1) * columns, rows * columns)
    perms = rep.permutation[:, last]  # where each last-row cell goes
    if not np.all(np.isin(perms, last)):
      raise ValueError(
        "TransitionSpec: the state representation does not map the paddle's "
        "row to itself, so it does not act on paddle columns."
      )
    paddle = Representation.from_permutations(
      rep.group, perms - (rows - 1) * columns, name="paddle_columns"
    )
    return direct_sum(rep, paddle)

  @property
  def prediction_rep(self) -> Representation:
    """How the model's whole output transforms: `output_rep`, then (with `outcome`) the
    termination logit and the reward, which the group leaves unchanged."""
    if not self.outcome:
      return self.output_rep
    return direct_sum(self.output_rep, Representation.trivial(self.symmetry.group, OUTCOME_DIM))

  @property
  def distance(self) -> str:
    """Proximal-pooling distance: L1 (thesis 4.7.5.1) or eq. 4.33 for grids."""
    return "l1" if self.kind == "continuous" else "catch_mode_l1"

  # -------------------------------------------------------------- loss and metrics
  def loss(
    self,
    prediction: tf.Tensor,
    next_obs: tf.Tensor,
    terminated: tf.Tensor,
    mask_terminal: bool = True,
    reward: Optional[tf.Tensor] = None,
  ) -> tf.Tensor:
    """Mean over the batch of the per-transition loss, terminal ones masked (eq. 4.30/4.32).

    continuous: `(1 - done) ||T(s,a) - s'||^2` (eq. 4.30 writes the norm; its square has
    the same minimiser and is what the reported RMS measures).
    grid: `(1 - done) [CE(ball) + CE(paddle)]`, the cross-entropies of the softmax over ball
    cells and over paddle columns against the one-hot next positions (eq. 4.32's "BCE
    between two distributions").
    With `outcome`, every transition (terminal ones too) adds `BCE(done, logit) +
    (r - r_hat)^2`, the termination's binary cross-entropy and the reward's squared error;
    `reward` `[B]` is then required.

    Raises:
      ValueError: `outcome` without `reward`.
    """
    per = self.per_transition_loss(prediction, next_obs)
    keep = 1.0 - tf.cast(terminated, per.dtype) if mask_terminal else tf.ones_like(per)
    total = keep * per
    if self.outcome:
      if reward is None:
        raise ValueError(
          "TransitionSpec.loss: a spec with outcome=True learns the reward; pass the "
          "transitions' rewards (reward=[batch])."
        )
      total += self.outcome_loss(prediction, terminated, reward)
    return tf.reduce_sum(total) / tf.cast(tf.shape(per)[0], per.dtype)

  def outcome_loss(self, prediction: tf.Tensor, terminated: tf.Tensor, reward: tf.Tensor):
    """Per transition `[B]`: the termination logit's binary cross-entropy plus the reward's
    squared error (a spec with `outcome`)."""
    prediction = tf.convert_to_tensor(prediction)
    logit, predicted = self._outcome_columns(prediction)
    done = tf.cast(tf.reshape(terminated, [-1]), prediction.dtype)
    target = tf.cast(tf.reshape(reward, [-1]), prediction.dtype)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=done, logits=logit)
    return bce + tf.square(predicted - target)

  def _outcome_columns(self, prediction: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    if not self.outcome:
      raise ValueError(
        "TransitionSpec: this spec has outcome=False; its model predicts no reward or "
        "termination (the environment's rules give them)."
      )
    start = self.output_dim
    return prediction[:, start], prediction[:, start + 1]

  def outcome_of(self, prediction: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """The predicted `(reward [B] float32, terminated [B] bool)` of a spec with `outcome`:
    the reward column as it is, and termination where its logit is positive (probability
    above one half).

    Raises:
      ValueError: the spec has `outcome=False`.
    """
    logit, reward = self._outcome_columns(tf.convert_to_tensor(prediction))
    return tf.cast(reward, tf.float32), logit > 0.0

  def transition_part(self, prediction: tf.Tensor) -> tf.Tensor:
    """The transition's columns `[B, output_dim]` of a model's prediction (all of it without
    `outcome`)."""
    prediction = tf.convert_to_tensor(prediction)
    return prediction[:, : self.output_dim] if self.outcome else prediction

  def per_transition_loss(self, prediction: tf.Tensor, next_obs: tf.Tensor) -> tf.Tensor:
    prediction = self.transition_part(prediction)
    next_obs = tf.cast(next_obs, prediction.dtype)
    if self.kind == "continuous":
      return tf.reduce_sum(tf.square(prediction - next_obs), axis=-1)
    ball, paddle = self.targets(next_obs)
    cells = self.state_dim
    return tf.nn.softmax_cross_entropy_with_logits(
      ball, prediction[:, :cells]
    ) + tf.nn.softmax_cross_entropy_with_logits(paddle, prediction[:, cells:])

  def targets(self, next_obs: tf.Tensor):
    """Grid targets: one-hot ball cell `[B, rows*columns]` and paddle column `[B, columns]`.

    Only in a terminal observation can the ball lie in the paddle's row; there the grid
    does not say which 1 is the paddle, the targets are not one-hot, and the loss must mask
    them (`TransitionTrainer` refuses `mask_terminal=False` for grid specs).
    """
    rows, columns = self._grid
    paddle = next_obs[:, (rows - 1) * columns :]
    ball = next_obs - tf.pad(paddle, [[0, 0], [(rows - 1) * columns, 0]])
    return ball, paddle

  def metrics(self, prediction: tf.Tensor, next_obs: tf.Tensor, terminated: tf.Tensor) -> dict:
    """Sums over non-terminal transitions, to be divided by `count` after accumulating.

    continuous: `sq_error` (sum of squared errors over components); RMS is
    `sqrt(sq_error / (count * state_dim))`. grid: `correct` (both modes right).
    """
    keep = 1.0 - tf.cast(terminated, tf.float32)
    out = {
      "count": tf.reduce_sum(keep),
      "loss_sum": tf.reduce_sum(
        keep * tf.cast(self.per_transition_loss(prediction, next_obs), tf.float32)
      ),
    }
    if self.kind == "continuous":
      transition = tf.cast(self.transition_part(prediction), tf.float32)
      sq = tf.reduce_sum(tf.square(transition - tf.cast(next_obs, tf.float32)), axis=-1)
      out["sq_error"] = tf.reduce_sum(keep * sq)
    else:
      out["correct"] = tf.reduce_sum(keep * tf.cast(self.exact(prediction, next_obs), tf.float32))
    return out

  def outcome_metrics(self, prediction: tf.Tensor, terminated: tf.Tensor, reward: tf.Tensor):
    """A spec with `outcome`: `termination_accuracy` (the share of transitions whose
    termination `outcome_of` gets right) and `reward_rms` (root mean squared reward error)
    over every transition of the batch, terminal ones included."""
    predicted, done = self.outcome_of(prediction)
    target = tf.cast(tf.reshape(terminated, [-1]), tf.bool)
    return {
      "termination_accuracy": tf.reduce_mean(tf.cast(tf.equal(done, target), tf.float32)),
      "reward_rms": tf.sqrt(
        tf.reduce_mean(tf.square(predicted - tf.cast(tf.reshape(reward, [-1]), tf.float32)))
      ),
    }

  def exact(self, prediction: tf.Tensor, next_obs: tf.Tensor) -> tf.Tensor:
    """Grid: bool `[B]`, the predicted ball cell and paddle column are both right."""
    prediction = self.transition_part(prediction)
    ball, paddle = self.targets(tf.cast(next_obs, tf.float32))
    cells = self.state_dim
    return tf.logical_and(
      tf.equal(tf.argmax(prediction[:, :cells], -1), tf.argmax(ball, -1)),
      tf.equal(tf.argmax(prediction[:, cells:], -1), tf.argmax(paddle, -1)),
    )

  def to_observation(self, prediction: tf.Tensor) -> tf.Tensor:
    """The predicted next observation: itself (continuous) or the grid drawn from the
    modes of the two distributions (grid)."""
    prediction = self.transition_part(prediction)
    if self.kind == "continuous":
      return prediction
    rows, columns = self._grid
    cells = self.state_dim
    ball = tf.one_hot(tf.argmax(prediction[:, :cells], -1), cells, dtype=tf.float32)
    paddle = tf.one_hot(
      tf.argmax(prediction[:, cells:], -1) + (rows - 1) * columns, cells, dtype=tf.float32
    )
    return tf.maximum(ball, paddle)
