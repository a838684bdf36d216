"""Theorem 1's ingredients: sampled eps_R and eps_P of the continuous-control variants, the
critic's measured invariance gap and the bound alpha."""

import numpy as np
import pytest

from tf_equirl import envs
from tf_equirl.experiments import symmetry_gap
from tf_equirl.networks.continuous import build_continuous_actor, build_continuous_critic

SMALL = dict(num_envs=16, rollout_steps=8, action_repeat=2)


@pytest.mark.parametrize("env", ["Pendulum-v1", "CartPoleSwingup-v0", "Reacher-v0"])
def test_original_environments_are_exactly_invariant(env):
  gap = symmetry_gap.transition_gap(env, **SMALL)
  assert gap.samples == 2 * 16 * 8
  assert gap.eps_r <= 1e-6 and gap.eps_p <= 1e-6, gap


def test_broken_variants_have_a_gap_that_grows_with_strength():
  weak = symmetry_gap.transition_gap("Pendulum-v1:repeat:0.25", **SMALL)
  strong = symmetry_gap.transition_gap("Pendulum-v1:repeat:1", **SMALL)
  assert 0 < weak.eps_r < strong.eps_r and 0 < weak.eps_p < strong.eps_p
  assert weak.eps_p_by_element[0] == 0  # the identity never mismatches
  gravity = symmetry_gap.transition_gap("CartPoleSwingup-v0:gravity:1", **SMALL)
  assert gravity.eps_p > 1e-4


def test_alpha_is_the_theorems_formula_and_checks_its_inputs():
  expected = (0.1 + 0.9 * 3 * 0.2) / 0.1
  assert symmetry_gap.theorem1_alpha(0.1, 0.2, 0.9, 3.0) == pytest.approx(expected)
  assert symmetry_gap.theorem1_alpha(0.0, 0.0, 0.99, 5.0) == 0.0
  with pytest.raises(ValueError, match="gamma"):
    symmetry_gap.theorem1_alpha(0.1, 0.1, 1.0, 1.0)
  with pytest.raises(ValueError, match="eps_p"):
    symmetry_gap.theorem1_alpha(0.1, -0.1, 0.5, 1.0)


def test_critic_gap_is_zero_for_the_invariant_critic_only():
  symmetry = envs.make("Pendulum-v1").symmetry
  obs, actions = symmetry_gap.sample_observations("Pendulum-v1", num_envs=8, rollout_steps=4)
  assert obs.shape == (2 * 8 * 4, 3) and actions.shape == (2 * 8 * 4, 1)
  gcnn = build_continuous_critic("gcnn", symmetry, 8)
  mlp = build_continuous_critic("mlp", symmetry, 16)
  assert symmetry_gap.critic_gap(gcnn, symmetry, obs, actions)["max"] < 1e-5
  assert symmetry_gap.critic_gap(mlp, symmetry, obs, actions)["max"] > 1e-4
  actor = build_continuous_actor("mlp", symmetry, 16)
  lip = symmetry_gap.value_lipschitz(actor, mlp, obs)
  assert np.isfinite(lip) and lip > 0


def test_a_discrete_environment_is_refused():
  with pytest.raises(ValueError, match="continuous"):
    symmetry_gap.transition_gap("CartPole-v1")


def test_critic_gap_on_pictures_is_zero_for_the_invariant_pixel_critic_only():
  from tf_equirl.agents.ac import ACConfig, PixelAC

  pictures, actions = symmetry_gap.sample_pictures(
    "CartPoleSwingup-v0", 37, 2, num_envs=2, rollout_steps=3
  )
  assert pictures.shape == (2 * 2 * 3, 37, 37, 6) and actions.shape == (12, 1)
  # Each state is held still: the two stacked frames are the same picture.
  np.testing.assert_array_equal(pictures[..., :3], pictures[..., 3:])
  assert 0.0 <= pictures.min() and pictures.max() <= 1.0 and pictures.std() > 0
  small = dict(
    env="CartPoleSwingup-v0",
    observation="pixels",
    image_size=37,
    frame_stack=2,
    encoder_channels=4,
    width=8,
    critic_width=8,
    batch_size=4,
    replay_capacity=8,  # the default 500,000 pictures would take gigabytes
  )
  gaps = {}
  for encoder in ("gcnn", "cnn"):
    agent = PixelAC(ACConfig(encoder=encoder, **small))
    gaps[encoder] = symmetry_gap.critic_gap(agent.critic, agent.symmetry, pictures, actions)
  assert gaps["gcnn"]["max"] < 1e-4, gaps
  assert gaps["cnn"]["max"] > 1e-4, gaps
