"""Pendulum-v1 as batched TensorFlow ops, step for step equal to gymnasium's.

Reference: gymnasium `envs/classic_control/pendulum.py` (gymnasium 1.x) with the
`Pendulum-v1` registration (`max_episode_steps=200`); constants carry that source. The
integrator is semi-implicit Euler (the new angular velocity, clipped to +-8, moves the
angle). The action is in `[-1, 1]` and scaled to gymnasium's torque range `[-2, 2]`.

Symmetry: D1 (`cyclic(2)`), the mirror `theta -> -theta`, `thetadot -> -thetadot`, torque
negated; on the observation `(cos, sin, thetadot)` it is `diag(1, -1, -1)`.

Symmetry-breaking variants (`make("Pendulum-v1:repeat:1")`), regions measured on the
angle wrapped to `[-pi, pi]` (0 upright, positive to the right) before the step:
  repeat   the torque is applied `1 + strength` times as hard where `theta in [0, pi/2]`.
  reflect  the torque is scaled by `1 - 2 * strength` (reversed at strength 1) where
           `theta in [0, pi/4]`.
"""

from __future__ import annotations

import functools
import math
from typing import Tuple

import numpy as np
import tensorflow as tf

from tf_equirl.envs.control import (
  ControlEnvironment,
  region_action,
  sign_symmetry,
  uniform_box,
  wrap_angle,
)
from tf_equirl.groups import MDPSymmetry, cyclic

__all__ = [
  "Pendulum",
  "pendulum_physics",
  "pendulum_broken_physics",
  "pendulum_outcome",
  "pendulum_observation",
  "pendulum_symmetry",
]

MAX_SPEED = 8.0  # gymnasium pendulum.py
MAX_TORQUE = 2.0  # gymnasium pendulum.py
DT = 0.05  # gymnasium pendulum.py
GRAVITY = 10.0  # gymnasium pendulum.py (default g)
MASS = 1.0  # gymnasium pendulum.py
LENGTH = 1.0  # gymnasium pendulum.py
MAX_EPISODE_STEPS = 200  # gymnasium envs/__init__.py, Pendulum-v1
RESET_HIGH = (math.pi, 1.0)  # gymnasium pendulum.py reset(): DEFAULT_X, DEFAULT_Y
OBSERVATION_HIGH = np.array([1.0, 1.0, MAX_SPEED], dtype=np.float32)
REPEAT_REGION = (0.0, math.pi / 2)
REFLECT_REGION = (0.0, math.pi / 4)


def pendulum_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """One step of gymnasium's pendulum.

  Args:
    state: `[B, 2]` `(theta, theta_dot)`; theta is not wrapped (as in gymnasium).
    action: float `[B, 1]` in `[-1, 1]` (torque / 2). Range checks happen in
      `pure_step`, not here, so that this stays a drop-in for a learned model.

  Returns:
    The next state `[B, 2]`.
  """
  torque = action[:, 0] * tf.constant(MAX_TORQUE, state.dtype)
  return _pendulum_dynamics(state, torque)


def _pendulum_dynamics(state: tf.Tensor, torque: tf.Tensor) -> tf.Tensor:
  th, thdot = state[:, 0], state[:, 1]
  accel = 3 * GRAVITY / (2 * LENGTH) * tf.sin(th) + 3.0 / (MASS * LENGTH**2) * torque
  new_thdot = tf.clip_by_value(thdot + accel * DT, -MAX_SPEED, MAX_SPEED)
  return tf.stack([th + new_thdot * DT, new_thdot], axis=-1)


def pendulum_broken_physics(
  state: tf.Tensor, action: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """`pendulum_physics` with the torque changed by a variant ("repeat" or "reflect")."""
  region = REPEAT_REGION if breaking == "repeat" else REFLECT_REGION
  theta = wrap_angle(state[:, 0])
  inside = tf.logical_and(theta >= region[0], theta <= region[1])
  return pendulum_physics(state, region_action(action, inside, breaking, strength))


def pendulum_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """gymnasium's reward `-(theta^2 + 0.1 thetadot^2 + 0.001 u^2)` of the state before the
  step (theta wrapped to `[-pi, pi)`, u the torque); never terminates."""
  del next_state
  th, thdot = state[:, 0], state[:, 1]
  th = tf.math.floormod(th + math.pi, 2 * math.pi) - math.pi  # gymnasium angle_normalize
  torque = action[:, 0] * MAX_TORQUE
  cost = tf.square(th) + 0.1 * tf.square(thdot) + 0.001 * tf.square(torque)
  return tf.cast(-cost, tf.float32), tf.zeros_like(th, dtype=tf.bool)


def pendulum_observation(state: tf.Tensor) -> tf.Tensor:
  """`(cos theta, sin theta, theta_dot)`, float32 `[B, 3]`."""
  th, thdot = state[:, 0], state[:, 1]
  return tf.cast(tf.stack([tf.cos(th), tf.sin(th), thdot], axis=-1), tf.float32)


@functools.lru_cache(maxsize=None)
def pendulum_symmetry() -> MDPSymmetry:
  """D1 (`cyclic(2)`): the mirror negates the angle, the velocity and the torque."""
  return sign_symmetry(cyclic(2), [[1, 1, 1], [1, -1, -1]], [[1], [-1]], name="pendulum")


class Pendulum(ControlEnvironment):
  """Batched Pendulum-v1 with gymnasium's dynamics, reward and time limit.

  Observation: float32 `[3]` `(cos theta, sin theta, theta_dot)`. Action: float32 `[1]`
  in `[-1, 1]`, the torque divided by 2 (gymnasium's Pendulum-v1 takes the torque
  itself, in `[-2, 2]`). Reward `-(theta^2 + 0.1 theta_dot^2 + 0.001 torque^2)` of the
  state before the step. No termination; the 200th step is LAST with discount 1. Resets
  draw theta uniformly from `(-pi, pi)` and theta_dot from `(-1, 1)`.

  The physics runs in float32 where gymnasium runs float64 (checked against gymnasium
  step for step to 1e-5 in tests/test_envs_continuous.py).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; 200 as in Pendulum-v1.
    physics: replacement for `pendulum_physics`.
    outcome: replacement for `pendulum_outcome`.
    breaking: None, "repeat" or "reflect" (module docstring).
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  NAME = "Pendulum-v1"
  ACTION_DIM = 1
  OBSERVATION_HIGH = OBSERVATION_HIGH
  MAX_EPISODE_STEPS = MAX_EPISODE_STEPS
  PHYSICS = pendulum_physics
  BROKEN_PHYSICS = pendulum_broken_physics
  OUTCOME = pendulum_outcome
  PHYSICS_SIGNS = ((1, 1), (-1, -1))

  @property
  def symmetry(self) -> MDPSymmetry:
    return pendulum_symmetry()

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return pendulum_observation(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    high = np.asarray(RESET_HIGH)
    return uniform_box(key, batch_size, -high, high)
