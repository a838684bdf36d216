"""The steerable_lean kind (free multiplicities per irreducible type) on CartPole, Catch and
the grid world: equivariant, parameter-matched, leaner than the regular layout (its reload
after import: tests/test_networks_steerable.py)."""

import numpy as np
import pytest

from support import (
  NETWORK_SETTINGS,
  check_network_kind,
  env_symmetry,
  random_input,
)
from tf_equirl.agents.ppo import default_config
from tf_equirl.experiments.ppo_tables import parse_network
from tf_equirl.layers import _isotypic
from tf_equirl.networks import build_actor
from tf_equirl.networks.builders import LEAN_RULES, lean_multiplicities, steerable_lean_actor
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant


@pytest.mark.parametrize("env_name,group", NETWORK_SETTINGS)
def test_lean_actor_and_critic_are_equivariant_and_matched(env_name, group):
  _, x, _, critic = check_network_kind("steerable_lean", env_name, group, param_tolerance=0.1)
  assert np.std(critic(x).numpy()) > 1e-4


@pytest.mark.parametrize("rule", LEAN_RULES)
def test_rules_over_d4(rule):
  """D4 on the grid world: types trivial, three more one-dimensional ones, E (dimension 2);
  the moves hold the trivial type, one one-dimensional type and E."""
  sym = env_symmetry("GridWorld-v0", "D4")
  dims = [t.dim for t in _isotypic.irrep_types(sym.group)]
  in_action = [b.shape[0] > 0 for b in _isotypic.bases_onto(sym.action_rep)]
  counts = lean_multiplicities(sym, 40, rule)
  assert len(counts) == 5 and all(m > 0 for m in counts)
  if rule == "uniform":
    assert set(counts) == {40}
  elif rule == "trivial":
    assert counts[0] == 40 and set(counts[1:]) == {10}
  else:
    assert [m for m, a in zip(counts, in_action) if not a] + [counts[0]] == [10] * 3
    assert sorted(m for m, a, d in zip(counts[1:], in_action[1:], dims[1:]) if a) == [40, 80]
    assert lean_multiplicities(sym, 40, rule, role="critic") == lean_multiplicities(
      sym, 40, "trivial"
    )
  # parameter-matched within 10 % at some width
  target = count_params(build_actor("mlp", sym))
  counts_at = [count_params(steerable_lean_actor(sym, w, rule)) for w in (8, 64)]
  assert counts_at[0] < target < counts_at[1]
  cartpole = env_symmetry("CartPole-v1", None)  # -I: the state holds only the sign type
  assert all(m > 0 for m in lean_multiplicities(cartpole, 12, rule))


def test_lean_spec_config_and_bad_rule():
  assert parse_network("steerable_lean@C4:steerable_lean") == (
    "steerable_lean",
    "C4",
    "steerable_lean",
  )
  config = default_config("GridWorld-v0", network="steerable_lean", critic="steerable_lean")
  assert (config.network, config.critic) == ("steerable_lean", "steerable_lean")
  with pytest.raises(ValueError, match="rule must be one of"):
    lean_multiplicities(env_symmetry("Catch-v0", None), 8, "regular")


def test_ppo_builds_and_trains_the_lean_networks():
  """Through the config path: a few PPO iterations with the lean actor and critic."""
  from tf_equirl.agents.ppo import PPO  # pylint: disable=import-outside-toplevel

  sym = env_symmetry("GridWorld-v0", "D4")
  ppo = PPO(
    default_config(
      "GridWorld-v0", network="steerable_lean", critic="steerable_lean", total_steps=2048
    )
  )
  # The config built the lean networks, not another kind of the same shape.
  assert count_params(ppo.actor_model) == count_params(build_actor("steerable_lean", sym))
  assert count_params(ppo.actor_model) != count_params(build_actor("steerable", sym))
  ppo.reset(0)
  before = [w.copy() for w in ppo.actor_model.get_weights() + ppo.critic_model.get_weights()]
  result = ppo.train(seed=0)
  assert np.all(np.isfinite(result.mean_return))
  after = ppo.actor_model.get_weights() + ppo.critic_model.get_weights()
  n_actor = len(ppo.actor_model.get_weights())
  for part in (slice(0, n_actor), slice(n_actor, None)):  # both the actor and the critic moved
    assert any(not np.array_equal(b, a) for b, a in zip(before[part], after[part]))
  x = random_input((16, sym.state_dim), seed=4)
  assert_equivariant(ppo.actor_model, x, sym.state_rep, sym.action_rep, atol=1e-5)
