"""SeedBatchDyna: N Dyna seeds (supervised or online) in one program equal N lone `Dyna` runs."""

import numpy as np
import pytest

from tf_equirl.agents.dyna import Dyna, default_dyna_config
from tf_equirl.agents.dyna.seed_batch import SeedBatchDyna, supports

# Parameters after training equal the lone run's to this relative (L2) difference.
RELATIVE = 1e-5


def _config(env="CartPole-v1", **overrides):
  fields = dict(mode="supervised", world_model="gcnn", planning_ratio=1, dyna_iterations=2)
  fields.update(overrides)
  ppo = dict(num_envs=4, num_steps=16, total_steps=128, num_minibatches=2, num_epochs=2)
  return default_dyna_config(env, ppo_overrides=ppo, **fields)


def _flat(values):
  return np.concatenate([np.asarray(v).ravel() for v in values])


def _assert_matches_lone(config, batch, results, k):
  """Seed `k` of `batch` against its lone run; returns the lone driver (`last_result` set)."""
  dyna = Dyna(config)
  lone = dyna.train(seed=batch.seeds[k])
  dyna.last_result = lone
  models = (dyna.actor_model, dyna.critic_model)
  params = _flat([v.numpy() for m in models for v in m.trainable_variables])
  ours = _flat(batch._seed_weights(k))  # pylint: disable=protected-access
  assert np.linalg.norm(ours - params) <= RELATIVE * np.linalg.norm(params)
  # The same real and planned episodes: the random streams are the lone run's.
  np.testing.assert_array_equal(results[k].mean_return, lone.mean_return)
  np.testing.assert_array_equal(results[k].episodes, lone.episodes)
  assert sorted(results[k].extras) == sorted(lone.extras)
  for name in ("planned_steps", "dyna_iteration", "plan_episodes"):
    np.testing.assert_array_equal(results[k].extras[name], lone.extras[name])
  np.testing.assert_allclose(
    results[k].extras["plan_mean_return"], lone.extras["plan_mean_return"], rtol=1e-5
  )
  np.testing.assert_allclose(
    results[k].losses["policy_loss"], lone.losses["policy_loss"], rtol=1e-3, atol=1e-7
  )
  return dyna


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_the_runner_vectorises_online_dyna_seeds_each_its_lone_run(tmp_path):
  from tf_equirl import results, runner
  from tf_equirl.zoo import load_file

  config = _config(mode="online", world_model="mlp", model_epochs=2)
  out = runner.run_experiment(config, [3, 5], str(tmp_path), progress=False, tensorboard=False)
  dyna = Dyna(config)
  lone = dyna.train(seed=5)
  columns = results.read_seed_csv(str(tmp_path / "seed_5.csv"))
  np.testing.assert_array_equal(out.curves[1], lone.mean_return)
  for name in ("planned_steps", "plan_episodes", "dyna_iteration"):
    np.testing.assert_array_equal(columns[name], lone.extras[name])
  np.testing.assert_allclose(columns["model_loss"], lone.extras["model_loss"], rtol=1e-4)
  for role, model in (
    ("actor", dyna.actor_model),
    ("critic", dyna.critic_model),
    ("world_model", dyna.world_model),
  ):
    saved = _flat(load_file(str(tmp_path / "seed_5" / f"{role}.keras")).get_weights())
    want = _flat(model.get_weights())
    assert np.linalg.norm(saved - want) <= RELATIVE * np.linalg.norm(want)
  assert out.parameter_counts["world_model"] > 0


@pytest.mark.slow  # like the runner test above
@pytest.mark.parametrize("env", ["CartPole-v1", "Catch-v0"])
def test_supervised_seeds_match_lone_runs_with_one_trace_per_phase(env):
  config = _config(env)
  batch = SeedBatchDyna(config, [3, 0, 5], seed_batch=2)  # groups [3, 0], [5 + padding]
  results = batch.train()
  assert batch.tracing_counts == {"act": 1, "learn": 0, "plan": 1}
  assert results[0].env_steps.tolist() == [64, 128]
  plans = [r.extras["plan_mean_return"] for r in results]
  assert not np.array_equal(plans[0], plans[2])  # each seed plans its own episodes
  _assert_matches_lone(config, batch, results, 2)
  assert batch.parameter_counts()["world_model"] > 0


