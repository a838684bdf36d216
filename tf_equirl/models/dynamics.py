"""A learned transition model as an environment's dynamics (thesis eq. 4.21).

Rewards and terminations are not learned: the environment's own `outcome` is applied to
the predicted next state, `R_{t+1} = R(T(s, a))`. `model_dynamics(model, env)` returns a
`physics` function for `env.with_dynamics(physics=...)`, so the same compiled collection
loop (PPO, Dyna planning) runs on the model; `predicted_step` is one step of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Tuple

import tensorflow as tf
from tensorflow import keras

from tf_equirl.models.spec import TransitionSpec

if TYPE_CHECKING:
  from tf_equirl.envs.base import BatchedEnvironment

__all__ = ["model_dynamics", "predicted_step", "predict_observation"]


def _spec(env, spec):
  return TransitionSpec.for_env(env) if spec is None else spec


def predict_observation(model, spec: TransitionSpec, observation, action) -> tf.Tensor:
  """The model's next observation `[B, d]` for a batch (modes drawn as a grid for Catch).

  Raises:
    ValueError: for an observation of the wrong width or rank, or invalid actions.
  """
  observation = tf.convert_to_tensor(observation, tf.float32)
  if observation.shape.rank != 2 or observation.shape[-1] != spec.state_dim:
    raise ValueError(
      f"observation must have shape [batch, {spec.state_dim}], received "
      f"shape {observation.shape}."
    )
  action = tf.convert_to_tensor(action)
  if not action.dtype.is_integer:
    raise ValueError(
      f"action must be an integer tensor [batch] with values in "
      f"[0, {spec.num_actions - 1}], received dtype {action.dtype.name}."
    )
  return spec.to_observation(model([observation, tf.cast(action, tf.int32)]))


def model_dynamics(
  model: keras.Model, env: BatchedEnvironment, spec: Optional[TransitionSpec] = None
) -> Callable:
  """`physics(state, action) -> next_state` backed by `model`, for `env.with_dynamics`.

  The physics state is whatever `env.observe` reads: CartPole's is its observation; for
  Catch the predicted grid is turned back into `(ball_row, ball_col, paddle_col)` with
  `env.state_from_observation`.
  """
  spec = _spec(env, spec)
  to_state = getattr(env, "state_from_observation", None)

  def physics(state, action):
    observation = tf.reshape(env.observe(state), [tf.shape(state)[0], spec.state_dim])
    predicted = predict_observation(model, spec, observation, action)
    if to_state is None:
      return tf.cast(predicted, state.dtype)
    return tf.cast(to_state(predicted), state.dtype)

  return physics


def predicted_step(
  model: keras.Model,
  env: BatchedEnvironment,
  state: tf.Tensor,
  action: tf.Tensor,
  spec: Optional[TransitionSpec] = None,
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """One model step: `(next_state, reward, terminated)`, reward from `env.outcome` (eq. 4.21).

  Args:
    model: a transition model (`[observation, action] -> prediction`).
    env: the environment whose physics state, observation and outcome are used.
    state: physics state `[B, ...]` (`EnvState.physics`).
    action: int `[B]`.
    spec: the model's `TransitionSpec`; default `TransitionSpec.for_env(env)`.
  """
  next_state = model_dynamics(model, env, spec)(state, action)
  reward, terminated = env.outcome(state, action, next_state)
  return next_state, reward, terminated
