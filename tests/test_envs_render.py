"""Renderers and pixel observations: exact mirror symmetry of the pictures, frame stacking,
the wrapped environment's rewards, a compiled rollout, and errors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.envs import CartPole, Catch, Reacher, make
from tf_equirl.envs.render import ANGLE_STEPS, _angle_tables, pixels, register_renderer, render
from tf_equirl.envs.render import renderer_for
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


@pytest.mark.parametrize("spacing", [1, 2, 3])
def test_pixel_observations_stack_the_last_frames_and_keep_the_rewards(spacing):
  """The observation stacks the pictures of the states `spacing` env steps apart, ending with
  the latest (a reset fills the history with the first state)."""
  frames, size = 3, 15
  env = pixels(Catch(batch_size=4), size=size, frame_stack=frames, frame_spacing=spacing)
  inner = env.inner
  assert env.observation_spec().shape == (size, size, 3 * frames)
  assert env.history_length == (frames - 1) * spacing + 1
  state, ts = env.pure_reset(5)
  inner_state, inner_ts = inner.pure_reset(5)
  first = render(inner, inner_state.physics, size)
  np.testing.assert_array_equal(ts.observation, tf.concat([first] * frames, axis=-1))
  history = [first] * env.history_length
  actions = np.random.default_rng(0).integers(0, 3, (14, 4))
  for a in actions:
    state, ts = env.pure_step(state, tf.constant(a, tf.int32))
    inner_state, inner_ts = inner.pure_step(inner_state, tf.constant(a, tf.int32))
    np.testing.assert_array_equal(ts.reward, inner_ts.reward)
    np.testing.assert_array_equal(ts.step_type, inner_ts.step_type)
    np.testing.assert_array_equal(state.physics[:, -1], inner_state.physics)
    latest = render(inner, inner_state.physics, size)
    reset = (inner_ts.step_type == 0).numpy()[:, None, None, None]
    history = [np.where(reset, latest, h) for h in history[1:]] + [latest]
    drawn = history[::spacing]
    assert len(drawn) == frames
    np.testing.assert_array_equal(ts.observation, tf.concat(drawn, axis=-1))


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


# Each task with states beyond its usual ranges: (name, half-width of the uniform draw per
# component of the physics state).
_CONTROL = [
  ("Pendulum-v1", [7.0, 8.0]),
  ("CartPoleSwingup-v0", [1.8, 7.0, 3.0, 5.0]),
  ("AcrobotSwingup-v0", [7.0, 7.0, 3.0, 3.0]),
  ("Reacher-v0", [7.0, 2.8, 3.0, 3.0, 0.2, 0.2]),
]


@pytest.mark.parametrize("name,high", _CONTROL, ids=[n for n, _ in _CONTROL])
def test_control_pictures_move_exactly_as_the_states(name, high):
  """render(g s) == T_g render(s) bit for bit for every element of the task's group."""
  env = make(name)
  renderer = renderer_for(env)
  action = PlaneAction(renderer.plane_group, elements=renderer.elements)
  rng = np.random.default_rng(5)
  states = tf.constant((rng.uniform(-1, 1, (96, len(high))) * high).astype(np.float32))
  size = 33
  picture = render(env, states, size)
  assert picture.shape == (96, size, size, 3)
  for g in env.symmetry.group.elements():
    moved = render(env, env.transform_physics(states, g), size)
    np.testing.assert_array_equal(moved, action.transform(picture, g), err_msg=f"element {g}")
  # Every state draws something, and the picture follows the first coordinate (an angle or x).
  assert bool(tf.reduce_all(tf.reduce_any(picture > 0, axis=[1, 2, 3])))
  shifted = render(env, states + np.eye(len(high), dtype=np.float32)[0] * 0.5, size)
  assert bool(tf.reduce_all(tf.reduce_any(shifted != picture, axis=[1, 2, 3])))


@pytest.mark.parametrize("name,high", _CONTROL + [("CartPole-v1", [3.0, 2.0, 0.5, 2.0])])
def test_pictures_of_states_stacked_in_the_same_graph_equal_the_eager_pictures(name, high):
  """A state built by `tf.stack` in the graph that renders it (as an environment's step builds
  it): Grappler's rewrite of a slice of a stack must not change the picture."""
  env = make(name)
  rng = np.random.default_rng(9)
  columns = [tf.constant((rng.uniform(-1, 1, 8) * h).astype(np.float32)) for h in high]
  eager = render(env, tf.stack(columns, axis=-1), 17)
  graph = tf.function(lambda *c: render(env, tf.stack(c, axis=-1), 17), autograph=False)
  np.testing.assert_array_equal(graph(*columns), eager)


