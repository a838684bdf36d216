"""The hidden-layer options of the lifted G-CNNs (`hidden=` of build_actor / build_critic)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.groups import MDPSymmetry
from tf_equirl.networks import build_actor, build_critic
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant, invariant

import support

keras = tf.keras

pytestmark = pytest.mark.seed(1234)  # tests/conftest.py seeds each test


@pytest.mark.parametrize("gname", ["C2", "C4", "D4"])
def test_siamese_hidden_layer_is_a_dense_shared_by_the_group_elements(gname):
  group = support.GROUPS[gname]
  x = support.random_input((16, group.order, 3))
  layer = support.check_layer(
    lambda: keras.layers.Dense(4, activation="tanh"), x, group, group, expected_params=3 * 4 + 4
  )
  # No mixing between group elements: changing f[0] leaves the other outputs alone.
  y = layer(tf.concat([x[:, :1] + 1.0, x[:, 1:]], axis=1)).numpy()
  np.testing.assert_allclose(y[:, 1:], layer(x).numpy()[:, 1:], atol=1e-6)


def _symmetry(gname):
  if gname == "Catch":
    return envs.make("Catch-v0").symmetry
  group = support.GROUPS[gname]
  return MDPSymmetry(group, support.state_rep(group), support.move_action_rep(group))


@pytest.mark.parametrize("gname", ["Catch", "C4", "D4"])
def test_siamese_gcnn_is_equivariant_matched_and_reloads(gname, tmp_path):
  symmetry = _symmetry(gname)
  x = support.random_input((32, symmetry.state_dim), seed=2)
  actor = build_actor("gcnn", symmetry, hidden="siamese")
  critic = build_critic("invariant", symmetry, hidden="siamese")
  assert_equivariant(actor, x, symmetry.state_rep, symmetry.action_rep, atol=1e-5)
  assert_equivariant(critic, x, symmetry.state_rep, invariant(symmetry.group), atol=1e-5)
  assert abs(count_params(actor) / count_params(build_actor("mlp", symmetry)) - 1) <= 0.1
  assert abs(count_params(critic) / count_params(build_critic("mlp", symmetry)) - 1) <= 0.1
  if gname == "Catch":
    # Catch's parameter-matched width is the MLP's 64: the MLP trunk run on s and on its flip.
    assert actor.layers[1].units == 64 and actor.layers[2].units == 64
    support.reload_in_fresh_process([("actor", actor, x), ("critic", critic, x)], str(tmp_path))
