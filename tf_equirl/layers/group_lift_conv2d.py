"""GroupLiftConv2D: the lifting convolution from images to features over a plane group."""

from __future__ import annotations

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import dense_gather
from tf_equirl.layers._plane import PlaneConvBase, fold_lift


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupLiftConv2D(PlaneConvBase):
  """Lifts an image to regular features over a plane group: `f[p, h] = act((T_h W) * x + b)[p]`.

  Each output `h` correlates the image with the kernel turned by `h`,
  `(T_h W)(v) = W(h^-1 v)` (Cohen and Welling 2016). Equivariance, with `T_g` the rotation or
  mirror of the grid about its centre: `f(T_g x)[p, h] = f(x)[g^-1 p, g^-1 h]`, i.e. the
  pixels move as the image and the group axis is permuted by the regular representation
  `(L_g f)[h] = f[g^-1 h]`, as `GroupLift`'s. Exact (no interpolation) on odd square grids whose
  centre stays the centre (`tf_equirl.layers._plane.check_centred_geometry`).

  The `|G|` turned kernels are one gather of a precomputed pixel permutation of the kernel
  (equal to `tf.reverse` and `tf.image.rot90` of it), laid side by side in the output channels
  of a single `tf.nn.conv2d`: the cost of a `Conv2D` with `|G| units` filters.

  Args:
    units: output channels per group element.
    group: the plane group, "C2", "C4", "D1" (a mirror), "D2" or "D4"
      (`tf_equirl.groups.plane`), or that `FiniteGroup`.
    kernel_size: odd side of the square kernel (default 3).
    strides: stride of the window (default 1).
    padding: "valid" (default) or "same"; with `kernel_size` and `strides` it must keep the
      centre of the grid at the centre of the output.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `keras.layers.Conv2D` (the bias is one value per channel, shared over the group axis
      and the grid), and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, N, N, channels]` with `N` odd.
  Output shape: `[batch, M, M, |G|, units]`, `M = (N + 2 pad - kernel_size) // strides + 1`.

  Raises:
    ValueError: for an unknown group, an even or non-positive kernel size, a bad padding, or
      (when built) an input that is not `[B, N, N, C]` with `N` odd, or whose centre the
      window would move.
  """

  layer_name = "GroupLiftConv2D"

  def _build_kernels(self, in_channels: int) -> None:
    k = self.kernel_size
    self.kernel = self.add_weight(
      "kernel", shape=(k, k, in_channels, self.units), initializer=self.kernel_initializer
    )

  def expanded_kernel(self) -> tf.Tensor:
    k, c, u = self.kernel_size, self.in_channels, self.units
    flat = tf.reshape(tf.cast(self.kernel, self.compute_dtype), [k * k, c, u])
    return fold_lift(dense_gather(flat, self._spatial), k, c, self.group.order, u)


__all__ = ["GroupLiftConv2D"]
