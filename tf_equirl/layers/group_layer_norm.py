"""GroupLayerNorm: layer normalisation of regular features that commutes with the group."""

from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf
from tensorflow import keras

from tf_equirl.layers._base import check_rank


@keras.saving.register_keras_serializable(package="tf_equirl")
class GroupLayerNorm(keras.layers.Layer):
  """Normalises each sample's regular features over the group and channel axes together,
  then scales and offsets each channel by weights shared across the group axis:
  `y[h, c] = gamma[c] (f[h, c] - mean(f)) / sqrt(var(f) + epsilon) + beta[c]`.

  Equivariance: `GroupLayerNorm(L_g f) = L_g GroupLayerNorm(f)`, since `L_g` only permutes
  the group axis, which changes neither the mean nor the variance over all entries and meets
  the same `gamma[c], beta[c]` at every element. (Keras' `LayerNormalization` over both axes
  has a `gamma` per group element and channel, which breaks this.) DrQ-v2's trunk
  normalises its features this way before the tanh; this is that normalisation for the
  equivariant heads.

  Args:
    epsilon: added to the variance, a positive float (PyTorch's default, as DrQ-v2).
    center: whether to learn `beta` (else 0).
    scale: whether to learn `gamma` (else 1).

  Input shape: `[batch, |G|, channels]`.
  Output shape: the input shape.
  """

  def __init__(self, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
    super().__init__(**kwargs)
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
      raise ValueError(
        f"GroupLayerNorm: expected a positive float epsilon, received epsilon={epsilon!r}."
      )
    self.epsilon = float(epsilon)
    self.center, self.scale = bool(center), bool(scale)

  def build(self, input_shape: tf.TensorShape) -> None:
    check_rank(input_shape, 3, "GroupLayerNorm", "[batch, |G|, channels]")
    channels = int(tf.TensorShape(input_shape)[-1])
    self.gamma = (
      self.add_weight(name="gamma", shape=(channels,), initializer="ones") if self.scale else None
    )
    self.beta = (
      self.add_weight(name="beta", shape=(channels,), initializer="zeros") if self.center else None
    )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    mean, variance = tf.nn.moments(inputs, axes=[-2, -1], keepdims=True)
    out = (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)
    if self.gamma is not None:
      out = out * self.gamma
    if self.beta is not None:
      out = out + self.beta
    return out

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape(input_shape)

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"epsilon": self.epsilon, "center": self.center, "scale": self.scale})
    return config
