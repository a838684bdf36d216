"""Relaxed group convolutions on images: L exactly equivariant plane kernels mixed by weights
that depend on the group element (the encoder of Park et al. 2025).

    f[p, h] = act( sum_l w_l(h) ((T_h W_l) * x)[p] + b )                 (lift)
    f'[p, h] = act( sum_l w_l(h) sum_k' ((T_h W_l)[., h^-1 k'] * f[., k'])[p] + b )  (conv)

Each `W_l` is an ordinary `GroupLiftConv2D` / `GroupConv2D` kernel; the relaxed weights
`w_l(h)` and their options (`num_kernels`, `spread_decay`, `parameterization`,
`relaxed_initializer`) are those of `tf_equirl.layers.relaxed`, so `relaxed_weight_spread`
reads them the same way. With `w_l(h) = w_l` for all `h` (at initialisation: every weight
starts at `1/sqrt(L)`) the layer is the exact layer with kernel `sum_l w_l W_l`.

Cost: the `[k, k, c_in, |G| units]` kernel is assembled once per call (one gather of the `L`
kernels and one contraction with the relaxed weights, independent of the batch), then one
`tf.nn.conv2d`, as the exact layers.
"""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import InitializerLike, dense_gather
from tf_equirl.layers._plane import PlaneConvBase, fold_group, fold_lift, group_kernel_index
from tf_equirl.layers.relaxed import _RelaxedMixin

__all__ = ["RelaxedGroupLiftConv2D", "RelaxedGroupConv2D"]


class _RelaxedPlaneConv(_RelaxedMixin, PlaneConvBase):
  def __init__(
    self,
    units: int,
    group: Any,
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "valid",
    num_kernels: int = 2,
    spread_decay: float = 0.0,
    relaxed_initializer: InitializerLike = None,
    parameterization: str = "direct",
    **kwargs: Any,
  ):
    super().__init__(units, group, kernel_size, strides, padding, **kwargs)
    self._init_relaxed(
      num_kernels, spread_decay, relaxed_initializer, self.layer_name, parameterization
    )

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(self._relaxed_config())
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class RelaxedGroupLiftConv2D(_RelaxedPlaneConv):
  """Relaxed lifting convolution: `f[p, h] = act(sum_l w_l(h) ((T_h W_l) * x)[p] + b)`.

  Equivariance when `w_l(h) = w_l` for all `h` (at initialisation, or with
  `spread_decay=1`): `f(T_g x)[p, h] = f(x)[g^-1 p, g^-1 h]`, as `GroupLiftConv2D`; otherwise
  the error grows with the spread of the relaxed weights.

  Args:
    units: output channels per group element.
    group: the plane group, "C2", "C4", "D1", "D2" or "D4", or that `FiniteGroup`.
    kernel_size: odd side of the square kernels (default 3).
    strides: stride of the window (default 1).
    padding: "valid" (default) or "same"; it must keep the centre at the centre.
    num_kernels: L, the number of exactly equivariant kernels mixed (default 2).
    spread_decay: in [0, 1], as in `RelaxedGroupLift`.
    relaxed_initializer: of the `[|G|, L]` relaxed weights; default the constant `1/sqrt(L)`.
    parameterization: "direct" or "centered", as in `RelaxedGroupLift`.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` and the base
      layer arguments, as in `GroupLiftConv2D`.

  Input shape: `[batch, N, N, channels]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`.
  """

  layer_name = "RelaxedGroupLiftConv2D"

  def _build_kernels(self, in_channels: int) -> None:
    k = self.kernel_size
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.num_kernels, k, k, in_channels, self.units),
      initializer=self.kernel_initializer,
    )
    self._add_relaxed_weights()

  def expanded_kernel(self) -> tf.Tensor:
    k, n, c, u, L = (
      self.kernel_size,
      self.group.order,
      self.in_channels,
      self.units,
      self.num_kernels,
    )
    kernel = tf.cast(self.kernel, self.compute_dtype)
    flat = tf.reshape(tf.transpose(kernel, [1, 2, 0, 3, 4]), [k * k, L, c, u])
    turned = dense_gather(flat, self._spatial)  # [q, h, l, c, u]
    mixed = tf.einsum("qhlcu,hl->qhcu", turned, self.mixing_weights())
    return fold_lift(mixed, k, c, n, u)


@keras.saving.register_keras_serializable(package="tf_equirl")
class RelaxedGroupConv2D(_RelaxedPlaneConv):
  """Relaxed group convolution over the plane:
  `f'[p, h] = act(sum_l w_l(h) sum_k' ((T_h W_l)[., h^-1 k'] * f[., k'])[p] + b)`.

  Equivariance when `w_l(h) = w_l` for all `h`: `f'(g f)[p, h] = f'(f)[g^-1 p, g^-1 h]`, as
  `GroupConv2D`.

  Args:
    units: output channels per group element.
    group: as in `RelaxedGroupLiftConv2D`.
    kernel_size: as in `RelaxedGroupLiftConv2D`.
    strides: as in `RelaxedGroupLiftConv2D`.
    padding: as in `RelaxedGroupLiftConv2D`.
    num_kernels: as in `RelaxedGroupLiftConv2D`.
    spread_decay: as in `RelaxedGroupLiftConv2D`.
    relaxed_initializer: as in `RelaxedGroupLiftConv2D`.
    parameterization: as in `RelaxedGroupLiftConv2D`.
    **kwargs: as in `GroupConv2D`.

  Input shape: `[batch, N, N, |G|, c]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`.
  """

  layer_name = "RelaxedGroupConv2D"
  input_is_regular = True

  def _build_kernels(self, in_channels: int) -> None:
    k, n = self.kernel_size, self.group.order
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.num_kernels, k, k, n, in_channels, self.units),
      initializer=self.kernel_initializer,
    )
    self._add_relaxed_weights()
    self._index = group_kernel_index(self._spatial, self.group)

  def expanded_kernel(self) -> tf.Tensor:
    k, n, c, u, L = (
      self.kernel_size,
      self.group.order,
      self.in_channels,
      self.units,
      self.num_kernels,
    )
    kernel = tf.cast(self.kernel, self.compute_dtype)
    flat = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4, 5]), [k * k * n, L, c, u])
    turned = dense_gather(flat, self._index)  # [q, k', h, l, c, u]
    mixed = tf.einsum("qkhlcu,hl->qkhcu", turned, self.mixing_weights())
    return fold_group(mixed, k, c, n, u)
