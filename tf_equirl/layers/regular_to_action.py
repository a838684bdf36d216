"""`RegularToAction`: the fixed equivariant map from regular features onto a continuous action."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf
from tensorflow import keras

from tf_equirl.groups import Representation
from tf_equirl.layers._base import _signed_permutation

__all__ = ["RegularToAction"]


@keras.saving.register_keras_serializable(package="tf_equirl")
class RegularToAction(keras.layers.Layer):
  """Fixed equivariant map from regular features onto the action: `a = squash(mean_h pi(h) f[h])`.

  Equivariance: `RegularToAction(L_g f) = pi(g) RegularToAction(f)` with `(L_g f)[h] =
  f[g^-1 h]`, since `sum_h pi(h) f[g^-1 h] = pi(g) sum_h' pi(h') f[h']`. No weights: the
  layer before it (a group convolution onto `k` channels) is what learns.

  The squashing keeps actions in `[-1, 1]^k` and must commute with `pi`: elementwise tanh
  where every `pi(g)` is a signed permutation matrix (mirrors negating torques, rotations by
  quarter turns), otherwise the radial `x tanh(|x|) / |x|`, which commutes with every
  orthogonal matrix and lands in the unit ball.

  Args:
    action_rep: the orthogonal `Representation` of the group on the action vector.
    squash: `"auto"` (as above), `"tanh"` (refused unless `pi` is a signed permutation),
      `"radial"` or `"none"`.
    **kwargs: base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, k]`, `k = action_rep.dim`.
  Output shape: `[batch, k]`.
  """

  SQUASHES = ("auto", "tanh", "radial", "none")

  def __init__(
    self, action_rep: Representation | Mapping[str, Any], squash: str = "auto", **kwargs: Any
  ):
    super().__init__(**kwargs)
    self.action_rep = Representation.coerce(action_rep)
    if not self.action_rep.is_orthogonal():
      raise ValueError(
        f"RegularToAction: action_rep {self.action_rep.name!r} is not orthogonal; expected "
        "the orthogonal representation of a continuous action."
      )
    if squash not in self.SQUASHES:
      raise ValueError(
        f"RegularToAction: squash must be one of {self.SQUASHES}, received squash={squash!r}."
      )
    signed = _signed_permutation(self.action_rep.matrices)[0] is not None
    if squash == "tanh" and not signed:
      raise ValueError(
        f"RegularToAction: squash='tanh' commutes with the action representation only if "
        f"every pi(g) is a signed permutation matrix; {self.action_rep.name!r} is not. Use "
        "'radial' or 'auto'."
      )
    self.squash = squash
    self._mode = ("tanh" if signed else "radial") if squash == "auto" else squash

  def build(self, input_shape: tf.TensorShape) -> None:
    shape = tf.TensorShape(input_shape)
    group, k = self.action_rep.group, self.action_rep.dim
    if shape.rank != 3 or shape[1] != group.order or shape[2] != k:
      raise ValueError(
        f"RegularToAction over {group.name} expects regular features [batch, {group.order}, "
        f"{k}] ({k} = the action dimension), received shape {shape}."
      )
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    pi = tf.constant(self.action_rep.matrices / self.action_rep.group.order, self.compute_dtype)
    out = tf.einsum("hij,bhj->bi", pi, inputs)
    if self._mode == "tanh":
      return tf.tanh(out)
    if self._mode == "radial":
      norm = tf.norm(out, axis=-1, keepdims=True)
      return out * tf.math.divide_no_nan(tf.tanh(norm), norm)
    return out

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.action_rep.dim])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"action_rep": self.action_rep.get_config(), "squash": self.squash})
    return config
