"""CentredPool2D: spatial pooling on odd grids that keeps the centre pixel at the centre."""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import check_positive_int, check_rank
from tf_equirl.layers._plane import check_centred_geometry, check_odd_size, check_padding

__all__ = ["CentredPool2D"]

_MODES = ("max", "mean")


@keras.saving.register_keras_serializable(package="tf_equirl")
class CentredPool2D(keras.layers.Layer):
  """Max or mean pooling over square windows of an odd grid, centred on the grid's centre.

  A square window is unchanged by quarter turns and mirrors, so pooling commutes with the
  plane groups' action as long as the output grid's centre sits over the input's
  (`tf_equirl.layers._plane.check_centred_geometry`): `pool(T_g x) = T_g pool(x)` on images,
  and `pool(g f) = g pool(f)` on regular features `[B, H, W, |G|, C]` (the group axis is
  pooled pixel by pixel and permuted alike). This is how an encoder brings 85x85 down to 7x7
  while staying equivariant: e.g. a 5x5 stride-2 convolution (85 -> 41), another (41 -> 19), a
  3x3 stride-2 pool (19 -> 9) and a 3x3 convolution (9 -> 7).

  Args:
    pool_size: odd side of the window (default 3).
    strides: stride of the window (default 2).
    padding: "valid" (default) or "same".
    mode: "max" (default) or "mean".

  Input shape: `[batch, N, N, C]` or `[batch, N, N, |G|, C]`, `N` odd.
  Output shape: the same with `N` replaced by `M = (N + 2 pad - pool_size) // strides + 1`.

  Raises:
    ValueError: for an even pool size, a bad stride, padding or mode, and (when built) an
      input of another rank, an even or non-square grid, or a geometry that moves the centre.
  """

  def __init__(
    self,
    pool_size: int = 3,
    strides: int = 2,
    padding: str = "valid",
    mode: str = "max",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.pool_size = check_odd_size(pool_size, "pool_size", "CentredPool2D")
    self.strides = check_positive_int(strides, "strides", "CentredPool2D")
    self.padding = check_padding(padding, "CentredPool2D")
    if mode not in _MODES:
      raise ValueError(f"CentredPool2D: mode must be one of {_MODES}, received mode={mode!r}.")
    self.mode = mode

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = tf.TensorShape(input_shape)
    if shape.rank != 5:
      check_rank(shape, 4, "CentredPool2D", "[batch, H, W, C] or [batch, H, W, |G|, C]")
    check_centred_geometry(
      shape, self.pool_size, self.strides, self.padding, "CentredPool2D", "pool_size"
    )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(inputs)
    x = tf.reshape(inputs, tf.concat([shape[:3], [-1]], 0)) if inputs.shape.rank == 5 else inputs
    pool = tf.nn.max_pool2d if self.mode == "max" else tf.nn.avg_pool2d
    out = pool(x, self.pool_size, self.strides, self.padding.upper())
    if inputs.shape.rank == 5:
      out_shape = tf.shape(out)
      out = tf.reshape(out, tf.concat([out_shape[:3], shape[3:]], 0))
    return out

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    shape = tf.TensorShape(input_shape)
    m = check_centred_geometry(
      shape, self.pool_size, self.strides, self.padding, self.name, "pool_size"
    )
    return tf.TensorShape([shape[0], m, m] + shape[3:].as_list())

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "pool_size": self.pool_size,
        "strides": self.strides,
        "padding": self.padding,
        "mode": self.mode,
      }
    )
    return config
