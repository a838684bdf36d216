"""PPO on tf-agents: GAE, tiny runs of every network on both environments, learning, seeds."""

import dataclasses
import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl.agents.ppo import PPO, PPOConfig, default_config, gae
from tf_equirl.envs import CartPole, make
from tf_equirl.testing import assert_equivariant, invariant

from support import tiny_ppo_config

keras = tf.keras


def _reference_gae(reward, value, next_value, terminated, ended, gamma, lam):
  t_len, batch = reward.shape
  adv = np.zeros_like(reward)
  for b in range(batch):
    running = 0.0
    for t in reversed(range(t_len)):
      if ended[t, b]:
        running = 0.0  # nothing after the end of an episode belongs to this one
      bootstrap = 0.0 if terminated[t, b] else gamma * next_value[t, b]
      delta = reward[t, b] + bootstrap - value[t, b]
      running = delta + gamma * lam * running
      adv[t, b] = running
  return adv


def test_gae_bootstraps_truncation_but_not_termination():
  rng = np.random.default_rng(0)
  t_len, batch = 12, 3
  reward = rng.standard_normal((t_len, batch)).astype(np.float32)
  value = rng.standard_normal((t_len, batch)).astype(np.float32)
  next_value = rng.standard_normal((t_len, batch)).astype(np.float32)
  ended = np.zeros((t_len, batch), np.float32)
  terminated = np.zeros((t_len, batch), np.float32)
  ended[3, 0] = terminated[3, 0] = 1.0  # termination
  ended[5, 1] = 1.0  # truncation: ends, bootstraps
  ended[7, 2] = terminated[7, 2] = 1.0
  ended[9, 2] = 1.0
  adv, targets = gae(
    *map(tf.constant, (reward, value, next_value, terminated, ended)), gamma=0.99, lam=0.95
  )
  expected = _reference_gae(reward, value, next_value, terminated, ended, 0.99, 0.95)
  np.testing.assert_allclose(adv.numpy(), expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(targets.numpy(), expected + value, rtol=1e-5, atol=1e-5)
  # at a truncation the advantage is the one-step TD error with a full bootstrap
  np.testing.assert_allclose(
    adv.numpy()[5, 1], reward[5, 1] + 0.99 * next_value[5, 1] - value[5, 1], rtol=1e-5
  )
  np.testing.assert_allclose(adv.numpy()[3, 0], reward[3, 0] - value[3, 0], rtol=1e-5)


_tiny = tiny_ppo_config


# Curves of the tiny runs below (CHANGELOG.md says when each entry was last recorded and
# why). Learning must not change: rewrite an entry (`python tests/test_ppo.py
# --write_reference [ENV/NETWORK ...]`) only for a change that is meant to change learning,
# and say so in its commit.
_REFERENCE = os.path.join(
  os.path.dirname(os.path.abspath(__file__)), "data", "ppo_tiny_reference.json"
)


def _tiny_curves(result) -> dict:
  return {
    "mean_return": result.mean_return.tolist(),
    "episodes": result.episodes.tolist(),
    **{k: v.tolist() for k, v in sorted(result.losses.items())},
  }


def _observations(env, n=64):
  rng = np.random.default_rng(1)
  dim = env.symmetry.state_dim
  return tf.constant(rng.standard_normal((n, dim)), tf.float32)


@pytest.mark.parametrize("env_name", ["CartPole-v1", "Catch-v0"])
@pytest.mark.parametrize("network", ["mlp", "gcnn", "symmetrizer"])
def test_tiny_run_every_network(env_name, network):
  critic = "invariant" if network == "gcnn" else "mlp"
  ppo = PPO(_tiny(env_name, network, critic=critic))
  sym = ppo.symmetry
  obs = _observations(ppo.env)
  ppo.reset(0)
  before = [v.numpy().copy() for v in ppo.actor_model.trainable_variables]
  critic_before = [v.numpy().copy() for v in ppo.critic_model.trainable_variables]
  if network != "mlp":
    assert_equivariant(ppo.actor_model, obs, sym.state_rep, sym.action_rep, atol=1e-5)
  result = ppo.train(seed=0)
  assert result.mean_return.shape == (2,) and result.env_steps[-1] == 256
  # Same curves as the recorded reference. Every parameter and basis is canonical (no LAPACK
  # basis feeds a weight), so only rounding differs between CPUs: another vector width in
  # XLA's reductions and in the kernels that initialise the weights. The first iteration
  # (rollout of the initial policy and its first updates) must match tightly; the second
  # comes after Adam steps, whose normalisation amplifies rounding in near-zero gradient
  # components, and is compared as statistics, loosely.
  with open(_REFERENCE) as f:
    reference = json.load(f)[f"{env_name}/{network}"]
  for name, values in _tiny_curves(result).items():
    np.testing.assert_allclose(
      values[0], reference[name][0], rtol=1e-5, atol=1e-7, err_msg=f"{name}, first iteration"
    )
    np.testing.assert_allclose(
      values[1], reference[name][1], rtol=1e-3, atol=1e-6, err_msg=f"{name}, second iteration"
    )
  for name, values in result.losses.items():
    assert np.all(np.isfinite(values)), name
  assert any(
    not np.allclose(b, v.numpy()) for b, v in zip(before, ppo.actor_model.trainable_variables)
  )
  assert any(
    not np.allclose(b, v.numpy())
    for b, v in zip(critic_before, ppo.critic_model.trainable_variables)
  )
  if network != "mlp":
    assert_equivariant(ppo.actor_model, obs, sym.state_rep, sym.action_rep, atol=1e-5)
  if critic == "invariant":
    assert_equivariant(ppo.critic_model, obs, sym.state_rep, invariant(sym.group), atol=1e-5)
  assert ppo.tracing_count == 1


def _tensor_list_element_shapes(graph_def):
  """The element shape of every TensorArray (`TensorListReserve`) in a graph and its
  function library: a list of dims, -1 for an unknown one, None for an unknown rank."""
  shapes = []
  for nodes in [graph_def.node] + [f.node_def for f in graph_def.library.function]:
    consts = {n.name: n for n in nodes if n.op == "Const"}
    for node in nodes:
      if node.op == "TensorListReserve":
        const = consts[node.input[0].split(":")[0]]
        value = tf.make_ndarray(const.attr["value"].tensor)
        shapes.append(None if value.ndim == 0 else value.tolist())
  return shapes


@pytest.mark.parametrize("env_name", ["CartPole-v1", "Catch-v0"])
def test_training_graph_arrays_have_known_element_shapes(env_name):
  """Every TensorArray in the training call's loops has a fully known element shape: with an
  unknown one XLA's bridge lowers the enclosing while body twice, once to find the shape,
  and the collect loop nests in the iteration loop (4 lowerings of it, about 0.5 s of every
  first call on CartPole)."""
  ppo = PPO(_tiny(env_name, "mlp"))
  ppo.reset(0)
  graph_def = ppo._train_chunk.get_concrete_function(ppo._carry, ppo._chunk).graph.as_graph_def()
  shapes = _tensor_list_element_shapes(graph_def)
  # 8 per-iteration metrics, 9 rollout fields, GAE's scan (its input and output arrays)
  assert len(shapes) >= 17, shapes
  unknown = [s for s in shapes if s is None or -1 in s]
  assert not unknown, f"TensorArrays with unknown element shapes: {unknown}"


def test_default_widths_match_the_mlp_and_the_thesis():
  from tf_equirl.networks import builders  # pylint: disable=g-import-not-at-top
  from tf_equirl.params import count_params  # pylint: disable=g-import-not-at-top

  cartpole, catch = make("CartPole-v1").symmetry, make("Catch-v0").symmetry
  # The odd network (CartPole) keeps the thesis' width 64 (Table 5.4: 8,961 = 4,545 + 4,416),
  # not the closest count (width 65); it is still within the 10 % rule.
  odd = builders.build_actor("gcnn", cartpole)
  assert odd.layers[1].units == 64 and count_params(odd) == 4 * 64 + 64 * 64 + 2 * 64 + 1
  assert abs(count_params(odd) / count_params(builders.build_actor("mlp", cartpole)) - 1) <= 0.1
  # Every other kind takes the width whose count is closest to the MLP's (Catch G-CNN: 49).
  lifted = builders.build_actor("gcnn", catch)
  mlp = count_params(builders.build_actor("mlp", catch))
  counts = {w: count_params(builders.gcnn_actor(catch, w)) for w in (48, 49, 50)}
  assert count_params(lifted) == counts[49]
  assert abs(counts[49] - mlp) == min(abs(c - mlp) for c in counts.values())


@pytest.mark.parametrize("env_name", ["CartPole-v1", "Catch-v0"])
def test_gcnn_on_the_trivial_group_is_not_constrained_to_be_odd(env_name):
  """`gcnn@trivial` is the lifted G-CNN over the one-element group, an unconstrained
  network: not CartPole's odd network, which would impose f(-s) = -f(s) (the mirror)."""
  from tf_equirl.networks import builders  # pylint: disable=g-import-not-at-top
  from tf_equirl.params import count_params  # pylint: disable=g-import-not-at-top

  env = make(env_name)
  trivial = env.get_symmetry("trivial")
  assert builders.sign_character(trivial.state_rep) is None
  actor = builders.build_actor("gcnn", trivial)
  mlp = builders.build_actor("mlp", trivial)
  assert abs(count_params(actor) / count_params(mlp) - 1) <= 0.1
  # With an odd trunk (no biases, tanh) the logits are W h(s) + b with h(-s) = -h(s), so
  # f(s) + f(-s) = 2 b for every s. Random weights (the logit head starts near zero):
  rng = np.random.default_rng(0)
  obs = _observations(env)
  odd_sum = lambda net: (net(obs) + net(-obs)).numpy()
  actor.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in actor.get_weights()])
  assert np.std(odd_sum(actor), axis=0).max() > 1e-2
  if env_name == "CartPole-v1":  # the mirror's actor is the odd network
    odd = builders.build_actor("gcnn", env.symmetry)
    odd.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in odd.get_weights()])
    assert np.std(odd_sum(odd), axis=0).max() < 1e-5


