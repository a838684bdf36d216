"""IrrepInvariants: the invariants of features in irreducible coordinates (for critics)."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _irreps
from tf_equirl.layers._base import check_rank

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IrrepInvariants(keras.layers.Layer):
  """`F -> [F[trivial], |F[S_1]|, ..., |F[S_K]|]` per channel: invariant features.

  Equivariance (invariance): `M_g` is 1 on the trivial coordinate and orthogonal on each
  norm group `S_k` (`tf_equirl.layers._irreps`), so every output is unchanged by
  `F -> M_g F`. The trivial coordinate is `sqrt(|G|)` times `GroupPool("mean")` of the
  regular features `Q F`; the norms add what the mean loses (for C2, `|f[e] - f[s]| / sqrt 2`).

  Args:
    group: the `FiniteGroup` (or its config).
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c]` (irreducible coordinates).
  Output shape: `[batch, (1 + K) c]`, `K` = number of norm groups (`|G| - 1` for abelian
  groups with one-dimensional irreducibles, 5 for D4).
  """

  def __init__(self, group: FiniteGroup | Mapping[str, Any], **kwargs: Any):
    super().__init__(**kwargs)
    self.group = FiniteGroup.coerce(group)
    self._layout = _irreps.irrep_layout(self.group)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 3, "IrrepInvariants", "[batch, |G|, channels]")
    if shape[1] != self.group.order or shape[2] is None:
      raise ValueError(
        f"IrrepInvariants over {self.group.name} expects [batch, "
        f"{self.group.order}, channels] with known channels, received {shape}."
      )
    self.in_channels = int(shape[2])
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    k = self._layout.num_norms
    norms = tf.reshape(_irreps.group_norms(inputs, self._layout), [-1, k * self.in_channels])
    return tf.concat([inputs[:, self._layout.trivial, :], norms], axis=1)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], (1 + self._layout.num_norms) * int(input_shape[2])])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"group": self.group.get_config()})
    return config
