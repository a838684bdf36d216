"""A gymnasium (1.x) single-environment Catch, registered as `tf_equirl/Catch-v0`.

Same rules as `tf_equirl.envs.Catch` (bsuite `environments/catch.py`), written in
numpy for code that expects a gymnasium environment. Stepping after termination is
an error here, as gymnasium expects `reset()` (the TF environment auto-resets).
"""

from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
from gymnasium import spaces

from tf_equirl.envs import catch as catch_lib

__all__ = ["CatchEnv", "GYMNASIUM_ID", "register_gymnasium_envs"]

GYMNASIUM_ID = "tf_equirl/Catch-v0"


class CatchEnv(gymnasium.Env):
  """bsuite Catch as a gymnasium environment.

  `state` is the int array `(ball_row, ball_col, paddle_col)`; assigning it (as
  with gymnasium's CartPole `state`) lets tests start from any position.

  Args:
    rows: grid height (bsuite: 10).
    columns: grid width (bsuite: 5).
    flat_observation: `Box(0, 1, (rows*columns,))` (default, matching
      `tf_equirl.envs.Catch`) or `Box(0, 1, (rows, columns))`.
    render_mode: unused; accepted because `gymnasium.make` passes it.
  """

  metadata = {"render_modes": []}

  def __init__(
    self,
    rows: int = catch_lib.ROWS,
    columns: int = catch_lib.COLUMNS,
    flat_observation: bool = True,
    render_mode: Optional[str] = None,
  ):
    for arg, value, low in (("rows", rows, 2), ("columns", columns, 1)):
      if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"CatchEnv: {arg} must be an integer >= {low}, received {value!r}.")
    self.rows, self.columns = int(rows), int(columns)
    self.flat_observation = bool(flat_observation)
    self.render_mode = render_mode
    shape = (self.rows * self.columns,) if self.flat_observation else (self.rows, self.columns)
    self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
    self.action_space: spaces.Discrete = spaces.Discrete(len(catch_lib.PADDLE_MOVES))
    self.state: Optional[np.ndarray] = None

  def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
    super().reset(seed=seed)
    self.state = np.array(
      [0, self.np_random.integers(self.columns), self.columns // 2], dtype=np.int64
    )
    return self._observation(), {}

  def step(self, action: Any):
    if self.state is None:
      raise RuntimeError("CatchEnv: call reset() before step().")
    if not self.action_space.contains(action):
      raise ValueError(
        f"CatchEnv: invalid action {action!r}; valid actions are integers in "
        f"[0, {int(np.asarray(self.action_space.n)) - 1}]."
      )
    ball_row, ball_col, paddle = (int(v) for v in self.state)
    if ball_row >= self.rows - 1:
      raise RuntimeError("CatchEnv: the episode has terminated; call reset() before step().")
    paddle = int(np.clip(paddle + catch_lib.PADDLE_MOVES[int(action)], 0, self.columns - 1))
    ball_row += 1
    self.state = np.array([ball_row, ball_col, paddle], dtype=np.int64)
    terminated = ball_row == self.rows - 1
    reward = (1.0 if paddle == ball_col else -1.0) if terminated else 0.0
    return self._observation(), reward, terminated, False, {}

  def _observation(self) -> np.ndarray:
    state = self.state
    if state is None:
      raise RuntimeError("CatchEnv: call reset() before reading an observation.")
    board = np.zeros((self.rows, self.columns), dtype=np.float32)
    board[state[0], state[1]] = 1.0
    board[self.rows - 1, state[2]] = 1.0
    return board.reshape(-1) if self.flat_observation else board


def register_gymnasium_envs() -> None:
  """Registers `tf_equirl/Catch-v0` with gymnasium; a second call does nothing."""
  if GYMNASIUM_ID not in gymnasium.registry:
    gymnasium.register(id=GYMNASIUM_ID, entry_point=f"{__name__}:CatchEnv")
