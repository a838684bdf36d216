"""Soft actor-critic: the squashed Gaussian actors' equivariance over several groups, the
log density against TensorFlow Probability, the losses against tf-agents' SacAgent, the agent
in the compiled loop (learning, one trace, same seed same run), and the named errors."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow import keras
from tf_agents.agents.sac import sac_agent
from tf_agents.networks import network
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts

import test_ac
from ac_fakes import PointMass
from test_ac import _Critic, _fixed_batch, _steps
from test_networks_continuous import SYMMETRIES, _batch, _rotation, pendulum_d1
from tf_equirl.agents.ac import (
  SAC,
  ACConfig,
  make_agent,
  sac_actor_loss,
  sac_critic_loss,
  squashed_sample,
  temperature_loss,
)
from tf_equirl.agents.ac.experiment import run_ac_experiment
from tf_equirl.agents.ac.seed_batch import check_seed_batch
from tf_equirl import runs, sweeps
from tf_equirl.groups import MDPSymmetry, Representation
from tf_equirl.groups.finite_group import cyclic
from tf_equirl.networks.continuous import (
  EQUIVARIANT_KINDS,
  abs_representation,
  build_continuous_critic,
  build_gaussian_actor,
)

tfd, tfb = tfp.distributions, tfp.bijectors


# ------------------------------------------------------------------------- the actors
@pytest.mark.parametrize("group", sorted(SYMMETRIES))
@pytest.mark.parametrize("kind,num_kernels", [(k, 1) for k in EQUIVARIANT_KINDS] + [("relaxed", 2)])
def test_gaussian_actor_moves_its_mean_by_pi_and_its_scale_by_abs_pi(group, kind, num_kernels):
  """mean(rho(g) s) = pi(g) mean(s), log_std(rho(g) s) = |pi(g)| log_std(s) to 1e-5, so a
  sample drawn with the unit normals pi(g) eps at rho(g) s is pi(g) times the sample at s and
  has the same log density."""
  symmetry = SYMMETRIES[group]()
  s, _ = _batch(symmetry)
  gaussian = build_gaussian_actor(kind, symmetry, width=8, num_kernels=num_kernels)
  mean, log_std = (t.numpy() for t in gaussian.policy(s))
  assert np.std(mean) > 1e-3 and np.std(log_std) > 1e-4  # neither head is constant
  assert np.all(log_std >= -5.0) and np.all(log_std <= 2.0)
  np.testing.assert_allclose(gaussian.actor(s).numpy(), np.tanh(mean), atol=1e-6)
  eps = np.random.default_rng(1).normal(size=mean.shape).astype(np.float32)
  action, log_pi = (t.numpy() for t in squashed_sample(mean, log_std, eps))
  pi, rho = symmetry.action_rep.matrices, symmetry.state_rep.matrices
  for g in range(symmetry.group.order):
    gs = (s @ rho[g].T).astype(np.float32)
    g_mean, g_log_std = (t.numpy() for t in gaussian.policy(gs))
    np.testing.assert_allclose(g_mean, mean @ pi[g].T, atol=1e-5)
    np.testing.assert_allclose(g_log_std, log_std @ np.abs(pi[g]).T, atol=1e-5)
    g_eps = (eps @ pi[g].T).astype(np.float32)
    g_action, g_log_pi = (t.numpy() for t in squashed_sample(g_mean, g_log_std, g_eps))
    np.testing.assert_allclose(g_action, action @ pi[g].T, atol=1e-5)
    np.testing.assert_allclose(g_log_pi, log_pi, atol=1e-4)


def test_mlp_gaussian_actor_is_not_equivariant():
  symmetry = pendulum_d1()
  s, _ = _batch(symmetry)
  gaussian = build_gaussian_actor("mlp", symmetry, width=16)
  mirrored = (s @ symmetry.state_rep.matrices[1].T).astype(np.float32)
  mean, mean_g = gaussian.policy(s)[0].numpy(), gaussian.policy(mirrored)[0].numpy()
  assert np.max(np.abs(mean_g + mean)) > 1e-3


def test_gaussian_actor_saves_and_its_mean_actor_loads_in_safe_mode(tmp_path):
  symmetry = SYMMETRIES["C4"]()
  s, _ = _batch(symmetry)
  gaussian = build_gaussian_actor("gcnn", symmetry, width=4)
  for model in gaussian:
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    ours, theirs = tf.nest.flatten(model(s)), tf.nest.flatten(loaded(s))
    for a, b in zip(ours, theirs):
      np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6)
  # the mean actor's weights are the policy's (shared layers)
  policy_ids = {id(v) for v in gaussian.policy.trainable_variables}
  assert all(id(v) in policy_ids for v in gaussian.actor.trainable_variables)


def test_gaussian_actor_errors_are_named():
  g = cyclic(6)
  rep = Representation(g, np.stack([_rotation(np.pi / 3 * k) for k in range(6)]))
  state = Representation(g, np.stack([_rotation(np.pi / 3 * k) for k in range(6)]))
  symmetry = MDPSymmetry(g, state, rep, continuous_actions=True)
  with pytest.raises(ValueError, match="not a signed permutation"):
    build_gaussian_actor("gcnn", symmetry, width=4)
  with pytest.raises(ValueError, match="not a signed permutation"):
    abs_representation(rep)
  with pytest.raises(ValueError, match="log_std_bounds"):
    build_gaussian_actor("mlp", pendulum_d1(), log_std_bounds=(2.0, -5.0))
  with pytest.raises(ValueError, match="unknown network kind"):
    build_gaussian_actor("cnn", pendulum_d1())


def test_squashed_sample_log_density_equals_tfp():
  """log pi of tanh(mean + std eps) equals TFP's tanh-transformed diagonal Gaussian, also
  where |u| is large (the stable change of variables)."""
  r = np.random.default_rng(0)
  mean = r.normal(scale=3.0, size=(64, 3)).astype(np.float32)
  log_std = r.uniform(-2.0, 0.5, size=(64, 3)).astype(np.float32)
  eps = r.normal(size=(64, 3)).astype(np.float32)
  action, log_pi = squashed_sample(mean, log_std, eps)
  u = tf.constant(mean + np.exp(log_std) * eps, tf.float64)
  dist = tfd.TransformedDistribution(
    tfd.Independent(tfd.Normal(mean.astype(np.float64), np.exp(log_std.astype(np.float64))), 1),
    tfb.Tanh(),
  )
  # TFP's log density at the pre-image u (its Tanh bijector's own stable log-Jacobian)
  expected = dist.distribution.log_prob(u) - tfb.Tanh().forward_log_det_jacobian(u, 1)
  np.testing.assert_allclose(action.numpy(), np.tanh(u.numpy()), atol=1e-6)
  np.testing.assert_allclose(log_pi.numpy(), expected.numpy(), rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------- tf-agents' SAC losses
class _FixedSamplePolicy(network.Network):
  """tf-agents actor network whose distribution is TFP's tanh-squashed diagonal Gaussian on
  our policy's mean and scale, and whose `sample()` returns `tanh(pre_images)` (the samples our
  losses drew) through the distribution's own bijector, so that TFP's `log_prob` finds their
  pre-images in the bijector's cache instead of a float32 `atanh` near +-1."""

  def __init__(self, policy, spec, pre_images):
    super().__init__(input_tensor_spec=spec, state_spec=(), name="fixed_sample_policy")
    self._policy, self._pre_images = policy, pre_images

  def call(self, observation, step_type=None, network_state=(), training=False):
    mean, log_std = self._policy(observation)
    tanh = tfb.Tanh()
    dist = tfd.TransformedDistribution(tfd.Independent(tfd.Normal(mean, tf.exp(log_std)), 1), tanh)
    if observation.shape[0] == self._pre_images.shape[0]:  # not create_variables' probe
      actions = tanh.forward(self._pre_images)
      dist.sample = lambda *args, **kwargs: actions
    return dist, network_state


