"""GroupConv2D: the group convolution of features over a plane group."""

from __future__ import annotations

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import dense_gather
from tf_equirl.layers._plane import PlaneConvBase, fold_group, group_kernel_index

__all__ = ["GroupConv2D"]


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupConv2D(PlaneConvBase):
  """Group convolution over the plane: `f'[p, h] = act(sum_k' ((T_h W)[., h^-1 k'] * f[., k'])[p] + b)`.

  The kernel `W [k, k, |G|, c, units]` has one spatial filter per (input group element,
  channel, output channel); output `h` uses it turned by `h` with its group axis permuted,
  `W_h[v, k'] = W[h^-1 v, h^-1 k']` (the plane form of `GroupConv`'s `W[h^-1 k]`).
  Equivariance: `f'(g f)[p, h] = f'(f)[g^-1 p, g^-1 h]` for
  `(g f)[p, k] = f[g^-1 p, g^-1 k]`: substitute `v = g v'`, `k' = g k''` in the sum.

  The `[k, k, |G| c, |G| units]` kernel is one gather of precomputed indices (turn the
  pixels, permute the group axis), and the layer is one `tf.nn.conv2d` on the input with its
  group axis folded into the channels: `|G|^2 c units k^2` multiply-adds per output pixel,
  each parameter used `|G|` times.

  Args:
    units: output channels per group element.
    group: the plane group, "C2", "C4", "D1", "D2" or "D4", or that `FiniteGroup`.
    kernel_size: odd side of the square kernel (default 3).
    strides: stride of the window (default 1).
    padding: "valid" (default) or "same"; it must keep the centre at the centre.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `keras.layers.Conv2D` (one bias per channel, shared over the group axis and the grid),
      and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, N, N, |G|, c]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`, `M = (N + 2 pad - kernel_size) // strides + 1`.

  Raises:
    ValueError: as `GroupLiftConv2D`, and for a group axis of another size than `|G|`.
  """

  layer_name = "GroupConv2D"
  input_is_regular = True

  def _build_kernels(self, in_channels: int) -> None:
    k, n = self.kernel_size, self.group.order
    self.kernel = self.add_weight(
      "kernel", shape=(k, k, n, in_channels, self.units), initializer=self.kernel_initializer
    )
    self._index = group_kernel_index(self._spatial, self.group)

  def expanded_kernel(self) -> tf.Tensor:
    k, n, c, u = self.kernel_size, self.group.order, self.in_channels, self.units
    flat = tf.reshape(tf.cast(self.kernel, self.compute_dtype), [k * k * n, c, u])
    return fold_group(dense_gather(flat, self._index), k, c, n, u)
