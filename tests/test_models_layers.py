"""Layers added for transition models: ActionEncoding and the Catch proximal distance."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.layers import (
  ActionEncoding,
  encoding_representation,
  one_hot_action_codes,
  signed_action_codes,
)
from tf_equirl.layers.distances import get_distance
from tf_equirl.testing import assert_equivariant


@pytest.mark.parametrize("env_name", ["CartPole-v1", "Catch-v0"])
@pytest.mark.parametrize("codes_fn", [signed_action_codes, one_hot_action_codes])
def test_action_encoding_is_equivariant_and_serialises(env_name, codes_fn):
  sym = envs.make(env_name).symmetry
  codes = codes_fn(sym.num_actions)
  rep = encoding_representation(sym.action_rep, codes)
  layer = ActionEncoding(codes)
  actions = tf.range(sym.num_actions)
  np.testing.assert_array_equal(layer(actions), codes)
  assert_equivariant(layer, actions, sym.action_rep, rep, atol=0.0)
  clone = ActionEncoding.from_config(layer.get_config())
  np.testing.assert_array_equal(clone(actions), layer(actions))


def test_action_encoding_rejects_bad_actions():
  layer = ActionEncoding(signed_action_codes(3))
  with pytest.raises(ValueError, match=r"invalid action \[3, -1\]"):
    layer(tf.constant([0, 3, -1]))
  with pytest.raises(ValueError, match="dtype float32"):
    layer(tf.constant([0.0, 1.0]))
  with pytest.raises(ValueError, match="shape"):
    layer(tf.constant([[0, 1]]))
  with pytest.raises(ValueError, match="codes"):
    ActionEncoding([1.0, 2.0])
  # In graphs (where no error can be raised under XLA) a bad action gives NaN, not a clamp.
  out = tf.function(layer, jit_compile=True)(tf.constant([0, 5, 2]))
  assert np.isnan(out[1]).all() and np.isfinite(out[0]).all() and np.isfinite(out[2]).all()


def test_catch_distance_is_invariant_under_the_column_flip():
  env = envs.make("Catch-v0")
  rep = env.symmetry.state_rep
  rng = np.random.default_rng(0)
  state = np.stack([rng.integers(0, 9, 64), rng.integers(0, 5, 64), rng.integers(0, 5, 64)], -1)
  reference = env.observe(tf.constant(state, tf.int32))
  candidates = tf.constant(rng.standard_normal((64, 2, 55)).astype(np.float32))
  distance = get_distance("catch_mode_l1")
  paddle_flip = np.arange(50, 55)[::-1]
  flipped = tf.gather(candidates, np.concatenate([rep.permutation[1], paddle_flip]), axis=-1)
  np.testing.assert_allclose(
    distance(rep.transform(reference, 1), flipped), distance(reference, candidates), rtol=1e-6
  )
  with pytest.raises(ValueError, match="catch_mode_l1"):
    distance(reference, candidates[..., :53])


@pytest.mark.parametrize("gname", ["C4", "D4", "D3"])
def test_action_encoding_under_larger_groups(gname):
  import support

  group = support.GROUPS[gname]
  actions_rep = support.move_action_rep(group)
  codes = one_hot_action_codes(actions_rep.dim)
  rep = encoding_representation(actions_rep, codes)
  layer = ActionEncoding(codes)
  actions = tf.range(actions_rep.dim)
  assert_equivariant(layer, actions, actions_rep, rep, atol=0.0)
  # signed codes only fit a symmetry that reverses the action order: a clear error otherwise
  with pytest.raises(ValueError, match="one-hot"):
    encoding_representation(actions_rep, signed_action_codes(actions_rep.dim))
