"""IsotypicLogits: the head from features with free multiplicities onto discrete actions."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation
from tf_equirl.layers import _isotypic
from tf_equirl.layers._base import InitializerLike, check_rank

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IsotypicLogits(keras.layers.Layer):
  """Maps flat features (`_isotypic`) onto action logits that transform by the action
  permutation: `logits = sum_t sum_j Q_j X_t W_t[j] + B b`.

  `Q_j: [A, d]` span the equivariant maps from `sigma_t` to the action representation
  (`pi(g) Q_j = Q_j sigma_t(g)`: one per copy of `sigma_t` among the actions, two for
  complex types; a type the actions do not contain has none), `W_t: [k_t, m_t]` is free;
  `B` spans the invariant action vectors (one bias per action orbit, as in
  `EquivariantLogits`). Folded once per call into one `[D, A]` matrix: one matmul.

  Equivariance: `logits(S_g F) = pi(g) logits(F)`, `S_g` the action on flat features
  (`_isotypic.isotypic_representation`), because `Q_j sigma_t(g) = pi(g) Q_j` and
  `pi(g) B = B`.

  Args:
    action_rep: permutation `Representation` of the group on the actions (or its config).
    input_units: the input's multiplicities (as in `IsotypicLift`'s `units`).
    use_bias: one bias per action orbit.
    kernel_initializer: as in `keras.layers.Dense`.
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, D]` (flat layout of `input_units`).
  Output shape: `[batch, num_actions]`.
  """

  def __init__(
    self,
    action_rep: Representation | Mapping[str, Any],
    input_units: int | Sequence[int] | Mapping[int, int],
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.action_rep = Representation.coerce(action_rep)
    self.group: FiniteGroup = self.action_rep.group
    self.input_units = _isotypic.check_multiplicities(
      input_units, self.group, "input_units", "IsotypicLogits"
    )
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.num_actions = self.action_rep.dim
    self._layout = _isotypic.flat_layout(self.group, self.input_units)
    types = _isotypic.irrep_types(self.group)
    self._bases = _isotypic.bases_onto(self.action_rep)  # [k_t, A, d_t] per type
    self._gains = [_isotypic.regular_gain(self.group, t) for t in types]
    self._invariant = types[0].matrices[:, :1, :1]
    self._bias_basis = _isotypic.hom_basis(self._invariant, self.action_rep.matrices)[:, :, 0]

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "IsotypicLogits", "[batch, D] (flat isotypic features)")
    if shape[-1] != self._layout.width:
      raise ValueError(
        f"IsotypicLogits: input_units={list(self.input_units)} over "
        f"{self.group.name} means {self._layout.width} features, but the input "
        f"has width {shape[-1]} (input shape {shape})."
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
      for t, (basis, m, gain) in enumerate(zip(self._bases, self.input_units, self._gains))
    ]
    self.bias = (
      self.add_weight(
        "bias",
        shape=(self._bias_basis.shape[0],),
        initializer=self.bias_initializer,
        trainable=True,
      )
      if self.use_bias
      else None
    )
    super().build(input_shape)

  def folded_kernel(self) -> tf.Tensor:
    """`[D, A]`: the linear part as one matrix."""
    dt, a = self.compute_dtype, self.num_actions
    rows = []
    for basis, kernel, m, gain in zip(self._bases, self.kernels, self.input_units, self._gains):
      d = basis.shape[2]
      if m == 0:
        continue
      if kernel is None:
        rows.append(tf.zeros([d * m, a], dt))
        continue
      rows.append(
        tf.reshape(tf.einsum("jar,ji->ria", tf.constant(basis * gain, dt), kernel), [d * m, a])
      )
    return tf.concat(rows, axis=0) if len(rows) > 1 else rows[0]

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    out = tf.matmul(inputs, self.folded_kernel())
    if self.bias is not None:
      out = out + tf.linalg.matvec(tf.constant(self._bias_basis.T, out.dtype), self.bias)
    return out

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.num_actions])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "action_rep": self.action_rep.get_config(),
        "input_units": list(self.input_units),
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
