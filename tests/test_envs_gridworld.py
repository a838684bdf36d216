"""The grid world: its D4 symmetry, dynamics, reset distribution, both faces, gymnasium,
and the equivariant networks and a PPO run built over its subgroups."""

import gymnasium
import numpy as np
import pytest
import tensorflow as tf
from tf_agents.trajectories import time_step as ts

from tf_equirl.agents.ppo import PPO, default_config
from tf_equirl.envs import (
  GRIDWORLD_GYMNASIUM_ID,
  EnvState,
  GridWorld,
  GridWorldEnv,
  make,
  run_gymnasium_episodes,
)
from tf_equirl.groups import cyclic, dihedral
from tf_equirl.networks import build_actor, build_critic
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant, invariant

FIRST, MID, LAST = ts.StepType.FIRST, ts.StepType.MID, ts.StepType.LAST
UP, RIGHT, DOWN, LEFT, STAY = range(5)


def _random_states(env, n, rng):
  """`n` layouts uniform over distinct cells, with step counts anywhere in the episode."""
  cells = env.size**2
  physics = np.stack([rng.permutation(cells)[: 2 + env.num_hazards] for _ in range(n)])
  steps = rng.integers(0, env.max_episode_steps, n)
  return EnvState(
    physics=tf.constant(physics, tf.int32),
    step_count=tf.constant(steps, tf.int32),
    done=tf.zeros([n], tf.bool),
    key=tf.constant([3, 4], tf.int64),
  )


@pytest.mark.parametrize("size,num_hazards", [(5, 1), (3, 2), (7, 3)])
@pytest.mark.parametrize("g", range(8))
def test_every_d4_element_is_a_symmetry_of_the_mdp(size, num_hazards, g):
  """step(rho(g) s, pi(g) a) = rho(g) step(s, a), with the same reward, discount and type."""
  env = GridWorld(batch_size=1, size=size, num_hazards=num_hazards)
  sym = env.symmetry
  rng = np.random.default_rng(100 * size + g)
  n = 1000
  state = _random_states(env, n, rng)
  action = tf.constant(rng.integers(0, 5, n), tf.int32)
  _, step = env.pure_step(state, action)

  observation = env.observe(state.physics)
  moved_obs = sym.state_rep.transform(observation, g)
  moved = state._replace(physics=env.state_from_observation(moved_obs))
  np.testing.assert_array_equal(env.observe(moved.physics).numpy(), moved_obs.numpy())
  _, moved_step = env.pure_step(moved, sym.action_rep.transform(action, g))

  np.testing.assert_array_equal(
    moved_step.observation.numpy(), sym.state_rep.transform(step.observation, g).numpy()
  )
  for field in ("reward", "discount", "step_type"):
    np.testing.assert_array_equal(
      getattr(moved_step, field).numpy(), getattr(step, field).numpy(), err_msg=field
    )
  # The sample covers every outcome.
  assert {-1.0, 0.0, 1.0} <= set(step.reward.numpy().tolist())
  assert (step.step_type.numpy() == LAST).any() and (step.discount.numpy() == 1).any()


def test_group_acts_as_documented():
  sym = GridWorld().symmetry
  assert sym.group == dihedral(4) and sym.state_dim == 75 and sym.num_actions == 5
  cells = sym.state_rep.permutation[:, :25]
  # r: (row, column) -> (4 - column, row), counter-clockwise; s: column -> 4 - column.
  assert cells[1, 0 * 5 + 4] == 0 * 5 + 0  # top-right corner -> top-left
  assert cells[1, 0 * 5 + 0] == 4 * 5 + 0  # top-left -> bottom-left
  assert cells[4, 2 * 5 + 1] == 2 * 5 + 3  # mirror
  np.testing.assert_array_equal(sym.action_rep.permutation[1], [LEFT, UP, RIGHT, DOWN, STAY])
  np.testing.assert_array_equal(sym.action_rep.permutation[4], [UP, LEFT, DOWN, RIGHT, STAY])
  # The three planes move alike.
  np.testing.assert_array_equal(sym.state_rep.permutation[:, 25:50], cells + 25)
  np.testing.assert_array_equal(sym.state_rep.permutation[:, 50:], cells + 50)