def test_cartpole_learns_and_seeds_reproduce():
  config = default_config("CartPole-v1", network="gcnn", total_steps=25_600)
  ppo = PPO(config)
  first = ppo.train(seed=3)
  random_policy_return = 22.0  # mean CartPole-v1 episode length of a uniform random policy
  late = first.mean_return[-10:].mean()
  assert late > 5 * random_policy_return, first.mean_return
  assert late > first.mean_return[:3].mean() + 50
  again = ppo.train(seed=3)
  np.testing.assert_array_equal(first.mean_return, again.mean_return)
  other = ppo.train(seed=4)
  assert not np.array_equal(first.mean_return, other.mean_return)
  assert ppo.tracing_count == 1  # new seeds reuse the compiled graph

  # the trained agent's tf-agents policy runs in a plain tf-agents loop
  env = make("CartPole-v1", batch_size=2, seed=0)
  step = env.reset()
  for _ in range(5):
    action = ppo.agent.policy.action(step).action
    # tf-agents' policy is greedy: the actor's most probable action
    np.testing.assert_array_equal(
      action.numpy(), np.argmax(ppo.actor_model(step.observation).numpy(), -1)
    )
    step = env.step(action)


def test_config_rejects_bad_values():
  with pytest.raises(ValueError, match="network must be one of"):
    PPOConfig(network="cnn")
  with pytest.raises(ValueError, match="num_minibatches must be a positive integer"):
    PPOConfig(num_minibatches=0)
  with pytest.raises(ValueError, match="less than one iteration"):
    PPOConfig(total_steps=100)
  with pytest.raises(ValueError, match="gamma must lie in"):
    PPOConfig(gamma=1.5)
  config = default_config("Catch-v0")
  assert config.minibatch_size == 10 and config.total_steps == 20_000  # thesis Table 5.2


