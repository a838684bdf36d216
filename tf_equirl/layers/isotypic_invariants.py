"""IsotypicInvariants: the invariants of features with free multiplicities (for critics)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _isotypic
from tf_equirl.layers._base import check_rank

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IsotypicInvariants(keras.layers.Layer):
  """`F -> [trivial channels, |X_i| of every non-trivial copy]`: invariant features.

  Equivariance (invariance): the group acts by 1 on the trivial channels and by an
  orthogonal `sigma_t(g)` on each copy `X_i` of a non-trivial type, so both are unchanged
  by `F -> S_g F` (`_isotypic.isotypic_representation`).

  Args:
    group: the `FiniteGroup` (or its config).
    input_units: the input's multiplicities (as in `IsotypicLift`'s `units`).
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, D]` (flat layout of `input_units`).
  Output shape: `[batch, sum_t m_t]` (one invariant per copy).
  """

  def __init__(
    self,
    group: FiniteGroup | Mapping[str, Any],
    input_units: int | Sequence[int] | Mapping[int, int],
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.group = FiniteGroup.coerce(group)
    self.input_units = _isotypic.check_multiplicities(
      input_units, self.group, "input_units", "IsotypicInvariants"
    )
    self._layout = _isotypic.flat_layout(self.group, self.input_units)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(
      input_shape, 2, "IsotypicInvariants", "[batch, D] (flat isotypic " "features)"
    )
    if shape[-1] != self._layout.width:
      raise ValueError(
        f"IsotypicInvariants: input_units={list(self.input_units)} over "
        f"{self.group.name} means {self._layout.width} features, but the input "
        f"has width {shape[-1]} (input shape {shape})."
      )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    trivial = inputs[:, : self.input_units[0]]
    if not self._layout.num_norms:
      return trivial
    return tf.concat([trivial, _isotypic.copy_norms(inputs, self._layout)], axis=1)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], sum(self.input_units)])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"group": self.group.get_config(), "input_units": list(self.input_units)})
    return config