def _pre_images(policy, observation, normal):
  mean, log_std = policy(observation)
  return mean + tf.exp(log_std) * normal


def _sac(symmetry, policy, pre_images, critic, target_critic, alpha, min_critic=False):
  obs_spec = tensor_spec.TensorSpec([symmetry.state_dim], tf.float32)
  act_spec = tensor_spec.BoundedTensorSpec([symmetry.action_dim], tf.float32, -1.0, 1.0)
  sa = (obs_spec, act_spec)
  return sac_agent.SacAgent(
    ts.time_step_spec(obs_spec),
    act_spec,
    critic_network=_Critic(critic, sa, None if min_critic else 0, "critic_1"),
    critic_network_2=_Critic(critic, sa, 1, "critic_2"),
    target_critic_network=_Critic(target_critic, sa, 0, "target_critic_1"),
    target_critic_network_2=_Critic(target_critic, sa, 1, "target_critic_2"),
    actor_network=_FixedSamplePolicy(policy, obs_spec, pre_images),
    actor_optimizer=tf.keras.optimizers.Adam(),
    critic_optimizer=tf.keras.optimizers.Adam(),
    alpha_optimizer=tf.keras.optimizers.Adam(),
    td_errors_loss_fn=tf.math.squared_difference,
    gamma=1.0,  # our batch's discount already holds gamma^m d
    initial_log_alpha=float(np.log(alpha)),
    target_entropy=-float(symmetry.action_dim),
  )


