"""PRAE: networks, the loss against NumPy, training, the planner on a chain, the lifted
policy, and bad input."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras
from tf_agents.trajectories import time_step as ts

from tf_equirl import envs, evaluation
from tf_equirl.envs.cartpole import cartpole_symmetry
from tf_equirl.prae import (
  PRAEConfig,
  PRAEModel,
  PRAETrainer,
  LiftedPolicy,
  abstract_transitions,
  build_abstract_mdp,
  build_decoder,
  build_encoder,
  build_model,
  build_reward,
  build_transition,
  check_episodes,
  evaluate_lifted,
  evaluate_ranking,
  latent_loss_terms,
  latent_representation,
  loss_terms,
  ranking_metrics,
  train_prae,
  value_iteration,
)
from tf_equirl.testing import assert_equivariant

from support import held_out_episodes


@pytest.fixture(scope="module")
def episodes(cartpole):
  """60 random CartPole episodes: the first 50 for training, the last 10 held out."""
  return held_out_episodes(cartpole, 60, train=50, seed=0)


def _model(config=None, env=None, seed=0):
  keras.utils.set_random_seed(seed)
  return build_model(config or PRAEConfig(), env or envs.make("CartPole-v1", batch_size=1))


def test_default_sizes_and_parameter_count(cartpole):
  """The reference's CartPole network: 4-64-32-50 encoder, [z, onehot a]-100-50 latent
  action, 50-64-1 reward; 17,729 parameters, the count the reference prints."""
  model = _model(env=cartpole)
  assert model.encoder.count_params() == 4 * 64 + 64 + 64 * 32 + 32 + 32 * 50 + 50 == 4_050
  assert model.transition.count_params() == (50 + 2) * 100 + 100 + 100 * 50 + 50 == 10_350
  assert model.reward.count_params() == 50 * 64 + 64 + 64 + 1 == 3_329
  assert model.count_params() == 17_729
  obs = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
  z, z_next, reward = model([obs, np.arange(7, dtype=np.int32) % 2])
  assert z.shape == z_next.shape == (7, 50) and reward.shape == (7, 1)


@pytest.mark.parametrize(
  "encoder,init", [("mlp", "keras"), ("gcnn", "keras"), ("mlp", "reference")]
)
def test_keras_round_trip_in_safe_mode(tmp_path, cartpole, encoder, init):
  model = _model(PRAEConfig(encoder=encoder, init=init), cartpole)
  path = str(tmp_path / "prae.keras")
  model.save(path)
  again = keras.models.load_model(path, safe_mode=True)
  assert isinstance(again, PRAEModel) and again.count_params() == model.count_params()
  obs = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
  action = np.array([0, 1, 1, 0, 1], np.int32)
  for a, b in zip(model([obs, action]), again([obs, action])):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kind", ["gcnn", "relaxed"])
@pytest.mark.parametrize("env_name, latent", [("CartPole-v1", 50), ("GridWorld-v0", 48)])
def test_group_encoders_are_equivariant(kind, env_name, latent):
  """`Z(rho(g) s) = (P_g (x) I) Z(s)` for CartPole's mirror (C2) and the grid world's D4 (the
  relaxed encoder at initialisation)."""
  symmetry = envs.make(env_name).symmetry
  d = symmetry.state_dim
  encoder = build_encoder(kind, d, latent, (64, 32), symmetry)
  obs = np.random.default_rng(2).normal(size=(64, d)).astype(np.float32)
  rep = latent_representation(symmetry, latent)
  assert_equivariant(encoder, obs, symmetry.state_rep, rep, atol=1e-5)
  assert np.std(encoder(obs).numpy(), axis=0).max() > 1e-4  # not trivially equivariant
  # The check can fail: the MLP encoder is not equivariant.
  with pytest.raises(AssertionError, match="not equivariant"):
    assert_equivariant(build_encoder("mlp", d, latent), obs, symmetry.state_rep, rep, atol=1e-3)


def _dense_layers(model):
  return [layer for layer in model.submodules if isinstance(layer, keras.layers.Dense)]


def test_reference_init_draws_like_pytorch_linear():
  """init="reference": every Dense kernel and bias lies in +-1/sqrt(fan_in) and spreads
  over it (the biases are not zero); "keras" keeps zero biases. Bad kinds are named."""
  symmetry = cartpole_symmetry()
  keras.utils.set_random_seed(0)
  parts = [
    build_encoder("mlp", 4, 50, init="reference"),
    build_transition(50, 2, init="reference"),
    build_reward(50, init="reference"),
    build_decoder(50, 4, init="reference"),
  ]
  layers = [layer for part in parts for layer in _dense_layers(part)]
  assert len(layers) == 10  # 3 + 2 + 2 + 3
  for layer in layers:
    bound = 1.0 / np.sqrt(layer.kernel.shape[0])
    for w in (layer.kernel.numpy(), layer.bias.numpy()):
      assert np.all(np.abs(w) <= bound + 1e-7), layer.name
    if layer.kernel.shape.num_elements() >= 64:
      assert np.abs(layer.kernel.numpy()).max() > 0.8 * bound, layer.name
    assert np.any(layer.bias.numpy() != 0.0), layer.name
  for layer in _dense_layers(build_reward(50, init="keras")):
    assert np.all(layer.bias.numpy() == 0.0)
  # The group layers draw the same way and stay equivariant.
  obs = np.random.default_rng(3).normal(size=(64, 4)).astype(np.float32)
  encoder = build_encoder("gcnn", 4, 50, (64, 32), symmetry, init="reference")
  lift = encoder.get_layer("lift")
  assert np.all(np.abs(lift.kernel.numpy()) <= 0.5 + 1e-7)
  assert np.any(lift.bias.numpy() != 0.0)
  rep = latent_representation(symmetry, 50)
  assert_equivariant(encoder, obs, symmetry.state_rep, rep, atol=1e-5)
  with pytest.raises(ValueError, match=r"init must be one of \('reference', 'keras'\)"):
    build_encoder("mlp", 4, 50, init="torch")


def _numpy_forward(model, obs, action, negatives):
  """The three networks in NumPy from their weights."""

  def dense(layer, x, relu=False):
    kernel, bias = (w.numpy() for w in layer.weights)
    y = x @ kernel + bias
    return np.maximum(y, 0.0) if relu else y

  def encode(x):
    h = dense(model.encoder.get_layer("hidden_0"), x, True)
    h = dense(model.encoder.get_layer("hidden_1"), h, True)
    return dense(model.encoder.get_layer("latent"), h)

  def reward(z):
    return dense(
      model.reward.get_layer("reward"), dense(model.reward.get_layer("reward_hidden"), z, True)
    )[:, 0]

  z = encode(obs)
  onehot = np.eye(model.num_actions)[action]
  h = dense(model.transition.get_layer("action_hidden"), np.concatenate([z, onehot], 1), True)
  z_pred = z + dense(model.transition.get_layer("latent_action"), h)
  b, k, d = negatives.shape
  z_neg = encode(negatives.reshape(b * k, d)).reshape(b, k, -1)
  return z, z_pred, z_neg, reward, encode


@pytest.mark.parametrize("form", ["reference", "thesis"])
def test_loss_terms_match_numpy(form):
  model = _model()
  rng = np.random.default_rng(3)
  b, k = 16, 5
  batch = {
    "obs": rng.normal(size=(b, 4)).astype(np.float32),
    "action": rng.integers(0, 2, b).astype(np.int32),
    "next_obs": rng.normal(size=(b, 4)).astype(np.float32),
    "reward": rng.normal(size=b).astype(np.float32),
    "negatives": rng.normal(size=(b, k, 4)).astype(np.float32),
  }
  hinge = 1.5
  terms, _, _ = loss_terms(model, {n: tf.constant(v) for n, v in batch.items()}, hinge, form)
  z, z_pred, z_neg, reward, encode = _numpy_forward(
    model, batch["obs"], batch["action"], batch["negatives"]
  )
  z_next = encode(batch["next_obs"])
  square = np.sum((z_next - z_pred) ** 2, axis=1)
  if form == "reference":  # prae/losses.py: square_dist, 1/2 reward of z_hat, hinge vs z'
    expected = {
      "transition": square.mean(),
      "reward": 0.5 * np.mean((batch["reward"] - reward(z_pred)) ** 2),
      "contrastive": np.sum(
        np.maximum(0.0, hinge - 0.5 * np.sum((z_next[:, None] - z_neg) ** 2, -1))
      )
      / b,
    }
  else:  # thesis eqs. 3.6-3.7: d = 1/2 ||.||^2, reward of z, hinge vs z_hat
    expected = {
      "transition": 0.5 * square.mean(),
      "reward": 0.5 * np.mean((batch["reward"] - reward(z)) ** 2),
      "contrastive": np.sum(
        np.maximum(0.0, hinge - 0.5 * np.sum((z_neg - z_pred[:, None]) ** 2, -1))
      )
      / b,
    }
  for name, value in expected.items():
    np.testing.assert_allclose(float(terms[name]), value, rtol=1e-4, err_msg=name)
  assert 0.0 < expected["contrastive"]  # the hinge is active on this batch


def test_contrastive_hinge_is_zero_beyond_eps():
  z = tf.zeros([2, 3])
  far = tf.fill([2, 4, 3], 2.0)  # d = 1/2 * 3 * 4 = 6 > eps
  terms = latent_loss_terms(z, z, far, tf.zeros([2]), tf.zeros([2]), hinge=1.0)
  assert float(terms["contrastive"]) == 0.0 and float(terms["transition"]) == 0.0
  near = tf.zeros([2, 4, 3])  # d = 0: each negative costs eps
  assert float(latent_loss_terms(z, z, near, tf.zeros([2]), tf.zeros([2]))["contrastive"]) == 4.0


def test_ranking_metrics_match_numpy():
  rng = np.random.default_rng(4)
  target = rng.normal(size=(32, 6)).astype(np.float32)
  pred = (target + rng.normal(scale=0.8, size=target.shape)).astype(np.float32)
  got = ranking_metrics(tf.constant(pred), tf.constant(target))
  distance = ((pred[:, None] - target[None]) ** 2).sum(-1)
  rank = 1 + (distance < np.diag(distance)[:, None]).sum(1)
  np.testing.assert_allclose(float(got["hits_at_1"]), np.mean(rank == 1), rtol=1e-6)
  np.testing.assert_allclose(float(got["mrr"]), np.mean(1.0 / rank), rtol=1e-6)
  assert 0.0 < np.mean(rank == 1) < 1.0
  perfect = ranking_metrics(tf.constant(target), tf.constant(target))
  assert float(perfect["hits_at_1"]) == float(perfect["mrr"]) == 1.0
  # The training batch's size, with the reference's latent width: the same ranks as the
  # difference form.
  target = rng.normal(size=(1024, 50)).astype(np.float32)
  pred = (target + rng.normal(scale=1.2, size=target.shape)).astype(np.float32)
  got = ranking_metrics(tf.constant(pred), tf.constant(target))
  distance = ((pred[:, None].astype(np.float64) - target[None]) ** 2).sum(-1)
  rank = 1 + (distance < np.diag(distance)[:, None]).sum(1)
  np.testing.assert_allclose(float(got["hits_at_1"]), np.mean(rank == 1), rtol=1e-6)
  np.testing.assert_allclose(float(got["mrr"]), np.mean(1.0 / rank), rtol=1e-5)
  # A collapsed latent: every distance ties with the true one.
  same = np.ones((16, 50), np.float32) * 0.3
  collapsed = ranking_metrics(tf.constant(same), tf.constant(same))
  assert float(collapsed["hits_at_1"]) == 1.0


def _chain(n):
  """A deterministic chain 0..n-1 in a 2-d latent space: action 0 left, 1 right, both
  stay at the ends; the goal n-1 absorbs."""
  prototypes = np.stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)], 1)
  left = np.maximum(np.arange(n) - 1, 0)
  right = np.minimum(np.arange(n) + 1, n - 1)
  left[n - 1] = n - 1
  return prototypes, np.stack([prototypes[left], prototypes[right]])


def test_planner_on_a_chain_matches_closed_form():
  """Q(i, a) = R_i + gamma V(next): V*(i) = gamma^(n-1-i) / (1 - gamma) with reward 1 at the
  absorbing goal, from the softmax transitions of latents one unit apart (tau 0.01)."""
  n, gamma = 7, 0.9
  prototypes, next_latents = _chain(n)
  transitions = abstract_transitions(tf.constant(prototypes), tf.constant(next_latents), 0.01)
  transitions = transitions.numpy()
  np.testing.assert_allclose(transitions.sum(-1), 1.0, atol=1e-6)
  rewards = np.zeros(n, np.float32)
  rewards[-1] = 1.0
  plan = value_iteration(transitions, rewards, gamma, sweeps=500)
  v_star = gamma ** (n - 1 - np.arange(n)) / (1 - gamma)
  np.testing.assert_allclose(plan.values, v_star, rtol=1e-4)
  q_left = rewards + gamma * v_star[np.maximum(np.arange(n) - 1, 0)]
  q_left[-1] = rewards[-1] + gamma * v_star[-1]
  q_right = rewards + gamma * v_star[np.minimum(np.arange(n) + 1, n - 1)]
  np.testing.assert_allclose(plan.q_values, np.stack([q_left, q_right], 1), rtol=1e-4)
  # Few sweeps: exactly the truncated sum (V_k(goal) = sum_{t<k} gamma^t).
  short = value_iteration(transitions, rewards, gamma, sweeps=3)
  np.testing.assert_allclose(short.values[-1], 1 + gamma + gamma**2, rtol=1e-5)
  np.testing.assert_allclose(short.values[0], 0.0, atol=1e-6)


@pytest.mark.parametrize(
  "field,value,match",
  [
    ("tau", 0.0, "tau must be a finite number > 0"),
    ("gamma", 1.0, r"gamma must lie in \[0, 1\)"),
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("encoder", "cnn", "encoder must be one of"),
    ("loss_form", "paper", "loss_form must be one of"),
    ("reward", "dense", "reward must be one of"),
    ("objective", "vae", "objective must be one of"),
    ("decoder_hidden", (), "decoder_hidden must be None or a non-empty tuple"),
    ("decoder_hidden", (32, 0), "decoder_hidden must be a positive integer"),
    ("encoder_hidden", (), "encoder_hidden must be a non-empty tuple"),
    ("num_negatives", 2.5, "num_negatives must be a non-negative integer"),
    ("fold_prototypes", True, "needs equivariant=True"),
    ("equivariant", True, "needs a group encoder"),
    ("max_episode_steps", 0, "max_episode_steps must be a positive integer"),
    ("goal", (0.0, float("nan")), "goal must be a finite number"),
    ("init", "torch", "init must be one of"),
  ],
)
def test_bad_config(field, value, match):
  with pytest.raises(ValueError, match=match):
    PRAEConfig(**{field: value})


def test_bad_input_errors(episodes):
  model = _model()
  with pytest.raises(ValueError, match=r"observations must have shape \[batch, 4\]"):
    model.encode(np.zeros((3, 5), np.float32))
  with pytest.raises(ValueError, match=r"expected integers in \[0, 1\]"):
    check_episodes(dict(episodes[0], action=episodes[0]["action"] + 1), 4, 2)
  with pytest.raises(
    ValueError, match=r"integer actions of shape \[batch\] with values in \[0, 1\]"
  ):
    model([np.zeros((2, 4), np.float32), tf.constant([0, 2], tf.int32)])
  with pytest.raises(ValueError, match="lacks"):
    check_episodes({k: v for k, v in episodes[0].items() if k != "episode"}, 4, 2)
  with pytest.raises(ValueError, match="multiple of the group order 2"):
    build_encoder("gcnn", 4, 51, (64, 32), cartpole_symmetry())
  with pytest.raises(ValueError, match=r"transitions must have shape \[A, N, N\]"):
    value_iteration(np.ones((2, 3, 4)) / 4, np.zeros(3), 0.9)
  with pytest.raises(ValueError, match="probability distribution"):
    value_iteration(np.ones((2, 3, 3)), np.zeros(3), 0.9)


def test_collect_episodes_gives_whole_contiguous_episodes(episodes):
  train, held_out = episodes
  ep = train["episode"]
  assert np.all(np.diff(ep) >= 0) and set(ep) == set(range(50))
  last = np.r_[np.flatnonzero(np.diff(ep)), len(ep) - 1]
  assert np.all(train["terminated"][last]) and train["terminated"].sum() == 50
  same = ep[1:] == ep[:-1]
  np.testing.assert_array_equal(train["next_obs"][:-1][same], train["obs"][1:][same])
  assert set(held_out["episode"]) == set(range(50, 60))


@pytest.fixture(scope="module")
def trained(episodes):
  """A PRAE trained briefly (batch 128, 8 epochs) on 50 random CartPole episodes."""
  train, held_out = episodes
  config = PRAEConfig(epochs=8, batch_size=128, seed=0)
  model = _model(config)
  before = evaluate_ranking(model, held_out, 128)
  history = PRAETrainer(model, train, config).fit(held_out)
  return model, config, before, history


def test_learning_raises_hits_and_mrr_on_held_out_episodes(trained):
  """Chance is about 1/128 (ranked within batches of 128); a few epochs lift Hits@1 and MRR
  on held-out episodes well above chance and above the untrained model."""
  _, _, before, history = trained
  final = history[-1]
  assert final["val_hits_at_1"] >= 0.1 and final["val_hits_at_1"] >= 3 * before["hits_at_1"]
  assert final["val_mrr"] >= 2 * before["mrr"]
  assert history[-1]["loss"] < 0.7 * history[0]["loss"]
  assert all(set(r) >= {"transition", "reward", "contrastive", "hits_at_1", "mrr"} for r in history)


def test_training_is_deterministic(episodes):
  """Same seed, same epochs and weights, bit for bit; the epochs differ from each other (a
  new permutation and new negatives each)."""
  train = {k: v[:300] for k, v in episodes[0].items()}
  config = PRAEConfig(epochs=2, batch_size=128, seed=3)
  runs = []
  for _ in range(2):
    model = _model(config, seed=3)
    runs.append((PRAETrainer(model, train, config).fit(), model.get_weights()))
  assert runs[0][0] == runs[1][0]
  for a, b in zip(runs[0][1], runs[1][1]):
    np.testing.assert_array_equal(a, b)
  assert runs[0][0][0]["loss"] != runs[0][0][1]["loss"]


def test_lifted_policy_faces_agree(trained, episodes, cartpole):
  model, _, _, _ = trained
  mdp = build_abstract_mdp(model, episodes[0]["obs"], num_prototypes=200, seed=0)
  assert mdp.prototypes.shape == (201, 50) and mdp.goal_index == 200
  np.testing.assert_allclose(mdp.transitions.sum(-1), 1.0, atol=1e-5)
  plan = mdp.plan(sweeps=100)
  lifted = LiftedPolicy(model, mdp, plan)
  obs = episodes[1]["obs"][:32]
  # Nearest prototype's greedy action, checked in NumPy.
  z = model.encode(obs).numpy()
  nearest = np.argmin(((z[:, None] - mdp.prototypes[None]) ** 2).sum(-1), axis=1)
  expected = np.argmax(plan.q_values[nearest], axis=1)
  np.testing.assert_array_equal(lifted.action(obs).numpy(), expected)
  # The goal's encoding is its own nearest prototype, and its value the largest.
  assert int(lifted.nearest_prototype(np.zeros((1, 4), np.float32))[0]) == mdp.goal_index
  assert np.argmax(plan.values) == mdp.goal_index
  # The tf-agents face takes the same actions.
  tf_policy = lifted.as_tf_policy(cartpole.time_step_spec(), cartpole.action_spec())
  step = ts.restart(tf.constant(obs), batch_size=32)
  np.testing.assert_array_equal(tf_policy.action(step).action.numpy(), expected)
  np.testing.assert_array_equal(tf_policy.distribution(step).action.sample().numpy(), expected)
  with pytest.raises(ValueError, match=r"observations must have shape \[batch, 4\]"):
    lifted.q_values(np.zeros((2, 3), np.float32))
  # The pure function runs inside the compiled batched evaluator.
  returns = evaluate_lifted(lifted, "CartPole-v1", episodes=4, seed=0)
  # the same episodes as the eager greedy actions (checked above) played as logits
  as_logits = evaluation.evaluate_tf(
    lambda o: tf.one_hot(lifted.action(o), 2), "CartPole-v1", 4, greedy=True, seed=0
  )
  assert returns.shape == (4,)
  np.testing.assert_array_equal(returns, as_logits)


@pytest.mark.slow
def test_train_prae_writes_its_files(tmp_path):
  config = PRAEConfig(
    num_episodes=20,
    num_validation_episodes=4,
    epochs=3,
    batch_size=128,
    num_prototypes=64,
    sweeps=50,
    eval_episodes=4,
    encoder="gcnn",
  )
  run = train_prae(config, str(tmp_path))
  for name in ("history.csv", "summary.json", "model.keras", "plan.npz"):
    assert (tmp_path / name).exists()
  assert len(run.history) == 3 and run.summary["prototypes"] == 65
  assert run.summary["val_loss"] == run.history[-1]["val_loss"]
  assert "val_loss" in (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
  assert run.returns.shape == (4,)
  again = keras.models.load_model(str(tmp_path / "model.keras"))
  obs = np.zeros((1, 4), np.float32)
  np.testing.assert_allclose(again.encode(obs).numpy(), run.model.encode(obs).numpy())


def test_abstract_transitions_equal_the_direct_distances_over_orbits():
  """The expanded squared distances give the transitions of the direct differences
  (`softmax_j(-min_g ||z - rho(g) x_j||^2 / (2 tau))`), with and without an orbit."""
  rs = np.random.RandomState(0)
  n, k, actions = 40, 6, 3
  prototypes = rs.randn(n, k).astype(np.float32)
  next_latents = (prototypes[None] + 0.3 * rs.randn(actions, n, k)).astype(np.float32)
  orbit = np.stack([np.eye(k), -np.eye(k), np.linalg.qr(rs.randn(k, k))[0]]).astype(np.float32)
  for matrices in (None, orbit):
    points = (
      prototypes[None] if matrices is None else np.einsum("gkl,nl->gnk", matrices, prototypes)
    )
    diff = next_latents[None, :, :, None, :].astype(np.float64) - points[:, None, None]
    distance = 0.5 * (diff**2).sum(-1).min(0)
    expected = np.exp(-(distance - distance.min(-1, keepdims=True)) / 0.1)
    expected /= expected.sum(-1, keepdims=True)
    got = abstract_transitions(prototypes, next_latents, 0.1, matrices).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
