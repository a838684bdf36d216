"""CartPole-v1 as batched TensorFlow ops, step for step equal to gymnasium's.

Reference: gymnasium `envs/classic_control/cartpole.py` (gymnasium 1.3) with the
`CartPole-v1` registration (`max_episode_steps=500`). Constants below carry that
source. The integrator is explicit Euler: positions move with the old velocities.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Optional, Tuple

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
from tf_equirl.groups import MDPSymmetry, Representation, cyclic

__all__ = [
  "CartPole",
  "cartpole_physics",
  "cartpole_dynamics",
  "cartpole_broken_physics",
  "cartpole_outcome",
  "cartpole_symmetry",
]

GRAVITY = 9.8  # gymnasium cartpole.py
MASSCART = 1.0  # gymnasium cartpole.py
MASSPOLE = 0.1  # gymnasium cartpole.py
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5  # gymnasium cartpole.py: half the pole's length
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG = 10.0  # gymnasium cartpole.py
TAU = 0.02  # gymnasium cartpole.py: seconds between state updates
THETA_THRESHOLD_RADIANS = 12 * 2 * math.pi / 360  # gymnasium cartpole.py
X_THRESHOLD = 2.4  # gymnasium cartpole.py
MAX_EPISODE_STEPS = 500  # gymnasium envs/__init__.py, CartPole-v1
RESET_HIGH = 0.05  # gymnasium cartpole.py reset(): uniform in (-0.05, 0.05)
# Observation bounds as in gymnasium's observation_space: twice the termination limits.
OBSERVATION_HIGH = np.array(
  [X_THRESHOLD * 2, np.inf, THETA_THRESHOLD_RADIANS * 2, np.inf], dtype=np.float32
)


def cartpole_physics(state: tf.Tensor, action: tf.Tensor) -> tf.Tensor:
  """One Euler step of the cart-pole, in the dtype of `state`.

  Args:
    state: `[B, 4]` float tensor `(x, x_dot, theta, theta_dot)`.
    action: int `[B]`; 1 pushes right (+10 N), anything else left (-10 N). Range
      checks happen in `CartPole.pure_step`, not here, so that this stays a drop-in
      for a learned model.

  Returns:
    The next state, `[B, 4]`.
  """
  dtype = state.dtype
  force = tf.where(
    tf.equal(action, 1), tf.constant(FORCE_MAG, dtype), tf.constant(-FORCE_MAG, dtype)
  )
  return cartpole_dynamics(state, force)


def cartpole_dynamics(state: tf.Tensor, force: tf.Tensor) -> tf.Tensor:
  """The Euler step of `cartpole_physics` under a given horizontal force `[B]` (newtons)."""
  x, x_dot, theta, theta_dot = tf.unstack(state, num=4, axis=-1)
  costheta = tf.cos(theta)
  sintheta = tf.sin(theta)
  temp = (force + POLEMASS_LENGTH * tf.square(theta_dot) * sintheta) / TOTAL_MASS
  thetaacc = (GRAVITY * sintheta - costheta * temp) / (
    LENGTH * (4.0 / 3.0 - MASSPOLE * tf.square(costheta) / TOTAL_MASS)
  )
  xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
  return tf.stack(
    [x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc],
    axis=-1,
  )


def cartpole_broken_physics(
  state: tf.Tensor, action: tf.Tensor, breaking: str, strength: float
) -> tf.Tensor:
  """CartPole's Euler step with the push changed by a symmetry-breaking variant
  (`tf_equirl.envs.breaking`: "global", "reflect" or "repeat" at `strength`)."""
  dtype = state.dtype
  force = tf.where(
    tf.equal(action, 1), tf.constant(FORCE_MAG, dtype), tf.constant(-FORCE_MAG, dtype)
  )
  right = state[:, 0] > 0
  if breaking == "global":
    force = force + tf.constant(strength * FORCE_MAG, dtype)
  elif breaking == "reflect":
    force = tf.where(right, force * tf.constant(1.0 - 2.0 * strength, dtype), force)
  elif breaking == "repeat":
    force = tf.where(right, force * tf.constant(1.0 + strength, dtype), force)
  else:
    raise ValueError(f"unknown breaking {breaking!r}; expected one of {breaking_lib.BREAKINGS}.")
  return cartpole_dynamics(state, force)


def cartpole_outcome(
  state: tf.Tensor, action: tf.Tensor, next_state: tf.Tensor
) -> Tuple[tf.Tensor, tf.Tensor]:
  """Reward 1 on every step, the terminal one included; terminate outside the limits."""
  del state, action
  x, theta = next_state[:, 0], next_state[:, 2]
  dtype = next_state.dtype
  x_limit = tf.constant(X_THRESHOLD, dtype)
  theta_limit = tf.constant(THETA_THRESHOLD_RADIANS, dtype)
  terminated = tf.logical_or(
    tf.logical_or(x < -x_limit, x > x_limit),
    tf.logical_or(theta < -theta_limit, theta > theta_limit),
  )
  return tf.ones_like(x, dtype=tf.float32), terminated


@functools.lru_cache(maxsize=None)
def cartpole_symmetry() -> MDPSymmetry:
  """C2 acting by `s -> -s` on the state and by swapping the two pushes."""
  group = cyclic(2)
  state_rep = Representation(group, np.stack([np.eye(4), -np.eye(4)]), name="cartpole_state")
  action_rep = Representation.from_permutations(group, [[0, 1], [1, 0]], name="cartpole_action")
  return MDPSymmetry(group, state_rep, action_rep)


class CartPole(BatchedEnvironment):
  """Batched CartPole-v1 with gymnasium's dynamics, reward and time limit.

  Observation: float32 `[4]` `(x, x_dot, theta, theta_dot)`, the physics state
  itself. Actions: 0 pushes left, 1 pushes right. Reward 1 per step. Termination
  (`|x| > 2.4` or `|theta| > 12 degrees`) gives LAST with discount 0; the 500th step
  without termination gives LAST with discount 1. Resets draw all four components
  uniformly from `(-0.05, 0.05)`.

  The physics runs in float32 where gymnasium runs float64; one step from the same
  state agrees to about 1e-7 (checked to 1e-5 in tests/test_envs_cartpole.py).

  Args:
    batch_size: number of environments stepped together.
    seed: integer seed (or `[2]` key) for the `TFEnvironment` face.
    max_episode_steps: truncation limit; 500 as in CartPole-v1.
    physics: replacement for `cartpole_physics`, `(state [B,4], action [B]) -> [B,4]`.
    outcome: replacement for `cartpole_outcome`.
    breaking: None, or a symmetry-breaking variant "global" (tilted track), "reflect" or
      "repeat" (the push reversed / applied `1 + strength` times right of the centre); see
      `tf_equirl.envs.breaking`. Replaces the default physics only.
    strength: how strongly the symmetry is broken (0: the original environment).
  """

  def __init__(
    self,
    batch_size: int = 1,
    seed: Any = 0,
    max_episode_steps: Optional[int] = MAX_EPISODE_STEPS,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
    breaking: Optional[str] = None,
    strength: float = 0.0,
  ):
    checked = breaking_lib.check_breaking("CartPole-v1", breaking, strength)
    strength = 0.0 if checked is None else checked
    self._config = dict(
      batch_size=batch_size,
      seed=seed,
      max_episode_steps=max_episode_steps,
      breaking=breaking,
      strength=strength,
    )
    if physics is None and breaking is not None:
      physics = functools.partial(cartpole_broken_physics, breaking=breaking, strength=strength)
    observation_spec = tensor_spec.BoundedTensorSpec(
      [4], tf.float32, minimum=-OBSERVATION_HIGH, maximum=OBSERVATION_HIGH, name="observation"
    )
    super().__init__(
      name="CartPole-v1",
      observation_spec=observation_spec,
      num_actions=2,
      physics=cartpole_physics if physics is None else physics,
      outcome=cartpole_outcome if outcome is None else outcome,
      max_episode_steps=max_episode_steps,
      batch_size=batch_size,
      seed=seed,
    )

  @property
  def symmetry(self) -> MDPSymmetry:
    return cartpole_symmetry()

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return tf.cast(physics, tf.float32)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    return stateless_symmetric_uniform(key, [batch_size, 4], RESET_HIGH)

  @property
  def breaking(self) -> Optional[str]:
    """The symmetry-breaking variant (None: the original CartPole)."""
    return self._config["breaking"]

  @property
  def strength(self) -> float:
    return self._config["strength"]