@pytest.mark.parametrize("kind", ["mlp", "relaxed"])
def test_losses_equal_tf_agents_sac(kind):
  """Critic, actor and temperature losses = SacAgent.critic_loss / actor_loss / alpha_loss
  (squared TD errors) on the same networks and the same policy samples."""
  symmetry = pendulum_d1()
  tf.keras.utils.set_random_seed(3)
  policy = build_gaussian_actor(kind, symmetry, width=16).policy
  critic = build_continuous_critic(kind, symmetry, width=16)
  target_critic = build_continuous_critic(kind, symmetry, width=16)  # other weights
  batch = _fixed_batch(symmetry)
  r = np.random.default_rng(5)
  next_normal = tf.constant(r.normal(size=batch.action.shape), tf.float32)
  normal = tf.constant(r.normal(size=batch.action.shape), tf.float32)
  alpha = 0.3

  ours, q = sac_critic_loss(critic, target_critic, policy, batch, alpha, next_normal)
  next_u = _pre_images(policy, batch.next_observation, next_normal)
  agent = _sac(symmetry, policy, next_u, critic, target_critic, alpha)
  theirs = agent.critic_loss(
    _steps(batch.observation),
    batch.action,
    _steps(batch.next_observation, batch.reward, batch.discount),
    td_errors_loss_fn=tf.math.squared_difference,
  )
  assert float(ours) > 0
  np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)
  np.testing.assert_allclose(q.numpy(), critic([batch.observation, batch.action]).numpy())

  ours, log_pi = sac_actor_loss(policy, critic, batch.observation, alpha, normal)
  u = _pre_images(policy, batch.observation, normal)
  agent_min = _sac(symmetry, policy, u, critic, target_critic, alpha, min_critic=True)
  theirs = agent_min.actor_loss(_steps(batch.observation))
  np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)

  log_alpha = tf.Variable(float(np.log(alpha)))
  ours = temperature_loss(log_alpha, log_pi, -float(symmetry.action_dim))
  theirs = agent_min.alpha_loss(_steps(batch.observation))
  np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-5)


def test_actor_loss_gradient_flows_through_the_sample_and_temperature_follows_entropy():
  """The actor step is reparameterised (its gradient reaches the mean head through the
  action); the temperature's gradient is the entropy gap (alpha grows when the entropy is
  below the target)."""
  symmetry = pendulum_d1()
  gaussian = build_gaussian_actor("mlp", symmetry, width=8)
  critic = build_continuous_critic("mlp", symmetry, width=8)
  s, _ = _batch(symmetry, n=32)
  normal = tf.constant(np.random.default_rng(0).normal(size=(32, 1)), tf.float32)
  mean_kernel = gaussian.policy.get_layer("mean").kernel
  with tf.GradientTape() as tape:
    loss, log_pi = sac_actor_loss(gaussian.policy, critic, s, 0.0, normal)  # alpha 0: Q only
  grad = tape.gradient(loss, mean_kernel)
  assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0
  log_alpha = tf.Variable(0.0)
  for target, sign in ((1e3, -1.0), (-1e3, 1.0)):  # entropy below / above the target
    with tf.GradientTape() as tape:
      t_loss = temperature_loss(log_alpha, log_pi, target)
    # gradient descent moves log alpha against the gradient's sign
    assert np.sign(float(tape.gradient(t_loss, log_alpha))) == sign


