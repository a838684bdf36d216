"""Equivariant PRAE: the latent action, the invariant reward, planning on the quotient, the
lifted policy's symmetry, and the ablation without negatives."""

import numpy as np
import pytest
from tensorflow import keras

from tf_equirl import envs
from tf_equirl.groups import direct_sum
from tf_equirl.models import collect_episodes
from tf_equirl.prae import (
  LiftedPolicy,
  PRAEConfig,
  PRAETrainer,
  abstract_transitions,
  build_abstract_mdp,
  build_model,
  build_reward,
  build_transition,
  latent_representation,
)
from tf_equirl.testing import assert_equivariant, equivariance_error, invariant

# (environment, widths): the widths are multiples of |G| (C2 for CartPole, D4 for GridWorld).
CASES = {
  "CartPole-v1": dict(latent_dim=50, encoder_hidden=(64, 32), action_hidden=100),
  "GridWorld-v0": dict(latent_dim=48, encoder_hidden=(64, 32), action_hidden=96),
}


def _equivariant_model(env_name, seed=0, **overrides):
  env = envs.make(env_name, batch_size=1)
  config = PRAEConfig(
    env_name=env_name, encoder="gcnn", equivariant=True, **dict(CASES[env_name], **overrides)
  )
  keras.utils.set_random_seed(seed)
  return build_model(config, env), env, config


def _observations(env, n, seed=0):
  data = collect_episodes(env, 8, seed=seed)
  return data["obs"].reshape(len(data["obs"]), -1)[:n].astype(np.float32)


@pytest.mark.parametrize("env_name", sorted(CASES))
def test_latent_action_is_equivariant_and_reward_invariant(env_name):
  """`T(rho(g) z, pi(g) a) = rho(g) T(z, a)` and `R(rho(g) z) = R(z)` on random latents, and
  the whole model `(Z, T o Z, R o T o Z)` on real observations; the reference's MLPs fail."""
  model, env, config = _equivariant_model(env_name)
  symmetry = env.symmetry
  rep = latent_representation(symmetry, config.latent_dim)
  rng = np.random.default_rng(0)
  z = rng.normal(size=(64, config.latent_dim)).astype(np.float32)
  action = rng.integers(0, env.num_actions, 64).astype(np.int32)
  assert_equivariant(model.transition, [z, action], [rep, symmetry.action_rep], rep, atol=1e-4)
  assert_equivariant(model.reward, z, rep, invariant(symmetry.group), atol=1e-4)
  obs = _observations(env, 64)
  act = action[: len(obs)]
  assert_equivariant(
    lambda x: model.transition([model.encoder(x[0]), x[1]]),
    [obs, act],
    [symmetry.state_rep, symmetry.action_rep],
    rep,
    atol=1e-4,
  )
  # The checker can fail: the reference's latent action and reward are not equivariant.
  plain = build_transition(config.latent_dim, env.num_actions, config.action_hidden)
  assert equivariance_error(plain, [z, action], [rep, symmetry.action_rep], rep) > 1e-2
  assert equivariance_error(build_reward(config.latent_dim), z, rep, invariant(symmetry.group)) > 1e-3


def test_equivariant_networks_check_their_widths():
  symmetry = envs.make("GridWorld-v0").symmetry
  with pytest.raises(ValueError, match="multiple of the group order 8"):
    build_transition(48, 5, 100, symmetry=symmetry)
  with pytest.raises(ValueError, match="permutes 5 discrete actions; the environment has 2"):
    build_transition(48, 2, 96, symmetry=symmetry)


@pytest.mark.parametrize("env_name", sorted(CASES))
def test_folded_planning_gives_an_equivariant_policy(env_name):
  """On the quotient each prototype stands for its orbit: the lifted policy's Q-values move
  with the actions, `Q(rho(g) s) = pi(g) Q(s)`, which the unfolded policy of the same model
  does not do; a one-element orbit gives the plain transitions back."""
  model, env, _ = _equivariant_model(env_name)
  symmetry = env.symmetry
  obs = _observations(env, 200, seed=1)
  folded = build_abstract_mdp(model, obs, num_prototypes=64, seed=0, symmetry=symmetry)
  plain = build_abstract_mdp(model, obs, num_prototypes=64, seed=0)
  np.testing.assert_allclose(folded.transitions.sum(-1), 1.0, atol=1e-5)
  np.testing.assert_array_equal(folded.prototypes, plain.prototypes)
  identity = folded.orbit_matrices[:1]
  nxt = np.stack([model.transition([plain.prototypes, np.full(len(plain.prototypes), a)])
                  for a in range(env.num_actions)])
  np.testing.assert_allclose(
    abstract_transitions(plain.prototypes, nxt, 0.1, identity).numpy(), plain.transitions,
    atol=1e-6,
  )
  # Folding only adds orbit points: each row's probability mass can only move closer.
  policy = LiftedPolicy(model, folded, folded.plan(sweeps=60))
  probe = _observations(env, 48, seed=2)
  assert_equivariant(policy.q_values, probe, symmetry.state_rep, symmetry.action_rep, atol=1e-4)
  unfolded = LiftedPolicy(model, plain, plain.plan(sweeps=60))
  assert equivariance_error(unfolded.q_values, probe, symmetry.state_rep, symmetry.action_rep) > 1e-3


def test_without_negatives_the_latent_collapses():
  """num_negatives=0 drops the contrastive term: nothing keeps states apart, and the encoder
  maps every state to (nearly) one point, while the same training with negatives does not."""
  env = envs.make("CartPole-v1")
  data = {k: v for k, v in collect_episodes(env, 30, seed=0).items()}
  spreads = {}
  for k in (0, 5):
    config = PRAEConfig(num_negatives=k, epochs=80, batch_size=32, seed=0)
    keras.utils.set_random_seed(0)
    model = build_model(config, env)
    history = PRAETrainer(model, data, config).fit()
    if k == 0:
      assert all(r["contrastive"] == 0.0 for r in history)
    spreads[k] = float(np.mean(np.std(model.encode(data["obs"]).numpy(), axis=0)))
  assert spreads[0] < 1e-3 < spreads[5]


def test_step_limit_and_left_push_data():
  """max_episode_steps=200 gives CartPole-v0's episodes to the data and the evaluation;
  data_actions keeps only the left pushes, in whole contiguous episodes."""
  from tf_equirl.prae import collect_data, env_kwargs

  config = PRAEConfig(
    max_episode_steps=200, data_actions=(0,), num_episodes=12, num_validation_episodes=2
  )
  env = envs.make("CartPole-v1", **env_kwargs(config))
  assert env.max_episode_steps == 200
  train, validation = collect_data(config, env)
  assert set(train["action"]) == {0} and set(validation["action"]) == {0, 1}
  assert np.all(np.diff(train["episode"]) >= 0) and len(set(train["episode"])) == 12
  with pytest.raises(ValueError, match="data_actions must be None or a non-empty tuple"):
    PRAEConfig(data_actions=())
