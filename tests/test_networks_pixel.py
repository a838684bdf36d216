"""Pixel encoders: exact equivariance of the group kinds (relaxed and residual at
initialisation) under D1, D2, C4 and D4, the frame-wise flattening, matched parameter counts,
safe-mode reloads, a pixel environment's symmetry, and errors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.envs import make
from tf_equirl.groups import PlaneAction, plane_group
from tf_equirl.layers import GroupFlatten2D
from tf_equirl.networks import build_pixel_encoder
from tf_equirl.networks.pixel import CNN_CHANNELS
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant, equivariance_error, invariant

import support

pytestmark = pytest.mark.seed(2468)

SIZE = 53  # latent 3x3: the frame-wise flattening moves pixels


def _pictures(n=2, size=SIZE, frames=2, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.uniform(0, 1, (n, size, size, 3 * frames)).astype(np.float32))


@pytest.mark.parametrize("gname", ["D1", "D2", "C4", "D4"])
@pytest.mark.parametrize("kind", ["gcnn", "relaxed", "rpp"])
def test_group_encoders_are_equivariant(kind, gname):
  encoder = build_pixel_encoder(gname, kind, image_size=SIZE, frame_stack=2, channels=3)
  x = _pictures()
  order = plane_group(gname).order
  assert encoder(x).shape == (2, order, 3 * 3 * 3)
  assert_equivariant(encoder, x, PlaneAction(gname), plane_group(gname), atol=1e-5)


def test_vector_outputs_are_invariant_and_the_cnn_is_not():
  x = _pictures(seed=1)
  options = dict(image_size=SIZE, frame_stack=2, channels=3, output="vector")
  encoder = build_pixel_encoder("D4", "gcnn", **options)
  assert encoder(x).shape == (2, 27)
  assert_equivariant(encoder, x, PlaneAction("D4"), invariant(plane_group("D4")), atol=1e-5)
  cnn = build_pixel_encoder("D4", "cnn", **options)
  assert equivariance_error(cnn, x, PlaneAction("D4"), invariant(plane_group("D4"))) > 1e-3


@pytest.mark.parametrize("gname", ["D2", "D4"])
def test_group_flatten_reads_each_element_in_its_frame(gname):
  order = plane_group(gname).order
  x = tf.constant(np.random.default_rng(2).normal(size=(2, 5, 5, order, 3)), tf.float32)
  layer = support.check_layer(
    lambda: GroupFlatten2D(gname), x, PlaneAction(gname, regular=True), plane_group(gname)
  )
  y = layer(x).numpy()
  assert y.shape == (2, order, 75)
  # A permutation of the entries: nothing pooled away; element 0 reads the grid as it is.
  np.testing.assert_array_equal(np.sort(y.reshape(2, -1)), np.sort(x.numpy().reshape(2, -1)))
  np.testing.assert_array_equal(y[:, 0], x.numpy()[:, :, :, 0].reshape(2, -1))


def test_default_widths_match_the_cnn_parameter_count():
  cnn = build_pixel_encoder("D2", "cnn", image_size=37, output="vector")
  target = count_params(cnn)
  assert cnn.output_shape == (None, CNN_CHANNELS)  # a 1x1 latent
  gcnn = build_pixel_encoder("D2", "gcnn", image_size=37)
  width = gcnn.output_shape[-1]
  params = count_params(gcnn)
  assert abs(params - target) <= 0.1 * target
  # The chosen width is the closest: one channel more or less is farther from the target.
  for other in (width - 1, width + 1):
    neighbour = build_pixel_encoder("D2", "gcnn", image_size=37, channels=other)
    assert abs(count_params(neighbour) - target) >= abs(params - target)


@pytest.mark.parametrize("kind", ["cnn", "gcnn", "relaxed", "rpp"])
def test_encoders_reload_in_safe_mode(kind):
  output = "vector" if kind == "cnn" else "regular"
  options = dict(image_size=37, frame_stack=1, channels=2, output=output)
  encoder = build_pixel_encoder("D2", kind, **options)
  support.keras_round_trip(encoder, _pictures(size=37, frames=1, seed=3))


def test_a_pixel_environment_moves_the_encoding_as_its_symmetry_says():
  """Reacher's pictures under its D2 (flips mapped to the plane's elements): the invariant
  encoding of an observation equals that of the transformed observation."""
  env = make("Reacher-v0", batch_size=2, observation="pixels", image_size=37, frame_stack=3)
  _, ts = env.pure_reset(3)
  encoder = build_pixel_encoder("D2", "gcnn", image_size=37, channels=2, output="vector")
  symmetry = env.symmetry
  assert_equivariant(
    encoder, ts.observation, symmetry.state_rep, invariant(symmetry.group), atol=1e-5
  )


@pytest.mark.parametrize("kind", ["cnn", "relaxed"])
def test_encoder_layer_names_are_the_same_in_every_build(kind):
  output = "vector" if kind == "cnn" else "regular"
  names = [
    [layer.name for layer in build_pixel_encoder("D1", kind, 37, 1, 2, output=output).layers]
    for _ in range(2)
  ]
  assert names[0] == names[1]
  assert {"conv_1", "conv_2", "pool", "conv_3", "flatten"} <= set(names[0])


def test_bad_encoder_requests_fail_clearly():
  with pytest.raises(ValueError, match="unknown kind='mlp'"):
    build_pixel_encoder("D1", "mlp")
  with pytest.raises(ValueError, match="output must be one of.*output='flat'"):
    build_pixel_encoder("D1", "gcnn", output="flat")
  with pytest.raises(ValueError, match="kind='cnn' has no group axis"):
    build_pixel_encoder("D1", "cnn")
  with pytest.raises(ValueError, match=r"image_size=41 does not keep the grid centred.*37, 53"):
    build_pixel_encoder("D1", "gcnn", image_size=41)
  with pytest.raises(ValueError, match="Unknown plane group plane_group='Z3'"):
    build_pixel_encoder("Z3", "gcnn")
  with pytest.raises(ValueError, match="integer channels >= 1, received channels=0"):
    build_pixel_encoder("D1", "gcnn", image_size=37, channels=0)
  with pytest.raises(ValueError, match="GroupFlatten2D expects regular features"):
    GroupFlatten2D("D2")(tf.zeros([1, 5, 5, 8, 2]))