# --------------------------------------------------------------------------- the agent
SMALL = dataclasses.replace(test_ac.SMALL, algorithm="sac")


@pytest.fixture(scope="module")
def point_mass_run():
  agent = make_agent(SMALL, env=PointMass(1))
  result = agent.train(seed=1)
  return agent, result


def test_sac_learns_on_point_mass_and_traces_once(point_mass_run):
  agent, result = point_mass_run
  assert isinstance(agent, SAC)
  np.testing.assert_array_equal(result.env_steps, [0, 2000, 4000])
  assert agent.tracing_count == 1
  np.testing.assert_array_equal(result.metrics["updates"][1:], [450, 500])
  assert np.all(np.isfinite(result.metrics["critic_loss"][1:]))
  assert agent.temperature != pytest.approx(SMALL.init_temperature)  # alpha is learned
  np.testing.assert_allclose(result.metrics["temperature"][-1], agent.temperature, rtol=1e-6)
  assert np.isnan(result.metrics["temperature"][0]) and "temperature" in result.columns()
  assert result.eval_return[-1] > result.eval_return[0] + 10, result.eval_return
  assert len(result.final_returns) == 12 and len(result.final_noisy_returns) == 12


def test_sac_same_seed_same_run_and_reset_restores_the_temperature(point_mass_run):
  agent, first = point_mass_run
  weights = [w.copy() for w in agent.policy.get_weights() + agent.critic.get_weights()]
  again = agent.train(seed=1)
  np.testing.assert_array_equal(again.eval_return, first.eval_return)
  np.testing.assert_array_equal(again.final_returns, first.final_returns)
  for a, b in zip(weights, agent.policy.get_weights() + agent.critic.get_weights()):
    np.testing.assert_array_equal(a, b)
  assert agent.tracing_count == 1
  agent.reset(2)
  assert agent.temperature == pytest.approx(SMALL.init_temperature)
  assert all(
    float(tf.reduce_max(tf.abs(v))) == 0 for v in agent.temperature_optimizer.variables[1:]
  )


def test_sac_gcnn_agent_stays_equivariant_where_its_networks_are():
  """A gcnn SAC agent after training: its mean actor is still exactly equivariant."""
  cfg = dataclasses.replace(SMALL, network="gcnn", total_steps=2000, eval_every=1000, width=8)
  agent = make_agent(cfg, env=PointMass(1))
  agent.train(seed=0)
  symmetry = agent.symmetry
  s = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
  out, mirrored = agent.actor(s).numpy(), agent.actor(-s).numpy()
  np.testing.assert_allclose(mirrored, -out, atol=1e-5)
  assert symmetry.group.order == 2 and np.std(out) > 1e-3


def test_sac_run_folder_saves_the_mean_actor_and_a_sweep_builds_sac(tmp_path):
  """run_ac_experiment with SAC writes actor.keras, the mean action, which loads in safe mode;
  a sweep's "algorithm" value builds a SAC config."""
  cfg = dataclasses.replace(SMALL, total_steps=2000, eval_every=1000, final_episodes=0)
  out = str(tmp_path / "run")
  result = run_ac_experiment(cfg, [0], out, env=PointMass(1))
  assert result.parameter_counts["actor"] > 0
  loaded = keras.models.load_model(f"{out}/seed_0/actor.keras", safe_mode=True)
  s = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
  assert loaded(s).shape == (8, 1) and np.all(np.abs(loaded(s).numpy()) <= 1.0)
  # It is the trained mean actor: the same seed trained again acts alike, a fresh one not.
  agent = make_agent(cfg, env=PointMass(1))
  agent.reset(0)
  fresh = agent.actor(s).numpy()
  agent.train(seed=0)
  np.testing.assert_allclose(loaded(s).numpy(), agent.actor(s).numpy(), atol=1e-5)
  assert not np.allclose(loaded(s).numpy(), fresh, atol=1e-3)
  ac = sweeps.get_algorithm("ac")
  base = dataclasses.asdict(ac.default_config("Pendulum-v1"))
  built = sweeps.build_config(ac.config_cls, base, {"algorithm": "sac"})
  assert built.algorithm == "sac" and isinstance(make_agent(built), SAC)


