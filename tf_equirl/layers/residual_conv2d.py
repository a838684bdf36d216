"""Residual pathway prior on images: an exact plane group convolution plus an unconstrained
convolution beside it (Finzi, Benton and Wilson 2021; the RPP baseline of Park et al. 2025).

    f[p, h] = act( (exact layer)(x)[p, h] + (V * x)[p, h] + b ),

`V` an ordinary `k x k` convolution kernel onto the same `|G| units` channels, decayed after
every optimiser step by `free_decay` (`DecayTowardsZero`) and starting at zero, so that the
layer starts exactly equivariant; as `tf_equirl.layers.residual_pathway` does for vectors.
`relaxed_weight_spread` reports `|V| / |K|` for these layers.

Cost: the sum of the two kernels, then one `tf.nn.conv2d`; the free path adds
`k^2 c_in |G| units` (lift) or `k^2 |G|^2 c_in units` (conv) parameters.
"""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import InitializerLike
from tf_equirl.layers.group_conv2d import GroupConv2D
from tf_equirl.layers.group_lift_conv2d import GroupLiftConv2D
from tf_equirl.layers.residual_pathway import _ResidualMixin

__all__ = ["ResidualGroupLiftConv2D", "ResidualGroupConv2D"]


class _ResidualPlaneConv(_ResidualMixin):
  """The free kernel `[k*k*in_fold, |G| units]` (a conv kernel, stored flat) and the call."""

  # Provided by the plane convolution this mixin precedes (`_PlaneConv`, a Keras layer).
  kernel_size: int
  group: Any
  in_channels: int
  input_is_regular: bool
  units: int
  compute_dtype: Any
  expanded_kernel: Any
  convolve: Any

  def _init_plane_residual(self, free_decay, free_initializer):
    self._init_residual(free_decay, free_initializer, self.layer_name)

  def build(self, input_shape: tf.TensorShape) -> None:
    super().build(input_shape)  # type: ignore[misc]
    k, n = self.kernel_size, self.group.order
    in_fold = self.in_channels * (n if self.input_is_regular else 1)
    self._add_free_kernel(k * k * in_fold, n * self.units)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    exact = self.expanded_kernel()
    free = tf.reshape(tf.cast(self.free_kernel, self.compute_dtype), tf.shape(exact))
    return self.convolve(inputs, exact + free)

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()  # type: ignore[misc]
    config.update(self._residual_config())
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class ResidualGroupLiftConv2D(_ResidualPlaneConv, GroupLiftConv2D):
  """`GroupLiftConv2D` plus an unconstrained convolution onto its `|G| units` channels.

  `f[p, h] = act(((T_h W) * x)[p] + (V * x)[p, h] + b)`. Equivariance while `V = 0` (at
  initialisation): `f(T_g x)[p, h] = f(x)[g^-1 p, g^-1 h]`.

  Args:
    units: as in `GroupLiftConv2D`.
    group: as in `GroupLiftConv2D`.
    kernel_size: as in `GroupLiftConv2D`.
    strides: as in `GroupLiftConv2D`.
    padding: as in `GroupLiftConv2D`.
    free_decay: in [0, 1), decay of `V` after each optimiser step (the stronger prior).
    free_initializer: of `V`; default zeros (an exactly equivariant start).
    **kwargs: as in `GroupLiftConv2D`.

  Input shape: `[batch, N, N, channels]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`.
  """

  layer_name = "ResidualGroupLiftConv2D"

  def __init__(
    self,
    units: int,
    group: Any,
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "valid",
    free_decay: float = 1e-3,
    free_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(units, group, kernel_size, strides, padding, **kwargs)
    self._init_plane_residual(free_decay, free_initializer)


@keras.saving.register_keras_serializable(package="tf_equirl")
class ResidualGroupConv2D(_ResidualPlaneConv, GroupConv2D):
  """`GroupConv2D` plus an unconstrained convolution on the folded `|G| c` channels.

  `f'[p, h] = act(sum_k' ((T_h W)[., h^-1 k'] * f[., k'])[p] + (V * f)[p, h] + b)`.
  Equivariance while `V = 0` (at initialisation): `f'(g f)[p, h] = f'(f)[g^-1 p, g^-1 h]`.

  Args:
    units: as in `GroupConv2D`.
    group: as in `GroupConv2D`.
    kernel_size: as in `GroupConv2D`.
    strides: as in `GroupConv2D`.
    padding: as in `GroupConv2D`.
    free_decay: as in `ResidualGroupLiftConv2D`.
    free_initializer: as in `ResidualGroupLiftConv2D`.
    **kwargs: as in `GroupConv2D`.

  Input shape: `[batch, N, N, |G|, c]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`.
  """

  layer_name = "ResidualGroupConv2D"

  def __init__(
    self,
    units: int,
    group: Any,
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "valid",
    free_decay: float = 1e-3,
    free_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(units, group, kernel_size, strides, padding, **kwargs)
    self._init_plane_residual(free_decay, free_initializer)
