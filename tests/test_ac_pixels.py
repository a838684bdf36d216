"""The pixel actor-critic: shift augmentation, uint8 replay, whole-agent equivariance, one
compiled training run, named errors."""

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.envs.render import render
from tf_equirl.agents.ac import AC, ACConfig, make_agent
from tf_equirl.agents.ac.pixels import (
  PixelAC,
  PixelReplay,
  bytes_per_transition,
  random_shift,
  to_float,
  to_uint8,
)
from tf_equirl.groups import Representation
from tf_equirl.networks.continuous import TRUNK_FEATURES, build_feature_actor, build_feature_critic
from tf_equirl.testing import assert_equivariant, equivariance_error, invariant

import support

SIZE = 37  # the smallest image whose encoder grid stays centred (latent 1x1)


# Seeded: the networks of a test do not depend on what ran before it in the process.
pytestmark = pytest.mark.seed(11)


def _config(**overrides):
  base = dict(
    env="Pendulum-v1",
    observation="pixels",
    image_size=SIZE,
    frame_stack=1,
    encoder="gcnn",
    encoder_channels=4,
    width=8,
    critic_width=8,
    total_steps=16,
    eval_every=8,
    random_steps=2,
    batch_size=4,
    replay_capacity=32,
    eval_episodes=1,
    noise_steps=10,
  )
  base.update(overrides)
  return ACConfig(**base)


def _key(a, b=0):
  return tf.constant([a, b], tf.int64)


def test_random_shift_is_a_replicate_padded_shift_and_seeded():
  images = tf.constant(np.random.default_rng(0).integers(0, 256, (6, 11, 11, 2)), tf.uint8)
  shifted = random_shift(images, _key(1))
  assert shifted.shape == images.shape and shifted.dtype == tf.uint8
  np.testing.assert_array_equal(shifted.numpy(), random_shift(images, _key(1)).numpy())
  assert not np.array_equal(shifted.numpy(), random_shift(images, _key(2)).numpy())
  padded = np.pad(images.numpy(), [(0, 0), (4, 4), (4, 4), (0, 0)], mode="edge")
  crops = [
    [padded[:, 4 + dy : 15 + dy, 4 + dx : 15 + dx] for dx in range(-4, 5)] for dy in range(-4, 5)
  ]
  offsets = []
  for b in range(6):
    hits = [
      (dy, dx)
      for dy in range(9)
      for dx in range(9)
      if np.array_equal(crops[dy][dx][b], shifted.numpy()[b])
    ]
    assert hits, f"sample {b} is not a replicate-padded shift of its picture"
    offsets.append(hits[0])
  assert len(set(offsets)) > 1  # each sample draws its own offset
  np.testing.assert_array_equal(random_shift(images, _key(1), pad=0).numpy(), images.numpy())


def test_uint8_replay_round_trip():
  replay = PixelReplay(4, 2, (5, 5, 3), 1)
  rng = np.random.default_rng(1)
  frames = rng.uniform(size=(3, 2, 5, 5, 3)).astype(np.float32)
  for t in range(3):
    replay.add(frames[t], tf.zeros([2, 1]), tf.ones([2]), tf.ones([2]), tf.zeros([2]), frames[t])
  stored = replay.observation.numpy()[:3]
  assert stored.dtype == np.uint8
  np.testing.assert_array_equal(stored, np.round(frames * 255).astype(np.uint8))
  assert np.max(np.abs(to_float(stored).numpy() - frames)) <= 0.5 / 255 + 1e-7
  np.testing.assert_array_equal(to_uint8(to_float(stored)).numpy(), stored)
  batch = replay.sample(_key(3), 8, 1, 0.99)
  assert batch.observation.dtype == tf.uint8 and batch.observation.shape == (8, 5, 5, 3)
  assert replay.bytes_per_transition == bytes_per_transition(5, 1, 1) == 2 * 75 + 16


