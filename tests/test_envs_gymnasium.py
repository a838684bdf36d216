"""The gymnasium Catch (`tf_equirl/Catch-v0`) and the policy adapter for gymnasium envs."""

import importlib
import itertools

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tf_agents.policies import random_tf_policy
from tf_agents.trajectories import time_step as ts

import tf_equirl.envs
from tf_equirl.envs import (
  CATCH_GYMNASIUM_ID,
  CartPole,
  Catch,
  CatchEnv,
  EnvState,
  run_gymnasium_episodes,
)

LAST = int(ts.StepType.LAST)


def _catch_perfect(obs):
  """Moves the paddle under the ball (observation batch [1, 50] -> actions [1])."""
  grid = np.asarray(obs).reshape(-1, 10, 5)
  ball = grid[:, :9].sum(axis=1).argmax(-1)
  paddle = grid[:, 9].argmax(-1)
  return 1 + np.sign(ball - paddle)


def _cartpole_balance(obs):
  obs = np.asarray(obs)
  return (obs[:, 2] + 0.3 * obs[:, 3] + 0.01 * obs[:, 0] + 0.05 * obs[:, 1] > 0).astype(np.int64)


def test_registered_on_import_and_reimport_is_harmless():
  assert CATCH_GYMNASIUM_ID == "tf_equirl/Catch-v0"
  importlib.reload(tf_equirl.envs)
  env = gymnasium.make("tf_equirl/Catch-v0")
  assert env.action_space == gymnasium.spaces.Discrete(3)
  assert env.observation_space == gymnasium.spaces.Box(0.0, 1.0, (50,), np.float32)
  obs, _ = env.reset(seed=0)
  assert obs.dtype == np.float32 and obs.shape == (50,)
  np.testing.assert_array_equal(obs.reshape(10, 5)[9], [0, 0, 1, 0, 0])
  grid = gymnasium.make("tf_equirl/Catch-v0", flat_observation=False)
  assert grid.observation_space.shape == (10, 5)


def test_gymnasium_catch_dynamics_equal_tf_catch_on_all_pairs():
  pairs = list(itertools.product(range(9), range(5), range(5), range(3)))
  states = np.array([p[:3] for p in pairs], np.int32)
  actions = np.array([p[3] for p in pairs], np.int32)
  tf_env = Catch()
  n = len(pairs)
  _, step = tf_env.pure_step(
    EnvState(
      tf.constant(states),
      tf.zeros([n], tf.int32),
      tf.zeros([n], tf.bool),
      tf.constant([0, 0], tf.int64),
    ),
    actions,
  )
  env = gymnasium.make("tf_equirl/Catch-v0")
  env.reset(seed=0)
  for i in range(n):
    env.unwrapped.state = states[i].astype(np.int64)
    obs, reward, terminated, truncated, _ = env.step(int(actions[i]))
    np.testing.assert_array_equal(obs, step.observation[i].numpy())
    assert reward == step.reward[i].numpy()
    assert terminated == (step.step_type[i].numpy() == LAST) and not truncated


def test_gymnasium_catch_rejects_bad_use():
  env = CatchEnv()
  with pytest.raises(RuntimeError, match="reset"):
    env.step(0)
  env.reset(seed=1)
  with pytest.raises(
    ValueError, match=r"invalid action 3; valid actions are integers in " r"\[0, 2\]"
  ):
    env.step(3)
  for _ in range(9):
    *_, terminated, _, _ = env.step(1)
  assert terminated
  with pytest.raises(RuntimeError, match="terminated"):
    env.step(1)


def test_adapter_runs_policies_on_gymnasium_cartpole_and_catch():
  returns = run_gymnasium_episodes(
    _cartpole_balance, "CartPole-v1", num_episodes=2, seed=0, tf_env="CartPole-v1"
  )
  np.testing.assert_array_equal(returns, [500.0, 500.0])
  catch_returns = run_gymnasium_episodes(
    _catch_perfect, "tf_equirl/Catch-v0", num_episodes=5, seed=0, tf_env=Catch()
  )
  np.testing.assert_array_equal(catch_returns, [1.0] * 5)

  cartpole = CartPole()
  policy = random_tf_policy.RandomTFPolicy(cartpole.time_step_spec(), cartpole.action_spec())
  random_returns = run_gymnasium_episodes(
    policy, gymnasium.make("CartPole-v1"), num_episodes=3, seed=1
  )
  assert random_returns.shape == (3,) and np.all((random_returns >= 8) & (random_returns < 200))
  catch = Catch()
  policy = random_tf_policy.RandomTFPolicy(catch.time_step_spec(), catch.action_spec())
  catch_random = run_gymnasium_episodes(policy, "tf_equirl/Catch-v0", num_episodes=4, seed=2)
  assert set(catch_random.tolist()) <= {-1.0, 1.0}
  # Reproducible for a deterministic policy and a fixed seed.
  np.testing.assert_array_equal(
    run_gymnasium_episodes(_catch_perfect, "tf_equirl/Catch-v0", 2, seed=3, tf_env=catch),
    run_gymnasium_episodes(_catch_perfect, "tf_equirl/Catch-v0", 2, seed=3, tf_env=catch),
  )


def test_adapter_rejects_mismatched_spaces_and_bad_actions():
  with pytest.raises(
    ValueError,
    match=r"'CartPole-v1' has 2 actions \(Discrete\(2\)\) but "
    r"the policy's action spec allows actions \[0, 2\]",
  ):
    run_gymnasium_episodes(_catch_perfect, "CartPole-v1", 1, tf_env="Catch-v0")
  with pytest.raises(
    ValueError,
    match=r"has 3 actions \(Discrete\(3\)\) but the policy's "
    r"action spec allows actions \[0, 1\]",
  ):
    run_gymnasium_episodes(_cartpole_balance, "tf_equirl/Catch-v0", 1, tf_env=CartPole())
  with pytest.raises(ValueError, match=r"shape \(10, 5\); the policy expects shape \(50,\)"):
    run_gymnasium_episodes(
      _catch_perfect,
      gymnasium.make("tf_equirl/Catch-v0", flat_observation=False),
      1,
      tf_env=Catch(),
    )
  with pytest.raises(ValueError, match="needs tf_env"):
    run_gymnasium_episodes(_cartpole_balance, "CartPole-v1", 1)
  with pytest.raises(ValueError, match=r"returned action 2, outside the action space"):
    run_gymnasium_episodes(lambda obs: np.array([2]), "CartPole-v1", 1, tf_env="CartPole-v1")
  with pytest.raises(
    ValueError,
    match=r"has lower observation bounds \[-1., -1., -1., -1.\]; "
    r"the policy's observation spec has \[-4.8",
  ):
    env = gymnasium.make("CartPole-v1")
    env.unwrapped.observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    run_gymnasium_episodes(_cartpole_balance, env.unwrapped, 1, tf_env="CartPole-v1")
