"""GroupPool: invariant pooling over the group axis."""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf

from tf_equirl.layers._base import check_rank

from tensorflow import keras

_MODES = ("mean", "max")


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupPool(keras.layers.Layer):
  """Pools regular features over the group axis: `f -> mean_h f[h]` or `max_h f[h]`.

  Invariance: `GroupPool(L_g f) = GroupPool(f)`, since `L_g` only permutes the group axis.
  Use it for critics (the value of a state equals the value of its transformed state).
  On regular features over the image plane the group axis is pooled pixel by pixel, which
  turns them into an image that the group moves as a picture:
  `GroupPool(g f)[p] = GroupPool(f)[g^-1 p]`.

  Args:
    mode: "mean" or "max".

  Input shape: `[batch, |G|, channels]`, or `[batch, H, W, |G|, channels]` (the plane layers'
  features).
  Output shape: `[batch, channels]`, or `[batch, H, W, channels]`.
  """

  def __init__(self, mode: str = "mean", **kwargs: Any):
    super().__init__(**kwargs)
    if mode not in _MODES:
      raise ValueError(f"GroupPool: mode must be one of {_MODES}, received mode={mode!r}.")
    self.mode = mode

  def build(self, input_shape: tf.TensorShape) -> None:
    if tf.TensorShape(input_shape).rank != 5:
      check_rank(
        input_shape, 3, "GroupPool", "[batch, |G|, channels] or [batch, H, W, |G|, channels]"
      )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    reduce = tf.reduce_mean if self.mode == "mean" else tf.reduce_max
    return reduce(inputs, axis=-2)  # the group axis, in both layouts

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    shape = tf.TensorShape(input_shape)
    return shape[:-2].concatenate(shape[-1:])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"mode": self.mode})
    return config
