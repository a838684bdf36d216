"""Residual pathway prior layers: an exact group layer plus an unconstrained one.

Finzi, Benton and Wilson 2021, "Residual pathway priors for soft equivariance constraints"
(the RPP baseline of Park et al. 2025, "Approximate equivariance in reinforcement learning",
AISTATS): a layer is the sum of an exactly equivariant path and an unconstrained linear
path, with a stronger prior (weight penalty) on the unconstrained one, so that the network
uses it only where the data is not symmetric:

    f[h] = act( (exact layer)(x)[h] + (V x)[h] + b ).

The penalty is applied as decoupled weight decay after every optimiser step
(`DecayTowardsZero`, a Keras constraint): `v <- (1 - free_decay) v` on the unconstrained
weights; the exact path has none. A constraint acts in every training
loop, tf-agents' PPO loss included (which does not add layer losses); for SGD with step
`lr` it is the proximal step of the L2 penalty `decay / (2 lr) * |v|^2`. The unconstrained
weights start at zero, so the layer starts exactly equivariant.

Cost: one matmul with the sum of the exact block matrix and `V`, as `GroupConv`'s
"spatial" form; the unconstrained path adds `|G|^2 c u` (conv) or `d |G| u` (lift)
parameters.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation
from tf_equirl.layers._base import InitializerLike
from tf_equirl.layers.group_conv import GroupConv
from tf_equirl.layers.group_lift import GroupLift

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class DecayTowardsZero(keras.constraints.Constraint):
  """Decoupled weight decay as a constraint: `w <- (1 - rate) w` after each step."""

  def __init__(self, rate: float = 0.0):
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
      raise ValueError(f"DecayTowardsZero: expected a rate in [0, 1), received rate={rate!r}.")
    self.rate = rate

  def __call__(self, w):
    return (1.0 - self.rate) * w

  def get_config(self) -> Dict[str, Any]:
    return {"rate": self.rate}


def _check_rate(value, argname: str, layer: str) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
    raise ValueError(f"{layer}: expected {argname} in [0, 1), received {argname}={value!r}.")
  return float(value)


def _spatial_only(kwargs, layer: str):
  implementation = kwargs.pop("implementation", "spatial")
  if implementation != "spatial":
    raise ValueError(
      f"{layer}: only implementation='spatial' exists (the unconstrained path "
      f"has no Fourier form), received implementation={implementation!r}."
    )


class _ResidualMixin:
  add_weight: Any  # provided by keras.layers.Layer

  def _init_residual(self, free_decay, free_initializer, layer):
    self.free_decay = _check_rate(free_decay, "free_decay", layer)
    self.free_initializer = keras.initializers.get(free_initializer)

  def _add_free_kernel(self, rows: int, cols: int):
    self.free_kernel = self.add_weight(
      "free_kernel",
      shape=(rows, cols),
      initializer=self.free_initializer,
      trainable=True,
      constraint=DecayTowardsZero(self.free_decay) if self.free_decay > 0 else None,
    )

  def _residual_config(self) -> dict:
    return {
      "free_decay": self.free_decay,
      "free_initializer": keras.initializers.serialize(self.free_initializer),
    }


@keras.saving.register_keras_serializable(package="tf_equirl")
class ResidualGroupLift(_ResidualMixin, GroupLift):
  """`GroupLift` plus an unconstrained `[d, |G| units]` path: `f[h] = act(W rho(h^-1) x + (V x)[h] + b)`.

  Equivariance while `V = 0` (at initialisation): `f(rho_in(g) x) = L_g f(x)`; the error is
  at most `|V|` times the input norm otherwise.

  Args:
    units: as in `GroupLift`.
    input_rep: as in `GroupLift`.
    free_decay: in [0, 1), decay of the unconstrained weights after each step (the
      stronger penalty).
    free_initializer: of `V`; default zeros (an exactly equivariant start).
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` and the
      base layer arguments as in `GroupLift` (only its "spatial" implementation).

  Input shape: `[batch, input_rep.dim]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    input_rep: Representation | Mapping[str, Any],
    free_decay: float = 1e-3,
    free_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    _spatial_only(kwargs, "ResidualGroupLift")
    super().__init__(units, input_rep, implementation="spatial", **kwargs)
    self._init_residual(free_decay, free_initializer, "ResidualGroupLift")

  def build(self, input_shape: tf.TensorShape) -> None:
    super().build(input_shape)
    self._add_free_kernel(self.input_rep.dim, self.group.order * self.units)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    folded = tf.reshape(
      self._fold(tf.cast(self.kernel, self.compute_dtype)),
      [self.input_rep.dim, self.group.order * self.units],
    )
    out = tf.matmul(inputs, folded + tf.cast(self.free_kernel, self.compute_dtype))
    return self.bias_and_activation(tf.reshape(out, [-1, self.group.order, self.units]))

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.pop("implementation")
    config.update(self._residual_config())
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class ResidualGroupConv(_ResidualMixin, GroupConv):
  """`GroupConv` plus an unconstrained `[|G| c, |G| units]` path.

  `f'[h] = act(sum_k W[h^-1 k] f[k] + (V vec(f))[h] + b)`. Equivariance while `V = 0` (at
  initialisation): `f'(L_g f) = L_g f'(f)`.

  Args:
    units: as in `GroupConv`.
    group: as in `GroupConv`.
    free_decay: as in `ResidualGroupLift`.
    free_initializer: as in `ResidualGroupLift`.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` and the
      base layer arguments as in `GroupConv` (only its "spatial" implementation).

  Input shape: `[batch, |G|, c_in]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    group: FiniteGroup | Mapping[str, Any],
    free_decay: float = 1e-3,
    free_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    _spatial_only(kwargs, "ResidualGroupConv")
    super().__init__(units, group, implementation="spatial", **kwargs)
    self._init_residual(free_decay, free_initializer, "ResidualGroupConv")

  def build(self, input_shape: tf.TensorShape) -> None:
    super().build(input_shape)
    n = self.group.order
    self._add_free_kernel(n * self.in_channels, n * self.units)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    n = self.group.order
    flat = tf.reshape(inputs, [-1, n * self.in_channels])
    kernel = self.expanded_kernel() + tf.cast(self.free_kernel, self.compute_dtype)
    out = tf.reshape(tf.matmul(flat, kernel), [-1, n, self.units])
    return self.bias_and_activation(out)

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.pop("implementation")
    config.update(self._residual_config())
    return config
