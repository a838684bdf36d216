"""PermutationEquivariantDense: the cheap hidden layer over the group axis."""

from __future__ import annotations

from typing import Any, Dict, Optional

import tensorflow as tf

from tf_equirl.layers import _fourier
from tf_equirl.layers._base import (
  DenseLikeLayer,
  check_implementation,
  check_positive_int,
  check_rank,
  fresh_initializer,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class PermutationEquivariantDense(DenseLikeLayer):
  """Hidden layer equivariant to every permutation of the group axis (thesis eq. 4.15).

  `f'[h] = act(f[h] W_self + mean_k f[k] W_pool + b)`. Since the regular representation
  only permutes the group axis, `f'(P f) = P f'(f)` for every permutation `P`, in
  particular for `L_g` of any group. It has `2 c_in units + units` parameters whatever
  |G| is, but is less expressive than `GroupConv` for |G| > 2 (for C2 the two coincide).

  Two ways to compute it, equal up to float rounding:
    "spatial": `f[h] W_self` for every h plus `mean_k f[k] W_pool`: `(n + 1) c_in units`
      multiply-adds per sample.
    "fourier": split `f` into its mean `m` and deviations `f[h] - m` (the trivial and the
      other irreducibles of the permutation action), so
      `f'[h] = m (W_self + W_pool) + (f[h] - m) W_self`; the deviations sum to zero, so
      only `n - 1` of them are multiplied: `n c_in units` multiply-adds (2 instead of 3
      for n = 2: the sum and difference channels of C2).

  Args:
    units: output channels per group element.
    implementation: "spatial", "fourier" or "auto" (default: "fourier" where the saved
      multiply-adds outweigh the extra passes over memory, see `uses_fourier`; in practice
      n = 2 and wide layers). Weights and config are the same either way.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `keras.layers.Dense`, and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, n, c_in]` (n = |G|).
  Output shape: `[batch, n, units]`.
  """

  def __init__(self, units: int, implementation: str = "auto", **kwargs: Any):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "PermutationEquivariantDense")
    object.__setattr__(self, "_auto_cache", {})  # plain dict, not tracked by Keras
    self.implementation = check_implementation(implementation, "PermutationEquivariantDense")

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 3, "PermutationEquivariantDense", "[batch, |G|, channels]")
    if shape[2] is None:
      raise ValueError(
        "PermutationEquivariantDense needs a known channel dimension, " f"received shape {shape}."
      )
    c = int(shape[2])
    self.kernel_self = self.add_weight(
      "kernel_self",
      shape=(c, self.units),
      initializer=fresh_initializer(self.kernel_initializer),
      trainable=True,
    )
    self.kernel_pool = self.add_weight(
      "kernel_pool",
      shape=(c, self.units),
      initializer=fresh_initializer(self.kernel_initializer),
      trainable=True,
    )
    self.add_channel_bias(self.units)
    self._n = shape[1]
    super().build(input_shape)

  def uses_fourier(self, mode: str = "function", batch: Optional[int] = None) -> bool:
    """Whether the forward pass uses the mean/deviation form: always for "fourier" (when
    the group axis has a known size), never for "spatial", by the cost model of
    `tf_equirl.layers._fourier.permutation_fourier_pays_off` for "auto"."""
    if self._n is None or self.implementation == "spatial":
      return False
    if self.implementation == "fourier":
      return True
    key = f"{mode}/{batch}"
    if key not in self._auto_cache:  # the same answer for every call in this mode and batch
      self._auto_cache[key] = _fourier.permutation_fourier_pays_off(
        self._n, self.kernel_self.shape[0], self.units, mode, batch
      )
    return self._auto_cache[key]

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.uses_fourier(_fourier.execution_mode(), inputs.shape[0]):
      return self.bias_and_activation(self._fourier_call(inputs))
    pooled = tf.reduce_mean(inputs, axis=1, keepdims=True)
    out = tf.einsum("bhc,cu->bhu", inputs, self.kernel_self) + tf.einsum(
      "bhc,cu->bhu", pooled, self.kernel_pool
    )
    return self.bias_and_activation(out)

  def _fourier_call(self, inputs):
    n, c, u = self._n, self.kernel_self.shape[0], self.units
    mean = tf.reduce_mean(inputs, axis=1)
    trivial = tf.matmul(mean, self.kernel_self + self.kernel_pool)  # [batch, u]
    if n == 2:
      half_diff = tf.matmul(0.5 * (inputs[:, 0] - inputs[:, 1]), self.kernel_self)
      return tf.stack([trivial + half_diff, trivial - half_diff], axis=1)
    # Deviations from the mean of the first n - 1 elements; the last is minus their sum.
    dev = tf.reshape(inputs[:, : n - 1] - mean[:, None], [-1, c])
    dev = tf.reshape(tf.matmul(dev, self.kernel_self), [-1, n - 1, u])
    dev = tf.concat([dev, -tf.reduce_sum(dev, axis=1, keepdims=True)], axis=1)
    return trivial[:, None] + dev

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], input_shape[1], self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"units": self.units, "implementation": self.implementation})
    return config
