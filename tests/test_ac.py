"""The off-policy actor-critic: losses against tf-agents' TD3, the replay ring buffer, n-step
returns against NumPy, determinism, one trace per run, config errors, and learning."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.agents.td3 import td3_agent
from tf_agents.networks import network
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts
from tf_agents.utils import common

from ac_fakes import PointMass
from tf_equirl.agents.ac import (
  AC,
  ACConfig,
  NStepBatch,
  Replay,
  actor_loss,
  augment_batch,
  critic_loss,
  n_step_targets,
  noise_std,
)
from tf_equirl.agents.ac.pixels import PixelReplay
from tf_equirl.networks.continuous import build_continuous_actor, build_continuous_critic
from test_networks_continuous import pendulum_d1, rotation_c4


# ----------------------------------------------------------------- tf-agents' TD3 losses
class _Actor(network.Network):
  def __init__(self, model, spec, name):
    super().__init__(input_tensor_spec=spec, state_spec=(), name=name)
    self._model = model

  def call(self, observation, step_type=None, network_state=(), training=False):
    return self._model(observation), network_state


class _Critic(network.Network):
  """One of our twin Q-values (`index` 0 or 1), or their minimum (`index=None`)."""

  def __init__(self, model, spec, index, name):
    super().__init__(input_tensor_spec=spec, state_spec=(), name=name)
    self._model, self._index = model, index

  def call(self, inputs, step_type=None, network_state=(), training=False):
    q = self._model(list(inputs))
    q = tf.reduce_min(q, axis=1) if self._index is None else q[:, self._index]
    return q, network_state


def _td3(symmetry, actor, target_actor, critic, target_critic, min_critic=False):
  obs_spec = tensor_spec.TensorSpec([symmetry.state_dim], tf.float32)
  act_spec = tensor_spec.BoundedTensorSpec([symmetry.action_dim], tf.float32, -1.0, 1.0)
  sa = (obs_spec, act_spec)
  first = None if min_critic else 0
  return td3_agent.Td3Agent(
    ts.time_step_spec(obs_spec),
    act_spec,
    actor_network=_Actor(actor, obs_spec, "actor"),
    critic_network=_Critic(critic, sa, first, "critic_1"),
    critic_network_2=_Critic(critic, sa, 1, "critic_2"),
    target_actor_network=_Actor(target_actor, obs_spec, "target_actor"),
    target_critic_network=_Critic(target_critic, sa, 0, "target_critic_1"),
    target_critic_network_2=_Critic(target_critic, sa, 1, "target_critic_2"),
    actor_optimizer=tf.keras.optimizers.Adam(),
    critic_optimizer=tf.keras.optimizers.Adam(),
    td_errors_loss_fn=common.element_wise_squared_loss,
    gamma=1.0,  # our batch's discount already holds gamma^m d
    target_policy_noise=0.0,
  )


def _fixed_batch(symmetry, n=32):
  r = np.random.default_rng(7)
  f = lambda *shape: tf.constant(r.normal(size=shape), tf.float32)  # noqa: E731
  return NStepBatch(
    observation=f(n, symmetry.state_dim),
    action=tf.constant(r.uniform(-1, 1, (n, symmetry.action_dim)), tf.float32),
    reward=f(n),
    discount=tf.constant(r.choice([0.0, 0.99**3, 0.99], n), tf.float32),
    next_observation=f(n, symmetry.state_dim),
  )


def _steps(observation, reward=None, discount=None):
  n = observation.shape[0]
  return ts.TimeStep(
    tf.fill([n], ts.StepType.MID),
    tf.zeros([n]) if reward is None else reward,
    tf.ones([n]) if discount is None else discount,
    observation,
  )


@pytest.mark.parametrize("kind", ["mlp", "relaxed"])
def test_losses_equal_tf_agents_td3(kind):
  """Critic loss = Td3Agent.critic_loss (squared TD errors, the target actor a copy of the
  online one as DrQ-v2 uses no target actor); actor loss = Td3Agent.actor_loss with the twin
  minimum as its critic. No noise on either side."""
  symmetry = pendulum_d1()
  tf.keras.utils.set_random_seed(3)
  actor = build_continuous_actor(kind, symmetry, width=16)
  target_actor = build_continuous_actor(kind, symmetry, width=16)
  target_actor.set_weights(actor.get_weights())
  critic = build_continuous_critic(kind, symmetry, width=16)
  target_critic = build_continuous_critic(kind, symmetry, width=16)  # other weights
  batch = _fixed_batch(symmetry)
  zeros = tf.zeros_like(batch.action)
  ours, q = critic_loss(critic, target_critic, actor, batch, zeros)
  agent = _td3(symmetry, actor, target_actor, critic, target_critic)
  theirs = agent.critic_loss(
    _steps(batch.observation),
    batch.action,
    _steps(batch.next_observation, batch.reward, batch.discount),
  )
  assert float(ours) > 0
  np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)
  np.testing.assert_allclose(q.numpy(), critic([batch.observation, batch.action]).numpy())

  agent_min = _td3(symmetry, actor, target_actor, critic, target_critic, min_critic=True)
  with tf.GradientTape(persistent=True) as tape:
    ours = actor_loss(actor, critic, batch.observation, zeros)
    theirs = agent_min.actor_loss(_steps(batch.observation))
  np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)
  for a, b in zip(
    tape.gradient(ours, actor.trainable_variables),
    tape.gradient(theirs, actor.trainable_variables),
  ):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-7)


def test_critic_loss_smooths_the_target_with_clipped_noise():
  """Noise moves the target action (clipped to [-1, 1]); the loss is the formula by hand."""
  symmetry = pendulum_d1()
  actor = build_continuous_actor("mlp", symmetry, width=8)
  critic = build_continuous_critic("mlp", symmetry, width=8)
  target = build_continuous_critic("mlp", symmetry, width=8)
  batch = _fixed_batch(symmetry, 8)
  noise = tf.fill(batch.action.shape, 0.3)
  loss, _ = critic_loss(critic, target, actor, batch, noise)
  next_action = np.clip(actor(batch.next_observation).numpy() + 0.3, -1, 1)
  y = batch.reward.numpy() + batch.discount.numpy() * target(
    [batch.next_observation, next_action]
  ).numpy().min(axis=1)
  q = critic([batch.observation, batch.action]).numpy()
  np.testing.assert_allclose(float(loss), np.mean((q - y[:, None]) ** 2, axis=0).sum(), rtol=1e-5)


# ------------------------------------------------------------------------- replay
def _reference_n_step(reward, discount, ended, gamma):
  b, n = reward.shape
  out_r, out_d, out_m = np.zeros(b), np.zeros(b), np.zeros(b, int)
  for i in range(b):
    total = 0.0
    for k in range(n):
      total += gamma**k * reward[i, k]
      if ended[i, k] or k == n - 1:
        out_r[i], out_d[i], out_m[i] = total, gamma ** (k + 1) * discount[i, k], k
        break
  return out_r, out_d, out_m


def test_n_step_targets_match_numpy():
  r = np.random.default_rng(0)
  reward = r.normal(size=(64, 3)).astype(np.float32)
  ended = (r.uniform(size=(64, 3)) < 0.3).astype(np.float32)
  discount = np.where(ended * (r.uniform(size=(64, 3)) < 0.5), 0.0, 1.0).astype(np.float32)
  got = n_step_targets(tf.constant(reward), tf.constant(discount), tf.constant(ended), 0.9)
  want = _reference_n_step(reward, discount, ended, 0.9)
  assert ended[:, :2].any(axis=1).sum() > 10  # the episode-end branch is exercised
  for g, w in zip(got, want):
    np.testing.assert_allclose(g.numpy(), w, rtol=1e-5, atol=1e-6)


def test_replay_ring_overwrites_the_oldest_and_samples_only_whole_windows():
  replay = Replay(slots=5, num_envs=2, observation_dim=1, action_dim=1)
  for t in range(8):  # agent step t of env e stores observation 10 t + e
    obs = tf.constant([[10.0 * t], [10.0 * t + 1]])
    replay.add(obs, obs, tf.constant([1.0, 1.0]), tf.ones([2]), tf.zeros([2]), obs + 10)
  assert int(replay.count) == 8 and int(replay.size()) == 5
  held = replay.observation.numpy()[:, :, 0]
  # slots hold steps 5, 6, 7, 3, 4 (step t in slot t % 5)
  np.testing.assert_array_equal(held[:, 0], [50, 60, 70, 30, 40])
  np.testing.assert_array_equal(held[:, 1], [51, 61, 71, 31, 41])
  batch = replay.sample(tf.constant([1, 2], tf.int64), 512, n_step=3, gamma=0.5)
  starts = batch.observation.numpy()[:, 0]
  step, env = starts // 10, starts % 10
  # whole 3-step windows of steps 3..7: starts 3, 4, 5, both envs, all of them drawn
  assert set(step.astype(int)) == {3, 4, 5} and set(env.astype(int)) == {0, 1}
  np.testing.assert_allclose(batch.reward.numpy(), 1 + 0.5 + 0.25)
  np.testing.assert_allclose(batch.discount.numpy(), 0.125)
  np.testing.assert_allclose(batch.next_observation.numpy()[:, 0], starts + 20 + 10)
  np.testing.assert_allclose(batch.action.numpy()[:, 0], starts)


@pytest.mark.parametrize("pixels", [False, True])
def test_replay_sampling_reads_only_the_sampled_slots(pixels):
  """Sampling gathers rows from the variables and never reads a whole field: in a TensorFlow
  graph such a read is copied at the next write while it is alive, a cost that grows with
  the capacity (the pixel agent trains without XLA)."""
  replay = PixelReplay(50, 2, (5, 5, 3), 1) if pixels else Replay(50, 2, 4, 1)
  shape = replay.observation.shape[2:]

  @tf.function
  def step(key):
    obs = tf.ones([2, *shape])
    replay.add(obs, tf.zeros([2, 1]), tf.ones([2]), tf.ones([2]), tf.zeros([2]), obs)
    return replay.sample(key, 8, n_step=3, gamma=0.9)

  graph = step.get_concrete_function(tf.TensorSpec([2], tf.int64)).graph
  whole = [
    op.name
    for op in graph.get_operations()
    if op.type == "ReadVariableOp" and op.outputs[0].shape.rank not in (None, 0)
  ]
  assert not whole, f"whole-variable reads in the sampling graph: {whole}"
  gathers = [op for op in graph.get_operations() if op.type == "ResourceGather"]
  assert len(gathers) == 3 * 3 + 3  # reward, discount, ended per n-step window; obs, act, next


def test_replay_stops_n_step_returns_at_an_episode_end():
  replay = Replay(slots=8, num_envs=1, observation_dim=1, action_dim=1)
  for t in range(4):  # the episode terminates at step 1
    obs = tf.constant([[float(t)]])
    replay.add(
      obs,
      obs,
      tf.constant([1.0]),
      tf.constant([0.0 if t == 1 else 1.0]),
      tf.constant([1.0 if t == 1 else 0.0]),
      obs + 0.5,
    )
  batch = replay.sample(tf.constant([3, 4], tf.int64), 256, n_step=3, gamma=0.5)
  starts = batch.observation.numpy()[:, 0]
  assert set(starts) == {0.0, 1.0}
  at0, at1 = starts == 0, starts == 1
  np.testing.assert_allclose(batch.reward.numpy()[at0], 1.5)  # r0 + 0.5 r1, then the end
  np.testing.assert_allclose(batch.discount.numpy()[at0 | at1], 0.0)  # terminated: no bootstrap
  np.testing.assert_allclose(batch.next_observation.numpy()[at0, 0], 1.5)
  np.testing.assert_allclose(batch.reward.numpy()[at1], 1.0)


def test_augment_batch_moves_states_and_actions_by_one_element_each():
  symmetry = pendulum_d1()
  batch = _fixed_batch(symmetry, 64)
  moved = augment_batch(symmetry, batch, tf.constant([5, 6], tf.int64))
  flipped = np.isclose(moved.action.numpy(), -batch.action.numpy())[:, 0]
  assert 10 < flipped.sum() < 54  # both elements drawn
  sign = np.where(flipped, -1.0, 1.0)[:, None]
  for field in ("observation", "next_observation"):
    want = getattr(batch, field).numpy() * np.concatenate([np.ones_like(sign), sign, sign], 1)
    np.testing.assert_allclose(getattr(moved, field).numpy(), want)
  np.testing.assert_array_equal(moved.reward.numpy(), batch.reward.numpy())


def test_augment_batch_moves_each_sample_by_one_element_under_c4():
  """Under C4 (quarter turns of two state vectors and the action) every element differs from
  its inverse: each sample's state, next state and action are moved by the same g."""
  symmetry = rotation_c4()
  batch = _fixed_batch(symmetry, 64)
  moved = augment_batch(symmetry, batch, tf.constant([5, 6], tf.int64))
  rho, pi = symmetry.state_rep.matrices, symmetry.action_rep.matrices
  before = {k: v.numpy() for k, v in batch._asdict().items()}
  after = {k: v.numpy() for k, v in moved._asdict().items()}
  drawn = []
  for i in range(64):
    s, s_moved = before["observation"][i], after["observation"][i]
    matches = [g for g in range(4) if np.allclose(s_moved, rho[g] @ s, atol=1e-5)]
    assert len(matches) == 1, (i, matches)
    g = matches[0]
    np.testing.assert_allclose(after["action"][i], pi[g] @ before["action"][i], atol=1e-5)
    np.testing.assert_allclose(
      after["next_observation"][i], rho[g] @ before["next_observation"][i], atol=1e-5
    )
    drawn.append(g)
  assert len(set(drawn)) == 4  # every element drawn
  np.testing.assert_array_equal(moved.discount.numpy(), batch.discount.numpy())


