"""IrrepDense: the hidden layer between features in irreducible coordinates."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _fourier, _irreps
from tf_equirl.layers._base import (
  InitializerLike,
  check_positive_int,
  check_rank,
  fresh_initializer,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IrrepDense(keras.layers.Layer):
  """An equivariant layer on features in irreducible coordinates, `[batch, |G|, c] -> [batch, |G|, u]`.

  Linear part, per real irreducible `rho` (dimension `d`, `m` copies; see
  `tf_equirl.layers._fourier`): `F'[copy i] = F[copy i] A_rho`, one `[d c, d u]` matrix shared
  by the `m` copies, i.e. `I_m (x) A_rho`. These are exactly `GroupConv`'s maps in the Fourier
  basis (`A_rho = sum_g phi_rho(g) (x) W[g]` from the same `[|G|, c, u]` kernel, the same
  parameters), applied without the changes of basis: about `sum_rho m d^2 c u` multiply-adds
  (C2: `2 c u`, the cost of a dense layer with the same `2 c u` parameters; D4: `12 c u`
  for `8 c u`). With `norm_inputs=True` (default), the trivial coordinates also receive the
  invariant norms of the input's norm groups, `t' += sum_k |F[S_k]| V_k` (`V: [K, c, u]`), so
  information flows from the non-trivial irreducibles into the invariants (without it, a
  type-preserving nonlinearity would keep every irreducible type separate). Then the
  nonlinearity of `tf_equirl.layers._irreps`.

  Equivariance: `layer(M_g F) = M_g layer(F)` with `M_g = Q^T L_g Q`: the linear part is
  `Q^T K Q` for a group convolution `K` with `K L_g = L_g K`; the norms are invariant and
  only enter the trivial coordinate, on which `M_g` is 1; the nonlinearity commutes with
  `M_g` (see `tf_equirl.layers._irreps`).

  Args:
    units: output channels.
    group: the `FiniteGroup` (or its config).
    nonlinearity: "norm" (default), "gated", "gated_norm" or None.
    norm_inputs: feed the input's norms into the trivial outputs (adds `K c u` weights).
    use_bias: one bias per output channel, on its trivial coordinate.
    kernel_initializer: as in `keras.layers.Dense`; also initialises `V`.
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c]` (irreducible coordinates, e.g. from `IrrepLift`).
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    group: FiniteGroup | Mapping[str, Any],
    nonlinearity: Optional[str] = "norm",
    norm_inputs: bool = True,
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "IrrepDense")
    self.group = FiniteGroup.coerce(group)
    self.nonlinearity = _irreps.check_nonlinearity(nonlinearity, "IrrepDense")
    self.norm_inputs = bool(norm_inputs)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self._layout = _irreps.irrep_layout(self.group)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 3, "IrrepDense", "[batch, |G|, channels]")
    if shape[1] != self.group.order:
      raise ValueError(
        f"IrrepDense over {self.group.name} expects a group axis of size "
        f"{self.group.order}, received input shape {shape}; the previous layer "
        "is over a different group."
      )
    if shape[2] is None:
      raise ValueError(f"IrrepDense needs a known channel dimension, received shape {shape}.")
    self.in_channels = int(shape[2])
    n, c, u = self.group.order, self.in_channels, self.units
    self.kernel = self.add_weight(
      "kernel",
      shape=(n, c, u),
      initializer=fresh_initializer(self.kernel_initializer),
      trainable=True,
    )
    k = self._layout.num_norms
    self.norm_kernel = (
      self.add_weight(
        "norm_kernel",
        shape=(k * c, u),
        initializer=fresh_initializer(self.kernel_initializer),
        trainable=True,
      )
      if self.norm_inputs and k
      else None
    )
    self.bias = (
      self.add_weight("bias", shape=(u,), initializer=self.bias_initializer, trainable=True)
      if self.use_bias
      else None
    )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    pre = _fourier.fourier_block_matmul(inputs, self.kernel, self._layout.fb)
    bias = self.bias
    if self.norm_kernel is not None:
      norms = _irreps.group_norms(inputs, self._layout)  # [batch, K, c]
      k = self._layout.num_norms
      extra = tf.matmul(tf.reshape(norms, [-1, k * self.in_channels]), self.norm_kernel)
      bias = extra if bias is None else extra + bias  # [batch, u] on the trivial coordinate
    return _irreps.apply_nonlinearity(pre, self._layout, bias, self.nonlinearity)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "group": self.group.get_config(),
        "nonlinearity": self.nonlinearity,
        "norm_inputs": self.norm_inputs,
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
