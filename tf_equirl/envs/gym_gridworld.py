"""A gymnasium (1.x) single-environment grid world, registered as `tf_equirl/GridWorld-v0`.

Same rules, observation layout and episode limit as `tf_equirl.envs.GridWorld`, written in
numpy for code that expects a gymnasium environment. The time limit is the environment's
own (`truncated=True` on its last step), so it follows `size`. Stepping after the episode
ended is an error here, as gymnasium expects `reset()` (the TF environment auto-resets).
"""

from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
from gymnasium import spaces

from tf_equirl.envs import gridworld as grid_lib

__all__ = ["GridWorldEnv", "GYMNASIUM_ID", "register_gymnasium_gridworld"]

GYMNASIUM_ID = "tf_equirl/GridWorld-v0"


class GridWorldEnv(gymnasium.Env):
  """The grid world as a gymnasium environment.

  `state` is the int array `(agent, goal, hazard_1, ..., hazard_H)` of cell indices
  `row * size + column`; assigning it lets tests start from any layout.

  Args:
    size: odd side of the grid, >= 3 (default 5).
    num_hazards: hazards per layout (default 1).
    max_episode_steps: truncation limit; None means `4 * size`.
    flat_observation: `Box(0, 1, (3*size*size,))` (default) or `Box(0, 1, (3, size, size))`.
    render_mode: unused; accepted because `gymnasium.make` passes it.
  """

  metadata = {"render_modes": []}

  def __init__(
    self,
    size: int = grid_lib.SIZE,
    num_hazards: int = grid_lib.NUM_HAZARDS,
    max_episode_steps: Optional[int] = None,
    flat_observation: bool = True,
    render_mode: Optional[str] = None,
  ):
    self.size = grid_lib._check_size(size, "GridWorldEnv")  # pylint: disable=protected-access
    cells = self.size * self.size
    if not isinstance(num_hazards, (int, np.integer)) or not 0 <= num_hazards <= cells - 2:
      raise ValueError(
        f"GridWorldEnv: num_hazards must be an integer in [0, {cells - 2}], "
        f"received num_hazards={num_hazards!r}."
      )
    self.num_hazards = int(num_hazards)
    self.max_episode_steps = 4 * self.size if max_episode_steps is None else int(max_episode_steps)
    self.flat_observation = bool(flat_observation)
    self.render_mode = render_mode
    shape = (
      (grid_lib.NUM_PLANES * cells,)
      if self.flat_observation
      else (grid_lib.NUM_PLANES, self.size, self.size)
    )
    self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
    self.action_space: spaces.Discrete = spaces.Discrete(len(grid_lib.MOVES))
    self.state: Optional[np.ndarray] = None
    self.steps = 0
    self._ended = False

  def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
    super().reset(seed=seed)
    self.state = self.np_random.permutation(self.size * self.size)[: 2 + self.num_hazards]
    self.steps, self._ended = 0, False
    return self._observation(), {}

  def step(self, action: Any):
    if self.state is None:
      raise RuntimeError("GridWorldEnv: call reset() before step().")
    if self._ended:
      raise RuntimeError("GridWorldEnv: the episode has ended; call reset() before step().")
    if not self.action_space.contains(action):
      raise ValueError(
        f"GridWorldEnv: invalid action {action!r}; valid actions are integers "
        f"in [0, {int(np.asarray(self.action_space.n)) - 1}]."
      )
    row, column = divmod(int(self.state[0]), self.size)
    d_row, d_column = grid_lib.MOVES[int(action)]
    if 0 <= row + d_row < self.size and 0 <= column + d_column < self.size:
      self.state = self.state.copy()
      self.state[0] = (row + d_row) * self.size + column + d_column
    self.steps += 1
    agent = int(self.state[0])
    reward, terminated = 0.0, False
    if agent == int(self.state[1]):
      reward, terminated = 1.0, True
    elif agent in (int(h) for h in self.state[2:]):
      reward, terminated = -1.0, True
    truncated = not terminated and self.steps >= self.max_episode_steps
    self._ended = terminated or truncated
    return self._observation(), reward, terminated, truncated, {}

  def _observation(self) -> np.ndarray:
    planes = np.zeros((grid_lib.NUM_PLANES, self.size * self.size), dtype=np.float32)
    state = self.state
    if state is None:
      raise RuntimeError("GridWorldEnv: call reset() before reading an observation.")
    planes[0, state[0]] = 1.0
    planes[1, state[1]] = 1.0
    planes[2, state[2:]] = 1.0
    return (
      planes.reshape(-1)
      if self.flat_observation
      else planes.reshape(grid_lib.NUM_PLANES, self.size, self.size)
    )


def register_gymnasium_gridworld() -> None:
  """Registers `tf_equirl/GridWorld-v0` with gymnasium; a second call does nothing."""
  if GYMNASIUM_ID not in gymnasium.registry:
    gymnasium.register(id=GYMNASIUM_ID, entry_point=f"{__name__}:GridWorldEnv")