def test_noise_schedule_is_linear_then_flat():
  cfg = ACConfig(noise_steps=100)
  got = [float(noise_std(s, cfg)) for s in (0, 50, 100, 1000)]
  np.testing.assert_allclose(got, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


# ------------------------------------------------------------------------ config
@pytest.mark.parametrize(
  "field,value,message",
  [
    ("network", "cnn", "ACConfig.network must be one of"),
    ("batch_size", 0, "ACConfig.batch_size must be a positive integer"),
    ("gamma", 1.5, r"ACConfig.gamma must lie in \[0, 1\]"),
    ("tau", 0.0, r"ACConfig.tau must lie in \(0, 1\]"),
    ("learning_rate", -1e-4, "ACConfig.learning_rate must be a finite number > 0"),
    ("noise_clip", float("nan"), "ACConfig.noise_clip must be a finite number"),
    ("update_every", 3, "update_every=3 env steps must be a multiple or a divisor"),
    ("eval_every", 4999, "eval_every=4999 must be a multiple"),
    ("total_steps", 7000, "total_steps=7000 must be a multiple of eval_every"),
    ("replay_capacity", 2, "replay_capacity=2 leaves 2 slots"),
    ("random_steps", -1, "ACConfig.random_steps must be a non-negative integer"),
    ("group", "", "ACConfig.group must be None"),
    ("jit_compile", 1, "ACConfig.jit_compile must be True or False"),
  ],
)
def test_invalid_config_is_named(field, value, message):
  with pytest.raises(ValueError, match=message):
    ACConfig(**{field: value})


def test_agent_refuses_a_discrete_action_environment():
  with pytest.raises(ValueError, match="discrete actions"):
    AC(ACConfig(env="CartPole-v1"))


# ------------------------------------------------------------------------- runs
SMALL = ACConfig(
  env="PointMass",
  total_steps=4000,
  eval_every=2000,
  random_steps=100,
  noise_steps=500,
  replay_capacity=4000,
  batch_size=64,
  learning_rate=1e-3,
  width=32,
  critic_width=32,
  eval_episodes=8,
  final_episodes=12,
  final_obs_noise=0.5,
)


@pytest.fixture(scope="module")
def point_mass_run():
  agent = AC(SMALL, env=PointMass(1))
  result = agent.train(seed=1)
  return agent, result


def test_learns_on_point_mass_and_traces_once(point_mass_run):
  agent, result = point_mass_run
  np.testing.assert_array_equal(result.env_steps, [0, 2000, 4000])
  assert agent.tracing_count == 1  # two training calls, one trace
  # 1000 agent steps per call, 100 random, then one update every 2 agent steps (the default
  # update_every=4 env steps at action repeat 2, DrQ-v2's rate)
  np.testing.assert_array_equal(result.metrics["updates"][1:], [450, 500])
  assert np.all(np.isfinite(result.metrics["critic_loss"][1:]))
  # the random initial policy drifts away; the trained one holds the mass near 0
  assert result.eval_return[-1] > result.eval_return[0] + 10, result.eval_return


def test_same_seed_same_run(point_mass_run):
  agent, first = point_mass_run
  weights = [w.copy() for w in agent.actor.get_weights() + agent.critic.get_weights()]
  again = agent.train(seed=1)
  np.testing.assert_array_equal(again.eval_return, first.eval_return)
  np.testing.assert_array_equal(again.final_returns, first.final_returns)
  np.testing.assert_array_equal(again.final_noisy_returns, first.final_noisy_returns)
  for a, b in zip(weights, agent.actor.get_weights() + agent.critic.get_weights()):
    np.testing.assert_array_equal(a, b)
  assert agent.tracing_count == 1
  agent.reset(1)
  initial = agent.actor.get_weights()
  agent.reset(2)
  assert not all(np.array_equal(a, b) for a, b in zip(initial, agent.actor.get_weights()))


def test_final_evaluation_plays_the_seeds_protocol(point_mass_run):
  agent, result = point_mass_run
  assert result.final_returns.shape == result.final_noisy_returns.shape == (12,)
  # episodes differ in their starts; the noisy ones start where the clean ones do
  assert np.std(result.final_returns) > 0
  assert not np.array_equal(result.final_returns, result.final_noisy_returns)
  # the trained policy, clean, beats the untrained first evaluation (as the curve does)
  assert np.mean(result.final_returns) > result.eval_return[0] + 10
  # (other tests of the module reset the agent's weights: compare its evaluations together)
  clean, noisy = agent.final_evaluation(seed=1)
  again, noisy_again = agent.final_evaluation(seed=1)
  np.testing.assert_array_equal(clean, again)  # same seed, same numbers
  np.testing.assert_array_equal(noisy, noisy_again)
  other, _ = agent.final_evaluation(seed=2)
  assert not np.array_equal(other, clean)
  clean, noisy = agent.final_evaluation(seed=1, episodes=3, obs_noise=0.0)
  assert clean.shape == (3,) and noisy.shape == (0,)
  with pytest.raises(ValueError, match="episodes"):
    agent.final_evaluation(seed=1, episodes=-1)


def test_experiment_reports_the_best_policy_and_resumes_its_final_evaluation(tmp_path):
  from tf_equirl.agents.ac.experiment import run_ac_experiment

  cfg = dataclasses.replace(SMALL, total_steps=2000, final_episodes=4, final_obs_noise=0.0)
  out = str(tmp_path / "run")
  calls = []

  def on_seed_trained(seed, actor, critic, folder):
    with open(os.path.join(folder, "run.json"), encoding="utf-8") as f:
      finished = json.load(f)["seeds"]
    calls.append((seed, actor, critic, folder, str(seed) in finished))

  first = run_ac_experiment(
    cfg, [0, 1], out, save_models=False, env=PointMass(1), on_seed_trained=on_seed_trained
  )
  # Once per trained seed, with its models, before the seed is recorded as finished.
  assert [(c[0], c[3], c[4]) for c in calls] == [(0, out, False), (1, out, False)]
  assert all(isinstance(c[1], tf.keras.Model) and isinstance(c[2], tf.keras.Model) for c in calls)
  assert calls[0][1] is not calls[0][2]
  assert first.final_returns.shape == (2, 4) and first.final_noisy_returns.shape == (2, 0)
  best = first.best
  i = int(np.argmax(first.curves[:, -1]))
  assert best["seed"] == [0, 1][i]
  assert best["final"] == pytest.approx(np.mean(first.final_returns[i]))
  assert np.isnan(best["final_noisy"])
  again = run_ac_experiment(
    cfg,
    [0, 1],
    out,
    save_models=False,
    resume=True,
    env=PointMass(1),
    on_seed_trained=on_seed_trained,
  )
  assert len(calls) == 2  # the resumed seeds did not train
  np.testing.assert_array_equal(again.final_returns, first.final_returns)
  assert again.summary["final_eval"] == pytest.approx(first.final_returns.mean())
  with pytest.raises(ValueError, match="on_seed_trained needs an out_dir"):
    run_ac_experiment(cfg, [0], None, env=PointMass(1), on_seed_trained=on_seed_trained)


def test_parallel_envs_and_action_repeat_count_env_steps():
  cfg = dataclasses.replace(SMALL, num_envs=2, update_every=8, network="augment", total_steps=2000)
  agent = AC(cfg, env=PointMass(2))
  result = agent.train(seed=0)
  # 500 agent steps of 4 env steps; one update every other agent step after the first 100
  np.testing.assert_array_equal(result.metrics["updates"][1:], [200])
  # episodes of at most 40 env steps = 20 agent steps, 2 envs: at least 50
  assert result.metrics["episodes"][1] >= 50


@pytest.mark.slow
def test_mlp_learns_pendulum():
  """Pendulum-v1 (returns about -1,200 for a random policy): the mlp agent beats -800 within
  20,000 env steps."""
  cfg = ACConfig(
    env="Pendulum-v1",
    total_steps=20_000,
    eval_every=4000,
    noise_steps=10_000,
    random_steps=1000,
    update_every=2,  # Pendulum's schedule: one update per agent step
  )
  result = AC(cfg).train(seed=0)
  assert result.eval_return[-1] > -800 and result.eval_return[-1] > result.eval_return[0] + 300
