"""The steerable layers (features in irreducible coordinates) through the layer harness,
under C2, C4, D4 and D3 (D3 and D4 have two-dimensional irreducibles, C4 one of complex type)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import Representation
from tf_equirl.layers import (
  GroupConv,
  GroupLift,
  IrrepDense,
  IrrepInvariants,
  IrrepLift,
  IrrepLogits,
  irrep_representation,
)
from tf_equirl.layers import _irreps
from tf_equirl.testing import invariant

import support

keras = tf.keras
BATCH = 16

pytestmark = pytest.mark.seed(1234)  # tests/conftest.py seeds each test


def _features(group, channels, seed=0):
  return support.random_input([BATCH, group.order, channels], seed=seed)


@support.over_layer_groups
@pytest.mark.parametrize("nonlinearity", ["gated", "norm", None])
def test_irrep_lift(gname, nonlinearity):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input([BATCH, rep.dim])
  support.check_layer(
    lambda: IrrepLift(5, rep, nonlinearity=nonlinearity),
    x,
    rep,
    irrep_representation(group),
    expected_params=rep.dim * 5 + 5,
    output_axis=1,
  )


@support.over_layer_groups
@pytest.mark.parametrize("nonlinearity", ["gated", "norm", "gated_norm"])
def test_irrep_dense(gname, nonlinearity):
  group = support.GROUPS[gname]
  k = _irreps.irrep_layout(group).num_norms
  irreps = irrep_representation(group)
  support.check_layer(
    lambda: IrrepDense(4, group, nonlinearity=nonlinearity),
    _features(group, 3),
    irreps,
    irreps,
    expected_params=group.order * 3 * 4 + k * 3 * 4 + 4,
    input_axis=1,
    output_axis=1,
  )


@support.over_layer_groups
def test_irrep_logits_and_invariants(gname):
  group = support.GROUPS[gname]
  irreps = irrep_representation(group)
  actions = support.move_action_rep(group)
  x = _features(group, 3)
  support.check_layer(lambda: IrrepLogits(actions), x, irreps, actions, input_axis=1)
  support.check_layer(
    lambda: IrrepInvariants(group), x, irreps, invariant(group), expected_params=0, input_axis=1
  )


@support.over_layer_groups
def test_linear_parts_are_the_regular_layers_in_fourier_coordinates(gname):
  """IrrepLift / IrrepDense without a nonlinearity (and without the norms) are GroupLift /
  GroupConv with the same weights, read in the Fourier coordinates `Q^T f`."""
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  q = _irreps.irrep_layout(group).fb.basis
  x = support.random_input([BATCH, rep.dim])
  lift, ref_lift = (
    IrrepLift(4, rep, nonlinearity=None, use_bias=False),
    GroupLift(4, rep, use_bias=False, implementation="spatial"),
  )
  f = lift(x)
  ref_lift(x)
  ref_lift.set_weights(lift.get_weights())
  np.testing.assert_allclose(f.numpy(), np.einsum("hq,bhc->bqc", q, ref_lift(x).numpy()), atol=1e-5)
  dense = IrrepDense(3, group, nonlinearity=None, norm_inputs=False, use_bias=False)
  conv = GroupConv(3, group, use_bias=False, implementation="spatial")
  out = dense(f)
  spatial = np.einsum("bqc,hq->bhc", f.numpy(), q)
  conv(spatial)
  conv.set_weights(dense.get_weights())
  np.testing.assert_allclose(
    out.numpy(), np.einsum("hq,bhc->bqc", q, conv(spatial).numpy()), atol=1e-5
  )


@support.over_layer_groups
def test_irrep_representation_is_orthogonal_and_the_regular_one_in_fourier_coordinates(gname):
  group = support.GROUPS[gname]
  irreps = irrep_representation(group)
  assert irreps.is_orthogonal()
  q = _irreps.irrep_layout(group).fb.basis
  regular = Representation.regular(group).matrices
  np.testing.assert_allclose(
    np.einsum("qh,ghk,kp->gqp", q.T, regular, q), irreps.matrices, atol=1e-9
  )


def test_stacked_steerable_actor_is_equivariant_and_reloads():
  group = support.GROUPS["D3"]
  rep, actions = support.state_rep(group), support.move_action_rep(group)

  def actor():
    inp = keras.Input((rep.dim,))
    h = IrrepLift(6, rep)(inp)
    h = IrrepDense(6, group, nonlinearity="norm")(h)
    h = IrrepDense(6, group)(h)
    return keras.Model(inp, IrrepLogits(actions)(h))

  x = support.random_input([BATCH, rep.dim], seed=3)
  support.check_layer(actor, x, rep, actions, atol=1e-5)  # equivariant, reloads


def test_bad_inputs_raise_clear_errors():
  group = support.GROUPS["C4"]
  rep = support.state_rep(group)
  with pytest.raises(ValueError, match="nonlinearity must be one of"):
    IrrepLift(3, rep, nonlinearity="relu")
  with pytest.raises(ValueError, match="input has width"):
    IrrepLift(3, rep)(tf.ones([2, rep.dim + 1]))
  with pytest.raises(ValueError, match="group axis of size 4"):
    IrrepDense(3, group)(tf.ones([2, 8, 3]))
  with pytest.raises(ValueError, match="positive integer"):
    IrrepDense(0, group)
  with pytest.raises(ValueError, match="no input_rep"):
    IrrepLogits(support.move_action_rep(group), input_rep=rep)
  with pytest.raises(ValueError, match="expects"):
    IrrepInvariants(group)(tf.ones([2, 4]))


@pytest.mark.parametrize("gname", support.LAYER_GROUPS + ["C8", "C3"])
def test_blockwise_norms_and_norm_nonlinearity_follow_the_norm_groups(gname):
  """The block-by-block forms equal the definitions over `layout.groups`."""
  from tf_equirl.groups import cyclic  # pylint: disable=import-outside-toplevel

  group = support.GROUPS.get(gname) or cyclic(int(gname[1:]))
  layout = _irreps.irrep_layout(group)
  x = _features(group, 3, seed=5).numpy()
  bias = np.array([0.1, -0.2, 0.3], np.float32)
  r = np.sqrt(np.einsum("bnc,nk->bkc", x**2, layout.groups) + 1e-12)
  np.testing.assert_allclose(_irreps.group_norms(tf.constant(x), layout).numpy(), r, atol=1e-6)
  expected = x * np.einsum("bkc,nk->bnc", np.tanh(r) / r, layout.groups)
  expected[:, layout.trivial] = np.tanh(x[:, layout.trivial] + bias)
  out = _irreps.apply_nonlinearity(tf.constant(x), layout, tf.constant(bias), "norm")
  np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
