"""Distances for `ProximalPool`, looked up by name so that layers stay serialisable.

A distance is `fn(reference [batch, d_ref], candidates [batch, |G|, d]) -> [batch, |G|]`.
Proximal pooling is equivariant (away from ties) when the distance is invariant,
`d(rho_ref(g) s, rho(g) y) = d(s, y)`: L1 is invariant under signed permutations (CartPole's
`-I`, Catch's column flip), L2 under every orthogonal representation.
"""

from __future__ import annotations

from typing import Callable, Dict

import tensorflow as tf

DistanceFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

_REGISTRY: Dict[str, DistanceFn] = {}


def register_distance(name: str, fn: DistanceFn, overwrite: bool = False) -> DistanceFn:
  """Registers `fn` under `name` for `ProximalPool(distance=name)`."""
  if not isinstance(name, str) or not name:
    raise ValueError(f"register_distance: name must be a non-empty string, received {name!r}.")
  if not callable(fn):
    raise ValueError(f"register_distance: fn must be callable, received {fn!r}.")
  if name in _REGISTRY and not overwrite and _REGISTRY[name] is not fn:
    raise ValueError(f"A distance named {name!r} is already registered; pass overwrite=True.")
  _REGISTRY[name] = fn
  return fn


def get_distance(name: str) -> DistanceFn:
  if name not in _REGISTRY:
    raise ValueError(
      f"Unknown distance {name!r}; registered distances: {sorted(_REGISTRY)}. "
      "Register your own with tf_equirl.layers.register_distance."
    )
  return _REGISTRY[name]


def available_distances():
  return sorted(_REGISTRY)


def l1_distance(reference: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(tf.abs(candidates - reference[:, None, :]), axis=-1)


def l2_distance(reference: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
  return tf.reduce_sum(tf.square(candidates - reference[:, None, :]), axis=-1)


register_distance("l1", l1_distance)
register_distance("l2", l2_distance)


# thesis 4.7.6: "the ball's displacement is multiplied by 0.13". Eq. 4.33 puts the 0.13 on the
# paddle term instead; the text and the equation disagree and tf_equirl follows the text:
# the ball term carries the weight.
CATCH_BALL_WEIGHT = 0.13


def _grid_geometry(reference: tf.Tensor, candidates: tf.Tensor):
  cells = reference.shape[-1]
  columns = candidates.shape[-1] - cells
  if cells is None or columns is None or columns < 1 or cells % columns:
    raise ValueError(
      "catch_mode_l1 expects a reference grid [batch, rows*columns] and "
      "candidates [batch, |G|, rows*columns + columns] (ball-cell logits then "
      f"paddle-column logits), received widths {cells} and "
      f"{candidates.shape[-1]}."
    )
  return cells // columns, columns


def catch_mode_terms(reference: tf.Tensor, candidates: tf.Tensor):
  """`(ball_term, paddle_term)`, each `[batch, |G|]`: L1 distances between the modes of the
  predicted ball cell / paddle column and the ball / paddle of the input grid.

  `reference` is the flat observation (1 at the ball and at the paddle in the last row);
  each candidate holds ball-cell logits `[rows*columns]` then paddle-column logits
  `[columns]`. The grid geometry is read from these two widths.
  """
  rows, columns = _grid_geometry(reference, candidates)
  cells = rows * columns
  paddle = tf.argmax(reference[:, cells - columns :], axis=-1, output_type=tf.int32)
  # The ball is the other 1; on the paddle's cell (only at the end) it shares that cell.
  rest = reference - tf.one_hot(cells - columns + paddle, cells, dtype=reference.dtype)
  ball = tf.where(
    tf.reduce_any(rest > 0.5, axis=-1),
    tf.argmax(rest, axis=-1, output_type=tf.int32),
    cells - columns + paddle,
  )
  pred_ball = tf.argmax(candidates[..., :cells], axis=-1, output_type=tf.int32)
  pred_paddle = tf.argmax(candidates[..., cells:], axis=-1, output_type=tf.int32)
  ball_term = tf.abs(pred_ball // columns - ball[:, None] // columns) + tf.abs(
    pred_ball % columns - ball[:, None] % columns
  )
  paddle_term = tf.abs(pred_paddle - paddle[:, None])
  return tf.cast(ball_term, candidates.dtype), tf.cast(paddle_term, candidates.dtype)


def catch_mode_distance(reference: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
  """Thesis eq. 4.33 as its text describes it: `0.13 * ball_term + paddle_term`
  (see `catch_mode_terms`).

  The distance is invariant under the column flip (it moves every column by
  `c -> columns-1-c`), so proximal pooling with it is equivariant except at ties, which a
  discrete distance makes common; the 0.13 makes ties rarer (thesis 4.7.6).
  """
  ball_term, paddle_term = catch_mode_terms(reference, candidates)
  return CATCH_BALL_WEIGHT * ball_term + paddle_term


register_distance("catch_mode_l1", catch_mode_distance)