@pytest.mark.parametrize(
  "env,encoder",
  [
    ("Pendulum-v1", "gcnn"),
    ("Reacher-v0", "gcnn"),
    ("Pendulum-v1", "relaxed"),
    ("Reacher-v0", "rpp"),
  ],
)
def test_whole_agent_is_equivariant_at_init(env, encoder):
  agent = PixelAC(_config(env=env, encoder=encoder))
  assert isinstance(agent, PixelAC)
  sym = agent.symmetry
  x = tf.random.stateless_uniform([3, SIZE, SIZE, 3], [4, 5])
  a = tf.random.stateless_uniform([3, sym.action_dim], [6, 7], -1.0, 1.0)
  assert_equivariant(agent.actor, x, sym.state_rep, sym.action_rep, atol=1e-5)
  assert_equivariant(
    agent.critic, [x, a], [sym.state_rep, sym.action_rep], invariant(sym.group), atol=1e-4
  )
  # The relaxed actor's output is not trivially zero: its equivariance is not vacuous.
  assert float(tf.reduce_max(tf.abs(agent.actor(x)))) > 1e-4


@support.over_layer_groups
@pytest.mark.parametrize("kind", ["gcnn", "relaxed", "rpp"])
def test_feature_heads_through_the_trunk_are_equivariant(gname, kind):
  """DrQ-v2's trunk in the group heads (a regular layer, `GroupLayerNorm`, tanh) keeps
  `actor(L_g f) = pi(g) actor(f)` and `Q(L_g f, pi(g) a) = Q(f, a)` (at initialisation for the
  relaxed and rpp kinds), with a 2-D rotation/reflection action under each group."""
  group = support.GROUPS[gname]
  action_rep = Representation(group, support.planar_matrices(group))
  f = tf.random.stateless_normal([5, group.order, 6], [1, 2])
  a = tf.random.stateless_uniform([5, 2], [3, 4], -1.0, 1.0)
  actor = build_feature_actor(kind, action_rep, (group.order, 6), width=4, trunk=10)
  critic = build_feature_critic(kind, action_rep, (group.order, 6), width=4, trunk=10)
  assert actor.get_layer("trunk_linear").output_shape == (
    None,
    group.order,
    max(10 // group.order, 1),
  )
  assert_equivariant(actor, f, group, action_rep, atol=1e-5)
  assert_equivariant(critic, [f, a], [group, action_rep], invariant(group), atol=1e-5)
  assert float(tf.reduce_max(tf.abs(actor(f)))) > 1e-4  # not vacuously equivariant


def _trunk_layer_names(agent):
  return [
    layer.name
    for head in (agent.actor_head, agent.critic_head)
    for layer in head.layers
    if layer.name.startswith("trunk")
  ]


def test_the_trunk_normalises_and_bounds_the_features_and_can_be_left_out():
  rep = Representation(support.GROUPS["C2"], np.array([[[1.0]], [[-1.0]]]))
  features = tf.random.stateless_normal([7, 40], [5, 6]) * 30.0 + 12.0  # far from unit scale
  actor = build_feature_actor("mlp", rep, (40,), width=8)
  trunk = tf.keras.Model(actor.input, actor.get_layer("trunk_norm").output)
  normed = trunk(features).numpy()
  assert normed.shape == (7, TRUNK_FEATURES) and TRUNK_FEATURES == 50
  np.testing.assert_allclose(normed.mean(1), 0.0, atol=1e-4)
  np.testing.assert_allclose(normed.std(1), 1.0, atol=1e-3)
  bare = build_feature_critic("mlp", rep, (40,), width=8, trunk=None)
  assert not [layer for layer in bare.layers if layer.name.startswith("trunk")]
  for builder in (build_feature_actor, build_feature_critic):
    with pytest.raises(ValueError, match="trunk must be a positive number of features or None"):
      builder("mlp", rep, (40,), trunk=0)
  with pytest.raises(ValueError, match="trunk_features must be a non-negative integer"):
    _config(trunk_features=-1)
  assert not [n for n in _trunk_layer_names(PixelAC(_config(trunk_features=0)))]
  assert len(_trunk_layer_names(PixelAC(_config()))) == 6  # linear, norm, tanh: actor, critic


def test_cnn_agent_is_not_equivariant():
  agent = PixelAC(_config(encoder="cnn", encoder_channels=8, width=16))
  sym = agent.symmetry
  x = tf.random.stateless_uniform([3, SIZE, SIZE, 3], [4, 5])
  assert equivariance_error(agent.actor, x, sym.state_rep, sym.action_rep) > 1e-4


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_short_compiled_run_traces_once_and_trains_the_encoder():
  agent = PixelAC(_config())
  before = [w.copy() for w in agent.encoder.get_weights()]
  result = agent.train(seed=0)
  assert agent.tracing_count == 1
  assert np.all(np.isfinite(result.eval_return))
  assert np.all(np.isfinite(result.metrics["critic_loss"][1:]))
  assert result.metrics["updates"][1:].sum() > 0
  moved = [np.max(np.abs(w - b)) for w, b in zip(agent.encoder.get_weights(), before)]
  assert max(moved) > 0  # the critic's loss trains the encoder
  assert int(agent.replay.count.numpy()) == 16 // 2  # agent steps stored


def test_actor_loss_does_not_reach_the_encoder():
  from tf_equirl.agents.ac.learner import actor_loss

  agent = PixelAC(_config())
  x = tf.random.stateless_uniform([2, SIZE, SIZE, 3], [1, 2])
  with tf.GradientTape() as tape:
    features = tf.stop_gradient(agent.encoder(x))
    loss = actor_loss(agent.actor_head, agent.critic_head, features, tf.zeros([2, 1]))
  grads = tape.gradient(loss, agent.encoder.trainable_variables + agent.actor_head.variables)
  n = len(agent.encoder.trainable_variables)
  assert all(g is None for g in grads[:n])
  assert any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads[n:])


