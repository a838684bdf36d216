"""Acrobot swing-up (dm_control `acrobot.swingup`) as batched TensorFlow ops.

Constants carry their source: dm_control `suite/acrobot.xml` and `suite/acrobot.py` (two
links of length 1 and mass 1, joint damping 0.05, the elbow motor's gear 2, target 2 above
the shoulder with radius 0.2, timestep 0.01, 10 s episodes = 1000 steps) and the smooth
reward `tolerance(|tip - target|, bounds=(0, 0.2), margin=1)` (gaussian, as dm_control's
`rewards.tolerance`).

This is not MuJoCo. The links are rigid bodies with MuJoCo's compiled capsule inertias; the
two-link equations of motion (`control.two_link_step`) are integrated by
semi-implicit Euler with implicit damping at dm_control's timestep 0.01, where dm_control
integrates MuJoCo's model with RK4. Resets draw both angles uniformly from `(-pi, pi)` with
zero velocities, as dm_control does.

State `(theta1, theta2, theta1_dot, theta2_dot)`: theta1 is the shoulder's angle from
upright, theta2 the elbow's relative to the upper arm; positive angles turn towards +x.
Observation, as dm_control's `orientations` and `velocity`: `(sin theta1, sin(theta1 +
theta2), cos theta1, cos(theta1 + theta2), theta1_dot, theta2_dot)`. Action `[1]` in
`[-1, 1]`: the elbow torque is `2 * action`.

Symmetry: D1 (`cyclic(2)`), the mirror `x -> -x`: angles, velocities and the torque change
sign; on the observation `diag(-1, -1, 1, 1, -1, -1)`.

Symmetry-breaking variants (`make("AcrobotSwingup-v0:repeat:1")`):
  repeat   the torque is applied `1 + strength` times as hard where the inner (shoulder)
           joint is in the fourth quadrant: theta1 wrapped to `[-pi, pi]` in `[-pi/2, 0]`
           (up and to the left, counting quadrants from upright towards +x).
  gravity  gravity `(-2 * strength, 2 * strength, -9.81)` (the seed study's
           `(-2, 2, -9.81)` at strength 1). The model is planar in x-z: the y component is
           along the joint axes and does nothing; the horizontal x component breaks the
           mirror.
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
  tolerance,
  two_link_step,
  uniform_box,
  wrap_angle,
)
from tf_equirl.groups import MDPSymmetry, cyclic

__all__ = [
  "AcrobotSwingup",
  "acrobot_swingup_physics",
  "acrobot_swingup_broken_physics",
  "acrobot_swingup_outcome",
  "acrobot_swingup_observation",
  "acrobot_swingup_symmetry",
]

LINK_MASS = 1.0  # dm_control acrobot.xml, default geom mass
LINK_LENGTH = 1.0  # dm_control acrobot.xml: fromto 0 to 1
# About the centres, perpendicular to the links: MuJoCo's inertias of the capsules (radii
# 0.05 and 0.049) in the compiled dm_control model (`physics.model.body_inertia`, mujoco 3.14).
UPPER_INERTIA = 0.0955703125
LOWER_INERTIA = 0.095303657196
# (m1, m2, l1, lc1, lc2, i1, i2) of control.two_link_step
LINK = (LINK_MASS, LINK_MASS, LINK_LENGTH, 0.5, 0.5, UPPER_INERTIA, LOWER_INERTIA)
DAMPING = 0.05  # dm_control acrobot.xml, default joint damping
GEAR = 2.0  # dm_control acrobot.xml, motor "elbow"
GRAVITY = 9.81  # MuJoCo's default gravity
TIMESTEP = 0.01  # dm_control acrobot.xml option timestep
TARGET_HEIGHT = 2.0  # dm_control acrobot.xml: target at z=4, shoulder at z=2
TARGET_RADIUS = 0.2  # dm_control acrobot.xml, site "target" size
MAX_EPISODE_STEPS = 1000  # dm_control acrobot.py: 10 s at 0.01 s per step
GRAVITY_TILT = -2.0  # Park et al. 2025, D.1: gravity (-2, 2, -9.81)
REPEAT_REGION = (-math.pi / 2, 0.0)
OBSERVATION_HIGH = np.array([1.0, 1.0, 1.0, 1.0, np.inf, np.inf], dtype=np.float32)


def _dynamics(state: tf.Tensor, torque: tf.Tensor, gravity_x: float) -> tf.Tensor:
  torques = tf.stack([tf.zeros_like(torque), torque], axis=-1)
  return two_link_step(state, torques, LINK, (gravity_x, -GRAVITY), (DAMPING, DAMPING), TIMESTEP)


def acrobot_swingup_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """One step of the acrobot.

  Args:
    state: `[B, 4]` `(theta1, theta2, theta1_dot, theta2_dot)`.
    action: float `[B, 1]` in `[-1, 1]` (elbow torque / 2). Range checks happen in
      `pure_step`, not here, so that this stays a drop-in for a learned model.

  Returns:
    The next state `[B, 4]`.
  """
  return _dynamics(state, GEAR * action[:, 0], 0.0)


def acrobot_swingup_broken_physics(
  state: tf.Tensor, action: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """`acrobot_swingup_physics` under a variant ("repeat" or "gravity")."""
  if breaking == "gravity":
    return _dynamics(state, GEAR * action[:, 0], GRAVITY_TILT * strength)
  theta1 = wrap_angle(state[:, 0])
  inside = tf.logical_and(theta1 >= REPEAT_REGION[0], theta1 <= REPEAT_REGION[1])
  return acrobot_swingup_physics(state, region_action(action, inside, breaking, strength))


def acrobot_tip(state: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """The tip's `(x, z)` relative to the shoulder."""
  theta1, theta12 = state[:, 0], state[:, 0] + state[:, 1]
  return (
    LINK_LENGTH * (tf.sin(theta1) + tf.sin(theta12)),
    LINK_LENGTH * (tf.cos(theta1) + tf.cos(theta12)),
  )


