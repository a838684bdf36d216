"""Shared pieces of the continuous-control environments (Pendulum, swing-ups, Reacher).

* `ControlEnvironment`: a `BatchedEnvironment` with float actions `[B, k]` in `[-1, 1]`
  whose physics, reset and observation are pure functions given by each task module, and
  which handles the symmetry-breaking variants of `tf_equirl.envs.breaking`.
* `tolerance`: dm_control's `rewards.tolerance` (dm_control `utils/rewards.py`) in TF ops.
* `two_dof_step`: one semi-implicit Euler step of a two-degree-of-freedom mechanism
  `M(q) qdd = f(q, qd, u) - b * qd` with the damping taken implicitly, as MuJoCo's Euler
  integrator does.
* `region_action`: the "reflect" and "repeat" variants (the action reversed, or applied
  `1 + strength` times, inside a region of the state).
* `sign_symmetry`: an `MDPSymmetry` whose elements act by sign flips on states and actions.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tf_agents.specs import tensor_spec

from tf_equirl.envs import breaking as breaking_lib
from tf_equirl.envs.base import (
  BatchedEnvironment,
  OutcomeFn,
  PhysicsFn,
  stateless_symmetric_uniform,
)
from tf_equirl.groups import FiniteGroup, MDPSymmetry, Representation

__all__ = [
  "ControlEnvironment",
  "tolerance",
  "wrap_angle",
  "two_dof_step",
  "two_link_step",
  "region_action",
  "sign_symmetry",
  "uniform_box",
]

BrokenPhysicsFn = Callable[..., tf.Tensor]

_DEFAULT_VALUE_AT_MARGIN = 0.1  # dm_control utils/rewards.py
_TASK_LIMIT: Any = object()  # max_episode_steps default: the task's own MAX_EPISODE_STEPS


def tolerance(
  x: tf.Tensor,
  bounds: Tuple[float, float] = (0.0, 0.0),
  margin: float = 0.0,
  sigmoid: str = "gaussian",
  value_at_margin: float = _DEFAULT_VALUE_AT_MARGIN,
) -> tf.Tensor:
  """dm_control's `rewards.tolerance`: 1 inside `bounds`, a sigmoid of the distance outside.

  Args:
    x: float tensor.
    bounds: inclusive `(lower, upper)` target interval.
    margin: distance over which the value falls to `value_at_margin` (0: an indicator).
    sigmoid: "gaussian" or "quadratic" (the two the tasks here use).
    value_at_margin: value at distance `margin` from the interval.

  Returns:
    A tensor like `x` with values in `[0, 1]`.

  Raises:
    ValueError: for `lower > upper`, a negative margin, an unsupported sigmoid or a
      `value_at_margin` outside the sigmoid's range.
  """
  lower, upper = bounds
  if lower > upper:
    raise ValueError(f"tolerance: lower bound {lower} must be <= upper bound {upper}.")
  if margin < 0:
    raise ValueError(f"tolerance: margin must be non-negative, received {margin}.")
  dtype = x.dtype
  in_bounds = tf.logical_and(x >= lower, x <= upper)
  if margin == 0:
    return tf.where(in_bounds, tf.ones_like(x), tf.zeros_like(x))
  d = tf.where(x < lower, lower - x, x - upper) / tf.constant(margin, dtype)
  if sigmoid == "gaussian":
    if not 0 < value_at_margin < 1:
      raise ValueError(
        f"tolerance: value_at_margin must be in (0, 1) for the gaussian sigmoid, "
        f"received {value_at_margin}."
      )
    scale = math.sqrt(-2 * math.log(value_at_margin))
    value = tf.exp(-0.5 * tf.square(d * scale))
  elif sigmoid == "quadratic":
    if not 0 <= value_at_margin < 1:
      raise ValueError(
        f"tolerance: value_at_margin must be in [0, 1) for the quadratic sigmoid, "
        f"received {value_at_margin}."
      )
    scaled = d * math.sqrt(1 - value_at_margin)
    value = tf.where(tf.abs(scaled) < 1, 1 - tf.square(scaled), tf.zeros_like(x))
  else:
    raise ValueError(
      f"tolerance: unsupported sigmoid {sigmoid!r}; expected 'gaussian' or 'quadratic'."
    )
  return tf.where(in_bounds, tf.ones_like(x), value)


def wrap_angle(theta: tf.Tensor) -> tf.Tensor:
  """The angle in `[-pi, pi]` with the same sine and cosine (odd: `wrap(-t) = -wrap(t)`)."""
  return tf.atan2(tf.sin(theta), tf.cos(theta))


def two_dof_step(
  q: tf.Tensor,
  qd: tf.Tensor,
  mass: Tuple[tf.Tensor, tf.Tensor, tf.Tensor],
  force: tf.Tensor,
  damping: Tuple[float, float],
  dt: float,
) -> Tuple[tf.Tensor, tf.Tensor]:
  """One semi-implicit Euler step with implicit damping (MuJoCo's "Euler" integrator).

  Solves `(M + dt * diag(b)) qd' = M qd + dt * force` for the new velocities, then moves
  the positions with them: `q' = q + dt * qd'`.

  Args:
    q: positions `[B, 2]`.
    qd: velocities `[B, 2]`.
    mass: the symmetric mass matrix's entries `(m11, m12, m22)`, each `[B]`.
    force: generalized forces `[B, 2]` (actuation, gravity, Coriolis), damping excluded.
    damping: joint damping coefficients `(b1, b2)`.
    dt: time step in seconds.

  Returns:
    `(q', qd')`, each `[B, 2]`.
  """
  m11, m12, m22 = mass
  v1, v2 = qd[:, 0], qd[:, 1]
  r1 = m11 * v1 + m12 * v2 + dt * force[:, 0]
  r2 = m12 * v1 + m22 * v2 + dt * force[:, 1]
  a11 = m11 + dt * damping[0]
  a22 = m22 + dt * damping[1]
  det = a11 * a22 - m12 * m12
  new_qd = tf.stack([(a22 * r1 - m12 * r2) / det, (a11 * r2 - m12 * r1) / det], axis=-1)
  return q + dt * new_qd, new_qd


def two_link_step(
  state: tf.Tensor,
  torque: tf.Tensor,
  link: Tuple[float, float, float, float, float, float, float],
  gravity: Tuple[float, float],
  damping: Tuple[float, float],
  dt: float,
) -> tf.Tensor:
  """One `two_dof_step` of a planar two-link arm (acrobot, reacher).

  Angles are absolute for the first joint (measured from the axis gravity's `z` points
  against, or any fixed axis without gravity) and relative for the second; a link at
  angle `phi` points along `(sin phi, cos phi)` in the `(x, z)` plane.

  Args:
    state: `[B, 4]` `(q1, q2, q1_dot, q2_dot)`.
    torque: `[B, 2]` joint torques.
    link: `(m1, m2, l1, lc1, lc2, i1, i2)`: masses, length of the first link, distances of
      the centres of mass from their joints, moments of inertia about the centres of mass.
    gravity: `(gx, gz)` in the plane of motion (`(0, -9.81)`: straight down; `(0, 0)`:
      none).
    damping: joint damping coefficients.
    dt: time step.

  Returns:
    The next state `[B, 4]`.
  """
  m1, m2, l1, lc1, lc2, i1, i2 = link
  gx, gz = gravity
  q1, q2, v1, v2 = tf.unstack(state, num=4, axis=-1)
  c2, s2 = tf.cos(q2), tf.sin(q2)
  q12 = q1 + q2
  m11 = i1 + i2 + m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * c2)
  m12 = i2 + m2 * (lc2**2 + l1 * lc2 * c2)
  m22 = tf.fill(tf.shape(q1), tf.constant(i2 + m2 * lc2**2, state.dtype))
  h = m2 * l1 * lc2 * s2
  # Generalized gravity forces -dV/dq for V = -(gx * X + gz * Z), where (X, Z) is the sum of
  # mass times centre of mass; moment_x = dX/dq2, moment_z = -dZ/dq2.
  moment_x = m2 * lc2 * tf.cos(q12)
  moment_z = m2 * lc2 * tf.sin(q12)
  g1 = gx * ((m1 * lc1 + m2 * l1) * tf.cos(q1) + moment_x) - gz * (
    (m1 * lc1 + m2 * l1) * tf.sin(q1) + moment_z
  )
  g2 = gx * moment_x - gz * moment_z
  force = tf.stack(
    [torque[:, 0] + g1 + h * (2 * v1 * v2 + tf.square(v2)), torque[:, 1] + g2 - h * tf.square(v1)],
    axis=-1,
  )
  q, qd = two_dof_step(
    tf.stack([q1, q2], -1), tf.stack([v1, v2], -1), (m11, m12, m22), force, damping, dt
  )
  return tf.concat([q, qd], axis=-1)


def region_action(
  action: tf.Tensor, region: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """The action after a local symmetry-breaking variant.

  Args:
    action: `[B, k]`.
    region: bool `[B]`, where the variant acts.
    breaking: "reflect" (the action scaled by `1 - 2 * strength` inside the region:
      reversed at strength 1) or "repeat" (scaled by `1 + strength`: applied twice at
      strength 1).
    strength: how strongly the symmetry is broken (0: the original action).

  Returns:
    The action `[B, k]` the physics applies.

  Raises:
    ValueError: for another variant.
  """
  if breaking == "reflect":
    factor = 1.0 - 2.0 * strength
  elif breaking == "repeat":
    factor = 1.0 + strength
  else:
    raise ValueError(f"region_action: expected 'reflect' or 'repeat', received {breaking!r}.")
  return tf.where(region[:, None], action * tf.constant(factor, action.dtype), action)


def sign_symmetry(
  group: FiniteGroup,
  state_signs: Sequence[Sequence[float]],
  action_signs: Sequence[Sequence[float]],
  name: str,
) -> MDPSymmetry:
  """An `MDPSymmetry` with continuous actions where element `g` multiplies the observation
  by `diag(state_signs[g])` and the action by `diag(action_signs[g])`."""
  state = Representation(group, [np.diag(s) for s in state_signs], name=f"{name}_state")
  action = Representation(group, [np.diag(s) for s in action_signs], name=f"{name}_action")
  return MDPSymmetry(group, state, action, continuous_actions=True)


def uniform_box(key: tf.Tensor, batch_size: Any, low: Any, high: Any) -> tf.Tensor:
  """Float32 `[batch_size, len(low)]` uniform in the box `(low, high)`, drawn with
  `stateless_symmetric_uniform` so that compiled and eager resets agree."""
  low_np, high_np = np.asarray(low, np.float32), np.asarray(high, np.float32)
  u = stateless_symmetric_uniform(key, [batch_size, len(low_np)], 1.0)
  return tf.constant((low_np + high_np) / 2) + u * tf.constant((high_np - low_np) / 2)


class ControlEnvironment(BatchedEnvironment):
  """A continuous-control task: float actions `[B, action_dim]` in `[-1, 1]`, no termination.

  Subclasses set the class attributes below and implement `observe`, `_initial_physics`
  and `symmetry`; this class builds the specs and validates the symmetry-breaking variant
  (`with_dynamics` is the base class's, from `_config`).

  Class attributes:
    NAME: registered name (also the key of its variants in `tf_equirl.envs.breaking`).
    ACTION_DIM: length of the action.
    OBSERVATION_HIGH: float32 `[d]` observation bound (symmetric).
    MAX_EPISODE_STEPS: default truncation limit.
    PHYSICS: the default `physics(state, action)`.
    BROKEN_PHYSICS: `(state, action, breaking, strength) -> next state` of the variants.
    OUTCOME: the default `outcome(state, action, next_state)`.
    PHYSICS_SIGNS: `[|G|, n]` signs by which each group element multiplies the physics
      state (used by `transform_physics`; override that method for other actions).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit (LAST with discount 1), None for none; default the
      task's `MAX_EPISODE_STEPS`.
    physics: replacement for the default physics.
    outcome: replacement for the default outcome.
    breaking: None, or a symmetry-breaking variant the task takes
      (`tf_equirl.envs.breaking.variants_of(NAME)`). Replaces the default physics only.
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  NAME: str = ""
  ACTION_DIM: int = 1
  OBSERVATION_HIGH: np.ndarray = np.zeros([0], np.float32)
  MAX_EPISODE_STEPS: int = 1000
  PHYSICS: Optional[PhysicsFn] = None
  BROKEN_PHYSICS: Optional[BrokenPhysicsFn] = None
  OUTCOME: Optional[OutcomeFn] = None
  PHYSICS_SIGNS: Sequence[Sequence[float]] = ()

  def __init__(
    self,
    batch_size: int = 1,
    seed: Any = 0,
    max_episode_steps: Optional[int] = _TASK_LIMIT,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
    breaking: Optional[str] = None,
    strength: float = 0.0,
  ):
    checked = breaking_lib.check_breaking(self.NAME, breaking, strength)
    strength = 0.0 if checked is None else checked
    if max_episode_steps is _TASK_LIMIT:
      max_episode_steps = self.MAX_EPISODE_STEPS
    self._config = dict(
      batch_size=batch_size,
      seed=seed,
      max_episode_steps=max_episode_steps,
      breaking=breaking,
      strength=strength,
    )
    cls = type(self)
    assert cls.PHYSICS is not None and cls.OUTCOME is not None, f"{cls.__name__}: no dynamics"
    if physics is None and breaking is not None:
      assert cls.BROKEN_PHYSICS is not None, f"{cls.__name__}: no variants"
      physics = functools.partial(cls.BROKEN_PHYSICS, breaking=breaking, strength=strength)
    high = np.asarray(self.OBSERVATION_HIGH, np.float32)
    observation_spec = tensor_spec.BoundedTensorSpec(
      high.shape, tf.float32, minimum=-high, maximum=high, name="observation"
    )
    super().__init__(
      name=self.NAME,
      observation_spec=observation_spec,
      num_actions=None,
      physics=cls.PHYSICS if physics is None else physics,
      outcome=cls.OUTCOME if outcome is None else outcome,
      max_episode_steps=max_episode_steps,
      batch_size=batch_size,
      seed=seed,
      action_dim=self.ACTION_DIM,
    )

  def transform_physics(self, physics: tf.Tensor, element: int) -> tf.Tensor:
    """The physics state `[B, n]` moved by group element `element` of `symmetry`: what the
    observation representation is on observations, `observe(transform_physics(s, g)) =
    observe(s) @ rho(g)^T`. The default multiplies by `diag(PHYSICS_SIGNS[element])`."""
    signs = np.asarray(self.PHYSICS_SIGNS, np.float32)[element]
    return physics * tf.constant(signs, physics.dtype)

  @property
  def breaking(self) -> Optional[str]:
    """The symmetry-breaking variant (None: the original task)."""
    return self._config["breaking"]

  @property
  def strength(self) -> float:
    return self._config["strength"]