def test_a_non_finite_log_std_head_is_a_divergence(point_mass_run):
  """The divergence check reads the Gaussian's log standard deviation head too, which the
  saved mean actor does not contain."""
  from tf_equirl.agents.ac.experiment import _check_finite

  agent, result = point_mass_run
  head = agent.policy.get_layer("log_std_raw")
  assert not any(id(v) in {id(w) for w in agent.actor.variables} for v in head.variables)
  kept = head.kernel.numpy()
  head.kernel.assign(np.full_like(kept, np.nan))
  try:
    with pytest.raises(runs.TrainingDiverged, match="log_std_raw"):
      _check_finite(result, agent, seed=1)
  finally:
    head.kernel.assign(kept)


@pytest.mark.parametrize(
  "fields,message",
  [
    (dict(algorithm="td3"), "algorithm must be one of"),
    (dict(algorithm="sac", init_temperature=0.0), "init_temperature"),
    (dict(algorithm="sac", log_std_min=2.0, log_std_max=-5.0), "log_std_min=2.0 must be below"),
    (dict(algorithm="sac", target_entropy=float("nan")), "target_entropy"),
    (dict(algorithm="sac", observation="pixels", image_size=37), "algorithm='sac' trains on state"),
  ],
)
def test_invalid_sac_config_is_named(fields, message):
  with pytest.raises(ValueError, match=message):
    ACConfig(env="Pendulum-v1", **fields)


def test_sac_refuses_other_configs_and_the_seed_axis():
  with pytest.raises(ValueError, match="algorithm='sac'"):
    SAC(ACConfig(env="PointMass"), env=PointMass(1))
  with pytest.raises(ValueError, match="SeedBatchAC vectorises the deterministic actor"):
    check_seed_batch(dataclasses.replace(SMALL), PointMass(1), 2)


@pytest.mark.slow
def test_sac_mlp_learns_pendulum():
  """Pendulum-v1 (about -1,200 for a random policy): SAC's mlp agent beats -800 within 20,000
  env steps, as the deterministic agent does (tests/test_ac.py)."""
  cfg = ACConfig(env="Pendulum-v1", algorithm="sac", total_steps=20_000, eval_every=4000)
  result = make_agent(cfg).train(seed=0)
  assert result.eval_return[-1] > -800 and result.eval_return[-1] > result.eval_return[0] + 300


def test_every_continuous_environment_admits_an_equivariant_gaussian_actor():
  """Every symmetry of every registered continuous-action environment acts on actions by
  signed permutations, so SAC's equivariant actors build on all of them: the gcnn policy's
  mean moves by pi(g) and its log standard deviation by |pi(g)|, on states that matter."""
  from tf_equirl import envs
  from tf_equirl.envs.dmc import dmc_available
  from tf_equirl.testing import assert_equivariant

  checked = 0
  for name in envs.list_envs():
    if name.startswith("dm_control/") and not dmc_available():
      continue
    env = envs.make(name)
    if not env.continuous_actions:
      continue
    for group in env.symmetries:
      symmetry = env.get_symmetry(group)
      rep = symmetry.action_rep
      tf.keras.utils.set_random_seed(checked)
      gaussian = build_gaussian_actor("gcnn", symmetry, width=8)
      s = tf.constant(
        np.random.default_rng(checked).normal(size=(16, symmetry.state_dim)), tf.float32
      )
      assert_equivariant(gaussian.actor, s, symmetry.state_rep, rep, atol=1e-5)
      mean, log_std = gaussian.policy(s)
      assert np.std(mean.numpy(), axis=0).max() > 1e-4, name  # not trivially equivariant
      abs_rep = abs_representation(rep)
      for g in range(rep.group.order):
        m_g, log_std_g = gaussian.policy(symmetry.state_rep.transform(s, g))
        np.testing.assert_allclose(m_g.numpy(), rep.transform(mean, g).numpy(), atol=1e-5)
        np.testing.assert_allclose(
          log_std_g.numpy(), abs_rep.transform(log_std, g).numpy(), atol=1e-5
        )
      checked += 1
  assert checked >= 4
