"""Finite groups, representations and their error messages."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import (
  FiniteGroup,
  MDPSymmetry,
  Representation,
  close_under_composition,
  cyclic,
  dihedral,
  direct_sum,
)

import support


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_cyclic_axioms(n):
  g = cyclic(n)
  assert g.order == n and g.identity == 0 and g.is_abelian()
  for a in range(n):
    assert g.compose(a, g.inverse(a)) == 0
    assert g.compose(a, 1 % n if n > 1 else 0) == (a + 1) % n


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_dihedral_axioms(n):
  g = dihedral(n)
  assert g.order == 2 * n and g.identity == 0
  assert g.is_abelian() == (n <= 2)
  r, s = 1, n
  assert g.compose(s, s) == 0  # s^2 = e
  assert g.compose(g.compose(s, r), s) == g.inverse(r)  # s r s = r^-1
  for a in range(g.order):
    assert g.compose(g.inverse(a), a) == 0


def test_regular_and_planar_reps_are_homomorphisms():
  for name in support.LAYER_GROUPS:
    group = support.GROUPS[name]
    reg = Representation.regular(group)
    assert reg.is_permutation and reg.dim == group.order
    # L_g e_k = e_{gk}
    for g in group.elements():
      assert reg.permutation[g].tolist() == group.table[g].tolist()
    assert support.state_rep(group).is_orthogonal()
    assert support.move_action_rep(group).is_permutation
    support.skewed_rep(group)  # validated on construction


def test_from_matrices_keeps_indices_and_finds_group():
  rot = np.array([[0.0, -1.0], [1.0, 0.0]])
  mats = [np.linalg.matrix_power(rot, k) for k in range(4)]
  g = FiniteGroup.from_matrices(mats)
  assert g == cyclic(4)
  closed = close_under_composition(np.stack([rot, np.diag([1.0, -1.0])]))
  d4 = FiniteGroup.from_matrices(closed)
  assert d4.order == 8 and not d4.is_abelian()
  assert np.allclose(closed[0], rot)  # given elements keep their indices


def test_from_permutations_composition_convention():
  perms = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
  g = FiniteGroup.from_permutations(perms)
  p = np.array(perms)
  for a in range(3):
    for b in range(3):
      assert p[g.compose(a, b)].tolist() == p[a][p[b]].tolist()


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match=r"not closed under composition.*perms\[1\]\*perms\[1\]"):
    FiniteGroup.from_permutations([[0, 1, 2], [1, 2, 0]])
  with pytest.raises(ValueError, match="duplicates: perms\\[0\\] and perms\\[1\\]"):
    FiniteGroup.from_permutations([[0, 1], [0, 1]])
  with pytest.raises(ValueError, match="is not a permutation of 0..2"):
    FiniteGroup.from_permutations([[0, 1, 1]])
  with pytest.raises(ValueError, match="not closed"):
    FiniteGroup.from_matrices([np.eye(2), 2 * np.eye(2)])
  with pytest.raises(ValueError, match="not associative|not a permutation|identity"):
    FiniteGroup([[0, 1, 2], [1, 0, 2], [2, 2, 0]])
  with pytest.raises(ValueError, match=r"Not a homomorphism: rho\(1\) @ rho\(1\)"):
    Representation(cyclic(2), [np.eye(2), 2 * np.eye(2)])
  with pytest.raises(ValueError, match="needs one matrix per element"):
    Representation(cyclic(3), [np.eye(2), np.eye(2)])
  with pytest.raises(ValueError, match="expects a positive integer"):
    cyclic(0)
  with pytest.raises(ValueError, match="not a permutation representation"):
    Representation(cyclic(2), [np.eye(1), -np.eye(1)]).permutation
  with pytest.raises(ValueError, match="has dimension 4 but axis"):
    Representation(cyclic(2), [np.eye(4), -np.eye(4)]).transform(tf.ones([3, 5]), 1)


def test_serialisation_round_trip():
  for name in support.LAYER_GROUPS:
    group = support.GROUPS[name]
    assert FiniteGroup.from_config(group.get_config()) == group
    rep = support.state_rep(group)
    assert Representation.from_config(rep.get_config()) == rep


def test_transform_matches_matrix_and_acts_on_indices():
  group = dihedral(4)
  rep = support.state_rep(group)
  x = np.random.default_rng(0).standard_normal((5, rep.dim)).astype(np.float32)
  for g in group.elements():
    np.testing.assert_allclose(rep.transform(x, g).numpy(), x @ rep.matrices[g].T, atol=1e-6)
    # the same action along another axis
    xt = np.ascontiguousarray(x.T)
    np.testing.assert_allclose(
      rep.transform(xt, g, axis=0).numpy(), (x @ rep.matrices[g].T).T, atol=1e-6
    )
  acts = support.move_action_rep(group)
  a = tf.constant([0, 1, 2, 3, 4])
  for g in group.elements():
    assert acts.transform(a, g).numpy().tolist() == acts.permutation[g].tolist()


def test_mdp_symmetry_validates():
  c2, c4 = cyclic(2), cyclic(4)
  state = Representation(c2, [np.eye(4), -np.eye(4)])
  actions = Representation.from_permutations(c2, [[0, 1], [1, 0]])
  sym = MDPSymmetry(c2, state, actions)
  assert sym.num_actions == 2 and sym.state_dim == 4
  assert MDPSymmetry.from_config(sym.get_config()) == sym
  with pytest.raises(ValueError, match="permutation representation"):
    MDPSymmetry(c2, state, state)
  with pytest.raises(ValueError, match="expected the symmetry group"):
    MDPSymmetry(c4, state, actions)
  with pytest.raises(ValueError, match="representation 1 is of C4, expected C2"):
    direct_sum(state, Representation.regular(c4))


def test_mdp_symmetry_continuous_actions():
  """A mirror that negates a torque and keeps a second one: an orthogonal, non-permutation
  action representation is accepted for continuous actions, refused for discrete ones, and a
  non-orthogonal one is refused for continuous actions."""
  c2, d2 = cyclic(2), dihedral(2)
  state = Representation(c2, [np.eye(3), np.diag([-1.0, -1.0, 1.0])])
  torque = Representation(c2, [np.eye(2), np.diag([-1.0, 1.0])], name="sign+trivial")
  sym = MDPSymmetry(c2, state, torque, continuous_actions=True)
  assert sym.action_dim == 2 and sym.continuous_actions
  assert MDPSymmetry.from_config(sym.get_config()) == sym
  assert MDPSymmetry(c2, state, Representation.trivial(c2, 2)).continuous_actions is False
  with pytest.raises(ValueError, match="continuous_actions=True"):
    MDPSymmetry(c2, state, torque)
  skew = Representation(c2, [np.eye(2), np.array([[1.0, 1.0], [0.0, -1.0]])], name="skew")
  with pytest.raises(ValueError, match="'skew' has a matrix whose transpose is not its inverse"):
    MDPSymmetry(c2, state, skew, continuous_actions=True)
  with pytest.raises(ValueError, match="continuous_actions must be True or False"):
    MDPSymmetry(c2, state, torque, continuous_actions=1)
  # Restricting keeps the action kind.
  flip = Representation(d2, [np.diag(d) for d in ([1, 1], [-1, -1], [-1, 1], [1, -1])])
  full = MDPSymmetry(d2, Representation.regular(d2), flip, continuous_actions=True)
  assert full.restrict([0, 1]).continuous_actions


def test_scalar_character():
  c2, c4 = cyclic(2), cyclic(4)
  assert Representation(c2, [np.eye(3), -np.eye(3)]).scalar_character().tolist() == [1.0, -1.0]
  assert Representation.trivial(c4, 2).scalar_character().tolist() == [1.0] * 4
  assert Representation.regular(c2).scalar_character() is None
  assert support.state_rep(dihedral(4)).scalar_character() is None


def _regular_symmetry(group):
  """`group` acting regularly on states and actions: every subgroup restricts faithfully."""
  regular = Representation.regular(group)
  return MDPSymmetry(group, regular, regular)


@pytest.mark.parametrize(
  "group,elements,order",
  [
    (dihedral(4), [0, 1, 2, 3], 4),
    (dihedral(4), [4, 0], 2),
    (dihedral(4), [0, 2, 4, 6], 4),
    (dihedral(3), [0, 3], 2),
    (dihedral(3), [2, 0, 1], 3),
    (cyclic(6), [0, 2, 4], 3),
    (cyclic(6), [0], 1),
    (dihedral(4), range(8), 8),
  ],
)
def test_restrict_to_a_subgroup(group, elements, order):
  sym = _regular_symmetry(group)
  sub = sym.restrict(elements, name="H")
  assert sub.group.order == order and sub.group.name == "H" and sub.group.identity == 0
  ordered = [group.identity] + sorted(set(elements) - {group.identity})
  # Element i of H is ordered[i]: products, state and action matrices agree with G's.
  for i, g in enumerate(ordered):
    np.testing.assert_array_equal(sub.state_rep.matrices[i], sym.state_rep.matrices[g])
    np.testing.assert_array_equal(sub.action_rep.matrices[i], sym.action_rep.matrices[g])
    for j, h in enumerate(ordered):
      assert ordered[sub.group.table[i, j]] == group.table[g, h]
  assert MDPSymmetry.from_config(sub.get_config()) == sub
  if order == 4 and list(elements) == [0, 1, 2, 3]:
    assert sub.group == cyclic(4)


@pytest.mark.parametrize(
  "elements,match",
  [
    ([0, 1], r"do not form a subgroup of D4: 1\*1 = 2 is not among them"),
    ([4, 5], r"do not form a subgroup of D4: 4\*4 = 0"),
    ([0, 4, 5], "do not form a subgroup"),
    ([], "at least one element"),
    ([0, 8], r"elements \[8\] are not elements of D4"),
    ([0, 0], "repeat an element"),
    ([0, 1.5], "integer element indices"),
  ],
)
def test_restrict_rejects_non_subgroups(elements, match):
  with pytest.raises(ValueError, match=match):
    _regular_symmetry(dihedral(4)).restrict(elements)


def test_environment_symmetries_name_their_subgroups():
  from tf_equirl.envs import CartPole, Catch  # pylint: disable=import-outside-toplevel

  for env in (CartPole(), Catch()):
    syms = env.symmetries
    assert sorted(syms) == ["C2", "trivial"] and syms["C2"] == env.symmetry
    assert syms["trivial"].group.order == 1 and env.get_symmetry("trivial") == syms["trivial"]
    with pytest.raises(ValueError, match="no symmetry group named 'D4'"):
      env.get_symmetry("D4")
