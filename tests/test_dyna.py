"""The Dyna driver: supervised and online runs on both environments, planning rules, bad input."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl import envs, zoo
from tf_equirl.agents.dyna import (
  Dyna,
  DynaConfig,
  ModelBuffer,
  ModelEnvironment,
  build_world_model,
  default_dyna_config,
  default_world_model_name,
)
from tf_equirl.runner import run_experiment
from tf_equirl.models import TransitionSpec, collect_transitions, evaluate
from tf_equirl.models.analysis import all_state_action_pairs, equivariance_rate

keras = tf.keras


def _cartpole_config(**overrides):
  fields = dict(mode="supervised", world_model="gcnn", planning_ratio=2, dyna_iterations=5)
  fields.update(overrides)
  return default_dyna_config("CartPole-v1", ppo_overrides=dict(total_steps=20_480), **fields)


def _catch_config(**overrides):
  fields = dict(mode="online", world_model="gcnn", planning_ratio=1, dyna_iterations=5)
  fields.update(overrides)
  return default_dyna_config("Catch-v0", ppo_overrides=dict(total_steps=4_000), **fields)


# ------------------------------------------------------------------ supervised CartPole
@pytest.fixture(scope="module")
def cartpole_supervised():
  dyna = Dyna(_cartpole_config())
  first = dyna.train(seed=0)
  again = dyna.train(seed=0)
  other = dyna.train(seed=1)
  return dyna, first, again, other


def test_supervised_cartpole_learns_from_the_zoo_world_model(cartpole_supervised):
  dyna, first, _, other = cartpole_supervised
  for result in (first, other):
    # A random policy scores ~20; after 20k real steps (and 40k planned) the agent
    # balances for well over a hundred steps.
    assert result.mean_return[:4].mean() < 60
    assert result.mean_return[-8:].mean() > 150, result.mean_return
  assert dyna.config.mode == "supervised"


def test_dyna_runs_are_deterministic_per_seed_and_never_retrace(cartpole_supervised):
  dyna, first, again, other = cartpole_supervised
  np.testing.assert_array_equal(first.mean_return, again.mean_return)
  for name in first.losses:
    np.testing.assert_array_equal(first.losses[name], again.losses[name])
  assert not np.array_equal(first.mean_return, other.mean_return)
  # Three runs of five Dyna iterations each: every phase was traced once (no model phase
  # in supervised mode).
  assert dyna.tracing_counts == {"act": 1, "learn": 0, "plan": 1}


def test_curves_count_real_steps_and_record_planned_steps_beside_them(cartpole_supervised):
  dyna, first, _, _ = cartpole_supervised
  cfg = dyna.config
  assert cfg.acting_iterations == 8 and cfg.total_real_steps == 20_480
  np.testing.assert_array_equal(first.env_steps, np.arange(1, 41) * 512)
  planned = first.extras["planned_steps"]
  # Planned steps before each acting iteration: ratio 2 x the real steps of the finished
  # Dyna iterations, never added to the x-axis.
  expected = 2 * 8 * 512 * first.extras["dyna_iteration"]
  np.testing.assert_array_equal(planned, expected)
  assert np.all(first.extras["plan_episodes"] > 0)


# ------------------------------------------------------------------------ online Catch
@pytest.fixture(scope="module")
def catch_online():
  dyna = Dyna(_catch_config())
  spec = dyna.spec
  pairs = all_state_action_pairs(dyna.env)
  before = equivariance_rate(dyna.world_model, spec, pairs["obs"], pairs["action"])
  result = dyna.train(seed=0)
  after = equivariance_rate(dyna.world_model, spec, pairs["obs"], pairs["action"])
  again = dyna.train(seed=0)
  return dyna, result, again, before, after, pairs


def test_online_catch_world_model_learns_and_stays_equivariant(catch_online):
  dyna, result, _, before, after, pairs = catch_online
  # Mean pooling: exactly equivariant on all 675 state-action pairs before and after training.
  assert before[0] == 1.0 and after[0] == 1.0 and after[1].max() < 1e-5
  loss = result.extras["model_loss"]
  assert np.all(np.isfinite(loss)) and loss[-1] < 0.5 * loss[0], loss
  # The model trained on 4,000 real steps predicts held-out real transitions.
  data = collect_transitions(dyna.env, None, 2_000, seed=123)
  assert evaluate(dyna.world_model, dyna.spec, data)["accuracy"] > 0.9


def test_online_runs_are_deterministic_and_trace_each_phase_once(catch_online):
  dyna, result, again, *_ = catch_online
  np.testing.assert_array_equal(result.mean_return, again.mean_return)
  np.testing.assert_array_equal(result.extras["model_loss"], again.extras["model_loss"])
  assert dyna.tracing_counts == {"act": 1, "learn": 1, "plan": 1}


def test_online_cartpole_learns_its_model_and_improves():
  online = Dyna(_cartpole_config(mode="online", model_epochs=2, world_model="mlp"))
  result = online.train(seed=0)
  loss = result.extras["model_loss"]
  assert loss[-1] < loss[0] and result.mean_return[-8:].mean() > 2 * result.mean_return[:4].mean()


@pytest.mark.parametrize(
  "world_model", ["gcnn", pytest.param("gcnn_proximal", marks=pytest.mark.slow)]
)
def test_supervised_catch_learns_through_run_experiment(tmp_path, world_model):
  from tf_equirl import results

  # gcnn_proximal: the thesis' Equi-Dyna world model, catch/gcnn_proximal_transition
  cfg = default_dyna_config(
    "Catch-v0",
    ppo_overrides=dict(total_steps=12_000),
    mode="supervised",
    world_model=world_model,
    planning_ratio=4,
    dyna_iterations=10,
  )
  out = run_experiment(cfg, [0], str(tmp_path), progress=False, tensorboard=False)
  columns = results.read_seed_csv(str(tmp_path / "seed_0.csv"))
  assert {"env_steps", "mean_return", "planned_steps", "plan_finished_return"} <= set(columns)
  assert columns["env_steps"][-1] == 12_000 and out.curves.shape == (1, 60)
  assert columns["planned_steps"][-1] == 4 * 12_000 - 4 * 1_200  # all but the last planning
  assert (tmp_path / "seed_0" / "actor.keras").exists()
  curve = out.curves[0]
  # From about -0.6 (a random policy) to catching more balls than before.
  assert curve[:5].mean() < -0.3
  assert curve[-10:].mean() > curve[:5].mean() + 0.4, curve


# ----------------------------------------------------------------------- planning rules
def _run_model_env(model_env, steps, seed=0, actions=None):
  """Random-policy rollout on a model environment: per step (step_type, discount, obs)."""
  state, time_step = model_env.pure_reset(seed)
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(steps):
    action = tf.constant(rng.integers(0, model_env.num_actions, model_env.batch_size), tf.int32)
    state, time_step = model_env.pure_step(state, action)
    out.append(
      (
        time_step.step_type.numpy(),
        time_step.discount.numpy(),
        time_step.observation.numpy(),
        state.step_count.numpy(),
      )
    )
  return out


@pytest.mark.parametrize("trained", [True, False])
def test_planned_catch_episodes_end_within_nine_steps(trained):
  env = envs.make("Catch-v0", batch_size=64)
  spec = TransitionSpec.for_env(env)
  model = zoo.load("catch/gcnn_transition") if trained else build_world_model("mlp", spec)
  model_env = ModelEnvironment(env, model, spec)
  steps = _run_model_env(model_env, 40)
  length = np.zeros(64, int)
  ended_by_rule = 0
  for step_type, discount, obs, _ in steps:
    mid = step_type != ts.StepType.FIRST
    length = np.where(mid, length + 1, 0)
    last = step_type == ts.StepType.LAST
    assert np.all(length[last] <= 9) and np.all(length <= 9)
    ended_by_rule += np.sum(last & (discount == 0))
    if trained:
      # The trained model's episodes end by the game's rule (ball in the paddle row),
      # with reward +-1, never by the cap.
      assert np.all(discount[last] == 0)
      assert np.all(obs[last].reshape(-1, 10, 5)[:, :9].sum(axis=(1, 2)) == 0)
  assert ended_by_rule > 0


def test_zoo_catch_models_cannot_predict_the_masked_final_transition():
  """Why the planner moves the ball by the game's rule on the last step: the zoo models put
  the paddle right but the ball in the wrong column most of the time there."""
  from tf_equirl.experiments.dyna_tables import final_transition_accuracy

  env = envs.make("Catch-v0")
  for name in ("catch/mlp_transition", "catch/gcnn_transition"):
    accuracy = final_transition_accuracy(zoo.load(name), env)
    assert accuracy["pairs"] == 75 and accuracy["paddle"] == 1.0
    assert accuracy["ball_column"] < 0.5, (name, accuracy)


def test_planned_cartpole_episodes_end_by_the_termination_rule():
  env = envs.make("CartPole-v1", batch_size=64)
  model_env = ModelEnvironment(env, zoo.load("cartpole/gcnn_transition"))
  ends = 0
  for step_type, discount, obs, _ in _run_model_env(model_env, 120):
    last = step_type == ts.StepType.LAST
    # A random policy drops the pole within ~25 steps: every planned episode ends by
    # termination (discount 0) at a state the real rule calls terminal.
    assert np.all(discount[last] == 0)
    x, theta = obs[last, 0], obs[last, 2]
    assert np.all((np.abs(x) > 2.4) | (np.abs(theta) > 12 * 2 * np.pi / 360))
    ends += last.sum()
  assert ends > 100


def test_branched_rollouts_start_from_buffer_states_and_respect_the_horizon():
  env = envs.make("CartPole-v1", batch_size=16)
  spec = TransitionSpec.for_env(env)
  buffer = ModelBuffer(8, spec.state_dim, env.symmetry)
  starts = np.random.default_rng(0).uniform(-0.1, 0.1, (8, 4)).astype(np.float32)
  buffer.add(starts, np.zeros(8, np.int32), starts, np.zeros(8))
  model_env = ModelEnvironment(
    env, zoo.load("cartpole/gcnn_transition"), spec, start_buffer=buffer, horizon=5
  )
  _, first = model_env.pure_reset(1)
  assert all(any(np.allclose(o, s) for s in starts) for o in first.observation.numpy())
  for step_type, _, obs, count in _run_model_env(model_env, 30, seed=1):
    assert np.all(count <= 5)
    reset = step_type == ts.StepType.FIRST
    assert all(any(np.allclose(o, s) for s in starts) for o in obs[reset])


@pytest.mark.parametrize("env_name", ["Catch-v0", "GridWorld-v0"])
def test_orbit_augmentation_stores_every_group_image(env_name):
  """Block g of the buffer is the batch moved by g (C2 on Catch, the 8 elements of D4 on the
  grid world): states and next states by rho(g)'s matrix, actions by pi(g)'s permutation,
  terminations and rewards as they were."""
  env = envs.make(env_name, batch_size=1)
  sym = env.symmetry
  data = collect_transitions(env, None, 50, seed=0)
  n = len(data["action"])
  order = sym.group.order
  reward = np.random.default_rng(0).normal(size=n).astype(np.float32)
  buffer = ModelBuffer(order * n, sym.state_dim, sym)
  buffer.add(
    data["obs"], data["action"], data["next_obs"], data["terminated"], orbit=True, reward=reward
  )
  assert int(buffer.size) == order * n and order == {"Catch-v0": 2, "GridWorld-v0": 8}[env_name]
  rho, perm = sym.state_rep.matrices, sym.action_rep.permutation
  for g in range(order):
    block = slice(g * n, (g + 1) * n)
    np.testing.assert_allclose(buffer.obs[block], data["obs"] @ rho[g].T, atol=1e-6)
    np.testing.assert_allclose(buffer.next_obs[block], data["next_obs"] @ rho[g].T, atol=1e-6)
    np.testing.assert_array_equal(buffer.action[block], perm[g][data["action"]])
    np.testing.assert_array_equal(buffer.terminated[block], data["terminated"].astype(np.float32))
    np.testing.assert_array_equal(buffer.reward[block], reward)
  assert len({tuple(buffer.action[g * n : (g + 1) * n].numpy()) for g in range(order)}) > 1


# -------------------------------------------------------------------------- bad input
def test_bad_dyna_input_fails_clearly():
  for ratio in (0, -1.0, float("nan")):
    with pytest.raises(ValueError, match="planning_ratio must be a positive number"):
      _cartpole_config(planning_ratio=ratio)
  with pytest.raises(ValueError, match="world_model must be one of"):
    _cartpole_config(world_model="transformer")
  with pytest.raises(ValueError, match="mode must be one of"):
    _cartpole_config(mode="offline")
  with pytest.raises(ValueError, match="rollout_horizon"):
    _cartpole_config(rollout_start="buffer")
  with pytest.raises(ValueError, match="needs at least one PPO iteration"):
    default_dyna_config("CartPole-v1", ppo_overrides=dict(total_steps=10_240), dyna_iterations=50)
  with pytest.raises(ValueError, match="DynaConfig.ppo must be a PPOConfig"):
    DynaConfig(ppo=42)
  with pytest.raises(ValueError, match="Unknown zoo model 'cartpole/nonexistent'"):
    Dyna(_cartpole_config(world_model_path="cartpole/nonexistent"))
  with pytest.raises(
    ValueError, match="width 50, but the environment's observations have " "width 4"
  ):
    Dyna(_cartpole_config(world_model_path="catch/gcnn_transition"))
  with pytest.raises(ValueError, match="does not exist"):
    Dyna(_cartpole_config(world_model_path="/no/such/model.keras"))
  assert default_world_model_name("Catch-v0", "gcnn_proximal") == "catch/gcnn_proximal_transition"
  with pytest.raises(ValueError, match="No zoo world models for environment 'GridWorld-v0'"):
    default_world_model_name("GridWorld-v0", "gcnn")


def test_train_dyna_launcher_rejects_a_world_model_of_another_environment(tmp_path):
  from support import run_module  # pylint: disable=import-outside-toplevel

  out = tmp_path / "out"
  proc = run_module(
    "launchers.train_dyna",
    "--model_path=catch/gcnn_transition",
    "--total_steps=25600",
    f"--out={out}",
    env={"TF_CPP_MIN_LOG_LEVEL": "2"},
  )
  assert proc.returncode != 0
  assert "width 50, but the environment's observations have width 4" in proc.stderr
  assert not (out / "run.json").exists()  # the folder was not taken for a run that never started
