"""Shared plumbing of the tf_equirl layers: argument checks, the dense-style config, and gathers
of weights with dense gradients."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from tensorflow import keras

# What Keras accepts for an initializer or an activation (a name, a config, an object).
InitializerLike = Union[str, Mapping[str, Any], keras.initializers.Initializer, None]
ActivationLike = Union[str, Callable[[tf.Tensor], tf.Tensor], None]


def check_positive_int(value: Any, argname: str, layer: str) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f"{layer}: expected a positive integer, received {argname}={value!r}.")
  return int(value)


def check_rank(input_shape: Any, rank: int, layer: str, layout: str) -> tf.TensorShape:
  shape = tf.TensorShape(input_shape)
  if shape.rank != rank:
    raise ValueError(
      f"{layer} expects inputs of rank {rank} with layout {layout}, received " f"shape {shape}."
    )
  return shape


IMPLEMENTATIONS = ("auto", "spatial", "fourier")


def check_group_signal(input_shape: Any, group, layer: str) -> tf.TensorShape:
  """A `[batch, |G|, channels]` input over `group` with a known channel count (group layers)."""
  shape = check_rank(input_shape, 3, layer, "[batch, |G|, channels]")
  if shape[1] != group.order:
    raise ValueError(
      f"{layer} over {group.name} expects a group axis of size "
      f"{group.order}, received input shape {shape} (group axis "
      f"{shape[1]}); the previous layer is over a different group."
    )
  if shape[2] is None:
    raise ValueError(f"{layer} needs a known channel dimension, received shape {shape}.")
  return shape


def check_implementation(value: Any, layer: str) -> str:
  """The `implementation` argument of the layers with a spatial and a Fourier form."""
  if value not in IMPLEMENTATIONS:
    raise ValueError(
      f"{layer}: implementation must be one of {IMPLEMENTATIONS}, received "
      f"implementation={value!r}."
    )
  return value


def fresh_initializer(initializer):
  """A new instance of `initializer`: an unseeded Keras 2.15 initializer returns the same
  values every time the same instance is called, so two weights must not share one."""
  return initializer.__class__.from_config(initializer.get_config())


def dense_gather(params: tf.Tensor, indices: np.ndarray) -> tf.Tensor:
  """`tf.gather(params, indices)` (axis 0) whose gradient is a dense tensor.

  TensorFlow's own gradient of a gather is an `IndexedSlices` that lists a row once per time
  it was gathered. Equivariant layers gather every weight |G| times (`GroupConv`'s kernel
  blocks, `EquivariantLogits`' bias per action orbit, `LiftFold`), and a norm of such an
  `IndexedSlices` (`tf.clip_by_global_norm`, Keras' `clipnorm`) sums the squares of the
  repeated rows' parts instead of the square of their sum: PPO's gradient clipping and its
  reported gradient norm were off by a few percent for every equivariant actor, and a G-CNN
  world model's far more. Here the gradient is the segment sum, as in JAX.
  """
  indices = np.asarray(indices, dtype=np.int32)
  params = tf.convert_to_tensor(params)
  rows, trailing = int(params.shape[0]), params.shape[1:].as_list()

  @tf.custom_gradient
  def gather(p):
    def grad(upstream):
      flat = tf.reshape(upstream, [-1] + trailing)
      return tf.math.unsorted_segment_sum(flat, indices.reshape(-1), rows)

    return tf.gather(p, indices), grad

  return gather(params)


class LiftFold:
  """Folds a lift's kernel: `folded[i, h, u] = sum_j M[h, i, j] W[j, u]` for matrices
  `M [|G|, d, d]` (a lift's `rho(h^-1)^T`) and a kernel `W [d, u]`, giving `[d, |G|, u]`.

  Where every `M[h]` is a signed permutation matrix (one nonzero entry per row, +-1:
  permutation representations such as Catch's flip or the grid world's D4, and sign flips),
  the fold is a gather, `folded[i, h] = s[i, h] W[p[i, h]]`: no multiply-adds, and the same
  floats as the einsum (which only adds exact zeros); its kernel gradient sums the same
  terms, possibly in another order. Otherwise it is the einsum's `|G| d^2 u` multiply-adds.
  The fold runs on every call (it follows the weights during training), so for small
  batches the einsum cost more than the lift itself: on Catch 245k multiply-adds per call
  against 39k for PPO's minibatch of 8 (docs/notes/ppo_throughput.md).
  """

  def __init__(self, matrices: np.ndarray):
    self.matrices = np.asarray(matrices)
    self.index, self.sign = _signed_permutation(self.matrices)

  def __call__(self, kernel: tf.Tensor) -> tf.Tensor:
    if self.index is None:
      return tf.einsum("hij,ju->ihu", tf.constant(self.matrices, kernel.dtype), kernel)
    folded = dense_gather(kernel, self.index)  # [d, |G|, u]
    if self.sign is not None:
      folded = folded * tf.constant(self.sign[:, :, None], kernel.dtype)
    return folded


def _signed_permutation(matrices: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
  """`(index [d, |G|], sign [d, |G|] or None)` with `matrices[h, i, index[i, h]] =
  sign[i, h]` the only nonzero of row `i`, if every row has exactly one entry of +-1;
  `(None, None)` otherwise."""
  nonzero = matrices != 0
  if not (np.all(nonzero.sum(axis=2) == 1) and np.all(np.abs(matrices[nonzero]) == 1)):
    return None, None
  index = np.argmax(nonzero, axis=2).T.astype(np.int32)  # [d, |G|]
  sign = np.take_along_axis(matrices, index.T[:, :, None], axis=2)[:, :, 0].T
  return index, (None if np.all(sign == 1) else sign.astype(np.float64))


class DenseLikeLayer(keras.layers.Layer):
  """Base for layers with a kernel, an optional bias and a pointwise activation.

  A pointwise activation commutes with any permutation of the group axis, so it keeps
  regular features equivariant; that is why every regular-feature layer may take one.
  """

  def __init__(
    self,
    activation: ActivationLike = None,
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.activation = keras.activations.get(activation)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def add_channel_bias(self, units: int) -> None:
    """One bias per output channel, shared over the group axis (it must be invariant)."""
    if self.use_bias:
      self.bias = self.add_weight(
        "bias", shape=(units,), initializer=self.bias_initializer, trainable=True
      )

  def bias_and_activation(self, out: tf.Tensor) -> tf.Tensor:
    if self.use_bias:
      out = out + self.bias
    return self.activation(out) if self.activation is not None else out

  def get_config(self) -> dict:
    config = super().get_config()
    config.update(
      {
        "activation": keras.activations.serialize(self.activation),
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
