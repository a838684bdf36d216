"""Reacher (dm_control `reacher.hard`) as batched TensorFlow ops, with its D2 symmetry.

Constants carry their source: dm_control `suite/reacher.xml` and `suite/reacher.py` (a
planar two-link arm: links of 0.12 and 0.12 to the finger, capsules of radius 0.01 whose
masses follow MuJoCo's default density 1000, joint damping 0.01, motor gear 0.05 on both
joints, the wrist limited to +-160 degrees, timestep 0.02, 20 s episodes = 1000 steps; the
target at a radius uniform in `(0.05, 0.2)` and an angle uniform in `(0, 2 pi)`) and the
`hard` task's sparse reward `tolerance(|finger - target|, bounds=(0, 0.015 + 0.01))`: 1
when the finger touches the target, else 0.

This is not MuJoCo. The links are rigid bodies with MuJoCo's compiled capsule masses and
inertias (the finger's sphere joined to the second link); the two-link equations of motion
(`control.two_link_step`, no gravity in the arm's plane) are integrated by semi-implicit
Euler with implicit damping at dm_control's timestep 0.02, as MuJoCo's Euler integrator
does. The wrist's soft limit is a hard inelastic stop at +-160 degrees (the wrist stops,
the shoulder keeps its velocity). The observation writes the joint angles as cosine and
sine (dm_control gives the raw angles), so that the group acts on it linearly.

State `(theta1, theta2, theta1_dot, theta2_dot, target_x, target_y)`: theta1 is the
shoulder's angle from the x axis, theta2 the wrist's relative to the first link; the target
does not move within an episode. Observation `(cos theta1, sin theta1, cos theta2, sin
theta2, to_target_x, to_target_y, theta1_dot, theta2_dot)` with `to_target = target -
finger`. Action `[2]` in `[-1, 1]`: the joint torques are `0.05 * action`.

Symmetry: D2 (`dihedral(2)`: 0 identity, 1 rotation by pi, 2 the vertical flip `y -> -y`,
3 their product, the flip `x -> -x`), as in Park et al. 2025, D.1. A rotation adds pi to
theta1 and negates the target; the flip negates the angles, the velocities and the
target's y. The torques transform by the quotient (sign) representation of D2 on each
joint: unchanged by the rotation, negated by the flips.

Symmetry-breaking variants (`make("Reacher-v0:repeat:1")`), regions on theta1 wrapped to
`[-pi, pi]` before the step:
  repeat   both torques are applied `1 + strength` times as hard where `theta1 in [0, pi/2]`.
  reflect  both torques are scaled by `1 - 2 * strength` (reversed at strength 1) where
           `theta1 in [pi/2, pi]`.
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
from tf_equirl.groups import MDPSymmetry, dihedral

__all__ = [
  "Reacher",
  "reacher_physics",
  "reacher_broken_physics",
  "reacher_outcome",
  "reacher_observation",
  "reacher_symmetry",
]

DENSITY = 1000.0  # MuJoCo's default geom density
RADIUS = 0.01  # dm_control reacher.xml: arm, hand and finger geoms
ARM_LENGTH = 0.12  # dm_control reacher.xml: arm capsule fromto 0 to 0.12, hand body at 0.12
HAND_LENGTH = 0.1  # dm_control reacher.xml: hand capsule fromto 0 to 0.1
FINGER_DISTANCE = 0.12  # dm_control reacher.xml: finger body at 0.12 in the hand
_CAPS = 4.0 / 3.0 * math.pi * RADIUS**3  # the two half-sphere caps of a capsule
ARM_MASS = DENSITY * (math.pi * RADIUS**2 * ARM_LENGTH + _CAPS)
HAND_MASS = DENSITY * (math.pi * RADIUS**2 * HAND_LENGTH + _CAPS)
FINGER_MASS = DENSITY * _CAPS  # a sphere of the same radius
_LINK2_MASS = HAND_MASS + FINGER_MASS
_LC2 = (HAND_MASS * HAND_LENGTH / 2 + FINGER_MASS * FINGER_DISTANCE) / _LINK2_MASS
# About the centres, around the joints' z axis: MuJoCo's inertias of the capsules and the
# finger's sphere in the compiled dm_control model (`physics.model.body_inertia`, mujoco 3.14).
ARM_INERTIA = 6.331356394535e-05
HAND_INERTIA = 3.917566039026e-05
FINGER_INERTIA = 1.675516081915e-07
_I2 = (
  HAND_INERTIA
  + HAND_MASS * (HAND_LENGTH / 2 - _LC2) ** 2
  + FINGER_INERTIA
  + FINGER_MASS * (FINGER_DISTANCE - _LC2) ** 2
)
# (m1, m2, l1, lc1, lc2, i1, i2) of control.two_link_step
LINK = (ARM_MASS, _LINK2_MASS, ARM_LENGTH, ARM_LENGTH / 2, _LC2, ARM_INERTIA, _I2)
DAMPING = 0.01  # dm_control reacher.xml, default joint damping
GEAR = 0.05  # dm_control reacher.xml, default motor gear
WRIST_LIMIT = math.radians(160)  # dm_control reacher.xml, joint "wrist" range
TIMESTEP = 0.02  # dm_control reacher.xml option timestep
MAX_EPISODE_STEPS = 1000  # dm_control reacher.py: 20 s at 0.02 s per step
TARGET_SIZE = 0.015  # dm_control reacher.py _SMALL_TARGET (the hard task)
FINGER_SIZE = RADIUS  # dm_control reacher.xml, geom "finger" size
TARGET_RADIUS_RANGE = (0.05, 0.20)  # dm_control reacher.py initialize_episode
REPEAT_REGION = (0.0, math.pi / 2)
REFLECT_REGION = (math.pi / 2, math.pi)
OBSERVATION_HIGH = np.array([1, 1, 1, 1, 0.5, 0.5, np.inf, np.inf], dtype=np.float32)


def reacher_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """One step of the arm (the target stays).

  Args:
    state: `[B, 6]` `(theta1, theta2, theta1_dot, theta2_dot, target_x, target_y)`.
    action: float `[B, 2]` in `[-1, 1]` (joint torques / 0.05). Range checks happen in
      `pure_step`, not here, so that this stays a drop-in for a learned model.

  Returns:
    The next state `[B, 6]`.
  """
  arm = two_link_step(state[:, :4], GEAR * action, LINK, (0.0, 0.0), (DAMPING, DAMPING), TIMESTEP)
  theta1, theta2, v1, v2 = tf.unstack(arm, num=4, axis=-1)
  # The wrist's limit: an inelastic stop.
  stopped = tf.logical_or(
    tf.logical_and(theta2 >= WRIST_LIMIT, v2 > 0), tf.logical_and(theta2 <= -WRIST_LIMIT, v2 < 0)
  )
  v2 = tf.where(stopped, tf.zeros_like(v2), v2)
  theta2 = tf.clip_by_value(theta2, -WRIST_LIMIT, WRIST_LIMIT)
  return tf.concat([tf.stack([theta1, theta2, v1, v2], axis=-1), state[:, 4:]], axis=-1)


def reacher_broken_physics(
  state: tf.Tensor, action: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """`reacher_physics` under a variant ("repeat" or "reflect")."""
  region = REPEAT_REGION if breaking == "repeat" else REFLECT_REGION
  theta1 = wrap_angle(state[:, 0])
  inside = tf.logical_and(theta1 >= region[0], theta1 <= region[1])
  return reacher_physics(state, region_action(action, inside, breaking, strength))


def reacher_finger(state: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """The finger's `(x, y)`."""
  theta1, theta12 = state[:, 0], state[:, 0] + state[:, 1]
  return (
    ARM_LENGTH * tf.cos(theta1) + FINGER_DISTANCE * tf.cos(theta12),
    ARM_LENGTH * tf.sin(theta1) + FINGER_DISTANCE * tf.sin(theta12),
  )


