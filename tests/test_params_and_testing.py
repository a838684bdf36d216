"""The parameter helpers and the equivariance checker itself."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import Representation, cyclic, dihedral
from tf_equirl.layers import EquivariantLogits, GroupConv, GroupLift
from tf_equirl.params import count_params, match_width
from tf_equirl.testing import assert_equivariant, equivariance_error, equivariance_errors, invariant

import support

keras = tf.keras


def _mlp(width, d=4, actions=2):
  inp = keras.Input((d,))
  h = keras.layers.Dense(width, activation="tanh")(inp)
  h = keras.layers.Dense(width, activation="tanh")(h)
  return keras.Model(inp, keras.layers.Dense(actions)(h))


def _gcnn(width, group=None):
  group = group if group is not None else dihedral(4)
  rep = support.state_rep(group)
  actions = support.move_action_rep(group)
  inp = keras.Input((rep.dim,))
  h = GroupLift(width, rep, activation="tanh")(inp)
  h = GroupConv(width, group, activation="tanh")(h)
  return keras.Model(inp, EquivariantLogits(actions)(h))


def test_count_params_counts_trainable_only():
  assert count_params(_mlp(64)) == 4 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2  # 4610
  with pytest.raises(ValueError, match="not built"):
    count_params(keras.layers.Dense(3))


def test_match_width_within_ten_percent():
  target = count_params(_mlp(64, d=10, actions=5))
  width, params = match_width(_gcnn, target, tolerance=0.1, widths=range(1, 64))
  assert abs(params - target) <= 0.1 * target
  assert count_params(_gcnn(width)) == params
  # its neighbours are no closer
  for w in (width - 1, width + 1):
    assert abs(count_params(_gcnn(w)) - target) >= abs(params - target)
  with pytest.raises(ValueError, match="away from the target"):
    match_width(_gcnn, 10, tolerance=0.1, widths=range(5, 10))


def test_checker_detects_a_non_equivariant_function():
  c4 = cyclic(4)
  rep = support.state_rep(c4)
  x = support.random_input((8, rep.dim))
  dense = keras.layers.Dense(4)
  assert equivariance_error(lambda v: dense(v), x, rep, Representation.regular(c4)) > 1e-2
  with pytest.raises(AssertionError, match="is not equivariant: max error"):
    assert_equivariant(dense, x, rep, Representation.regular(c4))


def test_checker_handles_group_axis_invariance_and_indices():
  group = dihedral(4)
  rep = support.state_rep(group)
  x = support.random_input((8, rep.dim))
  lift = GroupLift(3, rep)
  assert equivariance_error(lift, x, rep, group) < 1e-5  # FiniteGroup = group axis
  assert equivariance_error(lift, x, rep, Representation.regular(group), output_axis=1) < 1e-5
  pooled = lambda v: tf.reduce_sum(lift(v), axis=[1, 2])[:, None]
  assert equivariance_error(pooled, x, rep, invariant(group)) < 1e-4
  # integer action inputs are permuted by the action representation
  actions = support.move_action_rep(group)
  table = tf.constant(np.random.default_rng(0).standard_normal((5, 5)), tf.float32)
  embed = lambda a: tf.gather(table, a)  # not equivariant
  a = tf.constant([0, 1, 2, 3, 4])
  assert np.max(equivariance_errors(embed, a, actions, actions)) > 0.1
  onehot = lambda a: tf.one_hot(a, 5)  # equivariant: one_hot(pi(g) a) = pi(g) one_hot(a)
  assert equivariance_error(onehot, a, actions, actions) == 0.0
