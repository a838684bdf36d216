"""Observations that are their own mirror image, where an exactly equivariant actor's mean
action is 0: found in the start pictures, checked by hand and against the actors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.experiments import fixed_starts

# Seeded: the actors of a test do not depend on what ran before it in the process.
pytestmark = pytest.mark.seed(11)


def _stalled_by_hand(env, key, episodes, repeat, max_steps):
  """Env steps each episode's pictures stay their own left-right mirror under the zero
  action, stepped eagerly and mirrored with `tf.reverse` (not the symmetry's transform)."""
  state, time_step = env.pure_reset(key)
  still = np.ones(episodes, bool)
  steps = np.zeros(episodes, np.int64)
  obs = time_step.observation
  for t in range(0, max_steps, repeat):
    still &= np.all((tf.reverse(obs, axis=[2]) == obs).numpy(), axis=(1, 2, 3))
    steps[still] = min(t + repeat, max_steps)
    for _ in range(repeat):
      state, time_step = env.pure_step(state, tf.zeros([episodes, 1]))
    obs = time_step.observation
  return steps


def test_fixed_starts_are_mirror_pictures_where_only_an_exact_actor_stalls():
  from tf_equirl.agents.ac import ACConfig, PixelAC

  episodes, size, stack, repeat, max_steps = 12, 85, 2, 2, 60
  found = fixed_starts.fixed_starts(
    "CartPoleSwingup-v0",
    episodes=episodes,
    image_size=size,
    frame_stack=stack,
    action_repeat=repeat,
    max_steps=max_steps,
  )
  assert found.fixed.shape == found.steps_fixed.shape == (episodes,)
  # At 85 pixels the reset noise (at most 0.017 in x and in the angle) shows in some start
  # pictures only; the zero action's slow drift shows in some of the others within 60 steps.
  assert 0 < found.fraction_fixed < 1
  assert not found.steps_fixed[~found.fixed].any()
  assert ((found.steps_fixed > 0) & (found.steps_fixed < max_steps)).any(), found.steps_fixed
  assert found.fraction_fixed == float(np.mean(found.fixed))
  env = envs.make(
    "CartPoleSwingup-v0",
    batch_size=episodes,
    observation="pixels",
    image_size=size,
    frame_stack=stack,
    frame_spacing=repeat,
  )
  key = fixed_starts._start_key(0)
  np.testing.assert_array_equal(
    found.steps_fixed, _stalled_by_hand(env, key, episodes, repeat, max_steps)
  )
  assert found.fraction_stuck == float(np.mean(found.steps_fixed == max_steps))
  # At such a picture the exactly equivariant actor's action is 0; the cnn's is not.
  _, time_step = env.pure_reset(key)
  small = dict(
    env="CartPoleSwingup-v0",
    observation="pixels",
    image_size=size,
    frame_stack=stack,
    action_repeat=repeat,
    encoder_channels=4,
    width=8,
    critic_width=8,
    batch_size=4,
    replay_capacity=8,
  )
  actions = {
    encoder: PixelAC(ACConfig(encoder=encoder, **small)).actor(time_step.observation).numpy()
    for encoder in ("gcnn", "cnn")
  }
  # (float32 rounding leaves up to about 1e-6 at the fixed pictures; a picture a few pixels
  # off its mirror image moves the action by 1e-4 or more.)
  assert np.abs(actions["gcnn"][found.fixed]).max() < 1e-5, actions["gcnn"]
  assert np.abs(actions["gcnn"][~found.fixed]).min() > 1e-4, actions["gcnn"]
  assert np.abs(actions["cnn"]).min() > 1e-4, actions["cnn"]
  # A picture turned off its mirror symmetry is not a fixed point.
  pushed = time_step.observation.numpy().copy()
  pushed[:, 0, 0, :] = 1.0  # paint the top-left pixel of every frame
  assert not fixed_starts.fixed_observations(env.symmetry, pushed).numpy().any()


def test_fixed_starts_on_states_and_bad_input():
  states = fixed_starts.fixed_starts("CartPoleSwingup-v0", episodes=8, observation="state")
  assert states.fraction_fixed == 0.0 and not states.steps_fixed.any()  # continuous noise
  assert states.image_size == states.frame_stack == 0
  assert fixed_starts.forcing_elements(envs.make("Pendulum-v1").symmetry) == [1]
  with pytest.raises(ValueError, match="episodes"):
    fixed_starts.fixed_starts("CartPoleSwingup-v0", episodes=0)
  with pytest.raises(ValueError, match="observation must be 'state' or 'pixels'"):
    fixed_starts.fixed_starts("CartPoleSwingup-v0", observation="rgb")
  with pytest.raises(ValueError, match="max_steps"):
    fixed_starts.fixed_starts("CartPoleSwingup-v0", max_steps=0)
  with pytest.raises(ValueError, match="fixes only the zero action"):
    fixed_starts.fixed_starts("CartPole-v1", observation="state")


def test_the_pixel_report_section_counts_the_stalled_episodes_on_the_swing_up_only():
  from tf_equirl.agents.ac.experiment import ACExperimentResult
  from tf_equirl.experiments import continuous_study as study

  def result(clean, noisy):
    return ACExperimentResult(
      seeds=[0, 1],
      env_steps=np.array([0, 100]),
      curves=np.zeros((2, 2)),
      parameter_counts={},
      compile_seconds=0.0,
      steps_per_second=0.0,
      final_returns=np.array(clean, np.float64),
      final_noisy_returns=np.array(noisy, np.float64),
    )

  sections = {}
  for env in ("CartPoleSwingup-v0", "Pendulum-v1"):
    grid = study.ContinuousGrid(
      env, (), 2, 100, eval_every=100, observation="pixels", overrides=dict(image_size=37)
    )
    spec = study.ContinuousSpec(
      grids=(grid,), networks=("gcnn",), runs="r", report="r.md", fixed_start_episodes=4
    )
    trained = {env: {"gcnn": result([[0.0, 150.0], [9.9, 10.0]], [[170.0, 160.0], [5.0, 180.0]])}}
    sections[env] = study._fixed_starts_section(spec, grid, trained, 0.06)
  swingup = sections["CartPoleSwingup-v0"]
  assert "| CartPoleSwingup-v0 | 100.0 % |" in swingup  # 37x37: every start a fixed point
  assert "| CartPoleSwingup-v0 | gcnn | 2 of 4 | 1 of 4 |" in swingup  # returns under 10
  # Pendulum's returns are negative: its starts are measured, its episodes not counted.
  assert "| Pendulum-v1 |" in sections["Pendulum-v1"] and "| clean |" not in sections["Pendulum-v1"]
