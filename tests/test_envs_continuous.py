"""Continuous-control environments: float actions, gymnasium reference, exact symmetries,
symmetry-breaking variants."""

import math

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl.envs import EnvState, make
from tf_equirl.envs import breaking as breaking_lib

LAST = int(ts.StepType.LAST)
N_STATES = 10_000


def _state(physics, seed=0):
  physics = tf.constant(physics, tf.float32)
  n = physics.shape[0]
  return EnvState(
    physics=physics,
    step_count=tf.zeros([n], tf.int32),
    done=tf.zeros([n], tf.bool),
    key=tf.constant([seed, 0], tf.int64),
  )


def _angles(rng, n, low=-math.pi, high=math.pi):
  return rng.uniform(low, high, n)


# Random physics states per environment: angles over the whole circle, velocities over the
# range the dynamics reach.
SAMPLERS = {
  "Pendulum-v1": lambda rng, n: [
    _angles(rng, n, -4 * math.pi, 4 * math.pi),
    rng.uniform(-8, 8, n),
  ],
  "CartPoleSwingup-v0": lambda rng, n: [
    rng.uniform(-1.8, 1.8, n),
    _angles(rng, n),
    rng.uniform(-5, 5, n),
    rng.uniform(-10, 10, n),
  ],
  "AcrobotSwingup-v0": lambda rng, n: [
    _angles(rng, n),
    _angles(rng, n),
    rng.uniform(-10, 10, n),
    rng.uniform(-20, 20, n),
  ],
  "Reacher-v0": lambda rng, n: [  # the wrist within its +-160 degrees
    _angles(rng, n),
    _angles(rng, n, -2.79, 2.79),
    rng.uniform(-10, 10, n),
    rng.uniform(-10, 10, n),
    rng.uniform(-0.2, 0.2, n),
    rng.uniform(-0.2, 0.2, n),
  ],
}


def _sample(name, rng, n=N_STATES):
  states = np.stack(SAMPLERS[name](rng, n), axis=1).astype(np.float32)
  env = make(name)
  actions = rng.uniform(-1, 1, (n, env.action_dim)).astype(np.float32)
  return states, actions


def _symmetry_errors(env, states, actions):
  """Per group element, the largest `|observe(T(g s, g a)) - rho(g) observe(T(s, a))|`,
  the largest reward difference, and `|observe(g s) - rho(g) observe(s)|`."""
  symmetry = env.symmetry
  state_mats = symmetry.state_rep.matrices.astype(np.float32)
  action_mats = symmetry.action_rep.matrices.astype(np.float32)
  physics = tf.constant(states)
  action = tf.constant(actions)
  next_physics = env.physics(physics, action)
  reward, _ = env.outcome(physics, action, next_physics)
  next_obs = env.observe(next_physics).numpy()
  obs = env.observe(physics).numpy()
  out = []
  for g in range(symmetry.group.order):
    g_physics = env.transform_physics(physics, g)
    g_action = tf.constant(actions @ action_mats[g].T)
    g_next = env.physics(g_physics, g_action)
    g_reward, _ = env.outcome(g_physics, g_action, g_next)
    out.append(
      (
        np.abs(env.observe(g_next).numpy() - next_obs @ state_mats[g].T).max(),
        np.abs(g_reward.numpy() - reward.numpy()).max(),
        np.abs(env.observe(g_physics).numpy() - obs @ state_mats[g].T).max(),
      )
    )
  return out


# ------------------------------------------------------------------ float actions in the base
def test_float_action_spec_and_properties():
  env = make("Pendulum-v1", batch_size=3)
  spec = env.action_spec()
  assert spec.dtype == tf.float32 and spec.shape == (1,)
  np.testing.assert_array_equal(spec.minimum, -1.0)
  np.testing.assert_array_equal(spec.maximum, 1.0)
  assert env.continuous_actions and env.action_dim == 1 and env.num_actions is None
  assert env.symmetry.continuous_actions
  assert not make("CartPole-v1").continuous_actions