def test_reacher_flips_are_the_planes_mirrors_mapped_explicitly():
  """Reacher's flip `y -> -y` (element 2) reverses the rows of the picture (the plane's `r s`),
  its flip `x -> -x` (element 3) reverses the columns (the plane's `s`), its half turn turns
  the picture; the angle tables carry the exact symmetries the half turn needs."""
  env = Reacher()
  assert renderer_for(env).elements == (0, 1, 3, 2)
  rng = np.random.default_rng(8)
  states = tf.constant((rng.uniform(-1, 1, (32, 6)) * [7, 2.8, 1, 1, 0.2, 0.2]).astype(np.float32))
  picture = render(env, states, 41)
  np.testing.assert_array_equal(
    render(env, env.transform_physics(states, 2), 41), tf.reverse(picture, axis=[1])
  )
  np.testing.assert_array_equal(
    render(env, env.transform_physics(states, 3), 41), tf.reverse(picture, axis=[2])
  )
  np.testing.assert_array_equal(
    render(env, env.transform_physics(states, 1), 41), tf.reverse(picture, axis=[1, 2])
  )
  sin, cos = _angle_tables(ANGLE_STEPS)
  k = np.arange(ANGLE_STEPS)
  half, minus = (k + ANGLE_STEPS // 2) % ANGLE_STEPS, (-k) % ANGLE_STEPS
  np.testing.assert_array_equal(sin[half], -sin)
  np.testing.assert_array_equal(cos[half], -cos)
  np.testing.assert_array_equal(sin[minus], -sin)
  np.testing.assert_array_equal(cos[minus], cos)
  np.testing.assert_allclose(sin, np.sin(2 * np.pi * k / ANGLE_STEPS), atol=1e-7)
  np.testing.assert_allclose(cos, np.cos(2 * np.pi * k / ANGLE_STEPS), atol=1e-7)


@pytest.mark.parametrize("name", [n for n, _ in _CONTROL])
def test_control_tasks_with_pixel_observations(name):
  env = make(name, batch_size=2, observation="pixels", image_size=33, frame_stack=3)
  inner = env.inner
  assert env.observation_spec().shape == (33, 33, 9)
  state, ts = env.pure_reset(4)
  assert ts.observation.shape == (2, 33, 33, 9)
  action = tf.constant(np.full((2,) + inner.action_spec().shape, 0.5, np.float32))
  state, ts = env.pure_step(state, action)
  np.testing.assert_array_equal(ts.observation[..., 6:], render(inner, state.physics[:, -1], 33))
  # The environment's symmetry moves whole observations as its renderer moves pictures.
  symmetry = env.symmetry
  assert isinstance(symmetry.state_rep, PlaneAction)
  assert symmetry.state_rep.elements == renderer_for(inner).elements
  for g in symmetry.group.elements():
    history = [inner.transform_physics(state.physics[:, i], g) for i in range(3)]
    moved = env.observe(tf.stack(history, axis=1))
    np.testing.assert_array_equal(symmetry.state_rep.transform(ts.observation, g), moved)


def test_a_compiled_reacher_rollout_renders_inside_xla():
  """Reacher's table lookups and rounding run inside a jit-compiled loop of steps with the
  same pictures as eager execution."""
  env = pixels(Reacher(batch_size=3), size=21, frame_stack=2)
  steps = 6
  actions = tf.constant(np.random.default_rng(2).uniform(-1, 1, (steps, 3, 2)), tf.float32)

  def rollout(seed):
    state, ts = env.pure_reset(seed)

    def body(t, state, obs):
      state, _, obs = env.pure_step_and_reset(state, actions[t])
      return t + 1, state, obs

    _, state, obs = tf.while_loop(lambda t, *_: t < steps, body, (0, state, ts.observation))
    return obs, state.physics

  eager = rollout(tf.constant(1, tf.int64))
  compiled = tf.function(rollout, jit_compile=True)(tf.constant(1, tf.int64))
  np.testing.assert_allclose(compiled[1], eager[1], atol=1e-6)
  np.testing.assert_array_equal(compiled[0], env.observe(compiled[1]))
  np.testing.assert_array_equal(compiled[0], eager[0])
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
  with pytest.raises(
    ValueError, match=r"pixels.frame_stack must be a positive integer, received 0"
  ):
    pixels(CartPole(), size=15, frame_stack=0)
  with pytest.raises(
    ValueError, match=r"pixels.frame_spacing must be a positive integer, received 0"
  ):
    pixels(CartPole(), size=15, frame_spacing=0)
  with pytest.raises(ValueError, match=r"\['frame_spacing'\] only apply to observation='pixels'"):
    make("CartPole-v1", frame_spacing=2)
  spaced = pixels(CartPole(), size=15, frame_stack=3, frame_spacing=2)
  with pytest.raises(ValueError, match="history of 5 states.*frame_spacing=2.*received 3"):
    spaced.observe(tf.zeros([1, 3, 4]))
  with pytest.raises(ValueError, match="already registered"):
    register_renderer("CartPole-v1", lambda env, s, size: s, "D1")
  with pytest.raises(ValueError, match="Unknown plane group plane_group='Z2'"):
    register_renderer("Other", lambda env, s, size: s, "Z2")
  with pytest.raises(ValueError, match=r"permutation of 0..3.*elements=\(0, 1, 1, 2\)"):
    register_renderer("Other", lambda env, s, size: s, "D2", elements=(0, 1, 1, 2))
  with pytest.raises(ValueError, match="do not respect the Cayley table of C4"):
    PlaneAction("C4", elements=(0, 2, 1, 3))
