"""Relaxed group layers: L exactly equivariant kernels mixed by weights that depend on h.

Relaxed group convolution (Wang, Walters and Yu 2022, "Approximately equivariant networks
for imperfectly symmetric dynamics"; used for RL by Park et al. 2025, "Approximate
equivariance in reinforcement learning", AISTATS, section 3.3):

    f'[h] = act( sum_l w_l(h) sum_k Psi_l[h^-1 k] f[k] + b ),

with `L` kernels `Psi_l`, each an ordinary `GroupConv` kernel, and `L` relaxed weights
`w_l(h)` per group element `h`. If `w_l(h) = w_l` does not depend on `h`, the layer is the
`GroupConv` with kernel `sum_l w_l Psi_l` and is exactly equivariant; where the weights differ
between group elements the layer treats `h` and `g h` differently, by as much as the data
asks. The relaxed lift is the same construction on `GroupLift`:
`f[h] = act(sum_l w_l(h) Psi_l rho(h^-1) x + b)`.

Both layers start exactly equivariant: every `w_l(h)` starts at the same value
(`1/sqrt(L)`, so that the sum of `L` independently initialised kernels has the variance of
one). `spread_decay` pulls the relaxed weights of each kernel towards their mean over the
group after every optimiser step (`ShrinkToGroupMean`); 0 leaves them free, 1 keeps the
layer exactly equivariant. It is a Keras constraint rather than a loss term so that it acts
in every training loop, tf-agents' PPO loss included (which does not add layer losses):
for SGD with step `lr` it is the proximal step of the penalty
`spread_decay / (2 lr) * sum_{h,l} (w_l(h) - mean_h' w_l(h'))^2`.

Two parameterizations of the same `w_l(h)`:
- `"direct"` (default): one `[|G|, L]` variable `relaxed_weights`.
- `"centered"`: `w_l(h) = m_l + d_l(h) - mean_h' d_l(h')`, variables `relaxed_mean` `[1, L]`
  and `relaxed_deviation` `[|G|, L]` (starting at the mean and the deviation of the
  initial weights). The function class is the same; what changes is the optimiser's view:
  the gradient of `d_l(h)` is the part of `dLoss/dw_l(h)` that differs between group
  elements, with its own Adam normaliser. With the direct form, when the data is close to
  symmetric the common part dominates each `w_l(h)`'s gradient and Adam moves all `w_l(h)`
  of a kernel alike, so the weights barely spread even where the symmetry is broken (seen
  on CartPole, results/approximate_equivariance/README.md); centered, the symmetry-breaking
  direction moves at Adam's step size whenever its gradient has a consistent sign.

Cost. The relaxed weight `w_l(h)` multiplies the whole output at `h`, so the convolution
is also `f'[h] = act(sum_l w_l(h) (Psi_l * f)[h] + b)`: L exactly equivariant convolutions
whose outputs are mixed. `RelaxedGroupConv` has both forms, equal up to float rounding:
  "spatial": assemble the `[|G| c, |G| u]` block matrix from the L kernels once per call
    (`L |G|^2 c u` multiply-adds, independent of the batch), then one matmul as in
    `GroupConv`'s "spatial" form: `|G|^2 c u` multiply-adds per sample.
  "fourier": run the L convolutions as one `GroupConv` of `L u` channels in the Fourier
    basis (`L sum m d^2 c u` multiply-adds per sample: half the spatial form's for a mirror
    and L = 1), then mix. "auto" (the default) picks it where it saves more than it costs
    (`tf_equirl.layers._fourier.conv_fourier_pays_off`).
The relaxed lift is one matmul of `d |G| u` multiply-adds, like `GroupLift`'s spatial form.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from tf_equirl.groups import FiniteGroup, Representation
from tf_equirl.layers import _fourier
from tf_equirl.layers._base import (
  DenseLikeLayer,
  InitializerLike,
  check_group_signal,
  check_implementation,
  check_positive_int,
  check_rank,
)

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class ShrinkToGroupMean(keras.constraints.Constraint):
  """Moves relaxed weights `[|G|, L]` a fraction `rate` of the way to their mean over `h`.

  `w <- mean_h w + (1 - rate) (w - mean_h w)`: `rate = 0` is the identity, `rate = 1`
  makes every `w_l(h)` equal (an exactly equivariant layer).
  """

  def __init__(self, rate: float = 0.0):
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
      raise ValueError(f"ShrinkToGroupMean: expected a rate in [0, 1], received rate={rate!r}.")
    self.rate = rate

  def __call__(self, w):
    mean = tf.reduce_mean(w, axis=0, keepdims=True)
    return mean + (1.0 - self.rate) * (w - mean)

  def get_config(self) -> Dict[str, Any]:
    return {"rate": self.rate}


def _check_decay(value, layer: str) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
    raise ValueError(f"{layer}: expected spread_decay in [0, 1], received spread_decay={value!r}.")
  return float(value)


PARAMETERIZATIONS = ("direct", "centered")


class _RelaxedMixin:
  """Shared `num_kernels` / relaxed-weight plumbing of the two relaxed layers."""

  compute_dtype: Any  # provided by keras.layers.Layer

  def _init_relaxed(
    self,
    num_kernels,
    spread_decay,
    relaxed_initializer,
    layer: str,
    parameterization: str = "direct",
  ):
    self.num_kernels = check_positive_int(num_kernels, "num_kernels", layer)
    self.spread_decay = _check_decay(spread_decay, layer)
    self.relaxed_initializer = keras.initializers.get(
      relaxed_initializer
      if relaxed_initializer is not None
      else keras.initializers.Constant(1.0 / np.sqrt(self.num_kernels))
    )
    if parameterization not in PARAMETERIZATIONS:
      raise ValueError(
        f"{layer}: unknown parameterization {parameterization!r}; expected one "
        f"of {PARAMETERIZATIONS}."
      )
    self.parameterization = parameterization

  def _add_relaxed_weights(self):
    shape = (self.group.order, self.num_kernels)
    constraint = ShrinkToGroupMean(self.spread_decay) if self.spread_decay > 0 else None
    if self.parameterization == "direct":
      self.relaxed_weights = self.add_weight(
        "relaxed_weights",
        shape=shape,
        initializer=self.relaxed_initializer,
        trainable=True,
        constraint=constraint,
      )
      return
    # centered: w = m + (d - mean_h d); the initial w is split into its mean and deviation.
    initial = np.asarray(self.relaxed_initializer(shape, dtype="float32"), np.float32)
    mean = initial.mean(axis=0, keepdims=True)
    self.relaxed_mean = self.add_weight(
      "relaxed_mean",
      shape=(1, self.num_kernels),
      trainable=True,
      initializer=keras.initializers.Constant(mean),
    )
    self.relaxed_deviation = self.add_weight(
      "relaxed_deviation",
      shape=shape,
      trainable=True,
      constraint=constraint,
      initializer=keras.initializers.Constant(initial - mean),
    )

  def mixing_weights(self) -> tf.Tensor:
    """The effective relaxed weights `w_l(h)`, `[|G|, L]`, in the layer's compute dtype."""
    if self.parameterization == "direct":
      return tf.cast(self.relaxed_weights, self.compute_dtype)
    dev = tf.cast(self.relaxed_deviation, self.compute_dtype)
    return (
      tf.cast(self.relaxed_mean, self.compute_dtype)
      + dev
      - tf.reduce_mean(dev, axis=0, keepdims=True)
    )

  def _relaxed_config(self) -> dict:
    return {
      "num_kernels": self.num_kernels,
      "spread_decay": self.spread_decay,
      "relaxed_initializer": keras.initializers.serialize(self.relaxed_initializer),
      "parameterization": self.parameterization,
    }


