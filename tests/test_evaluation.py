"""`tf_equirl.evaluation.evaluate_tf` on continuous-control environments: the actor's output
is the action, held for `action_repeat` env steps."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from tf_equirl import envs, evaluation


def _constant_actor(value: float, state_dim: int = 3) -> keras.Model:
  inputs = keras.Input((state_dim,))
  outputs = keras.layers.Lambda(lambda x: tf.zeros_like(x[:, :1]) + value)(inputs)
  return keras.Model(inputs, outputs)


def _reference_returns(value: float, episodes: int, seed: int) -> np.ndarray:
  """The same episodes stepped by hand with the constant action."""
  env = envs.make("Pendulum-v1", batch_size=episodes, seed=seed)
  state, step = env.pure_reset(seed)
  returns = np.zeros(episodes)
  done = np.zeros(episodes, bool)
  action = tf.fill([episodes, 1], np.float32(value))
  while not done.all():
    state, step = env.pure_step(state, action)
    returns += np.where(done, 0.0, step.reward.numpy())
    done |= step.step_type.numpy() == 2
  return returns


def test_a_constant_action_gives_the_same_episodes_at_any_repeat():
  actor = _constant_actor(0.5)
  one = evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=3, seed=4)
  two = evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=3, seed=4, action_repeat=2)
  np.testing.assert_allclose(one, _reference_returns(0.5, 3, 4), rtol=1e-5)
  np.testing.assert_allclose(two, one, rtol=1e-5)
  # Outputs beyond [-1, 1] are clipped, as the agent does: 7 plays as 1.
  np.testing.assert_allclose(
    evaluation.evaluate_tf(_constant_actor(7.0), "Pendulum-v1", episodes=3, seed=4),
    _reference_returns(1.0, 3, 4),
    rtol=1e-5,
  )


def test_holding_a_state_dependent_action_changes_the_episodes():
  inputs = keras.Input((3,))
  actor = keras.Model(inputs, keras.layers.Lambda(lambda x: -x[:, 2:3])(inputs))  # damp
  one = evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=3, seed=4)
  three = evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=3, seed=4, action_repeat=3)
  assert np.all(np.isfinite(one)) and not np.allclose(one, three)


def test_bad_continuous_evaluations_are_named():
  actor = _constant_actor(0.0)
  with pytest.raises(ValueError, match="continuous actions .* greedy=False has no meaning"):
    evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=2, greedy=False)
  with pytest.raises(ValueError, match="action_repeat"):
    evaluation.evaluate_tf(actor, "Pendulum-v1", episodes=2, action_repeat=0)
