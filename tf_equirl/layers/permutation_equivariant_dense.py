"""PermutationEquivariantDense: the cheap hidden layer over the group axis."""

from __future__ import annotations

import tensorflow as tf

from tf_equirl.layers._base import (DenseLikeLayer, check_positive_int, check_rank,
                                    fresh_initializer)

keras = tf.keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class PermutationEquivariantDense(DenseLikeLayer):
  """Hidden layer equivariant to every permutation of the group axis (thesis eq. 4.15).

  `f'[h] = act(f[h] W_self + mean_k f[k] W_pool + b)`. Since the regular representation
  only permutes the group axis, `f'(P f) = P f'(f)` for every permutation `P`, in
  particular for `L_g` of any group. It has `2 c_in units + units` parameters whatever
  |G| is, but is less expressive than `GroupConv` for |G| > 2 (for C2 the two coincide).

  Args:
    units: output channels per group element.
    activation, use_bias, kernel_initializer, bias_initializer: as in `keras.layers.Dense`.

  Input shape: `[batch, n, c_in]` (n = |G|).
  Output shape: `[batch, n, units]`.
  """

  def __init__(self, units: int, **kwargs):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "PermutationEquivariantDense")

  def build(self, input_shape):
    shape = check_rank(input_shape, 3, "PermutationEquivariantDense", "[batch, |G|, channels]")
    if shape[2] is None:
      raise ValueError("PermutationEquivariantDense needs a known channel dimension, "
                       f"received shape {shape}.")
    c = int(shape[2])
    self.kernel_self = self.add_weight("kernel_self", shape=(c, self.units),
                                       initializer=fresh_initializer(self.kernel_initializer),
                                       trainable=True)
    self.kernel_pool = self.add_weight("kernel_pool", shape=(c, self.units),
                                       initializer=fresh_initializer(self.kernel_initializer),
                                       trainable=True)
    self.add_channel_bias(self.units)
    super().build(input_shape)

  def call(self, inputs):
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    pooled = tf.reduce_mean(inputs, axis=1, keepdims=True)
    out = tf.einsum("bhc,cu->bhu", inputs, self.kernel_self) + tf.einsum(
        "bhc,cu->bhu", pooled, self.kernel_pool)
    return self.bias_and_activation(out)

  def compute_output_shape(self, input_shape):
    return tf.TensorShape([input_shape[0], input_shape[1], self.units])

  def get_config(self):
    config = super().get_config()
    config.update({"units": self.units})
    return config
