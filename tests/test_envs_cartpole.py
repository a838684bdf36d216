"""CartPole against gymnasium's CartPole-v1, time limit, auto-reset and symmetry."""

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from gymnasium.wrappers import TimeLimit
from tf_agents.trajectories import time_step as ts

from tf_equirl.envs import CartPole, EnvState, cartpole_physics

FIRST, MID, LAST = (int(v) for v in (ts.StepType.FIRST, ts.StepType.MID, ts.StepType.LAST))
THETA_LIMIT = 12 * 2 * np.pi / 360  # gymnasium cartpole.py


def _balancing_actions(obs):
  """A linear controller that keeps the pole up for the full 500 steps."""
  obs = tf.convert_to_tensor(obs)
  return tf.cast(obs[:, 2] + 0.3 * obs[:, 3] + 0.01 * obs[:, 0] + 0.05 * obs[:, 1] > 0, tf.int32)


def _state(physics, step_count=None, done=None, seed=0):
  physics = tf.constant(physics, tf.float32)
  n = physics.shape[0]
  return EnvState(
    physics=physics,
    step_count=tf.zeros([n], tf.int32) if step_count is None else tf.constant(step_count, tf.int32),
    done=tf.zeros([n], tf.bool) if done is None else tf.constant(done),
    key=tf.constant([seed, 0], tf.int64),
  )


def _sample_transitions(rng):
  """(states, step counts, actions): random-policy rollouts plus states near the limits."""
  env = CartPole(batch_size=64)
  state, _ = env.pure_reset(7)
  states, counts, actions = [], [], []
  for t in range(160):  # ~470 episodes of a random policy, ~10k transitions
    action = rng.integers(0, 2, size=64).astype(np.int32)
    live = ~state.done.numpy()
    states.append(state.physics.numpy()[live])
    counts.append(state.step_count.numpy()[live])
    actions.append(action[live])
    state, _ = env.pure_step(state, action)
  n = 4000
  near = np.stack(
    [
      rng.uniform(-2.5, 2.5, n),
      rng.uniform(-3, 3, n),
      rng.uniform(-0.23, 0.23, n),
      rng.uniform(-3, 3, n),
    ],
    axis=1,
  )
  states.append(near.astype(np.float32))
  counts.append(rng.integers(480, 500, size=n).astype(np.int32))  # truncation at 500 too
  actions.append(rng.integers(0, 2, size=n).astype(np.int32))
  return np.concatenate(states), np.concatenate(counts), np.concatenate(actions)


def test_matches_gymnasium_cartpole_v1_transition_by_transition():
  rng = np.random.default_rng(0)
  states, counts, actions = _sample_transitions(rng)
  n = len(states)
  assert n >= 10_000

  env = CartPole(batch_size=1)
  state = _state(states, counts)
  next_state, step = env.pure_step(state, actions)
  ours_next = step.observation.numpy()
  ours_last = step.step_type.numpy() == LAST
  ours_terminated = ours_last & (step.discount.numpy() == 0.0)

  gym_env = gymnasium.make("CartPole-v1")
  gym_env.reset(seed=0)
  time_limit = gym_env
  while not isinstance(time_limit, TimeLimit):
    time_limit = time_limit.env
  assert time_limit._max_episode_steps == 500
  gym_next = np.zeros((n, 4))
  gym_terminated = np.zeros(n, bool)
  gym_truncated = np.zeros(n, bool)
  gym_reward = np.zeros(n)
  for i in range(n):
    gym_env.unwrapped.state = states[i].astype(np.float64)
    gym_env.unwrapped.steps_beyond_terminated = None
    time_limit._elapsed_steps = int(counts[i])
    obs, gym_reward[i], gym_terminated[i], gym_truncated[i], _ = gym_env.step(int(actions[i]))
    gym_next[i] = gym_env.unwrapped.state

  np.testing.assert_allclose(ours_next, gym_next, rtol=0, atol=1e-5)
  np.testing.assert_array_equal(ours_terminated, gym_terminated)
  np.testing.assert_array_equal(ours_last, gym_terminated | gym_truncated)
  np.testing.assert_array_equal(step.reward.numpy(), gym_reward)
  assert np.all(step.step_type.numpy()[~ours_last] == MID)
  # Both kinds of episode end are exercised.
  assert gym_terminated.sum() > 500 and (gym_truncated & ~gym_terminated).sum() > 100
  np.testing.assert_array_equal(next_state.done.numpy(), ours_last)
  np.testing.assert_array_equal(next_state.step_count.numpy(), counts + 1)


def test_physics_in_float64_matches_gymnasium_exactly():
  # The dynamics follow gymnasium op for op; in float64 the results agree to rounding.
  rng = np.random.default_rng(1)
  states = rng.uniform(-0.2, 0.2, size=(200, 4))
  actions = rng.integers(0, 2, size=200)
  ours = cartpole_physics(tf.constant(states), tf.constant(actions)).numpy()
  gym_env = gymnasium.make("CartPole-v1").unwrapped
  gym_env.reset(seed=0)
  for i in range(200):
    gym_env.state = states[i].copy()
    gym_env.step(int(actions[i]))
    np.testing.assert_allclose(ours[i], gym_env.state, rtol=1e-12, atol=1e-14)


