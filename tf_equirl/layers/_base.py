"""Shared plumbing of the tf_equirl layers: argument checks and the dense-style config."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

keras = tf.keras


def check_positive_int(value: Any, argname: str, layer: str) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f"{layer}: expected a positive integer, received {argname}={value!r}.")
  return int(value)


def check_rank(input_shape: Any, rank: int, layer: str, layout: str) -> tf.TensorShape:
  shape = tf.TensorShape(input_shape)
  if shape.rank != rank:
    raise ValueError(f"{layer} expects inputs of rank {rank} with layout {layout}, received "
                     f"shape {shape}.")
  return shape


IMPLEMENTATIONS = ("auto", "spatial", "fourier")


def check_group_signal(input_shape: Any, group, layer: str) -> tf.TensorShape:
  """A `[batch, |G|, channels]` input over `group` with a known channel count (group layers)."""
  shape = check_rank(input_shape, 3, layer, "[batch, |G|, channels]")
  if shape[1] != group.order:
    raise ValueError(f"{layer} over {group.name} expects a group axis of size "
                     f"{group.order}, received input shape {shape} (group axis "
                     f"{shape[1]}); the previous layer is over a different group.")
  if shape[2] is None:
    raise ValueError(f"{layer} needs a known channel dimension, received shape {shape}.")
  return shape


def check_implementation(value: Any, layer: str) -> str:
  """The `implementation` argument of the layers with a spatial and a Fourier form."""
  if value not in IMPLEMENTATIONS:
    raise ValueError(f"{layer}: implementation must be one of {IMPLEMENTATIONS}, received "
                     f"implementation={value!r}.")
  return value


def fresh_initializer(initializer):
  """A new instance of `initializer`: an unseeded Keras 2.15 initializer returns the same
  values every time the same instance is called, so two weights must not share one."""
  return initializer.__class__.from_config(initializer.get_config())


class DenseLikeLayer(keras.layers.Layer):
  """Base for layers with a kernel, an optional bias and a pointwise activation.

  A pointwise activation commutes with any permutation of the group axis, so it keeps
  regular features equivariant; that is why every regular-feature layer may take one.
  """

  def __init__(self, activation=None, use_bias: bool = True,
               kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
    super().__init__(**kwargs)
    self.activation = keras.activations.get(activation)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)

  def add_channel_bias(self, units: int) -> None:
    """One bias per output channel, shared over the group axis (it must be invariant)."""
    if self.use_bias:
      self.bias = self.add_weight("bias", shape=(units,), initializer=self.bias_initializer,
                                  trainable=True)

  def bias_and_activation(self, out: tf.Tensor) -> tf.Tensor:
    if self.use_bias:
      out = out + self.bias
    return self.activation(out) if self.activation is not None else out

  def get_config(self) -> dict:
    config = super().get_config()
    config.update({
        "activation": keras.activations.serialize(self.activation),
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
    })
    return config
