"""IsotypicLift: from a state vector to features with free multiplicities per irreducible type."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import _isotypic
from tf_equirl.layers._base import InitializerLike, check_rank

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IsotypicLift(keras.layers.Layer):
  """Lifts a vector to flat features holding `m_t` copies of each irreducible type `t`.

  Per type (dimension `d`), `X_t = sum_j P_j x W[j]` (`[d, m_t]`, one column per copy): the
  `P_j: [d, n]` span the equivariant maps from the input representation to `sigma_t`
  (`sigma_t(g) P_j = P_j rho_in(g)`, `_isotypic.hom_basis`: one per copy of `sigma_t` in the
  input for real types, two for complex ones), `W: [k_t, m_t]` is free. Types the input
  does not contain have no weights and give zeros (plus the bias on the trivial channels).
  The maps are folded once per call into one `[n, D]` matrix, so the forward pass is one
  matmul (`n D` multiply-adds), then the "norm" nonlinearity of `_isotypic`.
  With `units=c` (an int) the multiplicities are those of `c` regular channels and the
  layer spans exactly `IrrepLift(c)`'s maps (the same `n c` parameters), laid out flat.

  Equivariance: `F(rho_in(g) x) = S_g F(x)`, `S_g` = `sigma_t(g)` on the component axis of
  each type (`_isotypic.isotypic_representation`): `P_j rho_in(g) = sigma_t(g) P_j` and the
  nonlinearity commutes with every `S_g`.

  Args:
    units: multiplicities, one per type of `_isotypic.irrep_types(group)` (a sequence, or a
      mapping `{type index: count}`), or an int `c` for `c` regular channels.
    input_rep: `Representation` of the group on the input vectors (or its config).
    nonlinearity: "norm" (default) or None (linear, bias only).
    use_bias: one bias per trivial channel.
    kernel_initializer: as in `keras.layers.Dense` (one `[k_t, m_t]` kernel per type,
      stored divided by `_isotypic.regular_gain`).
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, input_rep.dim]`.
  Output shape: `[batch, D]`, `D = sum_t dim_t m_t` (flat layout of `_isotypic`).
  """

  def __init__(
    self,
    units: int | Sequence[int] | Mapping[int, int],
    input_rep: Representation | Mapping[str, Any],
    nonlinearity: Optional[str] = "norm",
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.input_rep = Representation.coerce(input_rep)
    self.group = self.input_rep.group
    self.units = _isotypic.check_multiplicities(units, self.group, "units", "IsotypicLift")
    self.nonlinearity = _isotypic.check_nonlinearity(nonlinearity, "IsotypicLift")
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self._layout = _isotypic.flat_layout(self.group, self.units)
    self._bases = _isotypic.bases_from(self.input_rep)  # [k_t, d_t, n] per type
    self._gains = [_isotypic.regular_gain(self.group, t) for t in _isotypic.irrep_types(self.group)]

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "IsotypicLift", "[batch, d]")
    if shape[-1] != self.input_rep.dim:
      raise ValueError(
        f"IsotypicLift: input_rep {self.input_rep.name!r} has dimension "
        f"{self.input_rep.dim} but the input has width {shape[-1]} "
        f"(input shape {shape})."
      )
    self.kernels = [
      self.add_weight(
        f"kernel_{t}",
        shape=(basis.shape[0], m),
        trainable=True,
        initializer=_isotypic.scaled_initializer(self.kernel_initializer, gain),
      )
      if basis.shape[0] and m
      else None
      for t, (basis, m, gain) in enumerate(zip(self._bases, self.units, self._gains))
    ]
    self.bias = (
      self.add_weight(
        "bias", shape=(self.units[0],), initializer=self.bias_initializer, trainable=True
      )
      if self.use_bias and self.units[0]
      else None
    )
    super().build(input_shape)

  def folded_kernel(self) -> tf.Tensor:
    """`[n, D]`: the linear part as one matrix."""
    n, dt = self.input_rep.dim, self.compute_dtype
    cols = []
    for basis, kernel, m, gain in zip(self._bases, self.kernels, self.units, self._gains):
      d = basis.shape[1]
      if m == 0:
        continue
      if kernel is None:
        cols.append(tf.zeros([n, d * m], dt))
        continue
      cols.append(
        tf.reshape(tf.einsum("jrn,ji->nri", tf.constant(basis * gain, dt), kernel), [n, d * m])
      )
    return tf.concat(cols, axis=1) if len(cols) > 1 else cols[0]

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    pre = tf.matmul(inputs, self.folded_kernel())
    return _isotypic.norms_and_nonlinearity(pre, self._layout, self.bias, self.nonlinearity)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self._layout.width])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": list(self.units),
        "input_rep": self.input_rep.get_config(),
        "nonlinearity": self.nonlinearity,
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