def test_named_subgroups():
  syms = GridWorld().symmetries
  assert sorted(syms) == ["C2", "C4", "D4", "trivial"]
  assert syms["D4"] == GridWorld().symmetry
  assert syms["C4"].group.table.tolist() == cyclic(4).table.tolist()
  assert syms["C2"].group.order == 2 and syms["trivial"].group.order == 1
  full = syms["D4"]
  np.testing.assert_array_equal(syms["C4"].state_rep.matrices, full.state_rep.matrices[:4])
  # C2 is the left-right mirror (D4 element 4 = s), swapping the left and right moves.
  np.testing.assert_array_equal(syms["C2"].action_rep.permutation[1], [UP, LEFT, DOWN, RIGHT, STAY])
  np.testing.assert_array_equal(syms["C2"].state_rep.matrices[1], full.state_rep.matrices[4])
  assert GridWorld().get_symmetry("C4") == syms["C4"] and GridWorld().get_symmetry(None) == full
  with pytest.raises(
    ValueError, match=r"no symmetry group named 'C8'.*'C2', 'C4', 'D4', 'trivial'"
  ):
    GridWorld().get_symmetry("C8")


def _step(env, physics, action, step_count=0):
  n = len(physics)
  state = EnvState(
    physics=tf.constant(physics, tf.int32),
    step_count=tf.fill([n], step_count),
    done=tf.zeros([n], tf.bool),
    key=tf.constant([1, 2], tf.int64),
  )
  return env.pure_step(state, tf.constant(action, tf.int32))


def test_moves_walls_goal_and_hazard():
  env = GridWorld(batch_size=1)  # 5x5, one hazard
  c = lambda r, col: r * 5 + col  # noqa: E731
  # (agent, goal, hazard), action -> agent after the step
  cases = [
    ((c(2, 2), c(0, 0), c(4, 4)), UP, c(1, 2)),
    ((c(2, 2), c(0, 0), c(4, 4)), RIGHT, c(2, 3)),
    ((c(2, 2), c(0, 0), c(4, 4)), DOWN, c(3, 2)),
    ((c(2, 2), c(0, 0), c(4, 4)), LEFT, c(2, 1)),
    ((c(2, 2), c(0, 0), c(4, 4)), STAY, c(2, 2)),
    ((c(0, 3), c(4, 0), c(4, 4)), UP, c(0, 3)),  # walls
    ((c(2, 4), c(4, 0), c(4, 3)), RIGHT, c(2, 4)),
    ((c(4, 1), c(0, 0), c(3, 3)), DOWN, c(4, 1)),
    ((c(1, 0), c(4, 0), c(4, 4)), LEFT, c(1, 0)),
  ]
  physics = [list(p) for p, _, _ in cases]
  state, step = _step(env, physics, [a for _, a, _ in cases])
  np.testing.assert_array_equal(state.physics.numpy()[:, 0], [e for _, _, e in cases])
  np.testing.assert_array_equal(step.reward.numpy(), 0.0)
  np.testing.assert_array_equal(step.step_type.numpy(), MID)
  np.testing.assert_array_equal(state.physics.numpy()[:, 1:], np.array(physics)[:, 1:])

  # Goal: +1, terminated (discount 0); hazard: -1, terminated; then an auto-reset.
  state, step = _step(env, [[c(1, 1), c(1, 2), c(0, 1)], [c(1, 1), c(1, 2), c(0, 1)]], [RIGHT, UP])
  np.testing.assert_array_equal(step.reward.numpy(), [1.0, -1.0])
  np.testing.assert_array_equal(step.discount.numpy(), [0.0, 0.0])
  np.testing.assert_array_equal(step.step_type.numpy(), [LAST, LAST])
  state, step = env.pure_step(state, tf.constant([STAY, STAY]))
  np.testing.assert_array_equal(step.step_type.numpy(), [FIRST, FIRST])
  np.testing.assert_array_equal(step.reward.numpy(), [0.0, 0.0])
  np.testing.assert_array_equal(state.step_count.numpy(), [0, 0])


def test_truncation_after_4_size_steps():
  for size in (3, 5):
    env = GridWorld(batch_size=2, size=size, num_hazards=0, seed=0)
    assert env.max_episode_steps == 4 * size
    state, step = env.pure_reset(0)
    types, discounts = [], []
    for _ in range(4 * size):  # staying never reaches the goal
      state, step = env.pure_step(state, tf.fill([2], STAY))
      types.append(step.step_type.numpy())
      discounts.append(step.discount.numpy())
    assert (np.array(types[:-1]) == MID).all() and (types[-1] == LAST).all()
    np.testing.assert_array_equal(discounts[-1], [1.0, 1.0])  # truncation bootstraps
  assert GridWorld(max_episode_steps=7).max_episode_steps == 7


