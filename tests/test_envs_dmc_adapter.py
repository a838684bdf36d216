"""dm_control's own tasks through `tf_equirl.envs.dmc`: steps equal to dm_control's, the
symmetries exact on MuJoCo's transitions, the variants, resets, pixels, and an agent.

Most tests need the `dmc` extra (`pip install -e .[dmc]`) and are skipped without it; the
error a user gets without it is checked either way.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.envs import dmc as dmc_lib
from tf_equirl.envs.dmc import DMC_TASKS, DMCEnvironment, dmc_available, picture_symmetry_error

needs_dmc = pytest.mark.skipif(
  not dmc_available(), reason="dm_control is not installed (pip install -e .[dmc])"
)
TASKS = sorted(DMC_TASKS)
SUITE_NAMES = {name: (spec.domain, spec.task) for name, spec in DMC_TASKS.items()}


def _rollout_state(env, steps, seed=0):
  """A batch of states reached by `steps` uniformly random actions from a reset."""
  rng = np.random.default_rng(seed)
  state, _ = env.pure_reset(seed)
  for _ in range(steps):
    action = rng.uniform(-1, 1, (env.batch_size, env.action_dim)).astype(np.float32)
    state, _ = env.pure_step(state, action)
  return state


@needs_dmc
@pytest.mark.parametrize("name", TASKS)
def test_steps_equal_dm_controls_own_environment(name):
  import mujoco
  from dm_control import suite

  env = envs.make(name, batch_size=2, seed=0)
  state, _ = env.pure_reset(7)
  domain, task = SUITE_NAMES[name]
  reference = suite.load(domain, task, task_kwargs={"random": 0})
  reference.reset()
  row = state.physics.numpy()[0]
  physics = reference.physics
  size = env.state_size - (2 if domain == "reacher" else 0)
  mujoco.mj_setState(
    physics.model.ptr, physics.data.ptr, row[:size], int(mujoco.mjtState.mjSTATE_INTEGRATION)
  )
  if domain == "reacher":
    physics.named.model.geom_pos["target", :2] = row[size:]
  mujoco.mj_step1(physics.model.ptr, physics.data.ptr)
  rng = np.random.default_rng(1)
  for _ in range(60):
    action = rng.uniform(-1, 1, (2, env.action_dim)).astype(np.float32)
    state, step = env.pure_step(state, action)
    expected = reference.step(action[0])
    if domain == "reacher":  # our layout: the angles as cosine and sine
      q1, q2 = physics.data.qpos
      to_target = (
        physics.named.data.geom_xpos["target", :2] - physics.named.data.geom_xpos["finger", :2]
      )
      observation = [np.cos(q1), np.sin(q1), np.cos(q2), np.sin(q2), *to_target, *physics.data.qvel]
    else:
      observation = np.concatenate([np.ravel(v) for v in expected.observation.values()])
    np.testing.assert_array_equal(step.observation.numpy()[0], np.float32(observation))
    assert step.reward.numpy()[0] == np.float32(expected.reward)


@needs_dmc
@pytest.mark.parametrize("name", TASKS)
def test_transitions_commute_with_every_group_element(name):
  env = envs.make(name, batch_size=32, seed=0)
  symmetry = env.symmetry
  state = _rollout_state(env, 25)
  rng = np.random.default_rng(2)
  action = rng.uniform(-1, 1, (32, env.action_dim)).astype(np.float32)
  s = state.physics
  following = env.physics(s, action)
  reward, _ = env.outcome(s, action, following)
  moved_any = False
  for g in range(symmetry.group.order):
    rho = symmetry.state_rep.matrices[g]
    pi = symmetry.action_rep.matrices[g]
    gs = env.transform_physics(s, g)
    np.testing.assert_allclose(env.observe(gs), env.observe(s).numpy() @ rho.T, atol=1e-6)
    ga = np.float32(action @ pi.T)
    g_following = env.physics(gs, ga)
    np.testing.assert_allclose(
      env.observe(g_following), env.observe(following).numpy() @ rho.T, atol=1e-5
    )
    g_reward, _ = env.outcome(gs, ga, g_following)
    np.testing.assert_allclose(g_reward, reward, atol=1e-6)
    moved_any |= bool(np.abs(env.observe(gs).numpy() - env.observe(s).numpy()).max() > 1e-2)
  assert moved_any, "the group moved no state: the check above proved nothing"


@needs_dmc
@pytest.mark.parametrize(
  "name, breaking",
  [
    ("dm_control/cartpole-swingup-v0", "reflect"),
    ("dm_control/cartpole-swingup-v0", "gravity"),
    ("dm_control/acrobot-swingup-v0", "repeat"),
    ("dm_control/reacher-hard-v0", "repeat"),
    ("dm_control/ball_in_cup-catch-v0", "gravity"),
  ],
)
def test_variants_break_the_symmetry_and_vanish_at_strength_zero(name, breaking):
  original = envs.make(name, batch_size=64)
  zero = envs.make(f"{name}:{breaking}:0")
  broken = envs.make(f"{name}:{breaking}:1", batch_size=64)
  state = _rollout_state(original, 30, seed=3)
  rng = np.random.default_rng(4)
  action = rng.uniform(-1, 1, (64, original.action_dim)).astype(np.float32)
  s = state.physics.numpy()
  for joint, _ in DMC_TASKS[name].regions.values():  # the joints the regions read, spread out
    s[:, 1 + joint] = rng.uniform(-np.pi, np.pi, 64)
  np.testing.assert_array_equal(
    zero.physics(s[:1], action[:1]), original.physics(s[:1], action[:1])
  )
  following = broken.physics(s, action)
  assert not np.array_equal(following, original.physics(s, action))
  mirror = original.symmetry.group.order - 1
  rho = broken.symmetry.state_rep.matrices[mirror]
  ga = np.float32(action @ broken.symmetry.action_rep.matrices[mirror].T)
  moved = broken.observe(broken.physics(broken.transform_physics(s, mirror), ga)).numpy()
  gap = np.abs(moved - broken.observe(following).numpy() @ rho.T).max()
  assert gap > 1e-3, f"{breaking} at strength 1 left the transitions equivariant ({gap:.1e})"


@needs_dmc
def test_region_variants_act_only_inside_their_region():
  original = envs.make("dm_control/cartpole-swingup-v0", batch_size=64)
  broken = envs.make("dm_control/cartpole-swingup-v0:reflect:1", batch_size=64)
  state = _rollout_state(original, 40, seed=5)
  action = np.full((64, 1), 0.7, np.float32)
  s = state.physics.numpy()
  theta = np.arctan2(np.sin(s[:, 2]), np.cos(s[:, 2]))  # the hinge: qpos[1] after the time
  low, high = DMC_TASKS["dm_control/cartpole-swingup-v0"].regions["reflect"][1]
  inside = (theta >= low) & (theta <= high)
  changed = np.any(broken.physics(s, action).numpy() != original.physics(s, action).numpy(), -1)
  np.testing.assert_array_equal(changed, inside)
  # Some states lie inside: push the pole into the region by hand.
  s[:, 2] = 0.3
  assert np.all(
    np.any(broken.physics(s, action).numpy() != original.physics(s, action).numpy(), -1)
  )


@needs_dmc
def test_resets_follow_the_key_and_only_finished_episodes_reset():
  env = envs.make("dm_control/reacher-hard-v0", batch_size=4, max_episode_steps=3)
  first, _ = env.pure_reset(11)
  again, _ = env.pure_reset(11)
  other, _ = env.pure_reset(12)
  np.testing.assert_array_equal(first.physics, again.physics)
  assert not np.array_equal(first.physics, other.physics)
  rows = first.physics.numpy()
  assert len({tuple(r) for r in rows}) == 4, "the elements of a batch started alike"
  state = first
  action = np.zeros((4, 2), np.float32)
  for _ in range(3):
    state, step, _ = env.pure_step_and_reset(state, action)
  assert np.all(step.step_type.numpy() == 2)  # LAST, discount 1 at the time limit
  np.testing.assert_array_equal(step.discount, np.ones(4))
  assert np.all(state.step_count.numpy() == 0)
  assert not np.array_equal(state.physics, rows)
  assert state.physics.numpy()[:, 0].max() == 0.0  # MuJoCo's time restarts at 0


@needs_dmc
def test_agent_trains_in_a_graph_and_refuses_xla():
  from tf_equirl.agents.ac import AC, ACConfig

  config = ACConfig(
    env="dm_control/cartpole-swingup-v0",
    total_steps=400,
    eval_every=200,
    random_steps=50,
    eval_episodes=2,
    final_episodes=0,
    batch_size=32,
    replay_capacity=1000,
    jit_compile=False,
  )
  result = AC(config).train()
  np.testing.assert_array_equal(result.env_steps, [0, 200, 400])
  assert np.all(np.isfinite(result.eval_return)) and np.all(result.eval_return > 0)
  for name in ("critic_loss", "actor_loss", "q_mean"):
    assert np.all(np.isfinite(result.metrics[name][1:])), (name, result.metrics[name])
  with pytest.raises(ValueError, match="jit_compile=False"):
    AC(ACConfig(env="dm_control/cartpole-swingup-v0", total_steps=400, eval_every=200))


@needs_dmc
def test_a_study_grid_trains_dm_controls_tasks_without_xla_unless_told():
  from tf_equirl.experiments.continuous_study import ContinuousGrid

  grid = ContinuousGrid(
    env="dm_control/cartpole-swingup-v0", variants=(), seeds=1, total_steps=10, eval_every=10
  )
  assert grid.config("dm_control/cartpole-swingup-v0", "gcnn").jit_compile is False
  twin = ContinuousGrid(
    env="CartPoleSwingup-v0", variants=(), seeds=1, total_steps=10, eval_every=10
  )
  assert twin.config("CartPoleSwingup-v0", "gcnn").jit_compile is True
  told = ContinuousGrid(
    env="CartPoleSwingup-v0",
    variants=(),
    seeds=1,
    total_steps=10,
    eval_every=10,
    overrides={"jit_compile": False},
  )
  assert told.config("CartPoleSwingup-v0", "gcnn").jit_compile is False


def _can_render():
  if not dmc_available():
    return False
  try:
    env = DMCEnvironment("dm_control/cartpole-swingup-v0")
    env.render_pictures(env.pure_reset(0)[0].physics, 9)
  except Exception:  # pylint: disable=broad-except
    return False
  return True


@pytest.mark.skipif(
  not _can_render(),
  reason=f"MuJoCo cannot render here (MUJOCO_GL={os.environ.get('MUJOCO_GL')}, no EGL)",
)
def test_pixels_move_with_the_state_up_to_textures():
  env = envs.make("dm_control/reacher-hard-v0", batch_size=3, observation="pixels", image_size=33)
  inner = env.inner
  drawn = len(inner._pictures)  # pylint: disable=protected-access  # the TFEnvironment's reset
  state, step = env.pure_reset(0)
  assert step.observation.shape == (3, 33, 33, 9)
  pictures = step.observation.numpy()
  assert 0.0 <= pictures.min() and pictures.max() <= 1.0 and pictures.std() > 0.05
  assert len(inner._pictures) == drawn + 3  # pylint: disable=protected-access  # 9 frames
  state, step = env.pure_step(state, np.full((3, 2), 0.5, np.float32))
  assert not np.array_equal(step.observation.numpy()[..., 6:], pictures[..., 6:])
  np.testing.assert_array_equal(step.observation.numpy()[..., 3:6], pictures[..., 6:])
  assert len(inner._pictures) == drawn + 6  # pylint: disable=protected-access  # once each
  rows = _rollout_state(envs.make("dm_control/reacher-hard-v0", batch_size=4), 20).physics
  errors = picture_symmetry_error(inner, rows, 33)
  assert errors[0] == 0.0 and np.all(errors < 0.01), errors
  # The plane elements matter: with the flips swapped, the pictures no longer follow.
  wrong = dmc_lib.dataclasses.replace(inner.task, plane_elements=None)
  inner._spec = wrong  # pylint: disable=protected-access
  swapped = picture_symmetry_error(inner, rows, 33)
  assert swapped[1] == errors[1] and np.all(swapped[2:] > 4 * errors[2:]), (errors, swapped)


def test_bad_names_and_variants_are_named_errors(monkeypatch):
  with pytest.raises(ValueError, match="Unknown dm_control task"):
    DMCEnvironment("dm_control/walker-walk-v0")
  with pytest.raises(ValueError, match="reflect"):
    envs.make("dm_control/acrobot-swingup-v0:reflect:1")

  def missing():
    raise ImportError("No module named 'dm_control'")

  monkeypatch.setattr(dmc_lib, "_import_dm_control", missing)
  with pytest.raises(ImportError, match=r"pip install -e \.\[dmc\]"):
    envs.make("dm_control/cartpole-swingup-v0")


@needs_dmc
def test_transform_rejects_elements_outside_the_group():
  env = envs.make("dm_control/cartpole-swingup-v0")
  physics = env.pure_reset(0)[0].physics
  with pytest.raises(ValueError, match="elements 0..1"):
    env.transform_physics(physics, 2)
  with pytest.raises(ValueError, match="integer"):
    env.transform_physics(physics, 0.5)
  assert tf.reduce_all(env.transform_physics(physics, 0) == physics)


@needs_dmc
def test_theorem_1_mismatches_are_zero_on_the_original_tasks_and_not_on_variants():
  from tf_equirl.experiments import symmetry_gap

  for name in ("dm_control/cartpole-swingup-v0", "dm_control/reacher-hard-v0"):
    gap = symmetry_gap.transition_gap(name, num_envs=8, rollout_steps=5, action_repeat=2)
    assert gap.eps_r == 0.0 and gap.eps_p == 0.0, (name, gap)
  broken = symmetry_gap.transition_gap(
    "dm_control/ball_in_cup-catch-v0:gravity:1", num_envs=8, rollout_steps=5, action_repeat=2
  )
  assert broken.eps_p > 1e-2, broken


@needs_dmc
def test_coordinates_give_rows_at_mujocos_defaults():
  env = envs.make("dm_control/reacher-hard-v0")
  coordinates = np.array([[0.5, -1.0, 0.2, -0.3, 0.1, -0.05]])
  rows = env.physics_from_coordinates(coordinates)
  assert rows.shape == (1, env.state_size)
  observation = env.observe(rows).numpy()[0]
  np.testing.assert_allclose(
    observation[[0, 1, 2, 3]],
    np.float32([np.cos(0.5), np.sin(0.5), np.cos(-1.0), np.sin(-1.0)]),
    rtol=1e-6,
  )
  np.testing.assert_allclose(observation[6:], [0.2, -0.3], rtol=1e-6)
  with pytest.raises(ValueError, match=r"\[N, 6\] rows"):
    env.physics_from_coordinates(coordinates[:, :4])


@pytest.mark.skipif(not _can_render(), reason="MuJoCo cannot render here (no EGL)")
def test_pixel_agent_trains_on_mujocos_pictures_in_a_graph():
  from tf_equirl.agents.ac import ACConfig, make_agent

  config = ACConfig(
    env="dm_control/cartpole-swingup-v0",
    observation="pixels",
    encoder="gcnn",
    network="gcnn",
    image_size=37,
    frame_stack=2,
    encoder_channels=2,
    width=8,
    critic_width=8,
    total_steps=120,
    eval_every=60,
    random_steps=10,
    batch_size=8,
    replay_capacity=200,
    eval_episodes=2,
    final_episodes=0,
    jit_compile=False,
  )
  env = envs.make(
    config.env,
    observation="pixels",
    image_size=37,
    frame_stack=2,
    frame_spacing=config.action_repeat,
    max_episode_steps=40,
  )
  # TensorFlow runs the rendering from its own threads: EGL's context must follow.
  result = make_agent(config, env).train()
  assert np.all(np.isfinite(result.eval_return)) and np.all(result.eval_return > 0)
  assert np.isfinite(result.metrics["critic_loss"][-1])
  env.inner.close()
  env.inner.close()  # twice is harmless; pictures afterwards make a new context
  assert env.observe(env.pure_reset(0)[0].physics).shape == (1, 37, 37, 6)


@needs_dmc
def test_glfw_rendering_is_a_named_error(monkeypatch):
  from dm_control import _render

  env = envs.make("dm_control/cartpole-swingup-v0")
  monkeypatch.setattr(_render, "BACKEND", "glfw")
  with pytest.raises(RuntimeError, match="MUJOCO_GL=egl"):
    env.render_pictures(env.pure_reset(0)[0].physics, 9)
  assert os.environ["MUJOCO_GL"]  # importing tf_equirl.envs set it where it was unset
