"""GroupConv: the regular-to-regular group convolution (group correlation)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup
from tf_equirl.layers import _fourier
from tf_equirl.layers._base import (
  DenseLikeLayer,
  check_group_signal,
  check_implementation,
  check_positive_int,
  dense_gather,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupConv(DenseLikeLayer):
  """Group convolution on regular features: `f'[h] = act(sum_k W[h^-1 k] f[k] + b)`.

  This is the general linear map that commutes with the regular representation
  (Cohen and Welling 2016; thesis 2.7.1): `GroupConv(L_g f) = L_g GroupConv(f)` with
  `(L_g f)[h] = f[g^-1 h]`, because substituting `k = g k'` gives
  `sum_k' W[(g^-1 h)^-1 k'] f[k'] = f'[g^-1 h]`.

  The kernel `W` has one `[c_in, units]` block per group element. Two ways to apply it,
  equal up to float rounding:
    "spatial": expand it into the `[|G| c_in, |G| units]` block matrix
      `K[k, h] = W[h^-1 k]` with one gather and run a single matmul: `|G|^2 c_in units`
      multiply-adds per sample, i.e. each parameter is used |G| times.
    "fourier": change the group axis to the real Fourier basis of G, where `K` is
      block-diagonal (one `[d c_in, d units]` block per real irreducible of dimension d,
      shared by its copies), multiply block by block and change back: `sum m d^2` instead
      of `|G|^2` multiply-adds per channel pair (2 instead of 4 for C2, 6 instead of 16
      for C4, 12 instead of 64 for D4, 30 instead of 256 for C16) plus two `|G| x |G|`
      changes of basis per channel. See `tf_equirl.layers._fourier`.

  Args:
    units: output channels per group element.
    group: the `FiniteGroup` (or its config).
    implementation: "spatial", "fourier" or "auto" (default): "auto" picks "fourier" where
      the multiply-adds it saves outweigh the memory traffic of its changes of basis
      (`uses_fourier`), which holds for larger groups and wider layers, and decides
      separately for XLA, where the changes of basis are cheaper. The weights, the config
      and the output (up to float rounding) are the same either way.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `keras.layers.Dense` (the bias is per channel, shared over the group axis), and the
      base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c_in]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    group: FiniteGroup | Mapping[str, Any],
    implementation: str = "auto",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "GroupConv")
    self.group = FiniteGroup.coerce(group)
    object.__setattr__(self, "_auto_cache", {})  # plain dict, not tracked by Keras
    self.implementation = check_implementation(implementation, "GroupConv")
    table, inv = self.group.table, self.group.inverses
    # expand_index[k, h] = h^-1 k: which kernel block connects input k to output h.
    self._expand_index = table[inv[None, :], np.arange(self.group.order)[:, None]]

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_group_signal(input_shape, self.group, "GroupConv")
    self.in_channels = int(shape[2])
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.group.order, self.in_channels, self.units),
      initializer=self.kernel_initializer,
      trainable=True,
    )
    self.add_channel_bias(self.units)
    self._fourier = (
      None if self.implementation == "spatial" else _fourier.regular_fourier_basis(self.group)
    )
    super().build(input_shape)

  def uses_fourier(self, mode: str = "function", batch: Optional[int] = None) -> bool:
    """Whether the forward pass runs in the Fourier basis in `mode` ("eager", "function"
    or "xla") at a static batch size `batch` (None: unknown, taken as large): always for
    "fourier", never for "spatial", by the cost model of
    `tf_equirl.layers._fourier.conv_fourier_pays_off` for "auto"."""
    if self.implementation != "auto":
      return self.implementation == "fourier"
    key = f"{mode}/{batch}"
    if key not in self._auto_cache:  # the same answer for every call in this mode and batch
      self._auto_cache[key] = _fourier.conv_fourier_pays_off(
        self._fourier_basis(), self.in_channels, self.units, mode, batch
      )
    return self._auto_cache[key]

  def _fourier_basis(self) -> _fourier.RegularFourierBasis:
    if self._fourier is None:  # only "spatial" builds none, and it never runs in the basis
      raise RuntimeError(
        "GroupConv: the layer is not built, or implementation='spatial' " "has no Fourier basis."
      )
    return self._fourier

  def expanded_kernel(self) -> tf.Tensor:
    """The `[|G| c_in, |G| units]` matrix the forward pass multiplies by."""
    n, c, u = self.group.order, self.in_channels, self.units
    blocks = dense_gather(self.kernel, self._expand_index)  # [k, h, c, u]
    return tf.reshape(tf.transpose(blocks, [0, 2, 1, 3]), [n * c, n * u])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.uses_fourier(_fourier.execution_mode(), inputs.shape[0]):
      out = _fourier.fourier_group_conv(inputs, self.kernel, self._fourier_basis())
    else:
      n = self.group.order
      flat = tf.reshape(inputs, [-1, n * self.in_channels])
      out = tf.reshape(tf.matmul(flat, self.expanded_kernel()), [-1, n, self.units])
    return self.bias_and_activation(out)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {"units": self.units, "group": self.group.get_config(), "implementation": self.implementation}
    )
    return config
