"""IrrepLift: the lifting layer from a state vector to features in irreducible coordinates."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import _fourier, _irreps
from tf_equirl.layers._base import (
  InitializerLike,
  check_positive_int,
  check_rank,
  fresh_initializer,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IrrepLift(keras.layers.Layer):
  """Lifts a vector to features in irreducible coordinates: `F(x) = act(Q^T GroupLift(x))`.

  The linear part is `GroupLift`'s (same `[d, units]` kernel, the same space of equivariant
  maps) written in the real Fourier coordinates of the group axis, `F = Q^T f` with
  `f[h] = W rho(h^-1) x`: `F[q] = x^T Pi[q] W`, `Pi[q] = sum_h Q[h, q] rho(h^-1)^T`
  (`_fourier.fourier_lift_matrices`), folded once per call into one `[d, |G| units]` matrix,
  so the forward pass is a single matmul (`d |G| units` multiply-adds, like the spatial
  `GroupLift`, and no change of basis). The isotypic form of `GroupLift(implementation=
  "fourier")` needs fewer multiply-adds, but its gather and per-irreducible slices made
  this layer slower on the 2-core CPU in a throwaway probe (not kept; compare
  docs/notes/forward_overhead.md, where that form loses to the spatial lift too). Then the
  nonlinearity of `tf_equirl.layers._irreps` (trivial coordinate: `tanh(t + b)`; each norm
  group `x_k`: norm `x_k tanh(|x_k|)/|x_k|`, or gated `x_k sigmoid(t + b)`).

  Equivariance: `F(rho_in(g) x) = M_g F(x)` with `M_g = Q^T L_g Q` (`_irreps.irrep_representation`),
  because `GroupLift(rho_in(g) x) = L_g GroupLift(x)`, and the nonlinearity commutes with
  every `M_g` (see `tf_equirl.layers._irreps`).

  Args:
    units: number of channels (each has |G| irreducible coordinates).
    input_rep: `Representation` of the group on the input vectors (or its config).
    nonlinearity: "norm" (default), "gated", "gated_norm" or None (linear, bias only).
    use_bias: one bias per channel, on its trivial coordinate.
    kernel_initializer: as in `keras.layers.Dense`.
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, input_rep.dim]`.
  Output shape: `[batch, |G|, units]` (group axis in irreducible coordinates).
  """

  def __init__(
    self,
    units: int,
    input_rep: Representation | Mapping[str, Any],
    nonlinearity: Optional[str] = "norm",
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "IrrepLift")
    self.input_rep = Representation.coerce(input_rep)
    self.group = self.input_rep.group
    self.nonlinearity = _irreps.check_nonlinearity(nonlinearity, "IrrepLift")
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self._layout = _irreps.irrep_layout(self.group)
    lift = np.transpose(self.input_rep.inverse_matrices(), (0, 2, 1))  # rho(h^-1)^T
    self._pi = _fourier.fourier_lift_matrices(self._layout.fb, lift)  # [|G|, d, d]

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "IrrepLift", "[batch, d]")
    if shape[-1] != self.input_rep.dim:
      raise ValueError(
        f"IrrepLift: input_rep {self.input_rep.name!r} has dimension "
        f"{self.input_rep.dim} but the input has width {shape[-1]} "
        f"(input shape {shape})."
      )
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.input_rep.dim, self.units),
      initializer=fresh_initializer(self.kernel_initializer),
      trainable=True,
    )
    self.bias = (
      self.add_weight(
        "bias", shape=(self.units,), initializer=self.bias_initializer, trainable=True
      )
      if self.use_bias
      else None
    )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    n, d = self.group.order, self.input_rep.dim
    folded = tf.einsum("qij,ju->iqu", tf.constant(self._pi, self.compute_dtype), self.kernel)
    pre = tf.reshape(
      tf.matmul(inputs, tf.reshape(folded, [d, n * self.units])), [-1, n, self.units]
    )
    return _irreps.apply_nonlinearity(pre, self._layout, self.bias, self.nonlinearity)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "input_rep": self.input_rep.get_config(),
        "nonlinearity": self.nonlinearity,
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
