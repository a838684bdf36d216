"""The isotypic layers (free multiplicities per irreducible type) through the layer harness,
under C2, C4, D4 and D3 (D3/D4: two-dimensional irreducibles, D3 non-abelian; C4: one of
complex type), their equality with the regular steerable layers, and their errors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.layers import (
  IrrepDense,
  IrrepInvariants,
  IrrepLift,
  IrrepLogits,
  IsotypicDense,
  IsotypicInvariants,
  IsotypicLift,
  IsotypicLogits,
  isotypic_representation,
)
from tf_equirl.layers import _isotypic
from tf_equirl.testing import invariant

import support

keras = tf.keras
BATCH = 16

pytestmark = pytest.mark.seed(1234)  # tests/conftest.py seeds each test


def _uneven(group, base=2):
  """Different counts per type, the trivial one largest (and no type left empty)."""
  n = len(_isotypic.irrep_types(group))
  return [base + 2] + [base + (i % 2) for i in range(1, n)]


def _params_lift(rep, counts):
  types = _isotypic.irrep_types(rep.group)
  k = [_isotypic.hom_basis(rep.matrices, t.matrices).shape[0] for t in types]
  return sum(ki * m for ki, m in zip(k, counts)) + counts[0]


@support.over_layer_groups
@pytest.mark.parametrize("nonlinearity", ["norm", None])
def test_isotypic_lift(gname, nonlinearity):
  group = support.GROUPS[gname]
  rep, counts = support.state_rep(group), _uneven(group)
  x = support.random_input([BATCH, rep.dim])
  support.check_layer(
    lambda: IsotypicLift(counts, rep, nonlinearity=nonlinearity),
    x,
    rep,
    isotypic_representation(group, counts),
    expected_params=_params_lift(rep, counts),
  )


@support.over_layer_groups
def test_isotypic_lift_from_a_skewed_representation(gname):
  group = support.GROUPS[gname]
  rep, counts = support.skewed_rep(group), _uneven(group)
  x = support.random_input([BATCH, rep.dim])
  support.check_layer(
    lambda: IsotypicLift(counts, rep), x, rep, isotypic_representation(group, counts), atol=1e-4
  )


@support.over_layer_groups
def test_isotypic_dense(gname):
  group = support.GROUPS[gname]
  types = _isotypic.irrep_types(group)
  c_in, c_out = _uneven(group, 2), _uneven(group, 3)
  x = support.random_input([BATCH, _isotypic.flat_layout(group, c_in).width])
  expected = (
    sum(t.commutant.shape[0] * a * b for t, a, b in zip(types, c_in, c_out))
    + sum(c_in[1:]) * c_out[0]
    + c_out[0]
  )
  support.check_layer(
    lambda: IsotypicDense(c_out, group, c_in),
    x,
    isotypic_representation(group, c_in),
    isotypic_representation(group, c_out),
    expected_params=expected,
  )


@support.over_layer_groups
def test_isotypic_logits_and_invariants(gname):
  group = support.GROUPS[gname]
  counts, actions = _uneven(group), support.move_action_rep(group)
  rep = isotypic_representation(group, counts)
  x = support.random_input([BATCH, rep.dim])
  support.check_layer(lambda: IsotypicLogits(actions, counts), x, rep, actions)
  support.check_layer(
    lambda: IsotypicInvariants(group, counts), x, rep, invariant(group), expected_params=0
  )


@support.over_layer_groups
def test_regular_multiplicities_are_the_steerable_layers(gname):
  """With `units=c` the isotypic layers compute what IrrepLift / IrrepDense / IrrepLogits /
  IrrepInvariants compute, read in the flat layout (`regular_to_flat`), once their weights
  are mapped (least squares on the folded maps; exact because both span the same maps)."""
  group = support.GROUPS[gname]
  rep, actions = support.state_rep(group), support.move_action_rep(group)
  c = 3
  index = _isotypic.regular_to_flat(group, c)

  def flat(f):
    return tf.gather(
      tf.reshape(f, [tf.shape(f)[0], -1]), _isotypic.regular_to_flat(group, f.shape[-1]), axis=1
    )

  x = support.random_input([BATCH, rep.dim])

  lift, ref_lift = IsotypicLift(c, rep), IrrepLift(c, rep)
  f_ref = ref_lift(x)
  lift(x)
  assert lift.count_params() == ref_lift.count_params()
  ref_bias = ref_lift.get_weights()[1]
  # the regular folded kernel in flat columns; solve for the per-type kernels
  target = np.einsum("qij,ju->iqu", ref_lift._pi, ref_lift.kernel.numpy()).reshape(rep.dim, -1)
  target = target[:, index]
  layout = lift._layout
  weights = []
  for basis, m, off in zip(lift._bases, lift.units, layout.offsets):
    d = basis.shape[1]
    block = target[:, off : off + d * m].reshape(rep.dim, d, m)
    a = np.transpose(basis, (2, 1, 0)).reshape(-1, basis.shape[0])  # [(n, r), j]
    w, *_ = np.linalg.lstsq(a, block.reshape(-1, m), rcond=None)
    np.testing.assert_allclose(a @ w, block.reshape(-1, m), atol=1e-5)
    weights.append(w)
  stored = [w / g for w, g in zip(weights, lift._gains)]
  lift.set_weights(stored + [ref_bias])
  # the gains make the stored weights an orthogonal transform of the regular kernel, so
  # gradient steps are as long in both parameterisations
  np.testing.assert_allclose(
    np.sqrt(sum(np.sum(w**2) for w in stored)), np.linalg.norm(ref_lift.kernel.numpy()), rtol=1e-4
  )
  np.testing.assert_allclose(lift(x).numpy(), flat(f_ref).numpy(), atol=1e-5)

  dense, ref_dense = IsotypicDense(2, group, c), IrrepDense(2, group)
  g_ref = ref_dense(f_ref)
  dense(flat(f_ref))
  assert dense.count_params() == ref_dense.count_params()
  # the regular linear map in flat coordinates, from the identity's image
  probe = IrrepDense(2, group, nonlinearity=None, norm_inputs=False, use_bias=False)
  eye = np.eye(group.order * c, dtype=np.float32).reshape(-1, group.order, c)
  probe(eye)
  probe.set_weights([ref_dense.kernel.numpy()])
  full = probe(eye).numpy().reshape(group.order * c, -1)
  full = full[index][:, _isotypic.regular_to_flat(group, 2)]
  weights = []
  for t, m_in, m_out, o_in, o_out in zip(
    dense._types, dense.input_units, dense.units, dense._in.offsets, dense._out.offsets
  ):
    d = t.dim
    block = full[o_in : o_in + d * m_in, o_out : o_out + d * m_out].reshape(d, m_in, d, m_out)
    # X'[s, :] = sum_k (E_k X)[s, :] W_k  =>  block[r, :, s, :] = sum_k E_k[s, r] W_k
    w = np.einsum("ksr,risu->kiu", t.commutant, block) / d
    np.testing.assert_allclose(np.einsum("ksr,kiu->risu", t.commutant, w), block, atol=1e-5)
    weights.append(w / _isotypic.regular_gain(group, t))
  dense.set_weights(weights + [ref_dense.norm_kernel.numpy(), ref_dense.bias.numpy()])
  np.testing.assert_allclose(
    np.sqrt(sum(np.sum(w**2) for w in weights)), np.linalg.norm(ref_dense.kernel.numpy()), rtol=1e-4
  )
  np.testing.assert_allclose(dense(flat(f_ref)).numpy(), flat(g_ref).numpy(), atol=1e-5)

  inv, ref_inv = IsotypicInvariants(group, 2), IrrepInvariants(group)
  np.testing.assert_allclose(
    np.sort(inv(flat(g_ref)).numpy(), axis=1), np.sort(ref_inv(g_ref).numpy(), axis=1), atol=1e-5
  )

  head, ref_head = IsotypicLogits(actions, 2), IrrepLogits(actions)
  ref_logits = ref_head(g_ref)
  head(flat(g_ref))
  target = ref_head.folded_kernel().numpy()[_isotypic.regular_to_flat(group, 2)]
  weights = []
  for basis, m, off, gain in zip(head._bases, head.input_units, head._layout.offsets, head._gains):
    if not basis.shape[0]:
      np.testing.assert_allclose(target[off : off + basis.shape[2] * m], 0.0, atol=1e-5)
      continue
    d = basis.shape[2]
    block = target[off : off + d * m].reshape(d, m, -1)  # [r, i, a]
    a = np.transpose(basis, (2, 1, 0)).reshape(-1, basis.shape[0])  # [(r, a), j]
    w, *_ = np.linalg.lstsq(a, np.transpose(block, (0, 2, 1)).reshape(-1, m), rcond=None)
    weights.append(w / gain)
  bias_full = tf.gather(ref_head.bias, ref_head._orbits).numpy()
  beta = np.linalg.lstsq(head._bias_basis.T, bias_full, rcond=None)[0]
  head.set_weights(weights + [beta])
  np.testing.assert_allclose(
    np.sqrt(sum(np.sum(w**2) for w in weights)), np.linalg.norm(ref_head.kernel.numpy()), rtol=1e-4
  )
  np.testing.assert_allclose(head(flat(g_ref)).numpy(), ref_logits.numpy(), atol=1e-5)


def test_stacked_isotypic_actor_is_equivariant_and_reloads():
  group = support.GROUPS["D3"]
  rep, actions = support.state_rep(group), support.move_action_rep(group)
  counts = [6, 1, 3]

  def actor():
    inp = keras.Input((rep.dim,))
    h = IsotypicLift(counts, rep)(inp)
    h = IsotypicDense(counts, group, counts)(h)
    return keras.Model(inp, IsotypicLogits(actions, counts)(h))

  x = support.random_input([BATCH, rep.dim], seed=3)
  support.check_layer(actor, x, rep, actions, atol=1e-5)  # equivariant, reloads


def test_bad_multiplicities_raise_clear_errors():
  group = support.GROUPS["D4"]  # five types
  rep = support.state_rep(group)
  with pytest.raises(ValueError, match="unknown irreducible type 7"):
    IsotypicLift({0: 3, 7: 1}, rep)
  with pytest.raises(ValueError, match="non-negative integers"):
    IsotypicLift([3, -1, 0, 0, 2], rep)
  with pytest.raises(ValueError, match="no channel"):
    IsotypicDense([0, 0, 0, 0, 0], group, 2)
  with pytest.raises(ValueError, match="received 3 counts"):
    IsotypicLogits(support.move_action_rep(group), [1, 2, 3])
  with pytest.raises(ValueError, match="positive integer"):
    IsotypicInvariants(group, 0)
  with pytest.raises(ValueError, match="nonlinearity must be one of"):
    IsotypicLift(2, rep, nonlinearity="gated")
  with pytest.raises(ValueError, match="has width"):
    IsotypicDense(2, group, [1, 1, 1, 1, 1])(tf.ones([2, 7]))