def test_reset_distribution_uniform_without_overlaps():
  env = GridWorld(batch_size=1, size=5, num_hazards=3)
  physics = env._initial_physics(tf.constant([9, 9], tf.int64), 20_000).numpy()
  assert physics.shape == (20_000, 5) and physics.min() >= 0 and physics.max() < 25
  assert all(len(set(row)) == 5 for row in physics)
  for role in range(5):  # every role is uniform over the 25 cells (about 800 +- 28 each)
    counts = np.bincount(physics[:, role], minlength=25)
    assert np.abs(counts - 800).max() < 150, (role, counts)
  # D4 invariance in distribution: the agent-goal offsets are as often rotated as not.
  offsets = np.stack(np.divmod(physics[:, 1], 5), 1) - np.stack(np.divmod(physics[:, 0], 5), 1)
  offsets = offsets[np.all(offsets != 0, axis=1)]
  quadrant = np.bincount((offsets[:, 0] > 0) * 2 + (offsets[:, 1] > 0), minlength=4)
  assert np.abs(quadrant - quadrant.mean()).max() < 0.1 * quadrant.mean()


def test_observation_layout_and_inverse():
  env = GridWorld(batch_size=1, num_hazards=2)
  physics = tf.constant([[7, 24, 0, 13]], tf.int32)
  obs = env.observe(physics).numpy()[0]
  assert obs.shape == (75,) and obs.sum() == 4
  assert obs[7] == 1 and obs[25 + 24] == 1 and obs[50 + 0] == 1 and obs[50 + 13] == 1
  np.testing.assert_array_equal(env.state_from_observation(obs[None]).numpy(), physics.numpy())
  planes = GridWorld(flat_observation=False, num_hazards=2).observe(physics).numpy()[0]
  np.testing.assert_array_equal(planes.reshape(-1), obs)
  assert planes[0, 1, 2] == 1  # agent at row 1, column 2


@pytest.mark.parametrize(
  "kwargs,match",
  [
    (dict(size=4), "size must be an odd integer >= 3.*size=4"),
    (dict(size=1), "size must be an odd integer >= 3"),
    (dict(size=5.0), "size must be an odd integer"),
    (dict(num_hazards=24), r"num_hazards must be an integer in \[0, 23\]"),
    (dict(num_hazards=-1), "num_hazards"),
    (dict(max_episode_steps=0), "max_episode_steps must be a positive integer"),
  ],
)
def test_bad_arguments_raise(kwargs, match):
  with pytest.raises(ValueError, match=match):
    GridWorld(**kwargs)


def test_tf_environment_face_equals_pure_face():
  env = make("GridWorld-v0", batch_size=4, seed=3)
  assert isinstance(env, GridWorld)
  rng = np.random.default_rng(0)
  actions = rng.integers(0, 5, (50, 4)).astype(np.int32)
  state, expected = env.pure_reset(env.state.key)
  got = env.reset()
  step = tf.function(env.step)
  for x, y in zip(got, expected):
    np.testing.assert_array_equal(x.numpy(), y.numpy())
  for a in actions:
    state, expected = env.pure_step(state, tf.constant(a))
    got = step(tf.constant(a))
    for x, y in zip(got, expected):  # every step, the last included
      np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_gymnasium_env_equals_tf_env_and_is_registered():
  gym_env = gymnasium.make(GRIDWORLD_GYMNASIUM_ID)
  assert isinstance(gym_env.unwrapped, GridWorldEnv)
  tf_env = GridWorld(batch_size=1)
  rng = np.random.default_rng(4)
  obs, _ = gym_env.reset(seed=2)
  endings = set()
  for _ in range(400):
    raw = gym_env.unwrapped
    before = EnvState(
      physics=tf.constant(raw.state[None], tf.int32),
      step_count=tf.constant([raw.steps], tf.int32),
      done=tf.constant([False]),
      key=tf.constant([0, 0], tf.int64),
    )
    np.testing.assert_array_equal(tf_env.observe(before.physics).numpy()[0], obs)
    action = int(rng.integers(0, 5))
    obs, reward, terminated, truncated, _ = gym_env.step(action)
    _, step = tf_env.pure_step(before, tf.constant([action]))
    np.testing.assert_array_equal(step.observation.numpy()[0], obs)
    assert step.reward.numpy()[0] == reward
    assert (step.step_type.numpy()[0] == LAST) == (terminated or truncated)
    assert (step.discount.numpy()[0] == 0) == terminated
    if terminated or truncated:
      endings.add((reward, terminated, truncated))
      obs, _ = gym_env.reset()
  assert {(1.0, True, False), (-1.0, True, False), (0.0, False, True)} <= endings
  returns = run_gymnasium_episodes(
    lambda o: np.zeros(len(o), np.int64) + STAY,
    GRIDWORLD_GYMNASIUM_ID,
    num_episodes=2,
    tf_env="GridWorld-v0",
  )
  np.testing.assert_array_equal(returns, [0.0, 0.0])  # staying put only times out
  with pytest.raises(ValueError, match="size must be an odd integer"):
    GridWorldEnv(size=6)


