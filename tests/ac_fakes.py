"""A tiny continuous-action environment with the pure API, for the actor-critic tests."""

import numpy as np
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl import rng
from tf_equirl.envs.base import EnvState, as_key
from tf_equirl.groups import MDPSymmetry, Representation
from tf_equirl.groups.finite_group import dihedral


class PointMass:
  """A point on a line pushed by a force in [-1, 1]: observation (x, v), reward -x^2 - 0.1 a^2,
  terminated when |x| > 2, truncated after `max_episode_steps`. The mirror x -> -x (D1) negates
  the observation and the force."""

  def __init__(self, batch_size=1, max_episode_steps=40):
    self.batch_size = batch_size
    self.max_episode_steps = max_episode_steps
    group = dihedral(1)
    self.symmetry = MDPSymmetry(
      group,
      Representation(group, [np.eye(2), -np.eye(2)], name="mirror"),
      Representation(group, [[[1.0]], [[-1.0]]], name="force"),
      continuous_actions=True,
    )

  def get_symmetry(self, name=None):
    if name not in (None, "D1"):
      raise ValueError(f"PointMass has no symmetry group named {name!r}.")
    return self.symmetry

  def _initial(self, key, b):
    return rng.uniform([b, 2], key, -1.0, 1.0)

  def pure_reset(self, key, batch_size=None):
    b = batch_size or self.batch_size
    key = as_key(key)
    physics = self._initial(key, b)
    state = EnvState(physics, tf.zeros([b], tf.int32), tf.zeros([b], tf.bool), key + [0, 1])
    step = ts.TimeStep(tf.fill([b], ts.StepType.FIRST), tf.zeros([b]), tf.ones([b]), physics)
    return state, step

  def pure_step_and_reset(self, state, action):
    x, v = state.physics[:, 0], state.physics[:, 1]
    a = action[:, 0]
    v = v + 0.1 * a
    x = x + 0.1 * v
    physics = tf.stack([x, v], axis=1)
    reward = -tf.square(x) - 0.1 * tf.square(a)
    terminated = tf.abs(x) > 2.0
    count = state.step_count + 1
    ended = tf.logical_or(terminated, count >= self.max_episode_steps)
    step = ts.TimeStep(
      tf.where(ended, ts.StepType.LAST, ts.StepType.MID),
      reward,
      tf.where(terminated, 0.0, 1.0),
      physics,
    )
    reset = self._initial(state.key, tf.shape(count)[0])
    new_physics = tf.where(ended[:, None], reset, physics)
    next_state = EnvState(
      new_physics, tf.where(ended, 0, count), tf.zeros_like(ended), state.key + [0, 1]
    )
    return next_state, step, new_physics
