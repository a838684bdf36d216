"""KeyRoom: fetch a key, then walk to a door, as batched TensorFlow ops.

Reference: the single-object room of ElisevanderPol/PRAE (`prae/envs/room.py`,
`RoomEnv(n_objects=1)`). An 8 x 8 room whose border is wall, so the robot moves on the
6 x 6 interior (rows and columns 1..6). The key lies at (5, 5). The robot starts on a
uniformly random interior cell other than the key's. Actions 0/1/2/3 move it by
(-1, 0) / (0, +1) / (+1, 0) / (0, -1), clipped to the interior. Stepping onto the key picks it
up (reward +1); stepping onto the door with the key ends the episode (reward +1); every
other step costs 0.1. Episodes are cut after 100 steps (the reference's `max_time`).

The door is drawn at reset: with `doors="train"` among the four interior corners (1, 1),
(1, 6), (6, 1), (6, 6), the reference's training goals; with `doors="test"` among all
interior cells other than the key's and the robot's start, the reference's test goals;
`door=(row, col)` fixes it. The door is not observed (as in the reference, whose image
shows the robot and the key only): a planner is given it as a goal observation,
`key_room_goal_observation(door)`, the robot on the door with the key gone.

Physics state: int32 `[B, 5]` = `(robot_row, robot_col, has_key, door_row, door_col)`.
Observation: float32 `[2 * 8 * 8]`, two row-major planes over the room: the robot's cell,
then the key's cell (empty once picked up).

Symmetry: C2, the mirror in the main diagonal, `(r, c) -> (c, r)`, on both planes; it fixes
the key (5, 5), maps the interior and the training doors onto themselves and swaps the
moves 0 <-> 3 and 1 <-> 2. With the door (transposed alike) the dynamics commute with it;
the observations leave the door out, and its reset distribution is invariant for
`doors="train"`, so the mirror is a symmetry of what the agent sees too.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl import rng
from tf_equirl.envs.base import BatchedEnvironment, OutcomeFn, PhysicsFn
from tf_equirl.groups import MDPSymmetry, Representation, cyclic

__all__ = [
  "KeyRoom",
  "key_room_physics",
  "key_room_outcome",
  "key_room_observation",
  "key_room_goal_observation",
  "key_room_symmetry",
  "key_room_success",
  "KEY",
  "TRAIN_DOORS",
  "FREE_CELLS",
]

SIZE = 8  # reference room.py width / height
KEY = (5, 5)  # reference room.py get_locations
TRAIN_DOORS = ((1, 1), (6, 6), (1, 6), (6, 1))  # reference room.py reset, train=True
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # reference room.py step
MAX_STEPS = 100  # reference room.py max_time
STEP_COST = 0.1
FREE_CELLS = tuple((r, c) for r in range(1, SIZE - 1) for c in range(1, SIZE - 1) if (r, c) != KEY)


def key_room_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """Moves the robot (clipped to the interior) and picks the key up on its cell."""
  row, col, has_key, door_row, door_col = tf.unstack(state, num=5, axis=-1)
  moves = tf.constant(MOVES, tf.int32)
  delta = tf.gather(moves, tf.cast(action, tf.int32))
  row = tf.clip_by_value(row + delta[:, 0], 1, SIZE - 2)
  col = tf.clip_by_value(col + delta[:, 1], 1, SIZE - 2)
  on_key = tf.logical_and(tf.equal(row, KEY[0]), tf.equal(col, KEY[1]))
  has_key = tf.where(on_key, 1, has_key)
  return tf.stack([row, col, has_key, door_row, door_col], axis=-1)


def key_room_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """+1 for picking up the key, +1 (and the end) for reaching the door with it, else -0.1."""
  del action
  picked = tf.logical_and(tf.equal(state[:, 2], 0), tf.equal(next_state[:, 2], 1))
  at_door = tf.logical_and(
    tf.equal(next_state[:, 0], next_state[:, 3]), tf.equal(next_state[:, 1], next_state[:, 4])
  )
  delivered = tf.logical_and(tf.equal(next_state[:, 2], 1), at_door)
  reward = tf.where(tf.logical_or(picked, delivered), 1.0, -STEP_COST)
  return reward, delivered


def key_room_observation(state: tf.Tensor) -> tf.Tensor:
  """Float32 `[B, 128]`: the robot's plane, then the key's (empty once picked up)."""
  cells = SIZE * SIZE
  robot = tf.one_hot(state[:, 0] * SIZE + state[:, 1], cells, dtype=tf.float32)
  key = tf.one_hot(KEY[0] * SIZE + KEY[1], cells, dtype=tf.float32)[None, :]
  key = key * tf.cast(tf.equal(state[:, 2:3], 0), tf.float32)
  return tf.concat([robot, key], axis=-1)


def key_room_goal_observation(door: Sequence[int]) -> np.ndarray:
  """The goal a planner is given for `door`: the robot on it, the key gone, `[128]`."""
  row, col = _check_cell(door, "door")
  obs = np.zeros(2 * SIZE * SIZE, np.float32)
  obs[row * SIZE + col] = 1.0
  return obs


def key_room_success(returns: Any) -> np.ndarray:
  """Whether each episode reached the door with the key, from its return.

  A delivered episode of `T <= 100` steps returns `2 - 0.1 (T - 2) >= -7.8`; one that
  misses returns at most `1 - 0.1 * 99 = -8.9` (key picked, door missed), so -8.5 splits them.
  """
  return np.asarray(returns) > -8.5


@functools.lru_cache(maxsize=None)
def key_room_symmetry() -> MDPSymmetry:
  """C2: the mirror in the main diagonal on both planes; moves 0 <-> 3, 1 <-> 2."""
  r, c = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
  transpose = (c * SIZE + r).reshape(-1)
  cells = SIZE * SIZE
  state_rep = Representation.from_permutations(
    cyclic(2),
    [np.arange(2 * cells), np.concatenate([transpose, transpose + cells])],
    name="key_room_state",
  )
  action_rep = Representation.from_permutations(
    cyclic(2), [[0, 1, 2, 3], [3, 2, 1, 0]], name="key_room_action"
  )
  return MDPSymmetry(cyclic(2), state_rep, action_rep)


def _check_cell(cell: Any, what: str) -> Tuple[int, int]:
  ok = isinstance(cell, (tuple, list, np.ndarray)) and len(cell) == 2
  if ok:
    row, col = (int(v) for v in cell)
    ok = 1 <= row <= SIZE - 2 and 1 <= col <= SIZE - 2 and (row, col) != KEY
  if not ok:
    raise ValueError(
      f"KeyRoom: {what} must be an interior cell (row, col) with 1 <= row, col <= {SIZE - 2}, "
      f"other than the key's {KEY}; received {cell!r}."
    )
  return row, col


class KeyRoom(BatchedEnvironment):
  """Batched single-object room of the PRAE reference (see the module docstring).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    doors: "train" (a door drawn among the four interior corners) or "test" (among all
      interior cells other than the key's and the robot's start).
    door: a fixed door `(row, col)`, overriding `doors`.
    max_episode_steps: truncation limit (reference: 100).
    physics: replacement for `key_room_physics`.
    outcome: replacement for `key_room_outcome`.

  Raises:
    ValueError: an unknown `doors`, a door that is not a free interior cell.
  """

  def __init__(
    self,
    batch_size: int = 1,
    seed: Any = 0,
    doors: str = "train",
    door: Optional[Sequence[int]] = None,
    max_episode_steps: Optional[int] = MAX_STEPS,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
  ):
    if doors not in ("train", "test"):
      raise ValueError(f"KeyRoom: doors must be 'train' or 'test', received doors={doors!r}.")
    self._door = None if door is None else _check_cell(door, "door")
    self._doors = doors
    self._config = dict(
      batch_size=batch_size,
      seed=seed,
      doors=doors,
      door=self._door,
      max_episode_steps=max_episode_steps,
    )
    observation_spec = tensor_spec.BoundedTensorSpec(
      [2 * SIZE * SIZE], tf.float32, minimum=0.0, maximum=1.0, name="observation"
    )
    super().__init__(
      name="KeyRoom",
      observation_spec=observation_spec,
      num_actions=len(MOVES),
      physics=key_room_physics if physics is None else physics,
      outcome=key_room_outcome if outcome is None else outcome,
      max_episode_steps=max_episode_steps,
      batch_size=batch_size,
      seed=seed,
    )

  @property
  def symmetry(self) -> MDPSymmetry:
    return key_room_symmetry()

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return key_room_observation(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    free = tf.constant(FREE_CELLS, tf.int32)  # [35, 2]
    start = rng.uniform(
      [batch_size], seed=rng.fold_in(key, 0), minval=0, maxval=len(FREE_CELLS), dtype=tf.int32
    )
    robot = tf.gather(free, start)
    if self._door is not None:
      door = tf.tile(tf.constant([self._door], tf.int32), [batch_size, 1])
    elif self._doors == "train":
      pick = rng.uniform(
        [batch_size], seed=rng.fold_in(key, 1), minval=0, maxval=len(TRAIN_DOORS), dtype=tf.int32
      )
      door = tf.gather(tf.constant(TRAIN_DOORS, tf.int32), pick)
    else:
      # Any free cell but the robot's start: draw among the other 34 and skip the start.
      pick = rng.uniform(
        [batch_size],
        seed=rng.fold_in(key, 1),
        minval=0,
        maxval=len(FREE_CELLS) - 1,
        dtype=tf.int32,
      )
      door = tf.gather(free, pick + tf.cast(pick >= start, tf.int32))
    zeros = tf.zeros([batch_size, 1], tf.int32)
    return tf.concat([robot, zeros, door], axis=-1)
