"""SymmetrizerDense: the equivariant layer of MDP homomorphic networks (baseline)."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import _canonical, _fourier, _isotypic
from tf_equirl.layers._base import DenseLikeLayer, check_positive_int, check_rank

from tensorflow import keras


def symmetrizer_basis(input_rep: Representation, output_rep: Representation) -> np.ndarray:
  """Orthonormal basis `[r, d_out, d_in]` of `{W : rho_out(g) W = W rho_in(g) for all g}`.

  The space is the one van der Pol et al. (2020) and thesis 3.1.1 (eq. 3.1-3.2) span by
  symmetrising random matrices with `S(W) = 1/|G| sum_g rho_out(g)^-1 W rho_in(g)` and keeping
  the right singular vectors of the stack; `r` is its dimension. An SVD's basis of it is
  arbitrary up to rotation and changes with the CPU's LAPACK kernels, so the basis is instead
  read off the projector `S` itself (`tf_equirl.layers._canonical`): the same on every machine.
  """
  if input_rep.group != output_rep.group:
    raise ValueError(
      "symmetrizer_basis: input_rep and output_rep are representations of "
      f"different groups ({input_rep.group.name} vs {output_rep.group.name})."
    )
  return _isotypic.hom_basis(input_rep.matrices, output_rep.matrices)


def invariant_basis(rep: Representation) -> np.ndarray:
  """Orthonormal basis `[r, d]` of the vectors fixed by every `rho(g)` (for biases), read off
  the projector `1/|G| sum_g rho(g)` (canonical, see `symmetrizer_basis`)."""
  return _canonical.range_basis(rep.matrices.mean(axis=0)).T


@keras.saving.register_keras_serializable(package="tf_equirl")
class SymmetrizerDense(DenseLikeLayer):
  """Dense layer whose weights are restricted to the equivariant subspace (Symmetrizer).

  `y_u = act(sum_c W_uc x_c + b_u)` with every block `W_uc = sum_r alpha[u, c, r] V_r`
  a combination of the basis from `symmetrizer_basis`, and `b_u` in the invariant
  subspace of `output_rep`. Equivariance: `f(rho_in(g) x) = rho_out(g) f(x)` for the
  block-diagonal representations on `c_in` input and `units` output channels.
  The basis is stored as a non-trainable weight so that a saved model reloads with the
  exact same weights. Only the coefficients are trainable.

  Args:
    units: number of output channels, each a copy of `output_rep`.
    input_rep: `Representation` on each input channel (dimension `d_in`).
    output_rep: `Representation` on each output channel (dimension `d_out`); for action
      logits use the action permutation representation and `units=1`.
    **kwargs: `activation`, `use_bias`, `kernel_initializer` (for the coefficients) and
      `bias_initializer` as in `keras.layers.Dense`, and the base `keras.layers.Layer`
      arguments.

  Input shape: `[batch, c_in * d_in]` (channel-major: `x[:, c*d_in:(c+1)*d_in]` is channel c).
  Output shape: `[batch, units * d_out]`, same layout.
  """

  def __init__(
    self,
    units: int,
    input_rep: Representation | Mapping[str, Any],
    output_rep: Representation | Mapping[str, Any],
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "SymmetrizerDense")
    self.input_rep = Representation.coerce(input_rep)
    self.output_rep = Representation.coerce(output_rep)
    self._basis = symmetrizer_basis(self.input_rep, self.output_rep)
    if self._basis.shape[0] == 0:
      raise ValueError(
        f"SymmetrizerDense: there is no non-zero equivariant linear map from "
        f"{self.input_rep.name!r} to {self.output_rep.name!r}."
      )
    self._bias_basis = invariant_basis(self.output_rep)
    self._kron_bias_under_xla = True  # see bias_vector; False restores the earlier graph

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "SymmetrizerDense", "[batch, c_in * d_in]")
    d_in = self.input_rep.dim
    if shape[1] is None or shape[1] % d_in:
      raise ValueError(
        f"SymmetrizerDense: input width {shape[1]} is not a multiple of "
        f"input_rep dimension {d_in} (input shape {shape})."
      )
    self.in_channels = int(shape[1]) // d_in
    rank = self._basis.shape[0]
    self.basis = self.add_weight(
      "basis",
      shape=self._basis.shape,
      trainable=False,
      initializer=keras.initializers.Constant(self._basis),
    )
    self.coefficients = self.add_weight(
      "coefficients",
      shape=(self.in_channels, rank, self.units),
      initializer=self.kernel_initializer,
      trainable=True,
    )
    self.has_bias = self.use_bias and self._bias_basis.shape[0] > 0
    if self.has_bias:
      self.bias_basis = self.add_weight(
        "bias_basis",
        shape=self._bias_basis.shape,
        trainable=False,
        initializer=keras.initializers.Constant(self._bias_basis),
      )
      self.bias = self.add_weight(
        "bias",
        shape=(self.units, self._bias_basis.shape[0]),
        initializer=self.bias_initializer,
        trainable=True,
      )
    super().build(input_shape)

  def kernel(self) -> tf.Tensor:
    """The full `[c_in * d_in, units * d_out]` weight matrix."""
    w = tf.einsum("cru,rij->cjui", self.coefficients, self.basis)  # [c, d_in, u, d_out]
    return tf.reshape(w, [self.in_channels * self.input_rep.dim, self.units * self.output_rep.dim])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    out = tf.matmul(tf.convert_to_tensor(inputs, self.compute_dtype), self.kernel())
    if self.has_bias:
      out = out + self.bias_vector()
    return self.activation(out) if self.activation is not None else out

  def bias_vector(self) -> tf.Tensor:
    """The `[units * d_out]` bias, `b_u = bias[u] @ bias_basis` for every output channel."""
    if not (self._kron_bias_under_xla and _fourier.in_xla_context()):
      return tf.reshape(tf.matmul(self.bias, self.bias_basis), [-1])
    # Under XLA the same products as one vector-matrix product with kron(I, bias_basis):
    # written as above, XLA fuses the [units, r] x [r, d_out] outer product and its reshape
    # into the activation's loop, whose per-element index arithmetic then keeps LLVM from
    # vectorising tanh (<1 x float> instead of <16 x float>): 2x slower actors.
    units, rank = self.bias.shape
    d_out = self.output_rep.dim
    expand = tf.reshape(
      tf.einsum("uv,rd->urvd", tf.eye(units, dtype=self.bias.dtype), self.bias_basis),
      [units * rank, units * d_out],
    )
    return tf.reshape(tf.matmul(tf.reshape(self.bias, [1, units * rank]), expand), [-1])

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.units * self.output_rep.dim])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "input_rep": self.input_rep.get_config(),
        "output_rep": self.output_rep.get_config(),
      }
    )
    return config
