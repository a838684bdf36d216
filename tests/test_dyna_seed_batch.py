"""SeedBatchDyna: N Supervised-Dyna seeds in one program equal N lone `Dyna` runs."""

import numpy as np
import pytest
import tensorflow as tf

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
  dyna = Dyna(config)
  lone = dyna.train(seed=batch.seeds[k])
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


def test_the_runner_vectorises_supervised_dyna_seeds_each_its_lone_run(tmp_path):
  from tf_equirl import results, runner
  from tf_equirl.zoo import load_file

  config = _config()
  out = runner.run_experiment(config, [3, 5], str(tmp_path), progress=False, tensorboard=False)
  dyna = Dyna(config)
  lone = dyna.train(seed=5)
  columns = results.read_seed_csv(str(tmp_path / "seed_5.csv"))
  np.testing.assert_array_equal(out.curves[1], lone.mean_return)
  for name in ("planned_steps", "plan_episodes", "dyna_iteration"):
    np.testing.assert_array_equal(columns[name], lone.extras[name])
  for role, model in (("actor", dyna.actor_model), ("critic", dyna.critic_model)):
    saved = _flat(load_file(str(tmp_path / "seed_5" / f"{role}.keras")).get_weights())
    want = _flat(model.get_weights())
    assert np.linalg.norm(saved - want) <= RELATIVE * np.linalg.norm(want)
  assert out.parameter_counts["world_model"] > 0


@pytest.mark.slow  # the runner test above covers CartPole in the fast suite
@pytest.mark.parametrize("env", ["CartPole-v1", "Catch-v0"])
def test_supervised_seeds_match_lone_runs_with_one_trace_per_phase(env):
  config = _config(env)
  batch = SeedBatchDyna(config, [3, 0, 5], seed_batch=2)  # groups [3, 0], [5 + padding]
  results = batch.train()
  assert batch.tracing_counts == {"act": 1, "plan": 1}
  assert results[0].env_steps.tolist() == [64, 128]
  plans = [r.extras["plan_mean_return"] for r in results]
  assert not np.array_equal(plans[0], plans[2])  # each seed plans its own episodes
  _assert_matches_lone(config, batch, results, 2)
  assert batch.parameter_counts()["world_model"] > 0


def test_what_is_vectorised_is_named():
  assert supports(_config()) and not supports(_config(mode="online"))
  assert not supports(_config(rollout_start="buffer", rollout_horizon=5))
  with pytest.raises(ValueError, match="mode='supervised' with rollout_start='reset' only"):
    SeedBatchDyna(_config(mode="online"), [0, 1])
  with pytest.raises(ValueError, match="expects a DynaConfig"):
    SeedBatchDyna(_config().ppo, [0, 1])
  with pytest.raises(ValueError, match="seeds must be a non-empty list"):
    SeedBatchDyna(_config(), [])
