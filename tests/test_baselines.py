"""The `encoder` and `augment` baselines: equivariant encoder + free head, symmetry augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from support import (
  GROUPS,
  move_action_rep,
  random_input,
  reload_in_fresh_process,
  state_rep,
  tiny_ppo_config,
)
from tf_equirl.agents.ppo import PPO
from tf_equirl.agents.ppo.augmentation import augment_batch, transform_pairs
from tf_equirl.envs import make
from tf_equirl.groups import MDPSymmetry
from tf_equirl.networks import build_actor, build_critic, mlp_actor
from tf_equirl.params import count_params
from tf_equirl.testing import assert_equivariant, equivariance_error

keras = tf.keras


def _symmetry(name: str) -> MDPSymmetry:
  """The environments' symmetries and planar ones over C4 and D4 (moves + no-op actions)."""
  if name in ("CartPole-v1", "Catch-v0"):
    return make(name, batch_size=1).symmetry
  group = GROUPS[name]
  return MDPSymmetry(group, state_rep(group), move_action_rep(group))


SYMMETRIES = ["CartPole-v1", "Catch-v0", "C4", "D4"]


@pytest.mark.parametrize("name", SYMMETRIES)
def test_encoder_is_equivariant_the_actor_is_not(name):
  sym = _symmetry(name)
  keras.utils.set_random_seed(0)
  actor = build_actor("encoder", sym)
  x = random_input((32, sym.state_dim), seed=1)
  encoder = keras.Model(actor.input, actor.get_layer("latent").input)
  assert encoder.output.shape[1:] == (sym.group.order, encoder.output.shape[2])
  assert_equivariant(encoder, x, sym.state_rep, sym.group, atol=1e-5)
  # The free head breaks it: with head weights of order one the logits are not equivariant.
  head = actor.get_layer("logits")
  kernel, bias = head.get_weights()
  head.set_weights([np.random.default_rng(2).standard_normal(kernel.shape), bias])
  assert equivariance_error(actor, x, sym.state_rep, sym.action_rep) > 1e-2
  mlp = count_params(mlp_actor(sym.state_dim, sym.num_actions))
  assert abs(count_params(actor) - mlp) <= 0.1 * mlp


def test_encoder_and_augment_actors_reload_after_import(tmp_path):
  sym = _symmetry("Catch-v0")
  x = random_input((8, sym.state_dim), seed=3)
  models = [
    ("encoder", build_actor("encoder", sym), x),
    ("augment", build_actor("augment", sym), x),
  ]
  assert count_params(models[1][1]) == count_params(mlp_actor(sym.state_dim, sym.num_actions))
  assert reload_in_fresh_process(models, str(tmp_path)) == ["encoder", "augment"]


def _batch(sym, n=16, seed=0):
  rng = np.random.default_rng(seed)
  return (
    tf.constant(rng.standard_normal((n, sym.state_dim)), tf.float32),
    tf.constant(rng.integers(0, sym.num_actions, n), tf.int32),
    tf.constant(rng.standard_normal(n), tf.float32),
    tf.constant(rng.standard_normal(n), tf.float32),
    tf.constant(rng.standard_normal(n), tf.float32),
    tf.constant(rng.standard_normal(n), tf.float32),
  )


def _log_probs(actor, obs, action):
  return tf.gather(tf.nn.log_softmax(actor(obs)), action, axis=1, batch_dims=1).numpy()


