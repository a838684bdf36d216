"""ActionEncoding: discrete actions as fixed code vectors, and the representation they carry."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
from numpy.typing import ArrayLike
import tensorflow as tf

from tf_equirl.groups import Representation

from tensorflow import keras

__all__ = [
  "ActionEncoding",
  "signed_action_codes",
  "one_hot_action_codes",
  "encoding_representation",
]


def signed_action_codes(num_actions: int) -> np.ndarray:
  """Codes `2a / (n - 1) - 1` in [-1, 1]: CartPole's {0, 1} -> {-1, 1} (thesis 4.7.5.1).

  Reversing the actions (`a -> n-1-a`, the mirror symmetry of CartPole and Catch) flips
  the sign of the code, so the code transforms by `-1` and can share a lift with the state.
  """
  if (
    isinstance(num_actions, bool)
    or not isinstance(num_actions, (int, np.integer))
    or num_actions < 2
  ):
    raise ValueError(
      f"signed_action_codes: num_actions must be an integer >= 2, received " f"{num_actions!r}."
    )
  return (2.0 * np.arange(num_actions) / (num_actions - 1) - 1.0)[:, None]


def one_hot_action_codes(num_actions: int) -> np.ndarray:
  """One-hot codes; they transform by the action permutation itself (any symmetry)."""
  if (
    isinstance(num_actions, bool)
    or not isinstance(num_actions, (int, np.integer))
    or num_actions < 1
  ):
    raise ValueError(
      f"one_hot_action_codes: num_actions must be a positive integer, " f"received {num_actions!r}."
    )
  return np.eye(num_actions)


def encoding_representation(action_rep: Representation, codes: ArrayLike) -> Representation:
  """The representation `rho_enc` with `codes[pi(g) a] = rho_enc(g) codes[a]` for all g, a.

  Solved by least squares per group element and then checked exactly.

  Raises:
    ValueError: if `codes` has the wrong number of rows, or no linear action on the codes
      matches the action permutation (e.g. signed codes for a symmetry that does not
      reverse the actions); use one-hot codes then.
  """
  rep = Representation.coerce(action_rep)
  codes = np.asarray(codes, dtype=np.float64)
  if codes.ndim != 2 or codes.shape[0] != rep.dim:
    raise ValueError(
      f"encoding_representation: codes must have shape [num_actions={rep.dim}, "
      f"k], received shape {codes.shape}."
    )
  perm = rep.permutation
  pinv = np.linalg.pinv(codes.T)
  mats = np.stack([codes[perm[g]].T @ pinv for g in rep.group.elements()])
  for g in rep.group.elements():
    if not np.allclose(mats[g] @ codes.T, codes[perm[g]].T, atol=1e-9):
      raise ValueError(
        f"encoding_representation: the codes {codes.tolist()} admit no linear "
        f"action matching the action permutation {perm[g].tolist()} of group "
        f"element {g}; use one-hot codes."
      )
  return Representation(rep.group, np.round(mats, 12), name=f"{rep.name}_code")


@keras.saving.register_keras_serializable(package="tf_equirl")
class ActionEncoding(keras.layers.Layer):
  """Looks up a fixed code vector per discrete action: `e(a) = codes[a]`.

  Equivariance: `e(pi(g) a) = rho_enc(g) e(a)` with `rho_enc = encoding_representation(
  action_rep, codes)`, so `[s, e(a)]` transforms by `rho_S + rho_enc` and can be lifted by
  one `GroupLift` (thesis 4.7.5.1).

  Invalid actions: a non-integer dtype raises `ValueError` when the layer is called or
  traced; out-of-range values raise `ValueError` when they are known (eager calls,
  constants). Inside graphs they give NaN codes, as the environments do under XLA, where
  no assertion can fire and a gather would silently clamp.

  Args:
    codes: `[num_actions, k]` floats (see `signed_action_codes`, `one_hot_action_codes`).
    **kwargs: the base `keras.layers.Layer` arguments.

  Input shape: `[batch]` integer actions in `[0, num_actions)`.
  Output shape: `[batch, k]`.
  """

  def __init__(self, codes: ArrayLike, **kwargs: Any):
    super().__init__(**kwargs)
    codes = np.asarray(codes, dtype=np.float64)
    if (
      codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1 or not np.all(np.isfinite(codes))
    ):
      raise ValueError(
        "ActionEncoding: codes must be a finite [num_actions, k] array, "
        f"received shape {codes.shape}."
      )
    self.codes = codes
    self.num_actions = int(codes.shape[0])

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    actions = tf.convert_to_tensor(inputs)
    expected = f"integer actions of shape [batch] with values in " f"[0, {self.num_actions - 1}]"
    if not actions.dtype.is_integer:
      raise ValueError(
        f"{self.name}: invalid action dtype {actions.dtype.name}; expected " f"{expected}."
      )
    if actions.shape.rank != 1:
      raise ValueError(
        f"{self.name}: invalid action shape {actions.shape}; expected " f"{expected}."
      )
    values = tf.get_static_value(actions)
    if values is not None:
      bad = np.flatnonzero((values < 0) | (values >= self.num_actions))
      if bad.size:
        raise ValueError(
          f"{self.name}: invalid action {values[bad[:8]].tolist()} at batch "
          f"index {bad[:8].tolist()}; expected {expected}."
        )
    valid = tf.logical_and(actions >= 0, actions < self.num_actions)
    index = tf.where(valid, tf.cast(actions, tf.int32), tf.zeros_like(actions, tf.int32))
    codes = tf.gather(tf.constant(self.codes, self.compute_dtype), index)
    return tf.where(valid[:, None], codes, tf.constant(np.nan, self.compute_dtype))

  def compute_output_shape(self, input_shape: tf.TensorShape) -> tf.TensorShape:
    return tf.TensorShape([input_shape[0], self.codes.shape[1]])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.update({"codes": self.codes.tolist()})
    return config
