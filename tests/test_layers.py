"""Every layer through the one harness in support.py, under C2, C4, D4 and D3."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import Representation, cyclic, direct_sum
from tf_equirl.layers import (
  EquivariantLogits,
  EquivariantMeanPool,
  GroupConv,
  GroupLift,
  GroupLayerNorm,
  GroupPool,
  PermutationEquivariantDense,
  ProximalPool,
  SymmetrizerDense,
  register_distance,
)
from tf_equirl.testing import assert_equivariant, equivariance_errors, invariant

import support

keras = tf.keras
BATCH = 16

pytestmark = pytest.mark.seed(1234)  # tests/conftest.py seeds each test


def test_each_test_starts_from_the_modules_seed():
  drawn = (np.random.random(), float(tf.random.uniform([])))
  keras.utils.set_random_seed(1234)
  assert drawn == (np.random.random(), float(tf.random.uniform([])))


@pytest.mark.seed(7)
def test_a_tests_own_seed_marker_overrides_the_modules():
  drawn = np.random.random()
  keras.utils.set_random_seed(7)
  assert drawn == np.random.random()


@support.over_layer_groups
def test_group_lift(gname):
  group = support.GROUPS[gname]
  for rep in (support.state_rep(group), support.skewed_rep(group)):
    x = support.random_input((BATCH, rep.dim))
    layer = support.check_layer(
      lambda: GroupLift(6, rep, activation="tanh"),
      x,
      rep,
      group,
      expected_params=rep.dim * 6 + 6,
      atol=1e-5 if rep.name != "skewed" else 1e-4,
    )
    assert layer(x).shape == (BATCH, group.order, 6)


@support.over_layer_groups
def test_group_conv(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  support.check_layer(
    lambda: GroupConv(5, group, activation="relu"),
    x,
    group,
    group,
    expected_params=group.order * 3 * 5 + 5,
  )


def test_group_conv_is_the_full_commutant_for_c4():
  # For an abelian group, GroupConv with 1->1 channels spans all |G| circulant matrices.
  group = cyclic(4)
  layer = GroupConv(1, group, use_bias=False)
  layer.build((None, 4, 1))
  layer.set_weights([np.arange(1.0, 5.0).reshape(4, 1, 1)])
  k = layer.expanded_kernel().numpy()
  reg = Representation.regular(group).matrices
  for g in range(4):  # K commutes with every L_g (as a right-multiplied matrix)
    np.testing.assert_allclose(reg[g] @ k.T, k.T @ reg[g])
  assert len(np.unique(k)) == 4


@support.over_layer_groups
def test_permutation_equivariant_dense(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  support.check_layer(
    lambda: PermutationEquivariantDense(4, activation="tanh"),
    x,
    group,
    group,
    expected_params=2 * 3 * 4 + 4,
  )


@support.over_layer_groups
@pytest.mark.parametrize("mode", ["mean", "max"])
def test_group_pool(gname, mode):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  support.check_layer(lambda: GroupPool(mode), x, group, invariant(group), expected_params=0)


@support.over_layer_groups
def test_group_layer_norm(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3)) * 3.0 + 1.0
  layer = support.check_layer(lambda: GroupLayerNorm(), x, group, group, expected_params=2 * 3)
  # Each sample's features have mean 0 and variance 1 over both axes at initialisation.
  y = GroupLayerNorm()(x).numpy().reshape(BATCH, -1)
  np.testing.assert_allclose(y.mean(1), 0.0, atol=1e-5)
  np.testing.assert_allclose(y.var(1), 1.0, atol=1e-3)
  assert layer.get_config()["epsilon"] == 1e-5


def test_group_layer_norm_rejects_bad_input():
  with pytest.raises(ValueError, match="positive float epsilon"):
    GroupLayerNorm(epsilon=0.0)
  with pytest.raises(ValueError, match=r"rank 3 with layout \[batch, \|G\|, channels\]"):
    GroupLayerNorm()(tf.zeros([2, 6]))


@support.over_layer_groups
def test_equivariant_logits_regular_input(gname):
  group = support.GROUPS[gname]
  x = support.random_input((BATCH, group.order, 3))
  for actions in (Representation.regular(group), support.move_action_rep(group)):
    orbits = 1 if actions.name == "regular" else 2  # moves + the fixed no-op
    layer = support.check_layer(
      lambda: EquivariantLogits(actions),
      x,
      group,
      actions,
      expected_params=3 * actions.dim + orbits,
    )
    assert layer(x).shape == (BATCH, actions.dim)


@support.over_layer_groups
def test_equivariant_logits_vector_input(gname):
  group, rep, actions = support.group_setting(gname)
  x = support.random_input((BATCH, rep.dim))
  support.check_layer(
    lambda: EquivariantLogits(actions, input_rep=rep),
    x,
    rep,
    actions,
    expected_params=rep.dim * actions.dim + 2,
  )


def test_equivariant_logits_on_odd_features_is_the_thesis_cartpole_head():
  c2 = cyclic(2)
  sign = Representation(c2, [np.eye(8), -np.eye(8)])
  flip = Representation.from_permutations(c2, [[0, 1], [1, 0]])
  layer = EquivariantLogits(flip, input_rep=sign)
  x = support.random_input((BATCH, 8))
  z = layer(x).numpy()
  np.testing.assert_allclose(z[:, 0] - z.mean(1), -(z[:, 1] - z.mean(1)), atol=1e-6)
  np.testing.assert_allclose(layer(-x).numpy(), z[:, ::-1], atol=1e-6)  # eq. 4.10


def test_catch_like_fixed_point_action():
  # Catch: the flip swaps left/right and fixes the no-op; its logit must be flip-invariant.
  c2 = cyclic(2)
  actions = Representation.from_permutations(c2, [[0, 1, 2], [2, 1, 0]])
  x = support.random_input((BATCH, 2, 5))
  layer = support.check_layer(
    lambda: EquivariantLogits(actions), x, c2, actions, expected_params=5 * 3 + 2
  )
  swapped = layer(tf.reverse(x, axis=[1])).numpy()
  np.testing.assert_allclose(swapped[:, 1], layer(x).numpy()[:, 1], atol=1e-6)


@support.over_layer_groups
def test_equivariant_mean_pool(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  x = support.random_input((BATCH, group.order, rep.dim))
  support.check_layer(lambda: EquivariantMeanPool(rep), x, group, rep, expected_params=0)


@support.over_layer_groups
def test_proximal_pool_is_equivariant_away_from_ties(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  # L1 is invariant under the signed permutations of C2/C4/D4; D3's planar part has
  # cos(120 deg) entries, so it needs the (orthogonally invariant) L2 distance.
  distance = "l2" if gname == "D3" else "l1"
  images = support.random_input((256, group.order, rep.dim), seed=1)
  reference = support.random_input((256, rep.dim), seed=2)
  layer = support.check_layer(
    lambda: ProximalPool(rep, distance=distance),
    [images, reference],
    [group, rep],
    rep,
    expected_params=0,
    check_equivariance=False,
  )
  errors = equivariance_errors(layer, [images, reference], [group, rep], rep)
  rate = float(np.mean(errors <= 1e-5))
  print(f"ProximalPool {gname}/{distance}: equivariant on {100 * rate:.1f} % of 256 random inputs")
  assert rate == 1.0  # continuous random inputs have no ties


def test_proximal_pool_breaks_equivariance_at_ties_and_reports_it():
  c2 = cyclic(2)
  rep = Representation(c2, [np.eye(2), -np.eye(2)])
  pool = ProximalPool(rep, return_index=True)
  reference = tf.zeros([1, 2])
  # After the action transform the candidates are (1, 0) and (0, -1): equal L1 distance.
  images = tf.constant([[[1.0, 0.0], [0.0, 1.0]]])
  out, index = pool([images, reference])
  assert index.numpy().tolist() == [0]  # ties go to the first element in group-axis order
  errors = equivariance_errors(lambda v: pool(v)[0], [images, reference], [c2, rep], rep)
  assert errors[0] > 0.5  # measured, not hidden: the tie flips the choice


def test_proximal_pool_custom_distance_and_gradient():
  c2 = cyclic(2)
  rep = Representation(c2, [np.eye(3), -np.eye(3)])
  register_distance(
    "test_linf", lambda r, c: tf.reduce_max(tf.abs(c - r[:, None]), -1), overwrite=True
  )
  pool = ProximalPool(rep, distance="test_linf")
  images = tf.Variable(support.random_input((4, 2, 3)))
  reference = support.random_input((4, 3), seed=3)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(pool([images, reference]))
  grad = tape.gradient(loss, images).numpy()
  assert np.all(np.count_nonzero(np.abs(grad).sum(-1), axis=1) == 1)  # only the chosen image


@support.over_layer_groups
def test_symmetrizer_dense(gname):
  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  reg = Representation.regular(group)
  x = support.random_input((BATCH, rep.dim))
  hidden = support.check_layer(
    lambda: SymmetrizerDense(3, rep, reg, activation="relu"), x, rep, direct_sum(*[reg] * 3)
  )
  # dim Hom_G(planar + regular, regular) = dim(planar) + |G| (Frobenius reciprocity)
  assert hidden.basis.shape[0] == 2 + group.order
  actions = support.move_action_rep(group)
  h = hidden(x)
  support.check_layer(lambda: SymmetrizerDense(1, reg, actions), h, direct_sum(*[reg] * 3), actions)


# ---------------------------------------------------------------- stacked networks
def _stacks(group):
  rep = support.state_rep(group)
  actions = support.move_action_rep(group)
  reg = Representation.regular(group)

  def gcnn_actor(x):
    h = GroupLift(8, rep, activation="tanh")(x)
    h = GroupConv(8, group, activation="tanh")(h)
    return EquivariantLogits(actions)(h)

  def gcnn_critic(x):
    h = GroupLift(8, rep, activation="relu")(x)
    h = GroupConv(8, group, activation="relu")(h)
    return GroupPool("max")(h)

  def permutation_actor(x):
    h = GroupLift(8, rep, activation="tanh")(x)
    h = PermutationEquivariantDense(8, activation="tanh")(h)
    return EquivariantLogits(actions)(h)

  def symmetrizer_actor(x):
    h = SymmetrizerDense(4, rep, reg, activation="relu")(x)
    h = SymmetrizerDense(4, reg, reg, activation="relu")(h)
    return SymmetrizerDense(1, reg, actions)(h)

  def mean_pool_model(x):
    h = GroupLift(8, rep, activation="tanh")(x)
    h = GroupConv(rep.dim, group)(h)
    return EquivariantMeanPool(rep)(h)

  return rep, {
    "gcnn_actor": (gcnn_actor, actions),
    "gcnn_critic": (gcnn_critic, invariant(group)),
    "permutation_actor": (permutation_actor, actions),
    "symmetrizer_actor": (symmetrizer_actor, actions),
    "mean_pool_model": (mean_pool_model, rep),
  }


@support.over_layer_groups
def test_stacked_networks_are_equivariant(gname):
  group = support.GROUPS[gname]
  rep, stacks = _stacks(group)
  x = support.random_input((64, rep.dim))
  for name, (fn, out_rep) in stacks.items():
    model = support.functional_model(fn, x.shape)
    assert_equivariant(model, x, rep, out_rep, atol=1e-5)
    xla = tf.function(model, jit_compile=True)
    assert_equivariant(xla, x, rep, out_rep, atol=1e-5)


def test_save_and_reload_in_a_fresh_process(tmp_path):
  cases = []
  for gname in ("C2", "D4"):
    group = support.GROUPS[gname]
    rep, stacks = _stacks(group)
    x = support.random_input((8, rep.dim))
    for name, (fn, _) in stacks.items():
      cases.append((f"{gname}_{name}", support.functional_model(fn, x.shape), x))
    images = keras.Input((group.order, rep.dim))
    reference = keras.Input((rep.dim,))
    prox = keras.Model([images, reference], ProximalPool(rep)([images, reference]))
    pair = [support.random_input((8, group.order, rep.dim)), x]
    cases.append((f"{gname}_proximal", prox, pair))
  reload_cases = []
  for name, model, x in cases:
    if isinstance(x, list):  # multi-input: save through a single concatenated input
      g, d = x[0].shape[1], x[0].shape[2]
      flat = keras.Input((g * d + d,))
      imgs = keras.layers.Reshape((g, d))(flat[:, : g * d])
      out = model([imgs, flat[:, g * d :]])
      model = keras.Model(flat, out)
      x = tf.concat([tf.reshape(x[0], [8, -1]), x[1]], axis=1)
    reload_cases.append((name, model, x))
  names = support.reload_in_fresh_process(reload_cases, str(tmp_path))
  assert len(names) == 12


# ---------------------------------------------------------------------- bad input
def test_bad_input_fails_clearly():
  c2, c4 = cyclic(2), cyclic(4)
  rep2 = Representation(c2, [np.eye(4), -np.eye(4)])
  with pytest.raises(ValueError, match="expects a group axis of size 4.*different group"):
    GroupConv(4, c4)(GroupLift(3, rep2)(tf.ones([2, 4])))
  with pytest.raises(ValueError, match="has dimension 4 but the input has width 5"):
    GroupLift(3, rep2)(tf.ones([2, 5]))
  with pytest.raises(ValueError, match="rank 2"):
    GroupLift(3, rep2)(tf.ones([2, 2, 4]))
  with pytest.raises(ValueError, match="rank 3"):
    GroupConv(3, c2)(tf.ones([2, 4]))
  with pytest.raises(ValueError, match="expected a positive integer, received units=0"):
    GroupConv(0, c2)
  with pytest.raises(ValueError, match="permutation representation"):
    EquivariantLogits(rep2)
  with pytest.raises(ValueError, match="group axis of size 2"):
    EquivariantLogits(Representation.regular(c2))(tf.ones([2, 4, 3]))
  with pytest.raises(ValueError, match="mode must be one of"):
    GroupPool("sum")
  with pytest.raises(ValueError, match="Unknown distance 'cosine'.*'l1', 'l2'"):
    ProximalPool(rep2, distance="cosine")
  with pytest.raises(ValueError, match="two inputs"):
    ProximalPool(rep2)(tf.ones([2, 2, 4]))
  with pytest.raises(ValueError, match="transition images have width 3"):
    EquivariantMeanPool(rep2)(tf.ones([2, 2, 3]))
  with pytest.raises(ValueError, match="not a multiple of input_rep dimension 4"):
    SymmetrizerDense(2, rep2, Representation.regular(c2))(tf.ones([2, 6]))
  with pytest.raises(ValueError, match="Not a homomorphism"):
    GroupLift(
      3, {"group": c2.get_config(), "matrices": [np.eye(2).tolist(), (2 * np.eye(2)).tolist()]}
    )


@pytest.mark.parametrize("gname", ["C2", "C4", "D4", "D3"])
def test_weight_gradients_are_dense_with_the_true_norm(gname):
  """Every weight the equivariant layers gather |G| times (GroupConv's kernel blocks,
  EquivariantLogits' bias per action orbit, GroupLift's folded kernel) gets a dense gradient,
  equal to the sum TensorFlow's `IndexedSlices` stands for, so that `clip_by_global_norm`
  (PPO, the world models) sees the gradient's true norm."""
  from tf_equirl.params import clip_by_global_norm  # pylint: disable=import-outside-toplevel

  group = support.GROUPS[gname]
  rep = support.state_rep(group)
  inp = tf.keras.Input((rep.dim,))
  h = GroupLift(5, rep, activation="tanh", implementation="spatial")(inp)
  h = GroupConv(5, group, activation="tanh", implementation="spatial")(h)
  model = tf.keras.Model(inp, EquivariantLogits(support.move_action_rep(group))(h))
  x = support.random_input((7, rep.dim))
  weights = support.random_input((7, model.output_shape[-1]), seed=3)

  def gradients(dense_layers: bool):
    with tf.GradientTape() as tape:
      if dense_layers:
        out = model(x)
      else:  # the same forward pass through TensorFlow's own gathers
        lift, conv, logits = model.layers[1:]
        f = tf.einsum("hij,ju->ihu", lift._lift_matrices.astype(np.float32), lift.kernel)
        f = tf.reshape(tf.matmul(x, tf.reshape(f, [rep.dim, -1])), [-1, group.order, 5])
        f = tf.tanh(f + lift.bias)
        blocks = tf.gather(conv.kernel, conv._expand_index)
        k = tf.reshape(tf.transpose(blocks, [0, 2, 1, 3]), [group.order * 5, -1])
        f = tf.tanh(tf.reshape(tf.reshape(f, [7, -1]) @ k, [7, group.order, 5]) + conv.bias)
        out = tf.reshape(f, [7, -1]) @ logits.folded_kernel() + tf.gather(
          logits.bias, logits._orbits
        )
      loss = tf.reduce_sum(out * weights)
    return tape.gradient(loss, model.trainable_variables)

  ours, reference = gradients(True), gradients(False)
  assert all(isinstance(g, tf.Tensor) for g in ours)
  assert any(isinstance(g, tf.IndexedSlices) for g in reference)  # what the fix is about
  for g, r in zip(ours, reference):
    np.testing.assert_allclose(g.numpy(), tf.convert_to_tensor(r).numpy(), atol=1e-5)
  dense_norm = np.sqrt(sum(np.sum(tf.convert_to_tensor(r).numpy() ** 2) for r in reference))
  assert abs(float(clip_by_global_norm(reference, 1.0)[1]) - dense_norm) < 1e-4 * dense_norm
  assert abs(float(clip_by_global_norm(ours, 1.0)[1]) - dense_norm) < 1e-4 * dense_norm
  # TensorFlow's own norm of the IndexedSlices counts each repeated row separately.
  assert abs(float(tf.linalg.global_norm(reference)) - dense_norm) > 1e-3 * dense_norm
