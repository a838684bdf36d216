"""IrrepLogits: the head from features in irreducible coordinates onto discrete actions."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import _irreps
from tf_equirl.layers.equivariant_logits import EquivariantLogits

from tensorflow import keras


@keras.saving.register_keras_serializable(package="tf_equirl")
class IrrepLogits(EquivariantLogits):
  """`EquivariantLogits` on features in irreducible coordinates `F = Q^T f`.

  `logits(F) = E(Q F)`, where `E` is `EquivariantLogits`' map on regular features `f`
  (`E(L_g f) = pi(g) E(f)`, `pi(g) e_a = e_{g.a}`). The change of basis is folded into the
  kernel once per call, `K'[q] = sum_h Q[h, q] K[h]`, so the forward pass is one
  `[|G| c, A]` matmul as before (the cost of a dense layer on the same features).

  Equivariance: `logits(M_g F) = E(Q Q^T L_g Q F) = E(L_g Q F) = pi(g) logits(F)` with
  `M_g = Q^T L_g Q` (`_irreps.irrep_representation`).

  Args:
    action_rep: permutation `Representation` of the group on the actions.
    **kwargs: `use_bias`, `kernel_initializer`, `bias_initializer` as in
      `EquivariantLogits` (one bias per action orbit; same weights layout), and the base
      `keras.layers.Layer` arguments.

  Input shape: `[batch, |G|, c]` (irreducible coordinates).
  Output shape: `[batch, num_actions]`.
  """

  def __init__(self, action_rep: Representation | Mapping[str, Any], **kwargs: Any):
    if kwargs.get("input_rep") is not None:
      raise ValueError(
        "IrrepLogits takes features in irreducible coordinates "
        "[batch, |G|, c]; it has no input_rep (use EquivariantLogits for "
        f"vector inputs), received input_rep={kwargs['input_rep']!r}."
      )
    kwargs.pop("input_rep", None)
    super().__init__(action_rep, **kwargs)
    self._basis = _irreps.irrep_layout(self.group).fb.basis

  def folded_kernel(self) -> tf.Tensor:
    n, c, a = self.group.order, self.in_features, self.num_actions
    regular = tf.reshape(super().folded_kernel(), [n, c * a])  # rows: group elements h
    q_t = tf.constant(self._basis.T, dtype=regular.dtype)  # [q, h]
    return tf.reshape(tf.matmul(q_t, regular), [n * c, a])

  def get_config(self) -> Dict[str, Any]:
    config = super().get_config()
    config.pop("input_rep", None)
    return config
