"""EquivariantLogits: the head from regular (or vector) features onto discrete actions."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers._base import InitializerLike, check_rank, dense_gather

from tensorflow import keras


def action_orbits(action_rep: Representation) -> np.ndarray:
  """`orbit[a]`: index of the G-orbit of action `a` (orbits numbered by first member)."""
  perm = action_rep.permutation
  orbit = -np.ones(action_rep.dim, dtype=np.int64)
  count = 0
  for a in range(action_rep.dim):
    if orbit[a] < 0:
      orbit[np.unique(perm[:, a])] = count
      count += 1
  return orbit


@keras.saving.register_keras_serializable(package="tf_equirl")
class EquivariantLogits(keras.layers.Layer):
  """Maps features onto action logits that transform by the action permutation.

  Equivariance: `logits(L_g f) = pi(g) logits(f)` where `pi(g) e_a = e_{g.a}`.

  Regular input (`input_rep=None`), features `f: [batch, |G|, c]`:
  `logits[a] = sum_h w[h^-1 . a] . f[h] + b[orbit(a)]`. The kernel `K[a, h] = w[h^-1 . a]`
  is constant on the G-orbits of (action, element) pairs, which is exactly the condition
  `K[g.a, g h] = K[a, h]` for an equivariant map (G acts freely on itself, so each orbit
  has one representative `(a', e)` and one free weight `w[a']`). This holds for any action
  permutation: actions fixed by some g (Catch's no-op under the flip) just receive
  weights shared with themselves, and non-regular action sets (4 moves + a no-op under
  D4) need no special case. The bias must be invariant, so it is shared per action orbit.

  Vector input (`input_rep` given), features `x: [batch, d]` with `x -> rho(g) x`:
  the head first lifts `x` to `f[h] = rho(h^-1) x` and then applies the map above
  (folded into a single `[d, A]` matrix). With the sign representation of C2 this is
  the thesis' CartPole head on an odd network (eq. 4.8-4.10): `logits = [z, -z] + b`.
  Every equivariant linear map from `rho` to the action permutation factors this way.

  Args:
    action_rep: permutation `Representation` of the group on the actions.
    input_rep: optional `Representation` on vector inputs; None for regular features.
    use_bias: one bias per action orbit.
    kernel_initializer: as in `keras.layers.Dense`.
    bias_initializer: as in `keras.layers.Dense`.
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c]` (regular) or `[batch, input_rep.dim]` (vector).
  Output shape: `[batch, num_actions]`.
  """

  def __init__(
    self,
    action_rep: Representation | Mapping[str, Any],
    input_rep: Representation | Mapping[str, Any] | None = None,
    use_bias: bool = True,
    kernel_initializer: InitializerLike = "glorot_uniform",
    bias_initializer: InitializerLike = "zeros",
    **kwargs: Any,
  ):
    super().__init__(**kwargs)
    self.action_rep = Representation.coerce(action_rep)
    if not self.action_rep.is_permutation:
      raise ValueError(
        "EquivariantLogits: action_rep must be a permutation representation "
        f"of the discrete actions, received {self.action_rep.name!r} whose "
        "matrices are not permutation matrices."
      )
    self.group = self.action_rep.group
    self.input_rep = None if input_rep is None else Representation.coerce(input_rep)
    if self.input_rep is not None and self.input_rep.group != self.group:
      raise ValueError(
        f"EquivariantLogits: input_rep is a representation of "
        f"{self.input_rep.group.name} but action_rep of {self.group.name}."
      )
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.num_actions = self.action_rep.dim
    # weight_index[h, a] = h^-1 . a
    self._weight_index = self.action_rep.permutation[self.group.inverses]
    self._orbits = action_orbits(self.action_rep)
    self._scalar_fold = None
    if self.input_rep is not None:
      character = self.input_rep.scalar_character()
      if character is not None:
        chi = character[self.group.inverses]  # chi(h^-1), the factor of rho(h^-1)
        # rho(h^-1) = chi(h^-1) I (CartPole's odd network): the fold below is the
        # [A, A] matrix `fold[a', a] = sum_h chi(h^-1) [h^-1 . a = a']`, one small matmul
        # per call instead of a |G| d^2 A einsum.
        fold = np.zeros((self.num_actions, self.num_actions))
        for h in range(self.group.order):
          fold[self._weight_index[h], np.arange(self.num_actions)] += chi[h]
        self._scalar_fold = fold

  def build(self, input_shape: tf.TensorShape) -> None:
    n = self.group.order
    if self.input_rep is None:
      shape = check_rank(
        input_shape,
        3,
        "EquivariantLogits",
        "[batch, |G|, channels] (or pass input_rep for vector inputs)",
      )
      if shape[1] != n:
        raise ValueError(
          f"EquivariantLogits over {self.group.name} expects a group axis of "
          f"size {n}, received input shape {shape}."
        )
      width = shape[2]
    else:
      shape = check_rank(input_shape, 2, "EquivariantLogits", "[batch, input_rep.dim]")
      if shape[1] != self.input_rep.dim:
        raise ValueError(
          f"EquivariantLogits: input_rep {self.input_rep.name!r} has dimension "
          f"{self.input_rep.dim} but the input has width {shape[1]}."
        )
      width = shape[1]
    if width is None:
      raise ValueError(f"EquivariantLogits needs a known feature width, received {shape}.")
    self.in_features = int(width)
    self.kernel = self.add_weight(
      "kernel",
      shape=(self.in_features, self.num_actions),
      initializer=self.kernel_initializer,
      trainable=True,
    )
    if self.use_bias:
      self.bias = self.add_weight(
        "bias",
        shape=(int(self._orbits.max()) + 1,),
        initializer=self.bias_initializer,
        trainable=True,
      )
    super().build(input_shape)

  def folded_kernel(self) -> tf.Tensor:
    """The matrix the forward pass multiplies by: `[|G| c, A]` or `[d, A]`."""
    n, c, a = self.group.order, self.in_features, self.num_actions
    if self._scalar_fold is not None:
      return tf.matmul(self.kernel, tf.constant(self._scalar_fold, dtype=self.kernel.dtype))
    per_element = tf.gather(self.kernel, self._weight_index, axis=1)  # [c, h, a]
    if self.input_rep is None:
      return tf.reshape(tf.transpose(per_element, [1, 0, 2]), [n * c, a])
    lift = tf.constant(self.input_rep.inverse_matrices(), dtype=self.compute_dtype)  # [h,i,j]
    # logits[a] = sum_h sum_i K[i, h, a] (rho(h^-1) x)_i = sum_j x_j M[j, a]
    return tf.einsum("hij,iha->ja", lift, per_element)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    inputs = tf.convert_to_tensor(inputs, dtype=self.compute_dtype)
    if self.input_rep is None:
      inputs = tf.reshape(inputs, [-1, self.group.order * self.in_features])
    out = tf.matmul(inputs, self.folded_kernel())
    if self.use_bias:
      out = out + dense_gather(self.bias, self._orbits)
    return out

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.num_actions])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update(
      {
        "action_rep": self.action_rep.get_config(),
        "input_rep": None if self.input_rep is None else self.input_rep.get_config(),
        "use_bias": self.use_bias,
        "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(self.bias_initializer),
      }
    )
    return config
