"""CartPoleSwingup-v0 and Reacher-v0 against dm_control (MuJoCo) over a short rollout.

Needs the `dmc` extra (`pip install -e .[dmc]`); skipped without it. Both start from the
same state and take the same random actions; our semi-implicit Euler step is compared with
MuJoCo's integrators (RK4 for the cart-pole, Euler for the reacher), so the observations
agree to a tolerance, not exactly: the figures each test asserts are the largest
differences seen, with a margin.
"""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.envs import EnvState, make

suite = pytest.importorskip(
  "dm_control.suite", reason="dm_control is not installed (pip install -e .[dmc])"
)

STEPS = 50


def _our_rollout(name, physics0, actions):
  env = make(name, batch_size=1)
  state = EnvState(
    physics=tf.constant(physics0[None], tf.float32),
    step_count=tf.zeros([1], tf.int32),
    done=tf.zeros([1], tf.bool),
    key=tf.constant([0, 0], tf.int64),
  )
  observations, rewards = [], []
  for action in actions:
    state, step = env.pure_step(state, action[None])
    observations.append(step.observation.numpy()[0])
    rewards.append(step.reward.numpy()[0])
  return np.array(observations), np.array(rewards)


def _dmc_rollout(env, actions, observe):
  observations, rewards = [], []
  for action in actions:
    time_step = env.step(action)
    observations.append(observe(env.physics))
    rewards.append(time_step.reward)
  return np.array(observations), np.array(rewards)


def test_cartpole_swingup_follows_dm_control():
  rng = np.random.default_rng(0)
  env = suite.load("cartpole", "swingup", task_kwargs={"random": 0})
  env.reset()
  qpos, qvel = np.array([0.1, 2.5]), np.array([0.3, -0.5])
  with env.physics.reset_context():
    env.physics.data.qpos[:] = qpos
    env.physics.data.qvel[:] = qvel
  actions = rng.uniform(-1, 1, (STEPS, 1)).astype(np.float32)

  def observe(physics):
    x, theta = physics.data.qpos
    return np.array([x, np.cos(theta), np.sin(theta), *physics.data.qvel])

  dmc_obs, dmc_rewards = _dmc_rollout(env, actions, observe)
  ours, our_rewards = _our_rollout("CartPoleSwingup-v0", np.concatenate([qpos, qvel]), actions)
  obs_err = np.abs(ours - dmc_obs).max()
  reward_err = np.abs(our_rewards - dmc_rewards).max()
  print(f"cartpole swing-up, {STEPS} steps: obs {obs_err:.2e}, reward {reward_err:.2e}")
  assert obs_err < 2e-2 and reward_err < 5e-3, (obs_err, reward_err)


def test_reacher_follows_dm_control():
  rng = np.random.default_rng(1)
  env = suite.load("reacher", "hard", task_kwargs={"random": 0})
  env.reset()
  qpos, qvel = np.array([0.4, -1.0]), np.array([0.0, 0.0])
  target = np.array([0.1, -0.08])
  with env.physics.reset_context():
    env.physics.data.qpos[:] = qpos
    env.physics.data.qvel[:] = qvel
    env.physics.named.model.geom_pos["target", "x"] = target[0]
    env.physics.named.model.geom_pos["target", "y"] = target[1]
  actions = rng.uniform(-1, 1, (STEPS, 2)).astype(np.float32)

  def observe(physics):
    q1, q2 = physics.data.qpos
    to_target = (
      physics.named.data.geom_xpos["target", :2] - physics.named.data.geom_xpos["finger", :2]
    )
    return np.array(
      [np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), *to_target, *physics.data.qvel]
    )

  dmc_obs, dmc_rewards = _dmc_rollout(env, actions, observe)
  ours, our_rewards = _our_rollout("Reacher-v0", np.concatenate([qpos, qvel, target]), actions)
  obs_err = np.abs(ours - dmc_obs).max()
  equal = np.array_equal(our_rewards, dmc_rewards)
  print(f"reacher, {STEPS} steps: obs {obs_err:.2e}, rewards equal {equal}")
  assert obs_err < 2e-2, obs_err
  np.testing.assert_array_equal(our_rewards, dmc_rewards)
