"""Layers on the image plane through the one harness, under C4, D1, D2 and D4, and the plane
groups' action on images."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.groups import PlaneAction, Representation, plane_group
from tf_equirl.groups.plane import plane_permutations, transform_image
from tf_equirl.layers import (
  CentredPool2D,
  GroupConv2D,
  GroupLiftConv2D,
  GroupPool,
  RelaxedGroupConv2D,
  RelaxedGroupLiftConv2D,
  ResidualGroupConv2D,
  ResidualGroupLiftConv2D,
)
from tf_equirl.testing import assert_equivariant, equivariance_error, relaxed_weight_spread

import support

keras = tf.keras
PLANE_GROUPS = ["C4", "D1", "D2", "D4"]
over_plane_groups = pytest.mark.parametrize("gname", PLANE_GROUPS)
BATCH, SIZE, CHANNELS = 3, 9, 2

pytestmark = pytest.mark.seed(4321)  # tests/conftest.py seeds each test


def _actions(gname):
  """`(on images, on regular features)`."""
  return PlaneAction(gname), PlaneAction(gname, regular=True)


def _image(size=SIZE, channels=CHANNELS, seed=0):
  return support.random_input((BATCH, size, size, channels), seed=seed)


def _features(gname, size=SIZE, channels=CHANNELS, seed=1):
  return support.random_input((BATCH, size, size, plane_group(gname).order, channels), seed=seed)


# ------------------------------------------------------------------- the group action
@pytest.mark.parametrize("gname", ["C2", "C4", "D1", "D2", "D4"])
def test_plane_action_is_a_group_action_by_pixel_permutations(gname):
  group = plane_group(gname)
  x = _image(size=5, channels=1)
  for g in group.elements():
    for h in group.elements():
      twice = transform_image(transform_image(x, gname, h), gname, g)
      np.testing.assert_array_equal(twice, transform_image(x, gname, int(group.table[g, h])))
  # The index tables the layers gather with are the tf ops' pixel permutations.
  perm = plane_permutations(5, gname)
  flat = tf.reshape(x, [BATCH, 25])
  for g in group.elements():
    np.testing.assert_array_equal(
      tf.reshape(transform_image(x, gname, g), [BATCH, 25]), tf.gather(flat, perm[g], axis=1)
    )
  # On flattened images it is the permutation representation of `permutation`.
  action = PlaneAction(gname, size=5, channels=2)
  rep = Representation.from_permutations(group, action.permutation)
  x2 = _image(size=5, channels=2)
  for g in group.elements():
    moved = tf.reshape(action.transform(x2, g), [BATCH, -1])
    np.testing.assert_array_equal(moved, rep.transform(tf.reshape(x2, [BATCH, -1]), g))
    np.testing.assert_array_equal(moved, action.transform(tf.reshape(x2, [BATCH, -1]), g))


def test_plane_elements_are_the_expected_moves():
  x = tf.reshape(tf.range(9, dtype=tf.float32), [1, 3, 3, 1])
  np.testing.assert_array_equal(transform_image(x, "C4", 1), tf.image.rot90(x))
  np.testing.assert_array_equal(transform_image(x, "D1", 1), tf.reverse(x, [2]))
  np.testing.assert_array_equal(transform_image(x, "D2", 1), tf.image.rot90(x, 2))
  np.testing.assert_array_equal(transform_image(x, "D4", 5), tf.image.rot90(tf.reverse(x, [2])))


# ------------------------------------------------------------------------ the harness
@over_plane_groups
def test_group_lift_conv2d(gname):
  on_images, on_features = _actions(gname)
  n, x = plane_group(gname).order, _image()
  layer = support.check_layer(
    lambda: GroupLiftConv2D(3, gname, kernel_size=3, activation="tanh"),
    x,
    on_images,
    on_features,
    expected_params=3 * 3 * CHANNELS * 3 + 3,
  )
  assert layer(x).shape == (BATCH, SIZE - 2, SIZE - 2, n, 3)
  assert np.std(layer(x).numpy(), axis=3).max() > 1e-3  # the group axis is not constant


@over_plane_groups
def test_group_conv2d(gname):
  _, on_features = _actions(gname)
  n, f = plane_group(gname).order, _features(gname)
  layer = support.check_layer(
    lambda: GroupConv2D(3, gname, kernel_size=3, strides=3, activation="relu"),
    f,
    on_features,
    on_features,
    expected_params=3 * 3 * n * CHANNELS * 3 + 3,
  )
  assert layer(f).shape == (BATCH, 3, 3, n, 3)


@over_plane_groups
def test_pooling(gname):
  on_images, on_features = _actions(gname)
  f = _features(gname)
  for mode, padding in (("max", "valid"), ("mean", "same")):
    pool = support.check_layer(
      lambda: CentredPool2D(3, strides=3 if padding == "valid" else 1, padding=padding, mode=mode),
      f,
      on_features,
      on_features,
    )
    assert pool(f).shape[1] == (3 if padding == "valid" else SIZE)
  support.check_layer(lambda: CentredPool2D(5, 2), _image(), on_images, on_images)
  pooled = support.check_layer(lambda: GroupPool("max"), f, on_features, on_images)
  np.testing.assert_array_equal(pooled(f), tf.reduce_max(f, axis=3))


@over_plane_groups
def test_relaxed_conv2d_layers(gname):
  on_images, on_features = _actions(gname)
  n, x, f = plane_group(gname).order, _image(), _features(gname)
  # spread_decay=1 keeps the weights equal over the group, so equivariance holds after the
  # harness' training step too.
  support.check_layer(
    lambda: RelaxedGroupLiftConv2D(3, gname, num_kernels=2, spread_decay=1.0),
    x,
    on_images,
    on_features,
    expected_params=2 * 9 * CHANNELS * 3 + n * 2 + 3,
  )
  support.check_layer(
    lambda: RelaxedGroupConv2D(2, gname, kernel_size=5, strides=2, spread_decay=1.0),
    f,
    on_features,
    on_features,
    expected_params=2 * 25 * n * CHANNELS * 2 + n * 2 + 2,
  )
  for layer, inp, rep_in in (
    (RelaxedGroupLiftConv2D(3, gname, activation="tanh"), x, on_images),
    (RelaxedGroupConv2D(3, gname, activation="tanh", parameterization="centered"), f, on_features),
  ):
    assert_equivariant(layer, inp, rep_in, on_features, atol=1e-5)  # exact at initialisation
    assert all(v == 0.0 for v in relaxed_weight_spread(layer).values())
    weights = (
      layer.relaxed_weights if layer.parameterization == "direct" else layer.relaxed_deviation
    )
    weights.assign_add(0.3 * tf.random.normal(weights.shape))
    assert equivariance_error(layer, inp, rep_in, on_features) > 1e-3
    assert min(relaxed_weight_spread(layer).values()) > 0.05


@over_plane_groups
def test_residual_conv2d_layers(gname):
  on_images, on_features = _actions(gname)
  n, x, f = plane_group(gname).order, _image(), _features(gname)
  lift = support.check_layer(
    lambda: ResidualGroupLiftConv2D(3, gname, activation="tanh"),
    x,
    on_images,
    on_features,
    expected_params=9 * CHANNELS * 3 + 3 + 9 * CHANNELS * n * 3,
    check_equivariance=False,
  )
  conv = support.check_layer(
    lambda: ResidualGroupConv2D(2, gname, padding="same"),
    f,
    on_features,
    on_features,
    expected_params=9 * n * CHANNELS * 2 + 2 + 9 * n * CHANNELS * n * 2,
    check_equivariance=False,
  )
  # The harness' training step moved the free path off zero: no longer equivariant.
  assert equivariance_error(lift, x, on_images, on_features) > 1e-4
  assert equivariance_error(conv, f, on_features, on_features) > 1e-4
  assert min(relaxed_weight_spread(lift).values()) > 0.0
  # At initialisation (V = 0) both are exactly equivariant.
  assert_equivariant(ResidualGroupLiftConv2D(3, gname), x, on_images, on_features, atol=1e-5)
  assert_equivariant(ResidualGroupConv2D(2, gname), f, on_features, on_features, atol=1e-5)


# ------------------------------------------------------------------ the output, as specified
@pytest.mark.parametrize("gname", ["C4", "D4"])
def test_kernels_are_the_turned_kernel_with_a_permuted_group_axis(gname):
  """Output `h` of the lift uses `T_h W` (tf.reverse, tf.image.rot90); the group conv's block
  `(k', h)` is `(T_h W)[., h^-1 k']`."""
  group = plane_group(gname)
  n = group.order
  lift = GroupLiftConv2D(2, gname, kernel_size=5)
  lift.build((None, 9, 9, 3))
  kernel = lift.expanded_kernel().numpy().reshape(5, 5, 3, n, 2)
  w = lift.kernel.numpy()  # [k, k, c, u]
  for h in group.elements():
    turned = transform_image(w.reshape(1, 5, 5, 6), gname, h).numpy().reshape(w.shape)
    np.testing.assert_array_equal(kernel[:, :, :, h], turned)
  conv = GroupConv2D(2, gname, kernel_size=3)
  conv.build((None, 9, 9, n, 3))
  expanded = conv.expanded_kernel().numpy().reshape(3, 3, n, 3, n, 2)
  w = conv.kernel.numpy()  # [k, k, |G|, c, u]
  for h in group.elements():
    turned = transform_image(w.reshape(1, 3, 3, -1), gname, h).numpy().reshape(w.shape)
    for k in group.elements():
      source = group.table[group.inverses[h], k]  # h^-1 k
      np.testing.assert_array_equal(expanded[:, :, k, :, h], turned[:, :, source])


def test_relaxed_output_is_the_weighted_sum_of_exact_layers():
  """With weights `w_l(h)`, output `h` of the relaxed lift is `sum_l w_l(h)` times output `h`
  of the exact lift with kernel `W_l`."""
  relaxed = RelaxedGroupLiftConv2D(2, "D2", num_kernels=3, use_bias=False)
  x = _image()
  relaxed(x)
  relaxed.relaxed_weights.assign(tf.random.normal(relaxed.relaxed_weights.shape))
  expected = 0.0
  for ell in range(3):
    exact = GroupLiftConv2D(2, "D2", use_bias=False)
    exact(x)
    exact.kernel.assign(relaxed.kernel[ell])
    w = relaxed.relaxed_weights[:, ell]  # [|G|]
    expected += exact(x) * tf.reshape(w, [1, 1, 1, 4, 1])
  np.testing.assert_allclose(relaxed(x), expected, atol=1e-5)


def test_an_encoder_from_85x85_to_7x7_is_equivariant():
  """The seed's encoder geometry: 85 -> 41 -> 19 -> 9 -> 7, exactly D4-equivariant."""
  on_images, on_features = _actions("D4")
  inp = keras.Input((85, 85, 3))
  h = RelaxedGroupLiftConv2D(2, "D4", kernel_size=5, strides=2, activation="relu")(inp)
  h = GroupConv2D(2, "D4", kernel_size=5, strides=2, activation="relu")(h)
  h = CentredPool2D(3, strides=2)(h)
  h = ResidualGroupConv2D(3, "D4", kernel_size=3, activation="relu")(h)
  encoder = keras.Model(inp, h)
  assert [layer.output_shape[1] for layer in encoder.layers[1:]] == [41, 19, 9, 7]
  x = support.random_input((2, 85, 85, 3), seed=5)
  assert_equivariant(encoder, x, on_images, on_features, atol=1e-5)
  invariant_image = keras.Model(inp, GroupPool()(h))
  assert_equivariant(invariant_image, x, on_images, on_images, atol=1e-5)


