"""Catch against an independent plain-Python statement of the bsuite rules, and its symmetry."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl.envs import Catch, EnvState, catch_state_from_observation

FIRST, MID, LAST = (int(v) for v in (ts.StepType.FIRST, ts.StepType.MID, ts.StepType.LAST))
ROWS, COLUMNS = 10, 5  # bsuite catch.py defaults


def _bsuite_step(ball_row, ball_col, paddle, action, rows=ROWS, columns=COLUMNS):
  """bsuite environments/catch.py `_step`, restated: returns (next state, reward, done)."""
  paddle = min(max(paddle + (-1, 0, 1)[action], 0), columns - 1)
  ball_row += 1
  if ball_row == rows - 1:
    return (ball_row, ball_col, paddle), (1.0 if paddle == ball_col else -1.0), True
  return (ball_row, ball_col, paddle), 0.0, False


def _bsuite_board(ball_row, ball_col, paddle, rows=ROWS, columns=COLUMNS):
  board = np.zeros((rows, columns), np.float32)
  board[ball_row, ball_col] = 1.0
  board[rows - 1, paddle] = 1.0
  return board


def _all_pairs(rows=ROWS, columns=COLUMNS):
  pairs = list(itertools.product(range(rows - 1), range(columns), range(columns), range(3)))
  states = np.array([p[:3] for p in pairs], np.int32)
  actions = np.array([p[3] for p in pairs], np.int32)
  return states, actions


def _state(physics):
  n = len(physics)
  return EnvState(
    physics=tf.constant(physics, tf.int32),
    step_count=tf.zeros([n], tf.int32),
    done=tf.zeros([n], tf.bool),
    key=tf.constant([0, 0], tf.int64),
  )


def test_every_state_action_pair_follows_bsuite_rules():
  states, actions = _all_pairs()
  assert len(states) == 675
  env = Catch()
  next_state, step = env.pure_step(_state(states), actions)
  for i, (s, a) in enumerate(zip(states, actions)):
    expected_next, reward, done = _bsuite_step(*s, a)
    np.testing.assert_array_equal(next_state.physics[i].numpy(), expected_next)
    np.testing.assert_array_equal(
      step.observation[i].numpy(), _bsuite_board(*expected_next).reshape(-1)
    )
    assert step.reward[i].numpy() == reward, (s, a)
    assert step.step_type[i].numpy() == (LAST if done else MID), (s, a)
    assert step.discount[i].numpy() == (0.0 if done else 1.0), (s, a)


def test_reset_and_episode_length_and_grid_observation():
  env = Catch(batch_size=16, flat_observation=False)
  assert env.observation_spec().shape == (10, 5)
  state, step = env.pure_reset(0)
  obs = step.observation.numpy()
  assert obs.shape == (16, 10, 5)
  np.testing.assert_array_equal(obs[:, 9].argmax(-1), [2] * 16)  # paddle at columns // 2
  np.testing.assert_array_equal(obs[:, 0].sum(-1), [1.0] * 16)  # ball in row 0
  assert len(set(obs[:, 0].argmax(-1).tolist())) > 1  # ball column is random
  for t in range(9):
    state, step = env.pure_step(state, tf.fill([16], 1))
    assert np.all(step.step_type.numpy() == (LAST if t == 8 else MID))
  assert set(step.reward.numpy().tolist()) <= {-1.0, 1.0}
  np.testing.assert_array_equal(step.discount.numpy(), [0.0] * 16)
  state, step = env.pure_step(state, tf.fill([16], 2))  # ignored: this step resets
  np.testing.assert_array_equal(step.step_type.numpy(), [FIRST] * 16)
  np.testing.assert_array_equal(step.observation.numpy()[:, 9].argmax(-1), [2] * 16)
  np.testing.assert_array_equal(step.reward.numpy(), [0.0] * 16)


def test_state_from_observation_inverts_the_observation():
  states, _ = _all_pairs()
  obs = Catch().observe(tf.constant(states))
  np.testing.assert_array_equal(catch_state_from_observation(obs).numpy(), states)


@pytest.mark.parametrize("g", [0, 1])
def test_symmetry_equivariance_on_all_675_pairs(g):
  env = Catch()
  sym = env.symmetry
  assert sym.group.order == 2 and sym.state_dim == 50 and sym.num_actions == 3
  np.testing.assert_array_equal(sym.action_rep.permutation[1], [2, 1, 0])
  states, actions = _all_pairs()
  obs = env.observe(tf.constant(states))
  moved_obs = sym.state_rep.transform(obs, g)
  if g == 1:  # the flip is the column mirror c -> 4 - c on every row
    np.testing.assert_array_equal(
      moved_obs.numpy().reshape(-1, 10, 5), obs.numpy().reshape(-1, 10, 5)[:, :, ::-1]
    )
  moved_states = env.state_from_observation(moved_obs)
  _, step = env.pure_step(_state(states), actions)
  _, step_moved = env.pure_step(
    _state(moved_states), sym.action_rep.transform(tf.constant(actions), g)
  )
  np.testing.assert_array_equal(
    step_moved.observation.numpy(), sym.state_rep.transform(step.observation, g).numpy()
  )
  np.testing.assert_array_equal(step_moved.reward.numpy(), step.reward.numpy())
  np.testing.assert_array_equal(step_moved.discount.numpy(), step.discount.numpy())
  np.testing.assert_array_equal(step_moved.step_type.numpy(), step.step_type.numpy())


def test_even_columns_have_no_symmetry():
  env = Catch(columns=4)
  with pytest.raises(ValueError, match="columns=4 has no column-flip symmetry"):
    _ = env.symmetry
  assert Catch(columns=7, rows=6).symmetry.state_dim == 42


def test_bad_configuration_is_rejected():
  with pytest.raises(ValueError, match="rows must be an integer >= 2"):
    Catch(rows=1)
  with pytest.raises(ValueError, match="flat_observation must be a bool"):
    Catch(flat_observation="yes")