def reacher_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """dm_control's hard-task reward of the state after the step (1 when the finger touches
  the target, else 0); never terminates."""
  del state, action
  x, y = reacher_finger(next_state)
  distance = tf.sqrt(tf.square(next_state[:, 4] - x) + tf.square(next_state[:, 5] - y))
  reward = tolerance(distance, bounds=(0.0, TARGET_SIZE + FINGER_SIZE))
  return tf.cast(reward, tf.float32), tf.zeros_like(x, dtype=tf.bool)


def reacher_observation(state: tf.Tensor) -> tf.Tensor:
  """`(cos t1, sin t1, cos t2, sin t2, to_target_x, to_target_y, t1_dot, t2_dot)`,
  float32 `[B, 8]`."""
  theta1, theta2 = state[:, 0], state[:, 1]
  x, y = reacher_finger(state)
  obs = [
    tf.cos(theta1),
    tf.sin(theta1),
    tf.cos(theta2),
    tf.sin(theta2),
    state[:, 4] - x,
    state[:, 5] - y,
    state[:, 2],
    state[:, 3],
  ]
  return tf.cast(tf.stack(obs, axis=-1), tf.float32)


@functools.lru_cache(maxsize=None)
def reacher_symmetry() -> MDPSymmetry:
  """D2: rotation by pi (element 1) and the flips `y -> -y` (2) and `x -> -x` (3)."""
  rotation = [-1, -1, 1, 1, -1, -1, 1, 1]
  flip = [1, -1, 1, -1, 1, -1, -1, -1]
  both = list(np.multiply(rotation, flip))
  return sign_symmetry(
    dihedral(2), [[1] * 8, rotation, flip, both], [[1, 1], [1, 1], [-1, -1], [-1, -1]], "reacher"
  )