# ------------------------------------------------------------------------- bad input
def test_bad_input_fails_clearly():
  with pytest.raises(ValueError, match="Unknown plane group.*'C3'"):
    GroupLiftConv2D(3, "C3")
  with pytest.raises(ValueError, match="not a plane group"):
    GroupConv2D(3, plane_group("D4").__class__(np.array([[0]]), name="D4"))
  with pytest.raises(ValueError, match="odd kernel_size.*kernel_size=4"):
    GroupLiftConv2D(3, "C4", kernel_size=4)
  with pytest.raises(ValueError, match="padding must be one of"):
    GroupLiftConv2D(3, "C4", padding="causal")
  with pytest.raises(ValueError, match="odd pool_size"):
    CentredPool2D(2)
  with pytest.raises(ValueError, match="odd grid size.*8x8"):
    GroupLiftConv2D(3, "C4")(tf.zeros([1, 8, 8, 1]))
  with pytest.raises(ValueError, match="square grid"):
    GroupLiftConv2D(3, "C4")(tf.zeros([1, 9, 7, 1]))
  with pytest.raises(ValueError, match=r"rank 4 with layout \[batch, H, W, channels\]"):
    GroupLiftConv2D(3, "C4")(tf.zeros([1, 9, 9]))
  with pytest.raises(ValueError, match=r"rank 5 with layout \[batch, H, W, \|G\|, channels\]"):
    GroupConv2D(3, "C4")(tf.zeros([1, 9, 9, 4]))
  with pytest.raises(ValueError, match="group axis \\(3\\) of size 8"):
    GroupConv2D(3, "D4")(tf.zeros([1, 9, 9, 4, 2]))
  with pytest.raises(ValueError, match="centre.*multiple of 2 \\* strides = 4"):
    GroupLiftConv2D(3, "D4", kernel_size=3, strides=2)(tf.zeros([1, 85, 85, 3]))
  with pytest.raises(ValueError, match="centre"):
    CentredPool2D(3, strides=2)(tf.zeros([1, 19, 19, 8, 2])[:, :17, :17])
  with pytest.raises(ValueError, match="odd positive grid size.*size=8"):
    PlaneAction("D4", size=8)
