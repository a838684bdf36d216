"""The world model's side of Dyna: a buffer of real transitions and the model as an environment.

* `ModelBuffer`: real transitions `(s, a, s', terminated, reward)` in `tf.Variable`s, written and read
  inside compiled graphs (a ring buffer; `add` optionally stores the whole orbit
  `(rho(g) s, pi(g) a, rho(g) s')` of every transition).
* `ModelEnvironment`: a `BatchedEnvironment` whose dynamics are a learned transition model and
  whose observation, reward rule, termination rule and symmetry are the real environment's
  (thesis eq. 4.21: `R_{t+1} = R(T(s, a))`). Planned episodes start from the environment's
  reset distribution or, for branched rollouts, from real states in a `ModelBuffer`.

Catch needs one more rule. Its models never see the ball enter the paddle's row (the
terminal transition is masked from the loss, thesis eq. 4.32: in a terminal grid it is
ambiguous which 1 is the paddle), so on that transition their ball prediction is noise (the
zoo's G-CNN and MLP models put the ball in the right column about 20 % of the time there,
against 100 % on every other transition, while the paddle stays 100 % right). Left alone, a
planned episode could run on forever and its only reward, the catch at the end, would be a
coin flip. So on the model, the step from a state whose ball is in the row above the paddle
moves the ball by the game's rule (straight down into the paddle's row) and the paddle as
the model predicts; the environment's own rule then ends the episode with +1 or -1. And
`rows - 1` steps (the length of every real Catch episode) is a hard cap (a truncation) in
case the model's ball rows stall.

A world model whose spec has `outcome` (`DynaConfig.learned_outcome`) predicts the reward
and the termination itself, from every real transition, terminal ones included: the model
environment then applies neither the environment's reward and termination rules nor
Catch's last-row rule, only the `rows - 1` cap.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
from tensorflow import keras

from tf_equirl import rng
from tf_equirl.envs.base import BatchedEnvironment, PhysicsFn, OutcomeFn
from tf_equirl.groups import MDPSymmetry
from tf_equirl.envs.catch import Catch
from tf_equirl.models.dynamics import model_dynamics
from tf_equirl.models.spec import TransitionSpec

__all__ = ["ModelBuffer", "ModelEnvironment"]


class ModelBuffer:
  """Real transitions for the world model, as `tf.Variable`s usable inside XLA graphs.

  Args:
    capacity: transitions held; when full the oldest are overwritten.
    state_dim: observation width.
    symmetry: the environment's `MDPSymmetry`, used by `add(..., orbit=True)`.
  """

  def __init__(self, capacity: int, state_dim: int, symmetry: Optional[MDPSymmetry] = None):
    if not isinstance(capacity, (int, np.integer)) or capacity < 1:
      raise ValueError(f"ModelBuffer: capacity must be a positive integer, received {capacity!r}.")
    self.capacity = int(capacity)
    self.symmetry = symmetry
    var = lambda shape, dtype, name: tf.Variable(tf.zeros(shape, dtype), trainable=False, name=name)
    self.obs = var([capacity, state_dim], tf.float32, "buffer_obs")
    self.action = var([capacity], tf.int32, "buffer_action")
    self.next_obs = var([capacity, state_dim], tf.float32, "buffer_next_obs")
    self.terminated = var([capacity], tf.float32, "buffer_terminated")
    self.reward = var([capacity], tf.float32, "buffer_reward")
    self.size = tf.Variable(0, dtype=tf.int32, trainable=False, name="buffer_size")
    self.position = tf.Variable(0, dtype=tf.int32, trainable=False, name="buffer_position")

  def clear(self) -> None:
    self.size.assign(0)
    self.position.assign(0)

  def add(self, obs, action, next_obs, terminated, orbit: bool = False, reward=None):
    """Appends a batch `[N, ...]` (graph-safe); with `orbit`, all |G| images of each (their
    rewards and terminations are the transition's: the symmetry keeps both). `reward`
    `[N]`: None stores zeros (models that do not learn the outcome never read it)."""
    obs = tf.cast(obs, tf.float32)
    next_obs = tf.cast(next_obs, tf.float32)
    action = tf.cast(action, tf.int32)
    terminated = tf.cast(terminated, tf.float32)
    reward = tf.zeros_like(terminated) if reward is None else tf.cast(reward, tf.float32)
    if orbit:
      sym = self.symmetry
      if sym is None:
        raise ValueError(
          "ModelBuffer.add(orbit=True) needs the environment's symmetry; "
          "construct the buffer with symmetry=env.symmetry."
        )
      g_all = range(sym.group.order)
      obs = tf.concat([sym.state_rep.transform(obs, g) for g in g_all], 0)
      next_obs = tf.concat([sym.state_rep.transform(next_obs, g) for g in g_all], 0)
      action = tf.concat([sym.action_rep.transform(action, g) for g in g_all], 0)
      terminated = tf.tile(terminated, [sym.group.order])
      reward = tf.tile(reward, [sym.group.order])
    n = tf.shape(action)[0]
    index = tf.math.floormod(self.position + tf.range(n), self.capacity)[:, None]
    ops = [
      self.obs.scatter_nd_update(index, obs),
      self.action.scatter_nd_update(index, action),
      self.next_obs.scatter_nd_update(index, next_obs),
      self.terminated.scatter_nd_update(index, terminated),
      self.reward.scatter_nd_update(index, reward),
      self.position.assign(tf.math.floormod(self.position + n, self.capacity)),
      self.size.assign(tf.minimum(self.size + n, self.capacity)),
    ]
    return tf.group(ops)

  def batch(self, index) -> dict:
    """The transitions at `index` as the dict `TransitionTrainer.train_step` reads."""
    return {
      "obs": tf.gather(self.obs, index),
      "action": tf.gather(self.action, index),
      "next_obs": tf.gather(self.next_obs, index),
      "terminated": tf.gather(self.terminated, index),
      "reward": tf.gather(self.reward, index),
    }


class ModelEnvironment(BatchedEnvironment):
  """A world model as a batched environment (for Dyna's planning phase).

  The reward and termination are the environment's rules applied to the predicted state, or,
  where `spec.outcome` is set, the model's own predictions.

  Args:
    env: the real environment (observation, outcome, symmetry and reset distribution).
    model: a transition model `[observation, action] -> prediction` (tf_equirl.models), or
      None with `physics` given (Dyna's `world_model="true"` passes the real environment's
      own `env.physics`: planning on the real dynamics).
    spec: its `TransitionSpec`; default `TransitionSpec.for_env(env)`.
    batch_size: planned episodes stepped together (default: `env.batch_size`).
    seed: seed of the `TFEnvironment` face.
    start_buffer: a `ModelBuffer`: planned episodes start from its real states (branched
      rollouts) instead of the reset distribution.
    horizon: episode length limit (a truncation); default the environment's own (Catch:
      `rows - 1`).
    physics: replaces the model's dynamics (`with_dynamics`).
    outcome: replaces the reward and termination (`with_dynamics`).
  """

  def __init__(
    self,
    env: BatchedEnvironment,
    model: Optional[keras.Model],
    spec: Optional[TransitionSpec] = None,
    batch_size: Optional[int] = None,
    seed: Any = 0,
    start_buffer: Optional[ModelBuffer] = None,
    horizon: Optional[int] = None,
    physics: Optional[PhysicsFn] = None,
    outcome: Optional[OutcomeFn] = None,
  ):
    if not isinstance(env, BatchedEnvironment):
      raise ValueError(
        "ModelEnvironment: env must be a tf_equirl BatchedEnvironment, received "
        f"{type(env).__name__}."
      )
    if model is None and physics is None:
      raise ValueError(
        "ModelEnvironment: give a transition model or physics (e.g. env.physics for the "
        "real dynamics), received neither."
      )
    self.env, self.model = env, model
    self.spec = TransitionSpec.for_env(env) if spec is None else spec
    self.start_buffer = start_buffer
    self._args = dict(
      env=env,
      model=model,
      spec=self.spec,
      batch_size=batch_size,
      seed=seed,
      start_buffer=start_buffer,
      horizon=horizon,
    )
    limit = env.max_episode_steps
    if isinstance(env, Catch) and model is not None:
      limit = env.rows - 1  # every real Catch episode has this length
    if horizon is not None:
      limit = horizon if limit is None else min(limit, horizon)
    super().__init__(
      name=f"{env.name}[model]" if model is not None else f"{env.name}[true model]",
      observation_spec=env.observation_spec(),
      num_actions=env.num_actions,
      physics=physics if physics is not None else self._model_physics(),
      outcome=outcome if outcome is not None else self._model_outcome(),
      max_episode_steps=limit,
      batch_size=batch_size or env.batch_size,
      seed=seed,
    )

  def _model_outcome(self) -> OutcomeFn:
    """The environment's rules, or with `spec.outcome` the model's own prediction of the
    reward and the termination of the step from `(s, a)` (`TransitionSpec.outcome_of`)."""
    if self.model is None or not self.spec.outcome:
      return self.env.outcome
    model, spec, env = self.model, self.spec, self.env

    def outcome(state, action, next_state):
      del next_state  # the outcome is predicted from the step's state and action
      observation = tf.reshape(env.observe(state), [tf.shape(state)[0], spec.state_dim])
      prediction = model([tf.cast(observation, tf.float32), tf.cast(action, tf.int32)])
      return spec.outcome_of(prediction)

    return outcome

  def _model_physics(self) -> PhysicsFn:
    assert self.model is not None  # checked in __init__: no model means physics is given
    predict = model_dynamics(self.model, self.env, self.spec)
    if not isinstance(self.env, Catch) or self.spec.outcome:
      # A model that learns the outcome ends Catch's episodes by its own termination.
      return predict
    last_row = self.env.rows - 1

    def physics(state, action):
      predicted = predict(state, action)
      # The ball enters the paddle's row from the row above it: a transition the model
      # never learned (masked), so the ball falls straight down by the game's rule.
      final = state[:, 0] >= last_row - 1
      row = tf.where(final, tf.fill(tf.shape(state[:, 0]), last_row), predicted[:, 0])
      column = tf.where(final, state[:, 1], predicted[:, 1])
      return tf.stack([row, column, predicted[:, 2]], axis=-1)

    return physics

  @property
  def symmetry(self) -> MDPSymmetry:
    return self.env.symmetry

  @property
  def symmetries(self) -> Dict[str, Any]:
    return self.env.symmetries

  def observe(self, physics: tf.Tensor) -> tf.Tensor:
    return self.env.observe(physics)

  def _initial_physics(self, key: tf.Tensor, batch_size) -> tf.Tensor:
    if self.start_buffer is None:
      return self.env._initial_physics(key, batch_size)  # pylint: disable=protected-access
    buf = self.start_buffer
    index = rng.uniform(
      [batch_size], seed=key, minval=0, maxval=tf.maximum(buf.size, 1), dtype=tf.int32
    )
    observation = tf.gather(buf.obs, index)
    to_state = getattr(self.env, "state_from_observation", None)
    reset = self.env._initial_physics(key, batch_size)  # pylint: disable=protected-access
    physics = observation if to_state is None else to_state(observation)
    physics = tf.cast(physics, reset.dtype)
    # An empty buffer (before the first acting phase) falls back to the reset distribution.
    return tf.where(buf.size > 0, physics, reset)

  def with_dynamics(
    self, physics: Optional[PhysicsFn] = None, outcome: Optional[OutcomeFn] = None
  ) -> "ModelEnvironment":
    return ModelEnvironment(
      **self._args, physics=physics or self._physics, outcome=outcome or self._outcome
    )