@pytest.mark.parametrize("group", ["C2", "C4", "D4"])
def test_networks_equivariant_and_parameter_matched(group):
  sym = GridWorld().symmetries[group]
  rng = np.random.default_rng(0)
  obs = tf.constant(rng.standard_normal((32, sym.state_dim)), tf.float32)
  mlp_actor = count_params(build_actor("mlp", sym))
  mlp_critic = count_params(build_critic("mlp", sym))
  for kind in ("gcnn", "symmetrizer"):
    actor = build_actor(kind, sym)
    assert_equivariant(actor, obs, sym.state_rep, sym.action_rep, atol=1e-5)
    assert abs(count_params(actor) / mlp_actor - 1) <= 0.1, (kind, count_params(actor), mlp_actor)
  critic = build_critic("invariant", sym)
  assert_equivariant(critic, obs, sym.state_rep, invariant(sym.group), atol=1e-5)
  assert abs(count_params(critic) / mlp_critic - 1) <= 0.1


def test_ppo_over_a_subgroup_compiles_runs_and_stays_equivariant():
  config = default_config(
    "GridWorld-v0",
    network="gcnn",
    critic="invariant",
    group="C4",
    total_steps=2 * 4 * 32,
    num_envs=4,
    num_steps=32,
    num_epochs=2,
    num_minibatches=2,
    iterations_per_call=2,
  )
  ppo = PPO(config)
  assert ppo.symmetry.group.name == "C4" and ppo.symmetry == ppo.env.symmetries["C4"]
  result = ppo.train(seed=0)
  assert result.env_steps[-1] == 256 and ppo.tracing_count == 1
  for name, values in result.losses.items():
    assert np.all(np.isfinite(values)), name
  obs = tf.constant(np.random.default_rng(1).standard_normal((16, 75)), tf.float32)
  assert_equivariant(
    ppo.actor_model, obs, ppo.symmetry.state_rep, ppo.symmetry.action_rep, atol=1e-5
  )
  with pytest.raises(ValueError, match="no symmetry group named 'C4'.*'C2', 'trivial'"):
    PPO(default_config("Catch-v0", group="C4", total_steps=1024))


def test_network_specs_name_the_group():
  from tf_equirl.experiments import ppo_tables  # pylint: disable=import-outside-toplevel

  assert ppo_tables.parse_network("gcnn@C4:invariant") == ("gcnn", "C4", "invariant")
  assert ppo_tables.parse_network("gcnn:invariant") == ("gcnn", None, "invariant")  # as before
  assert ppo_tables.parse_network("symmetrizer@C2") == ("symmetrizer", "C2", "mlp")
  arms = ppo_tables.network_arms("GridWorld-v0", ["mlp", "gcnn@C4:invariant", "gcnn"])
  assert [a.config.group for a in arms] == [None, "C4", None]
  assert [ppo_tables.group_order(a.config) for a in arms] == [("-", 1), ("C4", 4), ("D4", 8)]
  for bad in ("gcnn@", "gcnn:", "cnn@C4", "gcnn@C4:value"):
    with pytest.raises(ValueError, match="Network spec"):
      ppo_tables.parse_network(bad)
  with pytest.raises(ValueError, match="no symmetry group named 'C8'"):
    ppo_tables.network_arms("GridWorld-v0", ["gcnn@C8"])


def test_runs_without_a_run_record_are_not_reused(tmp_path):
  """A summary.json and CSVs without `run.json` (no fingerprint of config, seed and code, e.g.
  from before the `group` field existed) are never taken as this configuration's results."""
  import dataclasses  # pylint: disable=import-outside-toplevel
  import json  # pylint: disable=import-outside-toplevel
  from tf_equirl import runs  # pylint: disable=import-outside-toplevel

  config = default_config("Catch-v0", network="mlp")
  stored = dataclasses.asdict(config)
  del stored["group"]
  (tmp_path / "summary.json").write_text(
    json.dumps({"config": stored, "seeds": [0], "parameter_counts": {"actor": 1, "critic": 1}})
  )
  (tmp_path / "seed_0.csv").write_text("env_steps,mean_return\n512,0.5\n")
  assert runs.load_finished_run(str(tmp_path), config, [0]) is None
