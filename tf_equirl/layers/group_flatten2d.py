"""GroupFlatten2D: regular features over the plane flattened into regular features."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl.groups.plane import plane_group, plane_group_name, plane_permutations

__all__ = ["GroupFlatten2D"]


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupFlatten2D(keras.layers.Layer):
  """Flattens `[B, M, M, |G|, C]` into `[B, |G|, M*M*C]`, each group element's grid read in
  its own frame: `F[h, (q, c)] = f[h q, h, c]`.

  Equivariance: for plane features that move as `(g f)[p, h] = f[g^-1 p, g^-1 h]` (the output
  of `GroupLiftConv2D` and `GroupConv2D`), `F(g f)[h] = F(f)[g^-1 h]`, the regular
  representation on axis 1: substitute `f(g f)[h q, h] = f[g^-1 h q, g^-1 h]`. Unlike pooling
  the grid away, nothing is lost (the output is a permutation of the input's entries), so the
  layout of the latent grid reaches the vector layers (`GroupConv`, an actor's head) and a
  `GroupPool` after it gives invariant features that still tell positions apart.

  Args:
    group: the plane group, "C2", "C4", "D1", "D2" or "D4", or that `FiniteGroup`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, M, M, |G|, C]`, `M` odd.
  Output shape: `[batch, |G|, M*M*C]`, channels ordered `(row, column, channel)` in the frame.

  Raises:
    ValueError: for an unknown group, and (when built) an input of another rank, a grid that
      is not square and odd, or a group axis of another size than `|G|`.
  """

  def __init__(self, group: Any, **kwargs: Any):
    super().__init__(**kwargs)
    self.plane = plane_group_name(group, "group")
    self.group = plane_group(self.plane)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = tf.TensorShape(input_shape)
    order = self.group.order
    if (
      shape.rank != 5
      or shape[1] is None
      or shape[1] != shape[2]
      or shape[1] % 2 == 0
      or shape[3] != order
      or shape[4] is None
    ):
      raise ValueError(
        f"GroupFlatten2D expects regular features over an odd square grid [batch, M, M, "
        f"{order}, C] ({self.plane}), received input shape {shape}."
      )
    size = int(shape[1])
    cells = size * size
    perm = plane_permutations(size, self.plane)  # perm[g, p] = the pixel g^-1 p
    # Pixel h q is perm[h^-1, q]; read it at group index h of the flattened (pixel, h) axis.
    pixels = perm[self.group.inverses]  # [|G|, cells]
    self._index = tf.constant(
      (pixels * order + np.arange(order)[:, None]).astype(np.int32)
    )  # [|G|, cells]
    self._cells, self._channels = cells, int(shape[4])
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    order = self.group.order
    flat = tf.reshape(inputs, [-1, self._cells * order, self._channels])
    framed = tf.gather(flat, self._index, axis=1)  # [B, |G|, cells, C]
    return tf.reshape(framed, [-1, order, self._cells * self._channels])

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    shape = tf.TensorShape(input_shape)
    return tf.TensorShape([shape[0], shape[3], shape[1] * shape[2] * shape[4]])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"group": self.plane})
    return config
