"""Shared plumbing of the layers on the image plane: argument checks, the centred geometry of
strided convolutions and pooling on odd grids, the kernel index tables, and the base class of
the plane convolutions.

Layout: images are `[B, H, W, C]` (channels last); features over the group ("regular
features over the plane") are `[B, H, W, |G|, C]`, the group axis before the channels as in
the vector layers' `[B, |G|, C]`. A plane convolution folds `(|G|, C)` into the channels of
one `tf.nn.conv2d` (a free reshape) and back.

Why odd grids and centred windows: a group element turns the grid about its centre, so a
convolution or a pooling commutes with it only if the centre of its output grid sits over the
centre of its input grid. With `N` input pixels per side, an odd kernel `k`, stride `s` and
padding `pad` on each side, the output has `M = (N + 2 pad - k) // s + 1` pixels, and output
`o` reads the window centred on input pixel `o s - pad + (k - 1) / 2`. The centres agree iff
`M` is odd and `(M - 1) s = N + 2 pad - k`, i.e. `N + 2 pad - k` is a multiple of `2 s`
(`check_centred_geometry`): 85 -> 41 with `k = 5, s = 2`, 41 -> 19, 19 -> 9 with `k = 3, s = 2`.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
import tensorflow as tf
from tf_equirl.groups.plane import plane_group, plane_group_name, plane_permutations
from tf_equirl.layers._base import DenseLikeLayer, check_positive_int, check_rank

PADDINGS = ("valid", "same")


def check_odd_size(value: Any, argname: str, layer: str) -> int:
  value = check_positive_int(value, argname, layer)
  if value % 2 == 0:
    raise ValueError(
      f"{layer}: expected an odd {argname} (a window with a centre pixel), received "
      f"{argname}={value}."
    )
  return value


def check_padding(value: Any, layer: str) -> str:
  if not isinstance(value, str) or value.lower() not in PADDINGS:
    raise ValueError(f"{layer}: padding must be one of {PADDINGS}, received padding={value!r}.")
  return value.lower()


def _same_padding(n: int, k: int, s: int) -> Tuple[int, int]:
  """TensorFlow's "SAME" padding `(before, after)` of one axis."""
  out = -(-n // s)
  total = max((out - 1) * s + k - n, 0)
  return total // 2, total - total // 2


def check_centred_geometry(
  input_shape: Any,
  kernel_size: int,
  strides: int,
  padding: str,
  layer: str,
  window: str = "kernel_size",
) -> int:
  """The output side `M` of a window op on `[B, N, N, ...]` whose output centre sits over the
  input centre (see the module docstring).

  Raises:
    ValueError: for a grid that is not square, not odd or unknown, or a window, stride and
      padding that move the centre (the message names a stride or kernel size that works).
  """
  shape = tf.TensorShape(input_shape)
  n, w = shape[1], shape[2]
  if n is None or w is None:
    raise ValueError(f"{layer} needs a known grid size, received input shape {shape}.")
  if n != w:
    raise ValueError(
      f"{layer} expects a square grid (H == W), received H={n}, W={w} (input shape {shape})."
    )
  if n % 2 == 0:
    raise ValueError(
      f"{layer} expects an odd grid size, whose centre is a pixel the group turns about; "
      f"received a grid of {n}x{n} (input shape {shape})."
    )
  before, after = (0, 0) if padding == "valid" else _same_padding(n, kernel_size, strides)
  span = n + before + after - kernel_size
  if before != after or span < 0 or span % (2 * strides):
    raise ValueError(
      f"{layer}: {window}={kernel_size}, strides={strides}, padding={padding!r} on a "
      f"{n}x{n} grid do not keep the centre pixel at the centre of the output (needed for "
      f"equivariance): N + 2 pad - {window} = {span} must be a non-negative multiple of "
      f"2 * strides = {2 * strides} (e.g. {n}x{n} with {window}={kernel_size}, "
      f"padding='valid' takes strides in {_working_strides(n, kernel_size)})."
    )
  return span // strides + 1


def _working_strides(n: int, k: int):
  span = n - k
  return [s for s in range(1, max(span, 1) + 1) if span >= 0 and span % (2 * s) == 0] or "none"


def spatial_index(kernel_size: int, plane: str) -> np.ndarray:
  """`S [k*k, |G|]`: `S[q, h]` is the pixel of a kernel that `T_h` moves to pixel `q`, so
  `kernel_flat[S[:, h]]` is the kernel turned by `h`."""
  return plane_permutations(kernel_size, plane).T.astype(np.int32)


class PlaneConvBase(DenseLikeLayer):
  """Base of the plane group convolutions: arguments, geometry, the single conv2d and config.

  Subclasses set `self.in_fold` (input channels after folding the group axis) in `_build_
  kernels(in_channels)` and return the `[k, k, in_fold, |G| units]` kernel from
  `expanded_kernel()`.
  """

  layer_name = "PlaneConv"
  input_is_regular = False  # inputs [B, H, W, |G|, C] (else images [B, H, W, C])

  def __init__(
    self,
    units: int,
    group: Any,
    kernel_size: int = 3,
    strides: int = 1,
    padding: str = "valid",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    name = self.layer_name
    self.units = check_positive_int(units, "units", name)
    self.plane = plane_group_name(group)
    self.group = plane_group(self.plane)
    self.kernel_size = check_odd_size(kernel_size, "kernel_size", name)
    self.strides = check_positive_int(strides, "strides", name)
    self.padding = check_padding(padding, name)
    self._spatial = spatial_index(self.kernel_size, self.plane)  # [k*k, |G|]

  def build(self, input_shape: tf.TensorShape) -> None:
    name, n = self.layer_name, self.group.order
    if self.input_is_regular:
      shape = check_rank(input_shape, 5, name, "[batch, H, W, |G|, channels]")
      if shape[3] != n:
        raise ValueError(
          f"{name} over {self.plane} expects a group axis (3) of size {n}, received input "
          f"shape {shape}; the previous layer is over a different group."
        )
      channels = shape[4]
    else:
      shape = check_rank(input_shape, 4, name, "[batch, H, W, channels]")
      channels = shape[3]
    if channels is None:
      raise ValueError(f"{name} needs a known channel dimension, received shape {shape}.")
    self.out_size = check_centred_geometry(
      shape, self.kernel_size, self.strides, self.padding, name
    )
    self.in_channels = int(channels)
    self._build_kernels(self.in_channels)
    self.add_channel_bias(self.units)
    super().build(input_shape)

  def _build_kernels(self, in_channels: int) -> None:
    raise NotImplementedError

  def expanded_kernel(self) -> tf.Tensor:
    """The `[k, k, in_fold, |G| units]` kernel of the layer's one `tf.nn.conv2d`."""
    raise NotImplementedError

  def convolve(self, inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """One conv2d with `kernel` on the folded inputs; output `[B, M, M, |G|, units]`."""
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.input_is_regular:
      shape = tf.shape(inputs)
      inputs = tf.reshape(inputs, tf.concat([shape[:3], [-1]], 0))
    out = tf.nn.conv2d(inputs, kernel, self.strides, self.padding.upper())
    shape = tf.shape(out)
    out = tf.reshape(out, tf.concat([shape[:3], [self.group.order, self.units]], 0))
    return self.bias_and_activation(out)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    return self.convolve(inputs, self.expanded_kernel())

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    shape = tf.TensorShape(input_shape)
    m = check_centred_geometry(shape, self.kernel_size, self.strides, self.padding, self.name)
    return tf.TensorShape([shape[0], m, m, self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "group": self.plane,
        "kernel_size": self.kernel_size,
        "strides": self.strides,
        "padding": self.padding,
      }
    )
    return config


def group_kernel_index(spatial: np.ndarray, group) -> np.ndarray:
  """`I [k*k, |G| (input k'), |G| (output h)]` into a `[k*k |G|, c, u]` group kernel: block
  `(q, k')` of output `h` is `W[S[q, h], h^-1 k']`, the kernel turned by `h` with its group
  axis permuted (the plane form of `GroupConv`'s `W[h^-1 k]`)."""
  n = group.order
  inverse_times = group.table[group.inverses[None, :], np.arange(n)[:, None]]  # [k', h] = h^-1 k'
  return (spatial[:, None, :] * n + inverse_times[None, :, :]).astype(np.int32)


def fold_lift(gathered: tf.Tensor, k: int, c: int, n: int, u: int) -> tf.Tensor:
  """`[k*k, |G|, c, u]` (turned copies) -> the conv kernel `[k, k, c, |G| u]`."""
  return tf.reshape(tf.transpose(gathered, [0, 2, 1, 3]), [k, k, c, n * u])


def fold_group(gathered: tf.Tensor, k: int, c: int, n: int, u: int) -> tf.Tensor:
  """`[k*k, |G| (k'), |G| (h), c, u]` -> the conv kernel `[k, k, |G| c, |G| u]`."""
  return tf.reshape(tf.transpose(gathered, [0, 1, 3, 2, 4]), [k, k, n * c, n * u])
