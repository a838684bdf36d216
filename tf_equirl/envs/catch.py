"""Catch (bsuite) as batched TensorFlow ops.

Reference: bsuite `environments/catch.py`. A ball starts in row 0 of a
`rows x columns` grid in a uniformly random column and falls one row per step; the
paddle starts in column `columns // 2` of the last row. Actions 0/1/2 move the
paddle by -1/0/+1, clipped to the grid; the paddle moves first, then the ball
drops. When the ball reaches the last row the episode terminates with reward +1 if
the paddle is under it and -1 otherwise; every other step has reward 0.

Physics state: int32 `[B, 3]` = `(ball_row, ball_col, paddle_col)`. The
observation draws it on the grid: 1.0 at the ball and at the paddle, 0 elsewhere.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl import rng
from tf_equirl.envs import breaking as breaking_lib
from tf_equirl.envs.base import BatchedEnvironment, OutcomeFn, PhysicsFn
from tf_equirl.groups import MDPSymmetry, Representation, cyclic

__all__ = [
  "Catch",
  "catch_physics",
  "catch_outcome",
  "catch_symmetry",
  "catch_observation",
  "catch_state_from_observation",
]

ROWS = 10  # bsuite catch.py default
COLUMNS = 5  # bsuite catch.py default
PADDLE_MOVES = (-1, 0, 1)  # bsuite catch.py _ACTIONS


def catch_physics(state: tf.Tensor, action: tf.Tensor, columns: int = COLUMNS) -> tf.Tensor:
  """Moves the paddle by `action - 1` (clipped to the grid), then drops the ball a row.

  Args:
    state: int32 `[B, 3]` `(ball_row, ball_col, paddle_col)`.
    action: int32 `[B]` in {0, 1, 2}; range checks happen in `Catch.pure_step`.
    columns: grid width.
  """
  ball_row, ball_col, paddle = tf.unstack(state, num=3, axis=-1)
  # Clipping at the walls is the game's rule (bsuite: np.clip), not input cleaning.
  paddle = tf.clip_by_value(paddle + tf.cast(action, state.dtype) - 1, 0, columns - 1)
  return tf.stack([ball_row + 1, ball_col, paddle], axis=-1)


def catch_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor, rows: int = ROWS
) -> Tuple[tf.Tensor, tf.Tensor]:
  """Terminates when the ball reaches the paddle's row: +1 if caught, -1 if missed."""
  del state, action
  ball_row, ball_col, paddle = tf.unstack(next_state, num=3, axis=-1)
  terminated = tf.equal(ball_row, rows - 1)
  hit = tf.where(tf.equal(ball_col, paddle), 1.0, -1.0)
  return tf.where(terminated, hit, 0.0), terminated


def catch_observation(
  state: tf.Tensor, rows: int = ROWS, columns: int = COLUMNS, flat: bool = True
) -> tf.Tensor:
  """Float32 grid with 1.0 at the ball and the paddle: `[B, rows*columns]` or `[B, rows, columns]`.

  Flattening is row-major: cell `(r, c)` is entry `r * columns + c`.
  """
  ball_row, ball_col, paddle = tf.unstack(state, num=3, axis=-1)
  cells = rows * columns
  board = tf.maximum(
    tf.one_hot(ball_row * columns + ball_col, cells, dtype=tf.float32),
    tf.one_hot((rows - 1) * columns + paddle, cells, dtype=tf.float32),
  )
  return board if flat else tf.reshape(board, [-1, rows, columns])


