"""CartPole swing-up (dm_control `cartpole.swingup`) as batched TensorFlow ops.

Constants carry their source: dm_control `suite/cartpole.xml` and `suite/cartpole.py`
(cart mass 1, pole mass 0.1 and length 1, actuator gear 10, slider range +-1.8, joint
damping, timestep 0.01, 10 s episodes = 1000 steps) and the smooth swing-up reward of
`Balance._get_reward` (`upright * centered * small_control * small_velocity`, with
`tf_equirl.envs.control.tolerance` as dm_control's `rewards.tolerance`).

This is not MuJoCo. The cart and pole follow the Lagrangian equations of a cart with a
rigid pole (mass, centre of mass and moment of inertia of MuJoCo's compiled capsule),
integrated by semi-implicit
Euler with implicit joint damping (`control.two_dof_step`) at dm_control's timestep 0.01,
where dm_control integrates MuJoCo's model with RK4. The slider's soft joint limit is a
hard inelastic stop at +-1.8 (the cart stops, the pole keeps its angular velocity).
Resets draw uniform noise with dm_control's standard deviations (0.01) where dm_control
draws Gaussian noise: the cart near the centre, the pole hanging down.

State `(x, theta, x_dot, theta_dot)`: theta 0 is upright, positive tips the pole towards
+x (the hinge's axis is y). Observation, as dm_control's `position` and `velocity`:
`(x, cos theta, sin theta, x_dot, theta_dot)`. Action `[1]` in `[-1, 1]`: the force on the
cart is `10 * action` newtons.

Symmetry: D1 (`cyclic(2)`), the mirror `x -> -x`: every state component and the force
change sign; on the observation `diag(-1, 1, -1, -1, -1)`.

Symmetry-breaking variants (`make("CartPoleSwingup-v0:gravity:1")`); regions use the pole
angle wrapped to `[-pi, pi]` before the step:
  repeat   the force is applied `1 + strength` times as hard where the pole is in the first
           quadrant (`theta in [0, pi/2]`: up and to the right).
  reflect  the force is scaled by `1 - 2 * strength` (reversed at strength 1) where
           `theta in [0, pi/4]`.
  gravity  gravity `(0.2 * strength, -0.2 * strength, -9.81)` (the seed study's
           `(0.2, -0.2, -9.81)` at strength 1). The model is planar in x-z: the y
           component is along the hinge axis and does nothing; the horizontal x component
           breaks the mirror.
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
  two_dof_step,
  uniform_box,
  wrap_angle,
)
from tf_equirl.groups import MDPSymmetry, cyclic

__all__ = [
  "CartPoleSwingup",
  "cartpole_swingup_physics",
  "cartpole_swingup_broken_physics",
  "cartpole_swingup_outcome",
  "cartpole_swingup_observation",
  "cartpole_swingup_symmetry",
]

CART_MASS = 1.0  # dm_control cartpole.xml, geom "cart" mass
POLE_MASS = 0.1  # dm_control cartpole.xml, class "pole" mass
HALF_LENGTH = 0.5  # dm_control cartpole.xml: the pole runs from 0 to 1
# About the centre, perpendicular to the pole: MuJoCo's inertia of the capsule (radius 0.045)
# in the compiled dm_control model (`physics.model.body_inertia`, mujoco 3.14).
POLE_INERTIA = 0.009424592767
GEAR = 10.0  # dm_control cartpole.xml, motor "slide"
SLIDER_DAMPING = 5e-4  # dm_control cartpole.xml, joint "slider"
HINGE_DAMPING = 2e-6  # dm_control cartpole.xml, class "pole" joint
SLIDER_RANGE = 1.8  # dm_control cartpole.xml, joint "slider" range
GRAVITY = 9.81  # MuJoCo's default gravity
TIMESTEP = 0.01  # dm_control cartpole.xml option timestep
MAX_EPISODE_STEPS = 1000  # dm_control cartpole.py: 10 s at 0.01 s per step
RESET_STD = 0.01  # dm_control cartpole.py Balance.initialize_episode
GRAVITY_TILT = 0.2  # Park et al. 2025, D.1: gravity (0.2, -0.2, -9.81)
REPEAT_REGION = (0.0, math.pi / 2)
REFLECT_REGION = (0.0, math.pi / 4)
OBSERVATION_HIGH = np.array([SLIDER_RANGE, 1.0, 1.0, np.inf, np.inf], dtype=np.float32)


def _dynamics(state: tf.Tensor, force: tf.Tensor, gravity_x: float) -> tf.Tensor:
  x, theta, x_dot, theta_dot = tf.unstack(state, num=4, axis=-1)
  cos, sin = tf.cos(theta), tf.sin(theta)
  ml = POLE_MASS * HALF_LENGTH
  total = CART_MASS + POLE_MASS
  mass = (
    tf.fill(tf.shape(x), tf.constant(total, state.dtype)),
    ml * cos,
    tf.fill(tf.shape(x), tf.constant(POLE_MASS * HALF_LENGTH**2 + POLE_INERTIA, state.dtype)),
  )
  generalized = tf.stack(
    [
      force + ml * sin * tf.square(theta_dot) + total * gravity_x,
      ml * (gravity_x * cos + GRAVITY * sin),
    ],
    axis=-1,
  )
  q, qd = two_dof_step(
    tf.stack([x, theta], -1),
    tf.stack([x_dot, theta_dot], -1),
    mass,
    generalized,
    (SLIDER_DAMPING, HINGE_DAMPING),
    TIMESTEP,
  )
  x, theta = q[:, 0], q[:, 1]
  x_dot, theta_dot = qd[:, 0], qd[:, 1]
  # The slider's limit: an inelastic stop.
  x_dot = tf.where(
    tf.logical_or(
      tf.logical_and(x >= SLIDER_RANGE, x_dot > 0), tf.logical_and(x <= -SLIDER_RANGE, x_dot < 0)
    ),
    tf.zeros_like(x_dot),
    x_dot,
  )
  x = tf.clip_by_value(x, -SLIDER_RANGE, SLIDER_RANGE)
  return tf.stack([x, theta, x_dot, theta_dot], axis=-1)


def cartpole_swingup_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """One step of the cart-pole.

  Args:
    state: `[B, 4]` `(x, theta, x_dot, theta_dot)`.
    action: float `[B, 1]` in `[-1, 1]` (force / 10 N). Range checks happen in
      `pure_step`, not here, so that this stays a drop-in for a learned model.

  Returns:
    The next state `[B, 4]`.
  """
  return _dynamics(state, GEAR * action[:, 0], 0.0)


def cartpole_swingup_broken_physics(
  state: tf.Tensor, action: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """`cartpole_swingup_physics` under a variant ("repeat", "reflect" or "gravity")."""
  if breaking == "gravity":
    return _dynamics(state, GEAR * action[:, 0], GRAVITY_TILT * strength)
  region = REPEAT_REGION if breaking == "repeat" else REFLECT_REGION
  theta = wrap_angle(state[:, 1])
  inside = tf.logical_and(theta >= region[0], theta <= region[1])
  return cartpole_swingup_physics(state, region_action(action, inside, breaking, strength))


def cartpole_swingup_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """dm_control's smooth swing-up reward of the state after the step; never terminates."""
  del state
  x, theta, theta_dot = next_state[:, 0], next_state[:, 1], next_state[:, 3]
  upright = (tf.cos(theta) + 1) / 2
  centered = (1 + tolerance(x, margin=2)) / 2
  control = tolerance(action[:, 0], margin=1, value_at_margin=0, sigmoid="quadratic")
  small_control = (4 + control) / 5
  small_velocity = (1 + tolerance(theta_dot, margin=5)) / 2
  reward = upright * small_control * small_velocity * centered
  return tf.cast(reward, tf.float32), tf.zeros_like(x, dtype=tf.bool)