@pytest.mark.parametrize(
  "action, match",
  [
    (np.zeros([2, 1], np.int32), "dtype int32"),
    (np.zeros([2], np.float32), "shape"),
    (np.zeros([2, 2], np.float32), "shape"),
    (np.zeros([3, 1], np.float32), "shape"),
    (0.5, "invalid action"),
    (np.array([[0.5], [1.5]], np.float32), r"batch index \[1\]"),
    (np.array([[np.nan], [0.0]], np.float32), r"batch index \[0\]"),
    (np.array([[-np.inf], [0.0]], np.float32), r"batch index \[0\]"),
  ],
)
def test_invalid_float_actions_raise_eagerly(action, match):
  env = make("Pendulum-v1", batch_size=2)
  state, _ = env.pure_reset(0)
  with pytest.raises(ValueError, match=match):
    env.pure_step(state, action)


def test_invalid_float_action_is_nan_under_xla_and_never_clipped():
  env = make("Pendulum-v1", batch_size=3)
  state, _ = env.pure_reset(0)

  @tf.function(jit_compile=True)
  def step(state, action):
    next_state, time_step = env.pure_step(state, action)
    return next_state.physics, time_step.observation, time_step.reward

  action = tf.constant([[0.5], [1.01], [np.nan]], tf.float32)
  physics, obs, reward = step(state, action)
  assert np.all(np.isfinite(obs.numpy()[0])) and np.isfinite(reward.numpy()[0])
  assert np.all(np.isnan(obs.numpy()[1:])) and np.all(np.isnan(reward.numpy()[1:]))
  # The state stays finite (the bad elements moved with the zero action, not a clipped one).
  assert np.all(np.isfinite(physics.numpy()))
  zero, _ = env.pure_step(state, tf.constant([[0.5], [0.0], [0.0]]))
  np.testing.assert_allclose(physics.numpy(), zero.physics.numpy(), atol=1e-6)
  clipped, _ = env.pure_step(state, tf.constant([[0.5], [1.0], [0.0]]))
  assert not np.allclose(physics.numpy()[1], clipped.physics.numpy()[1])


def test_graph_mode_asserts_on_an_invalid_float_action():
  env = make("Pendulum-v1", batch_size=2)
  state, _ = env.pure_reset(0)
  step = tf.function(lambda s, a: env.pure_step(s, a)[1].reward)
  with pytest.raises(tf.errors.InvalidArgumentError, match="finite floats in"):
    step(state, tf.constant([[0.0], [2.0]]))


def test_tf_environment_face_steps_with_float_actions():
  env = make("Pendulum-v1", batch_size=2, seed=1)
  state, expected = env.pure_reset(env.state.key)
  got = env.reset()
  np.testing.assert_array_equal(got.observation.numpy(), expected.observation.numpy())
  for action in ([[0.1], [-0.3]], [[-1.0], [1.0]]):
    state, expected = env.pure_step(state, tf.constant(action))
    got = env.step(tf.constant(action))
    for x, y in zip(got, expected):
      np.testing.assert_array_equal(x.numpy(), y.numpy())
  # The action reaches the dynamics: the same state under two actions steps apart.
  a, _ = env.pure_step(state, tf.constant([[1.0], [1.0]]))
  b, _ = env.pure_step(state, tf.constant([[-1.0], [-1.0]]))
  assert not np.allclose(a.physics.numpy(), b.physics.numpy())


# --------------------------------------------------------------------------- Pendulum-v1
def test_pendulum_matches_gymnasium_step_for_step():
  """Rollouts of random actions, each step started from gymnasium's float64 state."""
  env = make("Pendulum-v1", batch_size=1)
  gym_env = gymnasium.make("Pendulum-v1")
  rng = np.random.default_rng(0)
  worst_obs = worst_reward = 0.0
  for episode in range(3):
    gym_obs, _ = gym_env.reset(seed=episode)
    state, _ = env.pure_reset(episode)
    for t in range(200):
      state = state._replace(physics=tf.constant(gym_env.unwrapped.state[None], tf.float32))
      action = rng.uniform(-1, 1, (1, 1)).astype(np.float32)
      state, step = env.pure_step(state, action)
      gym_obs, gym_reward, terminated, truncated, _ = gym_env.step(2.0 * action[0])
      worst_obs = max(worst_obs, np.abs(step.observation.numpy()[0] - gym_obs).max())
      # Rewards reach -16; float32 holds them to a relative 1e-6 or so.
      worst_reward = max(
        worst_reward, abs(step.reward.numpy()[0] - gym_reward) / max(1.0, abs(gym_reward))
      )
      assert not terminated
      assert truncated == (int(step.step_type.numpy()[0]) == LAST) == (t == 199)
      assert step.discount.numpy()[0] == 1.0
  assert worst_obs < 1e-5 and worst_reward < 1e-5, (worst_obs, worst_reward)