def acrobot_swingup_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """dm_control's smooth reward of the state after the step; never terminates."""
  del state, action
  x, z = acrobot_tip(next_state)
  distance = tf.sqrt(tf.square(x) + tf.square(z - TARGET_HEIGHT))
  reward = tolerance(distance, bounds=(0.0, TARGET_RADIUS), margin=1.0)
  return tf.cast(reward, tf.float32), tf.zeros_like(x, dtype=tf.bool)


def acrobot_swingup_observation(state: tf.Tensor) -> tf.Tensor:
  """`(sin t1, sin(t1 + t2), cos t1, cos(t1 + t2), t1_dot, t2_dot)`, float32 `[B, 6]`."""
  theta1, theta12 = state[:, 0], state[:, 0] + state[:, 1]
  obs = [tf.sin(theta1), tf.sin(theta12), tf.cos(theta1), tf.cos(theta12), state[:, 2], state[:, 3]]
  return tf.cast(tf.stack(obs, axis=-1), tf.float32)


@functools.lru_cache(maxsize=None)
def acrobot_swingup_symmetry() -> MDPSymmetry:
  """D1 (`cyclic(2)`): the mirror negates the angles, the velocities and the torque."""
  return sign_symmetry(
    cyclic(2), [[1] * 6, [-1, -1, 1, 1, -1, -1]], [[1], [-1]], name="acrobot_swingup"
  )


class AcrobotSwingup(ControlEnvironment):
  """Batched dm_control acrobot swing-up (module docstring: model, reward, differences).

  Observation float32 `[6]`; action float32 `[1]` in `[-1, 1]`; reward in `[0, 1]`; no
  termination; 1000 steps per episode (LAST with discount 1).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; 1000 as in dm_control.
    physics: replacement for `acrobot_swingup_physics`.
    outcome: replacement for `acrobot_swingup_outcome`.
    breaking: None, "repeat" or "gravity" (module docstring).
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  NAME = "AcrobotSwingup-v0"
  ACTION_DIM = 1
  OBSERVATION_HIGH = OBSERVATION_HIGH
  MAX_EPISODE_STEPS = MAX_EPISODE_STEPS
  PHYSICS = acrobot_swingup_physics
  BROKEN_PHYSICS = acrobot_swingup_broken_physics
  OUTCOME = acrobot_swingup_outcome
  PHYSICS_SIGNS = ((1, 1, 1, 1), (-1, -1, -1, -1))

  @property
  def symmetry(self) -> MDPSymmetry:
    return acrobot_swingup_symmetry()

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return acrobot_swingup_observation(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    return uniform_box(key, batch_size, [-math.pi, -math.pi, 0, 0], [math.pi, math.pi, 0, 0])