@pytest.mark.parametrize(
  "overrides,message",
  [
    (dict(image_size=36), "image_size=36"),
    (dict(image_size=39), "sizes that work"),
    (dict(encoder="cnn", network="gcnn"), "pick a group encoder"),
    (dict(encoder="gcnn", network="rpp"), "encoder='gcnn' feeds"),
    (dict(network="augment"), "network='augment'"),
    (dict(encoder="vit"), "encoder must be one of"),
    (dict(observation="rgb"), "observation must be one of"),
    (dict(frame_stack=0), "frame_stack"),
  ],
)
def test_bad_pixel_configs_are_named(overrides, message):
  with pytest.raises(ValueError, match=message):
    _config(**overrides)


def test_an_environment_with_other_pictures_is_refused():
  env = envs.make("Pendulum-v1", observation="pixels", image_size=SIZE, frame_stack=2)
  with pytest.raises(ValueError, match=r"frame_stack=1 expect pictures \(37, 37, 3\)"):
    PixelAC(_config(), env=env)
  with pytest.raises(ValueError, match="observation='pixels'"):
    PixelAC(_config(observation="state"))
  consecutive = envs.make("Pendulum-v1", observation="pixels", image_size=SIZE, frame_stack=1)
  with pytest.raises(ValueError, match="frames 1 env steps apart.*frame_spacing=2"):
    PixelAC(_config(action_repeat=2), env=consecutive)


def test_make_agent_picks_the_agent_and_ac_refuses_pictures():
  with pytest.raises(ValueError, match="for observation='pixels' build"):
    AC(_config())
  assert type(make_agent(_config())) is PixelAC
  state = ACConfig(env="Pendulum-v1", num_envs=1, width=8, critic_width=8, replay_capacity=64)
  assert type(make_agent(state)) is AC
  with pytest.raises(ValueError, match="make_agent expects an ACConfig"):
    make_agent({"env": "Pendulum-v1"})


@pytest.mark.parametrize("repeat", [1, 2])
def test_the_agent_stacks_one_frame_per_agent_step(repeat):
  """DrQ-v2 stacks frames over its action repeat: the agent's pictures are `action_repeat`
  env steps apart, so an observation the agent acts in shows its last `frame_stack` agent
  steps' states."""
  agent = PixelAC(_config(frame_stack=3, action_repeat=repeat))
  env = agent.env
  assert env.frame_spacing == repeat
  state, _ = env.pure_reset(3)
  states = [state.physics[:, -1]]
  for _ in range(3):  # agent steps of `repeat` env steps each
    for _ in range(repeat):
      state, step = env.pure_step(state, tf.constant([[0.7]]))
    states.append(state.physics[:, -1])
  want = tf.concat([render(env.inner, s, SIZE) for s in states[-3:]], axis=-1)
  np.testing.assert_array_equal(step.observation, want)
