"""IsotypicDense: the hidden layer between features with free multiplicities per irreducible type."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _isotypic
from tf_equirl.layers._base import InitializerLike, check_rank, fresh_initializer

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IsotypicDense(keras.layers.Layer):
  """An equivariant layer on flat features, `m_in(t)` -> `m_out(t)` copies of each type `t`.

  Linear part, per type (Schur's lemma): `X'_t = sum_k E_k X_t W_t[k]`, `X_t: [d, m_in]`
  the type's copies as columns, `E_k` the commutant of `sigma_t` (`I` alone for real types,
  `I` and `J` for the rotations of C_n, n >= 3) and free `W_t[k]: [m_in, m_out]`: `k m_in
  m_out` parameters for `k m_in m_out d` multiply-adds, and every equivariant linear map
  between these features has this form. With `norm_inputs=True` (default) the trivial
  outputs also receive the invariant norms `|X_i|` of the input's non-trivial copies,
  `t' += norms V` (`V: [sum_{t>0} m_in(t), m_out(trivial)]`), as in `IrrepDense`. One
  matmul per type on its contiguous columns (the norms join the trivial type's): for real
  types of dimension `d > 1` the columns read as `[batch d, m_in]` (a free reshape of the
  component-major layout) times `W_t`; for the others (`k > 1`) the `[d m_in, d m_out]`
  matrix `sum_k E_k^T (x) W_t[k]` is folded once per call. Then the "norm" nonlinearity.
  With regular multiplicities (`units=c`, `input_units=c'`) the maps are exactly
  `IrrepDense(c)`'s, read in the flat layout (same parameters).

  Equivariance: `layer(S_g F) = S_g layer(F)` with `S_g` = `sigma_t(g)` on each type's
  component axis (`_isotypic.isotypic_representation`): `E_k sigma_t(g) = sigma_t(g) E_k`,
  the norms are invariant and only enter the trivial channels, and the nonlinearity
  commutes with `S_g`.

  Args:
    units: output multiplicities (as in `IsotypicLift`).
    group: the `FiniteGroup` (or its config).
    input_units: the input's multiplicities (what the previous layer's `units` were).
    nonlinearity: "norm" (default) or None.
    norm_inputs: feed the input's copy norms into the trivial outputs.
    use_bias: one bias per trivial output channel.
    kernel_initializer: as in `keras.layers.Dense` (the type kernels stored divided by
      `_isotypic.regular_gain`).
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, D_in]` (flat layout of `input_units`).
  Output shape: `[batch, D_out]`.
  """

  def __init__(
    self,
    units: int | Sequence[int] | Mapping[int, int],
    group: FiniteGroup | Mapping[str, Any],
    input_units: int | Sequence[int] | Mapping[int, int],
    nonlinearity: Optional[str] = "norm",
    norm_inputs: bool = True,
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.group = FiniteGroup.coerce(group)
    self.units = _isotypic.check_multiplicities(units, self.group, "units", "IsotypicDense")
    self.input_units = _isotypic.check_multiplicities(
      input_units, self.group, "input_units", "IsotypicDense"
    )
    self.nonlinearity = _isotypic.check_nonlinearity(nonlinearity, "IsotypicDense")
    self.norm_inputs = bool(norm_inputs)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self._types = _isotypic.irrep_types(self.group)
    self._in = _isotypic.flat_layout(self.group, self.input_units)
    self._out = _isotypic.flat_layout(self.group, self.units)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "IsotypicDense", "[batch, D] (flat isotypic features)")
    if shape[-1] != self._in.width:
      raise ValueError(
        f"IsotypicDense: input_units={list(self.input_units)} over "
        f"{self.group.name} means {self._in.width} features, but the input has "
        f"width {shape[-1]} (input shape {shape})."
      )
    self.kernels = [
      self.add_weight(
        f"kernel_{i}",
        shape=(t.commutant.shape[0], m_in, m_out),
        initializer=_isotypic.scaled_initializer(
          self.kernel_initializer, _isotypic.regular_gain(self.group, t)
        ),
        trainable=True,
      )
      if m_in and m_out
      else None
      for i, (t, m_in, m_out) in enumerate(zip(self._types, self.input_units, self.units))
    ]
    norms, m0 = self._in.num_norms, self.units[0]
    self.norm_kernel = (
      self.add_weight(
        "norm_kernel",
        shape=(norms, m0),
        initializer=fresh_initializer(self.kernel_initializer),
        trainable=True,
      )
      if self.norm_inputs and norms and m0
      else None
    )
    self.bias = (
      self.add_weight("bias", shape=(m0,), initializer=self.bias_initializer, trainable=True)
      if self.use_bias and m0
      else None
    )
    super().build(input_shape)

  def _type_kernel(self, t, kernel, dt) -> tf.Tensor:
    """`[d m_in, d m_out]` on the type's flat columns: `K[(r, i), (s, j)] = sum_k E_k[s, r]
    W[k, i, j]`, i.e. `kron(I, W)` for real types."""
    gain = _isotypic.regular_gain(self.group, t)
    if t.dim == 1:
      return kernel[0] * float(gain * t.commutant[0, 0, 0])
    _, m_in, m_out = kernel.shape
    folded = tf.einsum("ksr,kij->risj", tf.constant(t.commutant * gain, dt), kernel)
    return tf.reshape(folded, [t.dim * m_in, t.dim * m_out])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    x = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    dt = x.dtype
    parts = []
    for i, (t, kernel, m_in, m_out, off) in enumerate(
      zip(self._types, self.kernels, self.input_units, self.units, self._in.offsets)
    ):
      d = t.dim
      if m_out == 0:
        continue
      features = x[:, off : off + d * m_in] if kernel is not None else None
      weights = (
        self._type_kernel(t, kernel, dt)
        if kernel is not None and (d == 1 or t.commutant.shape[0] > 1)
        else None
      )
      if i == 0 and self.norm_kernel is not None:  # the norms join the trivial matmul
        norms = _isotypic.copy_norms(x, self._in)
        features = norms if features is None else tf.concat([features, norms], axis=1)
        weights = (
          self.norm_kernel if weights is None else tf.concat([weights, self.norm_kernel], axis=0)
        )
      if features is None:
        parts.append(tf.zeros([tf.shape(x)[0], d * m_out], dt))
      elif kernel is not None and d > 1 and t.commutant.shape[0] == 1:
        # real type: [batch d, m_in] x [m_in, m_out]
        out = tf.matmul(
          tf.reshape(features, [-1, m_in]), kernel[0] * float(_isotypic.regular_gain(self.group, t))
        )
        parts.append(tf.reshape(out, [-1, d * m_out]))
      else:
        parts.append(tf.matmul(features, weights))
    pre = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    return _isotypic.norms_and_nonlinearity(pre, self._out, self.bias, self.nonlinearity)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self._out.width])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": list(self.units),
        "group": self.group.get_config(),
        "input_units": list(self.input_units),
        "nonlinearity": self.nonlinearity,
        "norm_inputs": self.norm_inputs,
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