def test_every_dyna_config_is_vectorised_and_anything_else_is_named():
  assert supports(_config()) and supports(_config(mode="online"))
  assert supports(_config(rollout_start="buffer", rollout_horizon=5))
  assert not supports(_config().ppo)
  with pytest.raises(ValueError, match="expects a DynaConfig"):
    SeedBatchDyna(_config().ppo, [0, 1])
  with pytest.raises(ValueError, match="seeds must be a non-empty list"):
    SeedBatchDyna(_config(), [])


@pytest.mark.parametrize(
  "overrides",
  [
    dict(mode="online", world_model="mlp"),
    dict(mode="online", world_model="mlp", rollout_start="buffer", rollout_horizon=3),
    dict(mode="supervised", rollout_start="buffer", rollout_horizon=3),
    dict(mode="online", world_model="true"),
  ],
  ids=["online", "online-branched", "supervised-branched", "true-model"],
)
def test_every_kind_of_dyna_resets_its_seeds_planning_from_resets(overrides):
  config = _config(**overrides)
  batch = SeedBatchDyna(config, [3, 5])
  batch.reset([0, 1])
  carry = batch._plan_carry  # pylint: disable=protected-access
  # Each seed's planning episodes start from its own reset draw (its buffer is still empty).
  assert carry.observation.shape[:2] == (2, config.ppo.num_envs)
  assert not np.array_equal(carry.observation[0], carry.observation[1])


@pytest.mark.slow  # like the runner test above
@pytest.mark.parametrize(
  "env,overrides",
  [
    ("CartPole-v1", dict(world_model="gcnn")),
    ("Catch-v0", dict(orbit_augmentation=True)),
    ("Catch-v0", dict(world_model="gcnn_proximal", learned_outcome=True)),
  ],
)
def test_online_seeds_learn_their_own_world_models_as_their_lone_runs(env, overrides):
  config = _config(env, mode="online", model_epochs=2, **overrides)
  batch = SeedBatchDyna(config, [3, 5])
  results = batch.train()
  assert batch.tracing_counts == {"act": 1, "learn": 1, "plan": 1}
  dyna = _assert_matches_lone(config, batch, results, 1)
  lone = dyna.last_result
  np.testing.assert_allclose(results[1].extras["model_loss"], lone.extras["model_loss"], rtol=1e-4)
  want = _flat(dyna.world_model.get_weights())
  ours = _flat(batch.world_model(1).get_weights())
  assert np.linalg.norm(ours - want) <= RELATIVE * np.linalg.norm(want)
  # Each seed learned from its own transitions: the two world models differ.
  other = _flat(batch.world_model(0).get_weights())
  assert np.linalg.norm(other - ours) > 1e-3 * np.linalg.norm(ours)


@pytest.mark.slow  # like the runner test above
@pytest.mark.parametrize(
  "env,overrides",
  [
    ("CartPole-v1", dict(mode="supervised")),
    ("Catch-v0", dict(mode="online", world_model="mlp", model_epochs=2, orbit_augmentation=True)),
  ],
)
def test_branched_rollouts_start_from_each_seeds_own_real_states_as_their_lone_runs(env, overrides):
  config = _config(env, rollout_start="buffer", rollout_horizon=3, **overrides)
  batch = SeedBatchDyna(config, [3, 5])
  results = batch.train()
  assert batch.tracing_counts["plan"] == 1
  # Seed 5, second in the program, plans from its own buffer's states exactly as its lone run
  # (its slice of the stacked buffer, not seed 3's).
  _assert_matches_lone(config, batch, results, 1)
  # The planned episodes were branched: cut at the horizon of 3 steps, each planning
  # iteration of 4 envs x 16 steps ends at least 4 x 5 of them.
  assert np.max(results[1].extras["plan_episodes"]) >= 4 * (16 // 3)
