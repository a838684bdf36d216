"""GroupLift: the lifting layer from a state vector to features over the group."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import _fourier
from tf_equirl.layers._base import (
  DenseLikeLayer,
  LiftFold,
  check_implementation,
  check_positive_int,
  check_rank,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupLift(DenseLikeLayer):
  """Lifts a vector to regular features: `f(x)[h] = act(W rho(h^-1) x + b)`.

  Equivariance: `f(rho_in(g) x) = L_g f(x)`, where `L_g` permutes the group axis,
  `(L_g f)[h] = f[g^-1 h]` (thesis eq. 4.13-4.14; the inverse makes this a left action for
  non-abelian groups too, see the `tf_equirl` package docstring).

  Two ways to compute it, equal up to float rounding:
    "spatial": the |G| copies of `W rho(h^-1)` are folded into one `[d, |G| * units]`
      matrix (a gather for signed permutation representations, `LiftFold`), so the forward
      pass is a single matmul of `d |G| units` multiply-adds.
    "fourier": the Fourier coefficients of `f` over the group (see GroupConv) depend on `x`
      only through its isotypic components, so `x` is first written in a basis of those
      (`y = V^T x`, a sparse gather-and-add for permutation representations such as
      Catch's flip), each irreducible's coefficients are one small matmul, and a change of
      basis on the group axis gives `f`: about `d units` multiply-adds for abelian groups
      instead of `d |G| units`.

  Args:
    units: number of channels per group element.
    input_rep: `Representation` of the group on the input vectors (or its config).
    implementation: "spatial", "fourier" or "auto" (default: "fourier" where the saved
      multiply-adds outweigh the changes of basis, see `uses_fourier`; rare for a lift,
      whose input is usually narrow). Weights and config are the same either way.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `keras.layers.Dense` (the bias is one value per channel, shared over the group axis:
      it must be invariant), and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, input_rep.dim]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    input_rep: Representation | Mapping[str, Any],
    implementation: str = "auto",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "GroupLift")
    self.input_rep = Representation.coerce(input_rep)
    object.__setattr__(self, "_auto_cache", {})  # plain dict, not tracked by Keras
    self.implementation = check_implementation(implementation, "GroupLift")
    self.group = self.input_rep.group
    # rho(h^-1)^T for every h: x @ rho(h^-1)^T = (rho(h^-1) x)^T.
    self._lift_matrices = np.transpose(self.input_rep.inverse_matrices(), (0, 2, 1))
    self._fold = LiftFold(self._lift_matrices)

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "GroupLift", "[batch, d]")
    if shape[-1] != self.input_rep.dim:
      raise ValueError(
        f"GroupLift: input_rep {self.input_rep.name!r} has dimension "
        f"{self.input_rep.dim} but the input has width {shape[-1]} "
        f"(input shape {shape})."
      )
    d = self.input_rep.dim
    self.kernel = self.add_weight(
      "kernel", shape=(d, self.units), initializer=self.kernel_initializer, trainable=True
    )
    self.add_channel_bias(self.units)
    self._plan = (
      None if self.implementation == "spatial" else _fourier.lift_fourier_plan(self.input_rep)
    )
    super().build(input_shape)

  def uses_fourier(self, mode: str = "function", batch: Optional[int] = None) -> bool:
    """Whether the forward pass runs in the Fourier basis (see GroupConv.uses_fourier)."""
    if self.implementation != "auto":
      return self.implementation == "fourier"
    key = f"{mode}/{batch}"
    if key not in self._auto_cache:  # the same answer for every call in this mode and batch
      self._auto_cache[key] = _fourier.lift_fourier_pays_off(
        self._fourier_plan(), self.units, mode, batch
      )
    return self._auto_cache[key]

  def _fourier_plan(self) -> _fourier.LiftFourierPlan:
    if self._plan is None:  # only "spatial" builds none, and it never runs in the basis
      raise RuntimeError(
        "GroupLift: the layer is not built, or implementation='spatial' " "has no Fourier plan."
      )
    return self._plan

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.uses_fourier(_fourier.execution_mode(), inputs.shape[0]):
      return self.bias_and_activation(
        _fourier.fourier_group_lift(inputs, self.kernel, self._fourier_plan())
      )
    # folded[i, h, u] = sum_j rho(h^-1)^T[i, j] W[j, u] (a gather for permutation reps)
    folded = self._fold(tf.cast(self.kernel, self.compute_dtype))
    n = self.group.order
    out = tf.matmul(inputs, tf.reshape(folded, [self.input_rep.dim, n * self.units]))
    out = tf.reshape(out, [-1, n, self.units])
    return self.bias_and_activation(out)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "input_rep": self.input_rep.get_config(),
        "implementation": self.implementation,
      }
    )
    return config
