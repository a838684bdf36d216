"""The continuous-control environments as gymnasium (1.x) environments.

`ControlGymEnv("CartPoleSwingup-v0")` steps the registered TF environment with batch size
1 (one implementation, no numpy copy of the physics), and `register_gymnasium_control()`
registers `tf_equirl/CartPoleSwingup-v0`, `tf_equirl/AcrobotSwingup-v0`,
`tf_equirl/Reacher-v0` and `tf_equirl/Pendulum-v1` (the last with actions in `[-1, 1]`;
gymnasium's own `Pendulum-v1` takes the torque, twice the action) with their time limits.
Stepping after the time limit is gymnasium's `TimeLimit`'s business; the wrapped
environment never terminates.
"""

from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
import tensorflow as tf
from gymnasium import spaces

from tf_equirl.envs import acrobot_swingup, cartpole_swingup, pendulum, reacher

__all__ = ["ControlGymEnv", "CONTROL_GYMNASIUM_IDS", "register_gymnasium_control"]

CONTROL_GYMNASIUM_IDS = {
  "tf_equirl/Pendulum-v1": "Pendulum-v1",
  "tf_equirl/CartPoleSwingup-v0": "CartPoleSwingup-v0",
  "tf_equirl/AcrobotSwingup-v0": "AcrobotSwingup-v0",
  "tf_equirl/Reacher-v0": "Reacher-v0",
}

_EPISODE_STEPS = {
  "Pendulum-v1": pendulum.MAX_EPISODE_STEPS,
  "CartPoleSwingup-v0": cartpole_swingup.MAX_EPISODE_STEPS,
  "AcrobotSwingup-v0": acrobot_swingup.MAX_EPISODE_STEPS,
  "Reacher-v0": reacher.MAX_EPISODE_STEPS,
}


class ControlGymEnv(gymnasium.Env):
  """A registered continuous-control TF environment as a single gymnasium environment.

  Args:
    env: registered name, variants included (`"CartPoleSwingup-v0:gravity:1"`).
    render_mode: unused; accepted because `gymnasium.make` passes it.

  Raises:
    ValueError: for an environment with discrete actions.
  """

  metadata = {"render_modes": []}

  def __init__(self, env: str, render_mode: Optional[str] = None):
    from tf_equirl.envs.registry import make  # pylint: disable=g-import-not-at-top

    self._env = make(env, batch_size=1, max_episode_steps=None)
    if not self._env.continuous_actions:
      raise ValueError(
        f"ControlGymEnv wraps environments with continuous actions; {env!r} has "
        f"{self._env.num_actions} discrete actions."
      )
    self.render_mode = render_mode
    spec = self._env.observation_spec()
    self.observation_space = spaces.Box(
      np.asarray(spec.minimum, np.float32), np.asarray(spec.maximum, np.float32), dtype=np.float32
    )
    assert self._env.action_dim is not None  # a continuous environment
    self.action_space = spaces.Box(-1.0, 1.0, shape=(self._env.action_dim,), dtype=np.float32)
    self._step = tf.function(self._env.pure_step, autograph=False)
    self._state: Any = None

  def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
    super().reset(seed=seed)
    self._state, time_step = self._env.pure_reset(int(self.np_random.integers(2**31)))
    return time_step.observation.numpy()[0], {}

  def step(self, action: Any):
    if self._state is None:
      raise RuntimeError("ControlGymEnv: call reset() before step().")
    values = np.asarray(action, np.float32)
    if values.shape != self.action_space.shape or not np.all(np.abs(values) <= 1):
      raise ValueError(
        f"ControlGymEnv: invalid action {action!r}; valid actions are finite floats in "
        f"[-1, 1] of shape {self.action_space.shape}."
      )
    self._state, time_step = self._step(self._state, tf.constant(values[None]))
    reward = float(time_step.reward.numpy()[0])
    return time_step.observation.numpy()[0], reward, False, False, {}


def register_gymnasium_control() -> None:
  """Registers the ids of `CONTROL_GYMNASIUM_IDS`; a second call does nothing."""
  for gym_id, name in CONTROL_GYMNASIUM_IDS.items():
    if gym_id not in gymnasium.registry:
      gymnasium.register(
        id=gym_id,
        entry_point=f"{__name__}:ControlGymEnv",
        kwargs={"env": name},
        max_episode_steps=_EPISODE_STEPS[name],
      )