def catch_state_from_observation(
  observation: Any, rows: int = ROWS, columns: int = COLUMNS
) -> tf.Tensor:
  """Inverse of `catch_observation` (flat or grid): int32 `[B, 3]`.

  Where the ball sits on the paddle's cell, the ball and the paddle share it. A
  missed ball on the last row (a terminal observation) is ambiguous, since the
  grid does not say which of the two 1s is the paddle; the left one is taken.
  """
  obs = tf.reshape(tf.convert_to_tensor(observation, tf.float32), [-1, rows, columns])
  paddle = tf.argmax(obs[:, rows - 1], axis=-1, output_type=tf.int32)
  # Remove the paddle, then the ball is the remaining 1 (or on the paddle's cell).
  flat = tf.reshape(obs, [-1, rows * columns]) - tf.one_hot(
    (rows - 1) * columns + paddle, rows * columns
  )
  has_ball = tf.reduce_any(flat > 0.5, axis=-1)
  ball_index = tf.argmax(flat, axis=-1, output_type=tf.int32)
  ball_index = tf.where(has_ball, ball_index, (rows - 1) * columns + paddle)
  return tf.stack([ball_index // columns, ball_index % columns, paddle], axis=-1)


@functools.lru_cache(maxsize=None)
def catch_symmetry(rows: int = ROWS, columns: int = COLUMNS) -> MDPSymmetry:
  """C2 mirroring the columns (`c -> columns-1-c`) and swapping left/right moves.

  Raises:
    ValueError: for an even number of columns, where the paddle's start column
      `columns // 2` is not on the mirror axis and the MDP is not symmetric.
  """
  if columns % 2 == 0:
    raise ValueError(
      f"Catch with columns={columns} has no column-flip symmetry: the paddle starts in "
      f"column {columns // 2}, whose mirror image is column {columns - 1 - columns // 2}. "
      "Use an odd number of columns (bsuite's default is 5)."
    )
  group = cyclic(2)
  r, c = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
  flip = (r * columns + (columns - 1 - c)).reshape(-1)
  state_rep = Representation.from_permutations(
    group, [np.arange(rows * columns), flip], name="catch_state"
  )
  action_rep = Representation.from_permutations(group, [[0, 1, 2], [2, 1, 0]], name="catch_action")
  return MDPSymmetry(group, state_rep, action_rep)


class Catch(BatchedEnvironment):
  """Batched bsuite Catch.

  Every episode lasts exactly `rows - 1` steps and ends with reward +1 or -1 and
  discount 0; there is no time limit.

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    rows: grid height (bsuite: 10).
    columns: grid width (bsuite: 5). Must be odd for `symmetry` to exist.
    flat_observation: observations as the row-major `[rows*columns]` vector (the
      default, what networks and the thesis use) or as the `[rows, columns]` grid.
      `symmetry.state_rep` always acts on the flat vector.
    physics: replacement for `catch_physics`, `(state [B,3], action [B]) -> [B,3]`.
    outcome: replacement for `catch_outcome`.
    breaking: None, or a symmetry-breaking variant "global" (wind drifting the ball one
      column right), "reflect" or "repeat" (the paddle's move reversed / doubled left of the
      centre), each happening with probability `strength` per step, drawn from the
      environment's stateless key; see `tf_equirl.envs.breaking`. Replaces the default
      physics only.
    strength: probability in [0, 1] of the breaking event (0: the original environment).
    max_episode_steps: None (the default: episodes end by themselves after `rows - 1`
      steps) or a truncation limit; any limit >= `rows - 1` changes nothing but tells
      `collect_episodes` how long episodes can be.
  """

  def __init__(
    self,
    batch_size: int = 1,
    seed: Any = 0,
    rows: int = ROWS,
    columns: int = COLUMNS,
    flat_observation: bool = True,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
    breaking: Optional[str] = None,
    strength: float = 0.0,
    max_episode_steps: Optional[int] = None,
  ):
    checked = breaking_lib.check_breaking("Catch", breaking, strength)
    strength = 0.0 if checked is None else checked
    # The broken dynamics are random, so they run in _step_physics with the key.
    self._broken = breaking if physics is None else None
    for arg, value, low in (("rows", rows, 2), ("columns", columns, 1)):
      if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"Catch: {arg} must be an integer >= {low}, received {value!r}.")
    if not isinstance(flat_observation, bool):
      raise ValueError(f"Catch: flat_observation must be a bool, received {flat_observation!r}.")
    self._rows, self._columns = int(rows), int(columns)
    self._flat = flat_observation
    self._config = dict(
      batch_size=batch_size,
      seed=seed,
      rows=rows,
      columns=columns,
      flat_observation=flat_observation,
      breaking=breaking,
      strength=strength or 0.0,
      max_episode_steps=max_episode_steps,
    )
    shape = [self._rows * self._columns] if flat_observation else [self._rows, self._columns]
    observation_spec = tensor_spec.BoundedTensorSpec(
      shape, tf.float32, minimum=0.0, maximum=1.0, name="observation"
    )
    super().__init__(
      name="Catch",
      observation_spec=observation_spec,
      num_actions=len(PADDLE_MOVES),
      physics=(
        functools.partial(catch_physics, columns=self._columns) if physics is None else physics
      ),
      outcome=(functools.partial(catch_outcome, rows=self._rows) if outcome is None else outcome),
      max_episode_steps=max_episode_steps,
      batch_size=batch_size,
      seed=seed,
    )

  @property
  def rows(self) -> int:
    return self._rows

  @property
  def columns(self) -> int:
    return self._columns

  @property
  def flat_observation(self) -> bool:
    return self._flat

  @property
  def symmetry(self) -> MDPSymmetry:
    return catch_symmetry(self._rows, self._columns)

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return catch_observation(physics, self._rows, self._columns, self._flat)

  def state_from_observation(self, observation: Any) -> tf.Tensor:
    """Physics state `[B, 3]` drawn in `observation` (for models that work on observations)."""
    return catch_state_from_observation(observation, self._rows, self._columns)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    ball_col = rng.uniform([batch_size], seed=key, minval=0, maxval=self._columns, dtype=tf.int32)
    zeros = tf.zeros_like(ball_col)
    return tf.stack([zeros, ball_col, zeros + self._columns // 2], axis=-1)

  @property
  def breaking(self) -> Optional[str]:
    """The symmetry-breaking variant (None: the original Catch)."""
    return self._config["breaking"]

  @property
  def strength(self) -> float:
    return self._config["strength"]

  def _step_physics(self, state, action):
    if self._broken is None:
      return self._physics(state.physics, action)
    coin = breaking_lib.bernoulli_bits(state.key, tf.shape(action)[0], self.strength)
    return breaking_lib.catch_broken_physics(
      state.physics, action, coin, self._broken, self._columns
    )

  def with_dynamics(
    self, physics: Optional[PhysicsFn] = None, outcome: Optional[OutcomeFn] = None
  ) -> "Catch":
    config = dict(self._config)
    if physics is not None:  # a replacement stands for the whole dynamics, breaking included
      config.update(breaking=None, strength=0.0)
    elif self._broken is None:
      physics = self._physics
    return Catch(**config, physics=physics, outcome=self._outcome if outcome is None else outcome)