def cartpole_swingup_observation(state: tf.Tensor) -> tf.Tensor:
  """`(x, cos theta, sin theta, x_dot, theta_dot)`, float32 `[B, 5]`."""
  x, theta, x_dot, theta_dot = tf.unstack(state, num=4, axis=-1)
  return tf.cast(tf.stack([x, tf.cos(theta), tf.sin(theta), x_dot, theta_dot], -1), tf.float32)


@functools.lru_cache(maxsize=None)
def cartpole_swingup_symmetry() -> MDPSymmetry:
  """D1 (`cyclic(2)`): the mirror `x -> -x` negates the state and the force."""
  return sign_symmetry(
    cyclic(2), [[1] * 5, [-1, 1, -1, -1, -1]], [[1], [-1]], name="cartpole_swingup"
  )


class CartPoleSwingup(ControlEnvironment):
  """Batched dm_control cartpole swing-up (module docstring: model, reward, differences).

  Observation float32 `[5]` `(x, cos theta, sin theta, x_dot, theta_dot)`; action float32
  `[1]` in `[-1, 1]`; reward in `[0, 1]`; no termination; 1000 steps per episode (LAST with
  discount 1).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; 1000 as in dm_control.
    physics: replacement for `cartpole_swingup_physics`.
    outcome: replacement for `cartpole_swingup_outcome`.
    breaking: None, "repeat", "reflect" or "gravity" (module docstring).
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  NAME = "CartPoleSwingup-v0"
  ACTION_DIM = 1
  OBSERVATION_HIGH = OBSERVATION_HIGH
  MAX_EPISODE_STEPS = MAX_EPISODE_STEPS
  PHYSICS = cartpole_swingup_physics
  BROKEN_PHYSICS = cartpole_swingup_broken_physics
  OUTCOME = cartpole_swingup_outcome
  PHYSICS_SIGNS = ((1, 1, 1, 1), (-1, -1, -1, -1))

  @property
  def symmetry(self) -> MDPSymmetry:
    return cartpole_swingup_symmetry()

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return cartpole_swingup_observation(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    half = RESET_STD * math.sqrt(3)  # a uniform law with standard deviation RESET_STD
    noise = uniform_box(key, batch_size, [-half] * 4, [half] * 4)
    return noise + tf.constant([0.0, math.pi, 0.0, 0.0])