def test_pendulum_reset_distribution_matches_gymnasium_bounds():
  env = make("Pendulum-v1", batch_size=4096)
  state, _ = env.pure_reset(0)
  theta, thetadot = state.physics.numpy().T
  assert np.all(np.abs(theta) < math.pi) and np.all(np.abs(thetadot) < 1.0)
  assert theta.min() < -3.0 and theta.max() > 3.0  # covers the whole range


# ------------------------------------------------------------------------------ symmetries
SYMMETRIC_ENVS = sorted(SAMPLERS)


@pytest.mark.parametrize("name", SYMMETRIC_ENVS)
def test_exact_symmetry_of_every_group_element(name):
  env = make(name)
  states, actions = _sample(name, np.random.default_rng(1))
  for g, (next_err, reward_err, obs_err) in enumerate(_symmetry_errors(env, states, actions)):
    assert obs_err < 1e-5, (g, obs_err)
    assert next_err < 1e-5, (g, next_err)
    assert reward_err < 1e-5, (g, reward_err)


def _variants():
  return [(name, variant) for name in SYMMETRIC_ENVS for variant in breaking_lib.variants_of(name)]


@pytest.mark.parametrize("name, variant", _variants())
def test_broken_variants_break_the_symmetry_somewhere(name, variant):
  env = make(f"{name}:{variant}:1")
  states, actions = _sample(name, np.random.default_rng(2), n=2000)
  worst = max(err for err, _, _ in _symmetry_errors(env, states, actions))
  assert worst > 1e-3, worst


@pytest.mark.parametrize("name, variant", _variants())
def test_strength_zero_is_the_original_transition_by_transition(name, variant):
  original = make(name, batch_size=64)
  broken = make(f"{name}:{variant}:0", batch_size=64)
  rng = np.random.default_rng(3)
  a_state, _ = original.pure_reset(5)
  b_state, _ = broken.pure_reset(5)
  for _ in range(20):
    action = rng.uniform(-1, 1, (64, original.action_dim)).astype(np.float32)
    a_state, a_step = original.pure_step(a_state, action)
    b_state, b_step = broken.pure_step(b_state, action)
    np.testing.assert_array_equal(a_step.observation.numpy(), b_step.observation.numpy())
    np.testing.assert_array_equal(a_step.reward.numpy(), b_step.reward.numpy())


def test_variant_errors_name_the_available_variants():
  with pytest.raises(ValueError, match=r"\('reflect', 'repeat'\)"):
    make("Pendulum-v1:gravity:1")
  with pytest.raises(ValueError, match=r"strength in \[0, 1\]"):
    make("Pendulum-v1:reflect:2")


# ------------------------------------------------------------------- defaults and gymnasium
def test_continuous_defaults_match_the_environments():
  from tf_equirl.envs import defaults

  for name, row in defaults.CONTINUOUS_DEFAULTS.items():
    assert make(name).max_episode_steps == row.episode_steps
  assert defaults.continuous_defaults("Reacher-v0:repeat:1").exploration_steps == 500_000
  with pytest.raises(ValueError, match="CartPoleSwingup-v0"):
    defaults.continuous_defaults("CartPole-v1")


def test_gymnasium_face_equals_the_tf_environment():
  gym_env = gymnasium.make("tf_equirl/CartPoleSwingup-v0")
  assert gym_env.spec.max_episode_steps == 1000
  obs, _ = gym_env.reset(seed=0)
  env = make("CartPoleSwingup-v0")
  state = _state(np.zeros([1, 4]))
  state = state._replace(physics=gym_env.unwrapped._state.physics)
  action = np.array([0.7], np.float32)
  obs, reward, terminated, truncated, _ = gym_env.step(action)
  _, step = env.pure_step(state, action[None])
  np.testing.assert_allclose(obs, step.observation.numpy()[0], atol=1e-6)
  assert reward == pytest.approx(float(step.reward.numpy()[0]), abs=1e-6)
  assert not terminated and not truncated
  with pytest.raises(ValueError, match=r"\[-1, 1\]"):
    gym_env.step(np.array([1.5], np.float32))
