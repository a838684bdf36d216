"""KeyRoom: moves, walls, key pick-up, delivery, rewards, doors, the step limit and the
diagonal mirror."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl import envs
from tf_equirl.envs.key_room import (
  FREE_CELLS,
  KEY,
  TRAIN_DOORS,
  key_room_goal_observation,
  key_room_observation,
  key_room_outcome,
  key_room_physics,
  key_room_success,
)
from tf_equirl.testing import assert_equivariant


def _state(*rows):
  return tf.constant(rows, tf.int32)


def test_moves_walls_and_key():
  state = _state([1, 1, 0, 6, 6], [3, 4, 0, 6, 6], [5, 4, 0, 1, 1], [6, 6, 1, 1, 1])
  action = tf.constant([0, 1, 1, 2], tf.int32)  # up into the wall, right, right onto key, down
  nxt = key_room_physics(state, action).numpy()
  np.testing.assert_array_equal(
    nxt, [[1, 1, 0, 6, 6], [3, 5, 0, 6, 6], [5, 5, 1, 1, 1], [6, 6, 1, 1, 1]]
  )
  reward, done = key_room_outcome(state, action, tf.constant(nxt))
  np.testing.assert_allclose(reward.numpy(), [-0.1, -0.1, 1.0, -0.1])
  assert not done.numpy().any()
  # Every move of every cell stays inside the interior.
  cells = np.array([[r, c, 0, 1, 1] for r in range(1, 7) for c in range(1, 7)] * 4, np.int32)
  moved = key_room_physics(tf.constant(cells), tf.repeat(tf.range(4), 36)).numpy()
  assert moved[:, :2].min() == 1 and moved[:, :2].max() == 6


def test_delivery_needs_the_key():
  state = _state([1, 2, 1, 1, 1], [1, 2, 0, 1, 1])
  nxt = key_room_physics(state, tf.constant([3, 3])).numpy()
  reward, done = key_room_outcome(state, tf.constant([3, 3]), tf.constant(nxt))
  np.testing.assert_allclose(reward.numpy(), [1.0, -0.1])
  np.testing.assert_array_equal(done.numpy(), [True, False])


def test_observation_and_goal():
  obs = key_room_observation(_state([2, 3, 0, 1, 1], [2, 3, 1, 1, 1])).numpy()
  assert obs.shape == (2, 128)
  assert obs[0, 2 * 8 + 3] == 1 and obs[0, 64 + KEY[0] * 8 + KEY[1]] == 1 and obs[0].sum() == 2
  assert obs[1, 64:].sum() == 0
  goal = key_room_observation(_state([6, 1, 1, 6, 1])).numpy()[0]
  np.testing.assert_array_equal(key_room_goal_observation((6, 1)), goal)
  with pytest.raises(ValueError, match="interior cell"):
    key_room_goal_observation(KEY)
  with pytest.raises(ValueError, match="doors must be 'train' or 'test'"):
    envs.make("KeyRoom-v0", doors="all")


@pytest.mark.parametrize("doors", ["train", "test"])
def test_reset_draws_robots_and_doors(doors):
  env = envs.make("KeyRoom-v0", batch_size=512, doors=doors)
  state, _ = env.pure_reset(0)
  physics = state.physics.numpy()
  robots = {tuple(p) for p in physics[:, :2]}
  door_cells = {tuple(p) for p in physics[:, 3:]}
  assert robots == set(FREE_CELLS) and np.all(physics[:, 2] == 0)
  if doors == "train":
    assert door_cells == set(TRAIN_DOORS)
  else:
    assert door_cells == set(FREE_CELLS)
    assert not np.any(np.all(physics[:, :2] == physics[:, 3:], axis=1))


def test_scripted_episode_and_step_limit():
  """Robot from (1, 1)'s neighbourhood to the key and to the door (1, 1): +1, +1, -0.1 steps;
  a robot that stays put is cut after 100 steps."""
  env = envs.make("KeyRoom-v0", batch_size=1, door=(1, 1))
  state, step = env.pure_reset(3)
  total, steps = 0.0, 0
  while True:
    row, col = state.physics.numpy()[0, :2]
    has_key = state.physics.numpy()[0, 2]
    target = (1, 1) if has_key else KEY
    action = 2 if row < target[0] else 0 if row > target[0] else 1 if col < target[1] else 3
    state, step = env.pure_step(state, tf.constant([action]))
    total += float(step.reward[0])
    steps += 1
    if int(step.step_type[0]) == ts.StepType.LAST:
      break
  assert float(step.discount[0]) == 0.0 and key_room_success([total])[0]
  np.testing.assert_allclose(total, 2.0 - 0.1 * (steps - 2), atol=1e-5)
  wall = envs.make("KeyRoom-v0", batch_size=1, door=(6, 6))
  state, step = wall.pure_reset(0)
  for t in range(100):
    state, step = wall.pure_step(state, tf.constant([0]))
  assert int(step.step_type[0]) == ts.StepType.LAST and float(step.discount[0]) == 1.0


def test_diagonal_mirror_commutes_with_the_dynamics():
  env = envs.make("KeyRoom-v0")
  symmetry = env.symmetry
  rng = np.random.default_rng(0)
  cells = np.array(FREE_CELLS)
  n = 4096  # enough random states to hold key pick-ups and deliveries
  state = np.concatenate(
    [cells[rng.integers(0, 35, n)], rng.integers(0, 2, (n, 1)), cells[rng.integers(0, 35, n)]],
    axis=1,
  ).astype(np.int32)
  action = rng.integers(0, 4, n).astype(np.int32)
  mirrored = state[:, [1, 0, 2, 4, 3]]
  perm = np.array([3, 2, 1, 0])
  # the environment's action representation is this mirror of the moves
  np.testing.assert_array_equal(symmetry.action_rep.permutation[1], perm)
  nxt = key_room_physics(tf.constant(state), tf.constant(action)).numpy()
  nxt_m = key_room_physics(tf.constant(mirrored), tf.constant(perm[action])).numpy()
  np.testing.assert_array_equal(nxt_m, nxt[:, [1, 0, 2, 4, 3]])
  r1, d1 = key_room_outcome(tf.constant(state), action, tf.constant(nxt))
  r2, d2 = key_room_outcome(tf.constant(mirrored), perm[action], tf.constant(nxt_m))
  np.testing.assert_array_equal(r1.numpy(), r2.numpy())
  np.testing.assert_array_equal(d1.numpy(), d2.numpy())
  assert np.any(r1.numpy() != 0) and np.any(d1.numpy())  # rewards and ends were compared
  assert np.any(nxt[:, 2] != state[:, 2])  # and key pick-ups
  # The state representation is this mirror on observations.
  assert_equivariant(
    lambda s: key_room_observation(tf.cast(s, tf.int32)),
    state.astype(np.float32),
    _physics_rep(symmetry),
    symmetry.state_rep,
  )


def _physics_rep(symmetry):
  from tf_equirl.groups import Representation

  return Representation.from_permutations(
    symmetry.group, [np.arange(5), [1, 0, 2, 4, 3]], name="key_room_physics"
  )