def test_advantage_normalization_options():
  # One minibatch: standardising it is standardising the batch, so "batch" learns exactly
  # as "minibatch"; without standardisation the updates (and so the curves) differ.
  curves = {}
  for where in ("minibatch", "batch", "none"):
    config = dataclasses.replace(
      _tiny("Catch-v0", "gcnn", advantage_normalization=where), num_minibatches=1
    )
    curves[where] = _tiny_curves(PPO(config).train(seed=0))
  for name, values in curves["minibatch"].items():
    np.testing.assert_allclose(curves["batch"][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
  assert not np.allclose(curves["minibatch"]["policy_loss"], curves["none"]["policy_loss"])
  with pytest.raises(ValueError, match="advantage_normalization must be one of"):
    PPOConfig(advantage_normalization="episode")


def test_collect_same_rollout_from_every_kind_of_step_fn():
  # A 20-step limit: truncations and terminations both happen in 32 steps x 4 envs.
  env = CartPole(batch_size=4, max_episode_steps=20)
  ppo = PPO(_tiny("CartPole-v1", "mlp"), env=env)
  ppo.reset(0)
  key = tf.constant([7, 7], tf.int64)
  collect = tf.function(lambda step_fn: ppo._collect(ppo._carry, key, step_fn), autograph=False)
  kinds = {
    "env": env,
    "bound pure_step": env.pure_step,
    "step and reset": lambda s, a: env.pure_step_and_reset(s, a),
    "plain pure step (stepped twice)": lambda s, a: env.pure_step(s, a),
  }
  carry, rollout = collect(env)
  ended, terminated = rollout.ended.numpy(), rollout.terminated.numpy()
  assert terminated.sum() > 0 and (ended - terminated).sum() > 0
  # Every stored step is a real transition: episodes restart right after they end.
  obs, next_obs = rollout.observation.numpy(), rollout.next_observation.numpy()
  np.testing.assert_array_equal(obs[1:][ended[:-1] == 0], next_obs[:-1][ended[:-1] == 0])
  assert np.all(np.abs(obs[1:][ended[:-1] == 1]) < 0.05)  # fresh starts in (-0.05, 0.05)
  for name, step_fn in kinds.items():
    other_carry, other = collect(step_fn)
    for field, a, b in zip(rollout._fields, rollout, other):
      np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name}: {field}")
    for a, b in zip(tf.nest.flatten(carry), tf.nest.flatten(other_carry)):
      np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
  with pytest.raises(ValueError, match="step_fn must return"):
    collect(lambda s, a: env.pure_step(s, a)[1])


def test_tensorboard_scalars_written_in_one_graph_call(tmp_path):
  from tf_equirl.runner import _scalar_writer  # pylint: disable=g-import-not-at-top

  writer = tf.summary.create_file_writer(str(tmp_path))
  write = _scalar_writer(writer)
  write(
    np.array([512, 1024], np.int64),
    {
      "mean_return": np.array([9.5, 10.0], np.float32),
      "finished_return": np.array([np.nan, 3.0], np.float32),
    },
  )
  write(
    np.array([1536, 2048], np.int64),
    {
      "mean_return": np.array([11.0, 12.0], np.float32),
      "finished_return": np.array([4.0, 5.0], np.float32),
    },
  )
  writer.flush()
  rows = sorted(
    (e.step, v.tag, tf.make_ndarray(v.tensor).item())
    for f in tmp_path.iterdir()
    for e in tf.compat.v1.train.summary_iterator(str(f))
    for v in e.summary.value
  )
  assert rows == sorted(
    [
      (512, "ppo/mean_return", 9.5),
      (1024, "ppo/mean_return", 10.0),
      (1024, "ppo/finished_return", 3.0),
      (1536, "ppo/mean_return", 11.0),
      (1536, "ppo/finished_return", 4.0),
      (2048, "ppo/mean_return", 12.0),
      (2048, "ppo/finished_return", 5.0),
    ]
  )
  assert write.experimental_get_tracing_count() == 1


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_on_compile_runs_once_between_tracing_and_the_first_call(tmp_path):
  """`PPO.train(on_compile=...)` (what `run_experiment` uses to prepare its outputs beside
  XLA's compilation) is called once, after tracing and before the first results, without a
  second trace; `run_experiment` traces each seed's TensorBoard writer once."""
  from tf_equirl import runner  # pylint: disable=g-import-not-at-top

  config = _tiny("CartPole-v1", "mlp")
  agent = PPO(config)
  events = []
  result = agent.train(
    callback=lambda m: events.append("results"),
    seed=3,
    on_compile=lambda: events.append(("traced", agent.tracing_count)),
  )
  assert events[0] == ("traced", 1) and events.count(("traced", 1)) == 1
  assert events[1:] == ["results"] * (len(events) - 1) and len(events) > 1
  assert agent.tracing_count == 1
  np.testing.assert_array_equal(result.mean_return, PPO(config).train(seed=3).mean_return)

  writers = []
  original = runner._scalar_writer
  try:
    runner._scalar_writer = lambda w: writers.append(original(w)) or writers[-1]
    runner.run_experiment(config, [0, 1], str(tmp_path), progress=False)
  finally:
    runner._scalar_writer = original
  assert [w.experimental_get_tracing_count() for w in writers] == [1, 1]
  assert (tmp_path / "curves.png").exists()


if __name__ == "__main__" and "--write_reference" in sys.argv:
  # `--write_reference [ENV/NETWORK ...]`: re-record every entry, or only those named.
  only = sys.argv[sys.argv.index("--write_reference") + 1 :]
  curves = {}
  if only and os.path.exists(_REFERENCE):
    with open(_REFERENCE) as f:
      curves = json.load(f)
  for env_name in ("CartPole-v1", "Catch-v0"):
    for network in ("mlp", "gcnn", "symmetrizer"):
      if only and f"{env_name}/{network}" not in only:
        continue
      critic = "invariant" if network == "gcnn" else "mlp"
      curves[f"{env_name}/{network}"] = _tiny_curves(
        PPO(_tiny(env_name, network, critic=critic)).train(seed=0)
      )
  os.makedirs(os.path.dirname(_REFERENCE), exist_ok=True)
  with open(_REFERENCE, "w") as f:
    json.dump(curves, f, indent=1)
  print(f"wrote {_REFERENCE}")
