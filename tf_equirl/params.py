"""Parameters: counting, width matching (thesis 4.6.1.2: networks within 10 % of the MLP), and
global-norm clipping of their gradients."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import tensorflow as tf

__all__ = ["count_params", "match_width", "clip_by_global_norm"]


def count_params(model) -> int:
  """Number of trainable scalars of a built Keras layer/model or tf-agents network."""
  variables = getattr(model, "trainable_variables", None)
  if variables is None:
    raise TypeError(
      f"count_params expects a Keras layer/model or a tf-agents network, "
      f"received {type(model).__name__}."
    )
  if hasattr(model, "built") and not model.built:
    raise ValueError(
      f"count_params: {getattr(model, 'name', model)} is not built yet; call it "
      "on an input (or build it) first."
    )
  return int(sum(int(np.prod(v.shape)) for v in variables))


def match_width(
  build_fn: Callable[[int], object],
  target_params: int,
  tolerance: float = 0.1,
  widths: Iterable[int] = range(1, 2049),
) -> tuple[int, int]:
  """Picks the width whose built network has the parameter count closest to `target_params`.

  Args:
    build_fn: `width -> built network`; the count must grow with the width.
    target_params: the count to match (e.g. the MLP baseline's).
    tolerance: maximum relative difference allowed (0.1 = within 10 %).
    widths: candidate widths, increasing.

  Returns:
    `(width, params)`.

  Raises:
    ValueError: if no candidate is within `tolerance` of the target.
  """
  if target_params < 1:
    raise ValueError(f"match_width: target_params must be positive, received {target_params}.")
  widths = list(widths)
  counts = {}

  def count(i):
    if i not in counts:
      counts[i] = count_params(build_fn(widths[i]))
    return counts[i]

  lo, hi = 0, len(widths) - 1
  while lo < hi:  # first width whose count reaches the target
    mid = (lo + hi) // 2
    if count(mid) < target_params:
      lo = mid + 1
    else:
      hi = mid
  candidates = [i for i in (lo - 1, lo) if 0 <= i < len(widths)]
  best = min(candidates, key=lambda i: abs(count(i) - target_params))
  params = count(best)
  rel = abs(params - target_params) / target_params
  if rel > tolerance:
    raise ValueError(
      f"match_width: the closest width {widths[best]} gives {params} parameters, "
      f"{100 * rel:.1f} % away from the target {target_params} (tolerance "
      f"{100 * tolerance:.0f} %)."
    )
  return widths[best], params


def clip_by_global_norm(grads, max_norm: float):
  """`tf.clip_by_global_norm` on dense gradients: `(clipped, global_norm)`, as optax's
  `clip_by_global_norm` in PureJaxRL.

  A gradient that reaches a variable through a gather is an `IndexedSlices` listing a row
  once per gather, and TensorFlow's norm of it adds the squares of the repeated parts instead
  of squaring their sum; densifying first gives the gradient's true norm (tf_equirl's own
  layers already give dense gradients, `tf_equirl.layers._base.dense_gather`; this covers any
  other network).
  """
  dense = [g if g is None else tf.convert_to_tensor(g) for g in grads]
  return tf.clip_by_global_norm(dense, max_norm)
