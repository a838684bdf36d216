"""Renderers and pixel observations: exact mirror symmetry of the pictures, frame stacking,
the wrapped environment's rewards, a compiled rollout, and errors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.envs import CartPole, Catch, make
from tf_equirl.envs.render import pixels, register_renderer, render
from tf_equirl.groups import PlaneAction
from tf_equirl.groups.plane import transform_image
from tf_equirl.layers import GroupLiftConv2D, GroupPool
from tf_equirl.testing import assert_equivariant, invariant

pytestmark = pytest.mark.seed(77)


def _cartpole_states(n, seed=0):
  """States over and beyond the termination limits, some with an upright pole or at x = 0."""
  rng = np.random.default_rng(seed)
  states = rng.uniform(-1, 1, (n, 4)) * np.array([3.0, 2.0, 0.5, 2.0])
  states[:4, 2] = 0.0
  states[4:8, 0] = 0.0
  return tf.constant(states.astype(np.float32))


@pytest.mark.parametrize("size", [15, 31, 85])
def test_cartpole_picture_of_the_mirrored_state_is_the_mirrored_picture(size):
  env = CartPole()
  s = _cartpole_states(64)
  picture = render(env, s, size)
  assert picture.shape == (64, size, size, 3)
  assert picture.dtype == tf.float32 and 0.0 <= float(tf.reduce_min(picture))
  assert float(tf.reduce_max(picture)) <= 1.0
  np.testing.assert_array_equal(render(env, -s, size), transform_image(picture, "D1", 1))
  # The pictures tell the states apart: the cart moves with x, the pole with theta.
  assert not np.array_equal(picture[4], picture[5])
  assert not np.array_equal(render(env, s * [1, 1, 0, 1], size), render(env, s, size))


@pytest.mark.parametrize("size", [21, 45])
def test_catch_picture_of_the_mirrored_board_is_the_mirrored_picture(size):
  env = Catch()
  rows, cols = env.rows, env.columns
  grid = np.stack(np.meshgrid(np.arange(rows), np.arange(cols), np.arange(cols), indexing="ij"), -1)
  states = tf.constant(grid.reshape(-1, 3), tf.int32)  # every (ball_row, ball_col, paddle)
  mirrored = tf.stack([states[:, 0], cols - 1 - states[:, 1], cols - 1 - states[:, 2]], axis=-1)
  picture = render(env, states, size)
  np.testing.assert_array_equal(render(env, mirrored, size), transform_image(picture, "D1", 1))
  # Every state has its own picture.
  flat = picture.numpy().reshape(len(states), -1)
  assert len(np.unique(flat, axis=0)) == len(states)


def test_pixel_observations_stack_the_last_frames_and_keep_the_rewards():
  frames, size = 3, 15
  env = pixels(Catch(batch_size=4), size=size, frame_stack=frames)
  inner = env.inner
  assert env.observation_spec().shape == (size, size, 3 * frames)
  state, ts = env.pure_reset(5)
  inner_state, inner_ts = inner.pure_reset(5)
  first = render(inner, inner_state.physics, size)
  np.testing.assert_array_equal(ts.observation, tf.concat([first] * frames, axis=-1))
  history = [first] * frames
  actions = np.random.default_rng(0).integers(0, 3, (12, 4))
  for a in actions:
    state, ts = env.pure_step(state, tf.constant(a, tf.int32))
    inner_state, inner_ts = inner.pure_step(inner_state, tf.constant(a, tf.int32))
    np.testing.assert_array_equal(ts.reward, inner_ts.reward)
    np.testing.assert_array_equal(ts.step_type, inner_ts.step_type)
    np.testing.assert_array_equal(state.physics[:, -1], inner_state.physics)
    latest = render(inner, inner_state.physics, size)
    reset = (inner_ts.step_type == 0).numpy()[:, None, None, None]
    history = [np.where(reset, latest, h) for h in history[1:]] + [latest]
    np.testing.assert_array_equal(ts.observation, tf.concat(history, axis=-1))


def test_the_symmetry_of_pixel_observations_is_the_mirror_of_the_pictures():
  env = make("CartPole-v1", batch_size=8, observation="pixels", image_size=15, frame_stack=2)
  symmetry = env.symmetry
  assert isinstance(symmetry.state_rep, PlaneAction)
  assert symmetry.state_dim == 15 * 15 * 6
  assert symmetry.group.order == 2 and env.get_symmetry("C2") is not None
  stack = tf.stack([_cartpole_states(8, 1), _cartpole_states(8, 2)], axis=1)  # [B, 2, 4]
  obs = env.observe(stack)
  mirrored = env.observe(-stack)
  np.testing.assert_array_equal(symmetry.state_rep.transform(obs, 1), mirrored)
  flat = tf.reshape(obs, [8, -1])  # as the PPO augmentation sees observations
  np.testing.assert_array_equal(
    symmetry.state_rep.transform(flat, 1), tf.reshape(mirrored, [8, -1])
  )
  # An encoder built on the plane layers is exactly invariant to the mirror of observations.
  encoder = tf.keras.Sequential([GroupLiftConv2D(2, "D1", kernel_size=5, strides=5), GroupPool()])
  features = lambda x: tf.reduce_sum(encoder(x), axis=[1, 2])  # noqa: E731
  assert_equivariant(features, obs, symmetry.state_rep, invariant(symmetry.group), atol=1e-5)


def test_a_compiled_rollout_renders_inside_xla():
  """Rendering runs inside a jit-compiled `tf.while_loop` of steps, with the same pictures,
  rewards and mirror symmetry as eager execution."""
  env = pixels(CartPole(batch_size=4), size=15, frame_stack=2)
  steps = 8
  actions = tf.constant(np.random.default_rng(1).integers(0, 2, (steps, 4)), tf.int32)

  def rollout(seed):
    state, ts = env.pure_reset(seed)

    def body(t, state, total, mirror_gap):
      state, ts, obs = env.pure_step_and_reset(state, actions[t])
      mirrored = env.observe(-state.physics)
      gap = tf.reduce_max(tf.abs(transform_image(obs, "D1", 1) - mirrored))
      return t + 1, state, total + ts.reward, tf.maximum(mirror_gap, gap)

    _, state, total, gap = tf.while_loop(
      lambda t, *_: t < steps, body, (0, state, tf.zeros([4]), tf.constant(0.0))
    )
    return env.observe(state.physics), total, gap

  eager = rollout(tf.constant(3, tf.int64))
  compiled = tf.function(rollout, jit_compile=True)(tf.constant(3, tf.int64))
  assert float(compiled[2]) == 0.0 and float(eager[2]) == 0.0  # exact mirror, in XLA too
  np.testing.assert_array_equal(compiled[1], eager[1])
  np.testing.assert_allclose(compiled[0], eager[0], atol=1e-6)
  assert float(tf.reduce_sum(compiled[0])) > 0.0


def test_bad_pixel_requests_fail_clearly():
  with pytest.raises(ValueError, match="observation must be 'state' or 'pixels'.*'rgb'"):
    make("CartPole-v1", observation="rgb")
  with pytest.raises(ValueError, match=r"\['frame_stack'\] only apply to observation='pixels'"):
    make("CartPole-v1", frame_stack=3)
  with pytest.raises(ValueError, match="No renderer for environment 'GridWorld'"):
    make("GridWorld-v0", observation="pixels")
  with pytest.raises(ValueError, match="odd image size.*size=64"):
    make("Catch-v0", observation="pixels", image_size=64)
  with pytest.raises(ValueError, match="positive integer frame_stack.*frame_stack=0"):
    pixels(CartPole(), size=15, frame_stack=0)
  with pytest.raises(ValueError, match="already registered"):
    register_renderer("CartPole-v1", lambda env, s, size: s, "D1")
  with pytest.raises(ValueError, match="Unknown plane group plane_group='Z2'"):
    register_renderer("Other", lambda env, s, size: s, "Z2")
