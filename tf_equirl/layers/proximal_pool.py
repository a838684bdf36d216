"""Pooling of transition images into one next state: proximal (thesis 4.7.4) and mean."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Tuple

import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers._base import check_rank
from tf_equirl.layers.distances import get_distance

from tensorflow import keras


def _check_images(layer: str, rep: Representation, shape) -> tf.TensorShape:
  shape = check_rank(shape, 3, layer, "[batch, |G|, d] (transition images)")
  if shape[1] != rep.group.order:
    raise ValueError(
      f"{layer} over {rep.group.name} expects a group axis of size "
      f"{rep.group.order}, received transition images of shape {shape}."
    )
  if shape[2] != rep.dim:
    raise ValueError(
      f"{layer}: state_rep {rep.name!r} has dimension {rep.dim} but the "
      f"transition images have width {shape[2]} (shape {shape})."
    )
  return shape


class _ActionTransform(keras.layers.Layer):
  """Maps transition image `h` back to the input frame: `T f[h] = rho(h) f[h]` (eq. 4.25).

  A G-CNN head over (s, a) computes image `h` from the input seen through `h^-1`
  (the lift), so image `h` predicts `rho(h^-1) s'`; `rho(h)` undoes that. Under
  `g` on the input, `f[h] -> f[g^-1 h]`, so `T f[h] -> rho(g) T f[g^-1 h]`: the
  transformed images are the old ones permuted along the group axis and acted on by g.
  """

  def __init__(self, state_rep: Representation | Mapping[str, Any], **kwargs: Any):
    super().__init__(**kwargs)
    self.state_rep = Representation.coerce(state_rep)

  def transform_images(self, images):
    mats = tf.constant(self.state_rep.matrices, dtype=images.dtype)  # [h, i, j]
    return tf.einsum("hij,bhj->bhi", mats, images)

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"state_rep": self.state_rep.get_config()})
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class ProximalPool(_ActionTransform):
  """Proximal pooling (thesis 4.7.3-4.7.4, eq. 4.28): keep the transition image closest to s.

  `T(s, a) = rho(h*) f[h*]`, `h* = argmin_h d(s, rho(h) f[h])`.

  Equivariance is approximate. Under `g`, the set of candidates `{rho(h) f[h]}` becomes
  `{rho(g) rho(h) f[h]}` in permuted order; if `d` is invariant
  (`d(rho_ref(g) s, rho(g) y) = d(s, y)`) the same candidate wins and the output is exactly
  `rho(g) T(s, a)`. That argument fails only at ties: argmin then returns the first
  minimiser in group-axis order, and the order is permuted by g. Ties are rare for
  continuous states (CartPole, thesis: equivariant on 10,000 of 10,000 states) but
  frequent for discrete distances such as Catch's mode positions (thesis: 98.3 +- 0.6 % of
  675 pairs). The selection is piecewise constant, so gradients flow only into the chosen
  image. Use `EquivariantMeanPool` where exact equivariance matters.

  Args:
    state_rep: `Representation` acting on a transition image (width d).
    distance: name of a registered distance (`"l1"` default, `"l2"`, or your own via
      `tf_equirl.layers.register_distance`), `fn(reference, candidates) -> [batch, |G|]`.
    return_index: also return the selected group element `h*` (int32 `[batch]`).
    **kwargs: the base `keras.layers.Layer` arguments.

  Input: a list `[images, reference]`, images `[batch, |G|, d]`, reference `[batch, d_ref]`
    (the input state; `d_ref` may differ from d when the distance compares across spaces).
  Output shape: `[batch, d]` (and `[batch]` if `return_index`).
  """

  def __init__(
    self,
    state_rep: Representation | Mapping[str, Any],
    distance: str = "l1",
    return_index: bool = False,
    **kwargs: Any,
  ):
    super().__init__(state_rep, **kwargs)
    self.distance = distance
    self._distance_fn = get_distance(distance)
    self.return_index = bool(return_index)

  def build(self, input_shape: Sequence[tf.TensorShape]) -> None:
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
      raise ValueError(
        "ProximalPool expects two inputs [images, reference], received input "
        f"shape {input_shape}."
      )
    _check_images("ProximalPool", self.state_rep, input_shape[0])
    check_rank(input_shape[1], 2, "ProximalPool", "reference [batch, d_ref]")
    super().build(input_shape)

  def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor | Tuple[tf.Tensor, tf.Tensor]:
    images, reference = inputs
    candidates = self.transform_images(tf.convert_to_tensor(images, self.compute_dtype))
    dist = self._distance_fn(tf.convert_to_tensor(reference, self.compute_dtype), candidates)
    index = tf.argmin(dist, axis=1, output_type=tf.int32)
    selected = tf.gather(candidates, index, axis=1, batch_dims=1)
    return (selected, index) if self.return_index else selected

  def compute_output_shape(
    self, input_shape: Sequence[tf.TensorShape]
  ) -> tf.TensorShape | Tuple[tf.TensorShape, tf.TensorShape]:
    out = tf.TensorShape([input_shape[0][0], self.state_rep.dim])
    return (out, tf.TensorShape([input_shape[0][0]])) if self.return_index else out

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"distance": self.distance, "return_index": self.return_index})
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class EquivariantMeanPool(_ActionTransform):
  """Exactly equivariant pooling of transition images: `T(s, a) = mean_h rho(h) f[h]`.

  Equivariance: under `g`, `f[h] -> f[g^-1 h]`, so
  `mean_h rho(h) f[g^-1 h] = mean_k rho(g k) f[k] = rho(g) mean_k rho(k) f[k]`
  for every input, with no tie or distance involved; proximal pooling only gets this
  where its argmin is unique. The price: the output averages all images, so the network
  must make every image agree after transformation instead of making one of them right.

  Args:
    state_rep: `Representation` acting on a transition image (width d).
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, d]` (transition images).
  Output shape: `[batch, d]`.
  """

  def build(self, input_shape: tf.TensorShape) -> None:
    _check_images("EquivariantMeanPool", self.state_rep, input_shape)
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    images = tf.convert_to_tensor(inputs, self.compute_dtype)
    return tf.reduce_mean(self.transform_images(images), axis=1)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.state_rep.dim])