class Reacher(ControlEnvironment):
  """Batched dm_control reacher, hard task (module docstring: model, reward, differences).

  Observation float32 `[8]`; action float32 `[2]` in `[-1, 1]`; reward 0 or 1; no
  termination; 1000 steps per episode (LAST with discount 1).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; 1000 as in dm_control.
    physics: replacement for `reacher_physics`.
    outcome: replacement for `reacher_outcome`.
    breaking: None, "repeat" or "reflect" (module docstring).
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  NAME = "Reacher-v0"
  ACTION_DIM = 2
  OBSERVATION_HIGH = OBSERVATION_HIGH
  MAX_EPISODE_STEPS = MAX_EPISODE_STEPS
  PHYSICS = reacher_physics
  BROKEN_PHYSICS = reacher_broken_physics
  OUTCOME = reacher_outcome

  @property
  def symmetry(self) -> MDPSymmetry:
    return reacher_symmetry()

  def transform_physics(self, physics: tf.Tensor, element: int) -> tf.Tensor:
    """Element 1 (rotation by pi) adds pi to theta1 and negates the target; element 2 (the
    flip `y -> -y`) negates the angles, velocities and target y; element 3 is both."""
    if element not in (0, 1, 2, 3):
      raise ValueError(f"Reacher-v0: D2 has elements 0..3, received element={element!r}.")
    rotate, flip = element in (1, 3), element in (2, 3)
    if flip:
      physics = physics * tf.constant([-1, -1, -1, -1, 1, -1], physics.dtype)
    if rotate:
      physics = physics * tf.constant([1, 1, 1, 1, -1, -1], physics.dtype) + tf.constant(
        [math.pi, 0, 0, 0, 0, 0], physics.dtype
      )
    return physics

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return reacher_observation(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    low, high = TARGET_RADIUS_RANGE
    draws = uniform_box(
      key, batch_size, [-math.pi, -WRIST_LIMIT, 0.0, low], [math.pi, WRIST_LIMIT, 2 * math.pi, high]
    )
    theta1, theta2, angle, radius = tf.unstack(draws, num=4, axis=-1)
    zeros = tf.zeros_like(theta1)
    return tf.stack(
      [theta1, theta2, zeros, zeros, radius * tf.sin(angle), radius * tf.cos(angle)], axis=-1
    )