@keras.saving.register_keras_serializable(package="tf_equirl")
class RelaxedGroupLift(_RelaxedMixin, DenseLikeLayer):
  """Relaxed lift: `f(x)[h] = act(sum_l w_l(h) Psi_l rho(h^-1) x + b)`.

  Equivariance when `w_l(h) = w_l` for all h (at initialisation, or with spread_decay=1):
  `f(rho_in(g) x) = L_g f(x)`, `(L_g f)[h] = f[g^-1 h]`, as `GroupLift`. Otherwise the
  error `|f(rho_in(g) x) - L_g f(x)|` grows with the spread of the relaxed weights.

  Args:
    units: channels per group element.
    input_rep: `Representation` of the group on the input vectors (or its config).
    num_kernels: L, the number of exactly equivariant kernels mixed (default 2).
    spread_decay: in [0, 1]; after each optimiser step the relaxed weights move this
      fraction of the way to their mean over the group (see the module docstring).
    parameterization: `"direct"` or `"centered"` (see the module docstring).
    relaxed_initializer: initialiser of the `[|G|, L]` relaxed weights; default the
      constant `1/sqrt(L)`. A non-constant one starts the layer non-equivariant.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `GroupLift`, and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, input_rep.dim]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    input_rep: Representation | Mapping[str, Any],
    num_kernels: int = 2,
    spread_decay: float = 0.0,
    relaxed_initializer: InitializerLike = None,
    parameterization: str = "direct",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "RelaxedGroupLift")
    self.input_rep = Representation.coerce(input_rep)
    self.group = self.input_rep.group
    self._init_relaxed(
      num_kernels, spread_decay, relaxed_initializer, "RelaxedGroupLift", parameterization
    )
    # rho(h^-1)^T for every h, as in GroupLift.
    self._lift_matrices = np.transpose(self.input_rep.inverse_matrices(), (0, 2, 1))

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_rank(input_shape, 2, "RelaxedGroupLift", "[batch, d]")
    if shape[-1] != self.input_rep.dim:
      raise ValueError(
        f"RelaxedGroupLift: input_rep {self.input_rep.name!r} has dimension "
        f"{self.input_rep.dim} but the input has width {shape[-1]} "
        f"(input shape {shape})."
      )
    d = self.input_rep.dim
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.num_kernels, d, self.units),
      initializer=self.kernel_initializer,
      trainable=True,
    )
    self._add_relaxed_weights()
    self.add_channel_bias(self.units)
    super().build(input_shape)

  def folded_kernel(self) -> tf.Tensor:
    """The `[d, |G| units]` matrix the forward pass multiplies by."""
    lift = tf.constant(self._lift_matrices, dtype=self.compute_dtype)  # [G, d, d]
    mixed = tf.einsum(
      "hl,lju->hju", self.mixing_weights(), tf.cast(self.kernel, self.compute_dtype)
    )  # [G, d, u]
    folded = tf.einsum("hij,hju->ihu", lift, mixed)
    return tf.reshape(folded, [self.input_rep.dim, self.group.order * self.units])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    out = tf.matmul(inputs, self.folded_kernel())
    return self.bias_and_activation(tf.reshape(out, [-1, self.group.order, self.units]))

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {"units": self.units, "input_rep": self.input_rep.get_config(), **self._relaxed_config()}
    )
    return config


@keras.saving.register_keras_serializable(package="tf_equirl")
class RelaxedGroupConv(_RelaxedMixin, DenseLikeLayer):
  """Relaxed group convolution: `f'[h] = act(sum_l w_l(h) sum_k Psi_l[h^-1 k] f[k] + b)`.

  Equivariance when `w_l(h) = w_l` for all h (at initialisation, or with spread_decay=1):
  `f'(L_g f) = L_g f'(f)`, `(L_g f)[h] = f[g^-1 h]`, as `GroupConv`.

  Args:
    units: output channels per group element.
    group: the `FiniteGroup` (or its config).
    num_kernels: L, the number of exactly equivariant kernels mixed (default 2).
    spread_decay: as in `RelaxedGroupLift`.
    relaxed_initializer: as in `RelaxedGroupLift`.
    parameterization: as in `RelaxedGroupLift`.
    implementation: "spatial", "fourier" or "auto" (default), as in `GroupConv` (see the
      module docstring). The weights, the config and the output (up to float rounding) are
      the same either way.
    **kwargs: `activation`, `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `GroupConv`, and the base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c_in]`.
  Output shape: `[batch, |G|, units]`.
  """

  def __init__(
    self,
    units: int,
    group: FiniteGroup | Mapping[str, Any],
    num_kernels: int = 2,
    spread_decay: float = 0.0,
    relaxed_initializer: InitializerLike = None,
    parameterization: str = "direct",
    implementation: str = "auto",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.units = check_positive_int(units, "units", "RelaxedGroupConv")
    self.group = FiniteGroup.coerce(group)
    self._init_relaxed(
      num_kernels, spread_decay, relaxed_initializer, "RelaxedGroupConv", parameterization
    )
    self.implementation = check_implementation(implementation, "RelaxedGroupConv")
    object.__setattr__(self, "_auto_cache", {})  # plain dict, not tracked by Keras
    table, inv = self.group.table, self.group.inverses
    # expand_index[k, h] = h^-1 k, as in GroupConv.
    self._expand_index = table[inv[None, :], np.arange(self.group.order)[:, None]]

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = check_group_signal(input_shape, self.group, "RelaxedGroupConv")
    self.in_channels = int(shape[2])
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.num_kernels, self.group.order, self.in_channels, self.units),
      initializer=self.kernel_initializer,
      trainable=True,
    )
    self._add_relaxed_weights()
    self.add_channel_bias(self.units)
    self._fourier = (
      None if self.implementation == "spatial" else _fourier.regular_fourier_basis(self.group)
    )
    super().build(input_shape)

  def uses_fourier(self, mode: str = "function", batch: Optional[int] = None) -> bool:
    """Whether the forward pass runs the L convolutions in the Fourier basis and mixes their
    outputs, in `mode` ("eager", "function" or "xla") at a static batch size `batch` (None:
    unknown, taken as large); as `GroupConv.uses_fourier`."""
    if self.implementation != "auto":
      return self.implementation == "fourier"
    key = f"{mode}/{batch}"
    if key not in self._auto_cache:  # the same answer for every call in this mode and batch
      self._auto_cache[key] = _fourier.conv_fourier_pays_off(
        self._fourier_basis(), self.in_channels, self.units, mode, batch, self.num_kernels
      )
    return self._auto_cache[key]

  def _fourier_basis(self) -> _fourier.RegularFourierBasis:
    if self._fourier is None:  # only "spatial" builds none, and it never runs in the basis
      raise RuntimeError(
        "RelaxedGroupConv: the layer is not built, or implementation='spatial' has no "
        "Fourier basis."
      )
    return self._fourier

  def _fourier_call(self, inputs: tf.Tensor) -> tf.Tensor:
    """`sum_l w_l(h) (Psi_l * f)[h]`: the L convolutions as one of `L units` channels in
    the Fourier basis, then the mixing."""
    n, c, u, count = self.group.order, self.in_channels, self.units, self.num_kernels
    kernel = tf.cast(self.kernel, self.compute_dtype)  # [l, k, c, u]
    stacked = tf.reshape(tf.transpose(kernel, [1, 2, 0, 3]), [n, c, count * u])
    out = _fourier.fourier_group_conv(inputs, stacked, self._fourier_basis())  # [b, h, (l, u)]
    weights = self.mixing_weights()  # [h, l]
    if count == 1:
      return out * weights[None]
    return tf.reduce_sum(tf.reshape(out, [-1, n, count, u]) * weights[None, :, :, None], axis=2)

  def expanded_kernel(self) -> tf.Tensor:
    """The `[|G| c_in, |G| units]` matrix `K[k, h] = sum_l w_l(h) Psi_l[h^-1 k]`."""
    n, c, u = self.group.order, self.in_channels, self.units
    blocks = tf.gather(
      tf.cast(self.kernel, self.compute_dtype), self._expand_index, axis=1
    )  # [l, k, h, c, u]
    mixed = tf.einsum("lkhcu,hl->kchu", blocks, self.mixing_weights())
    return tf.reshape(mixed, [n * c, n * u])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.uses_fourier(_fourier.execution_mode(), inputs.shape[0]):
      return self.bias_and_activation(self._fourier_call(inputs))
    n = self.group.order
    flat = tf.reshape(inputs, [-1, n * self.in_channels])
    out = tf.reshape(tf.matmul(flat, self.expanded_kernel()), [-1, n, self.units])
    return self.bias_and_activation(out)

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.group.order, self.units])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "units": self.units,
        "group": self.group.get_config(),
        **self._relaxed_config(),
        "implementation": self.implementation,
      }
    )
    return config