@pytest.mark.parametrize("name", SYMMETRIES)
def test_augmented_batch_is_the_transformed_batch_with_recomputed_old_policy(name):
  sym = _symmetry(name)
  keras.utils.set_random_seed(0)
  actor, critic = build_actor("augment", sym), build_critic("mlp", sym)
  # Trained-looking weights: biases (zero at init, which makes the tanh MLP odd and so
  # exactly equivariant under CartPole's -I) and a head far above the 0.01 init.
  rng = np.random.default_rng(4)
  for layer in actor.layers[1:]:
    kernel, bias = layer.get_weights()
    scale = 100.0 if layer.name == "logits" else 1.0
    layer.set_weights([kernel * scale, rng.standard_normal(bias.shape).astype(np.float32)])
  n = 16
  batch = _batch(sym, n)
  obs, action, log_prob, adv, target, value = batch
  # Behaviour log-probabilities of the collected pairs, as the learner's collection records.
  batch = (obs, action, tf.constant(_log_probs(actor, obs, action)), adv, target, value)
  value_fn = lambda o: tf.squeeze(critic(o), -1)
  out = augment_batch(sym, batch, actor, value_fn)
  order = sym.group.order
  assert all(t.shape[0] == order * n for t in out)
  for column, original in zip(out, batch):  # the identity block is the batch itself
    np.testing.assert_array_equal(column[:n].numpy(), original.numpy())
  elements = [g for g in sym.group.elements() if g != sym.group.identity]
  for k, g in enumerate(elements, start=1):
    rows = slice(k * n, (k + 1) * n)
    obs_g = sym.state_rep.transform(obs, g)
    action_g = sym.action_rep.transform(action, g)
    np.testing.assert_allclose(out[0][rows].numpy(), obs_g.numpy(), atol=1e-6)
    np.testing.assert_array_equal(out[1][rows].numpy(), action_g.numpy())
    np.testing.assert_array_equal(out[3][rows].numpy(), adv.numpy())  # invariant
    np.testing.assert_array_equal(out[4][rows].numpy(), target.numpy())  # invariant
    # old log-probs: the pre-update network at the transformed pair, not the behaviour ones
    recomputed = _log_probs(actor, obs_g, action_g)
    np.testing.assert_allclose(out[2][rows].numpy(), recomputed, atol=1e-5)
    assert np.max(np.abs(recomputed - batch[2].numpy())) > 1e-2
    np.testing.assert_allclose(out[5][rows].numpy(), value_fn(obs_g).numpy(), atol=1e-5)
    assert np.max(np.abs(out[5][rows].numpy() - value.numpy())) > 1e-3
  # decoupled-PPO weights: 1 on the collected rows, min(1, pi_old(ga|gs) / pi_old(a|s)) on
  # the images; the batch itself is the same as without them
  weighted, weights = augment_batch(sym, batch, actor, value_fn, with_weights=True)
  for a, b in zip(weighted, out):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  w = weights.numpy()
  np.testing.assert_array_equal(w[:n], 1.0)
  expected = np.minimum(1.0, np.exp(out[2].numpy()[n:] - np.tile(batch[2].numpy(), order - 1)))
  np.testing.assert_allclose(w[n:], expected, rtol=1e-5)
  assert 0.0 < w.min() < 0.99  # this actor is far from equivariant: some images are unlikely


def test_augmented_old_log_probs_equal_the_behaviour_ones_for_an_equivariant_actor():
  sym = _symmetry("D4")
  keras.utils.set_random_seed(0)
  actor = build_actor("gcnn", sym)
  kernel = actor.get_layer("logits").get_weights()
  actor.get_layer("logits").set_weights([w * 100.0 for w in kernel])
  obs, action, _, adv, target, value = _batch(sym, 16)
  batch = (obs, action, tf.constant(_log_probs(actor, obs, action)), adv, target, value)
  out = augment_batch(sym, batch, actor, lambda o: tf.zeros([tf.shape(o)[0]]))
  np.testing.assert_allclose(out[2].numpy(), np.tile(batch[2].numpy(), sym.group.order), atol=1e-4)
  _, weights = augment_batch(
    sym, batch, actor, lambda o: tf.zeros([tf.shape(o)[0]]), with_weights=True
  )
  np.testing.assert_allclose(weights.numpy(), 1.0, atol=1e-3)  # images as likely as originals


def test_transform_pairs_keeps_the_observation_shape():
  sym = _symmetry("Catch-v0")
  obs = tf.reshape(random_input((4, sym.state_dim)), [4, 10, 5])
  moved, action = transform_pairs(sym, obs, tf.constant([0, 1, 2, 0]), 1)
  assert moved.shape == (4, 10, 5)
  np.testing.assert_array_equal(moved.numpy(), obs.numpy()[:, :, ::-1])  # Catch's column flip
  np.testing.assert_array_equal(action.numpy(), [2, 1, 0, 2])


@pytest.mark.parametrize(
  "network,weights", [("augment", False), ("augment", True), ("encoder", False)]
)
def test_tiny_catch_run_compiles_once(network, weights):
  config = tiny_ppo_config(
    "Catch-v0", network, iterations=4, num_minibatches=4, augment_weights=weights
  )
  ppo = PPO(config)
  ppo.reset(0)
  before = [v.numpy().copy() for v in ppo.actor_model.trainable_variables]
  first = ppo.train(seed=0)
  second = ppo.train(seed=1)
  assert ppo.tracing_count == 1  # two calls per run, two runs: one trace
  for result in (first, second):
    assert result.env_steps[-1] == 512
    for name, values in result.losses.items():
      assert np.all(np.isfinite(values)), name
  assert any(
    not np.allclose(b, v.numpy()) for b, v in zip(before, ppo.actor_model.trainable_variables)
  )
  # same Adam steps as the plain MLP: the annealing schedule ends where the run does
  assert int(ppo.agent.train_step_counter.numpy()) == config.num_iterations * 2 * 4