def test_truncation_at_500_bootstraps_then_auto_resets():
  env = CartPole(batch_size=4)
  state, step = env.pure_reset(3)
  for t in range(500):
    state, step = env.pure_step(state, _balancing_actions(step.observation))
    if t < 499:
      assert np.all(step.step_type.numpy() == MID), t
  np.testing.assert_array_equal(step.step_type.numpy(), [LAST] * 4)
  np.testing.assert_array_equal(step.discount.numpy(), [1.0] * 4)
  np.testing.assert_array_equal(step.reward.numpy(), [1.0] * 4)
  np.testing.assert_array_equal(state.step_count.numpy(), [500] * 4)
  last_obs = step.observation.numpy()
  # The action on the step after LAST is ignored: both choices give the same reset.
  state_a, step_a = env.pure_step(state, tf.zeros([4], tf.int32))
  state_b, step_b = env.pure_step(state, tf.ones([4], tf.int32))
  for s in (step_a, step_b):
    np.testing.assert_array_equal(s.step_type.numpy(), [FIRST] * 4)
    np.testing.assert_array_equal(s.reward.numpy(), [0.0] * 4)
    np.testing.assert_array_equal(s.discount.numpy(), [1.0] * 4)
  np.testing.assert_array_equal(step_a.observation.numpy(), step_b.observation.numpy())
  obs = step_a.observation.numpy()
  assert np.all(np.abs(obs) < 0.05) and not np.allclose(obs, last_obs)
  np.testing.assert_array_equal(state_a.step_count.numpy(), [0] * 4)
  np.testing.assert_array_equal(state_a.physics.numpy(), obs)
  state, step = env.pure_step(state_a, tf.zeros([4], tf.int32))
  np.testing.assert_array_equal(step.step_type.numpy(), [MID] * 4)
  np.testing.assert_array_equal(state.step_count.numpy(), [1] * 4)


def test_termination_has_discount_zero_and_reward_one():
  env = CartPole()
  # Cart past the right edge after one step; pole past 12 degrees; both fine; x edge with
  # the truncation step as well (termination wins: discount 0).
  physics = [
    [2.39, 1.0, 0.0, 0.0],
    [0.0, 0.0, THETA_LIMIT - 1e-3, 1.0],
    [0.0, 0.0, 0.0, 0.0],
    [-2.39, -1.0, 0.0, 0.0],
  ]
  state, step = env.pure_step(_state(physics, step_count=[3, 3, 499, 499]), [1, 1, 1, 0])
  np.testing.assert_array_equal(step.step_type.numpy(), [LAST, LAST, LAST, LAST])
  np.testing.assert_array_equal(step.discount.numpy(), [0.0, 0.0, 1.0, 0.0])
  np.testing.assert_array_equal(step.reward.numpy(), [1.0] * 4)
  _, step = env.pure_step(state, [1, 0, 1, 0])
  np.testing.assert_array_equal(step.step_type.numpy(), [FIRST] * 4)
  assert np.all(np.abs(step.observation.numpy()) < 0.05)


@pytest.mark.parametrize("g", [0, 1])
def test_symmetry_equivariance_of_the_step(g):
  env = CartPole()
  sym = env.symmetry
  assert sym.group.order == 2 and sym.state_dim == 4 and sym.num_actions == 2
  np.testing.assert_array_equal(sym.state_rep.matrices[1], -np.eye(4))
  np.testing.assert_array_equal(sym.action_rep.permutation[1], [1, 0])
  rng = np.random.default_rng(2)
  n = 5000
  inside = rng.uniform(-1, 1, size=(n, 4)) * [2.3, 2.0, 0.2, 2.0]
  # Near the termination boundary: one step from |x| = 2.4 or |theta| = 12 degrees.
  edge = rng.uniform(-1, 1, size=(n, 4)) * [2.4, 2.0, 0.05, 2.0]
  edge[: n // 2, 0] = np.sign(edge[: n // 2, 0]) * rng.uniform(2.35, 2.45, n // 2)
  edge[n // 2 :, 2] = np.sign(edge[n // 2 :, 2]) * rng.uniform(0.2, 0.22, n - n // 2)
  physics = np.concatenate([inside, edge]).astype(np.float32)
  counts = rng.integers(0, 500, size=2 * n)
  actions = tf.constant(rng.integers(0, 2, size=2 * n), tf.int32)
  state = _state(physics, counts)
  moved = state._replace(physics=sym.state_rep.transform(state.physics, g))
  next_state, step = env.pure_step(state, actions)
  next_moved, step_moved = env.pure_step(moved, sym.action_rep.transform(actions, g))
  np.testing.assert_allclose(
    step_moved.observation.numpy(),
    sym.state_rep.transform(step.observation, g).numpy(),
    rtol=0,
    atol=1e-6,
  )
  np.testing.assert_array_equal(step_moved.reward.numpy(), step.reward.numpy())
  np.testing.assert_array_equal(step_moved.discount.numpy(), step.discount.numpy())
  np.testing.assert_array_equal(step_moved.step_type.numpy(), step.step_type.numpy())
  np.testing.assert_array_equal(next_moved.done.numpy(), next_state.done.numpy())
  assert 0 < (step.discount.numpy() == 0).sum() < 2 * n  # boundary cases on both sides
