"""PRAE's validation loss and the autoencoder baseline: the held-out loss against the loss
function on the held-out batch, reconstruction that falls, `.keras` round trip in safe mode,
and the planner on the autoencoder's latents."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from tf_equirl import evaluation
from tf_equirl.models import collect_episodes
from tf_equirl.prae import (
  PRAEConfig,
  PRAEModel,
  PRAETrainer,
  LiftedPolicy,
  autoencoder_loss_terms,
  build_abstract_mdp,
  build_decoder,
  build_model,
  evaluate_lifted,
  evaluate_ranking,
  loss_terms,
)

from support import held_out_episodes


@pytest.fixture(scope="module")
def episodes(cartpole):
  """40 random CartPole episodes: the first 30 for training, the last 10 held out."""
  return held_out_episodes(cartpole, 40, train=30, seed=1)


def _model(config, env, seed=0):
  keras.utils.set_random_seed(seed)
  return build_model(config, env)


@pytest.mark.parametrize("objective", ["contrastive", "autoencoder"])
def test_validation_loss_is_the_loss_on_the_held_out_batch(cartpole, episodes, objective):
  """After each epoch the held-out loss is finite, differs from the training loss, and equals
  the loss function applied to the held-out batch directly (batches of 64: the held-out set
  is measured in several batches and the means weighted by their sizes)."""
  train, held_out = episodes
  assert len(held_out["action"]) > 64
  config = PRAEConfig(epochs=2, batch_size=64, seed=2, objective=objective)
  model = _model(config, cartpole, seed=2)
  trainer = PRAETrainer(model, train, config)
  history = trainer.fit(held_out)
  terms = trainer.terms
  for row in history:
    assert set(row) >= {f"val_{k}" for k in (*terms, "loss", "hits_at_1", "mrr")}
    assert np.isfinite(row["val_loss"]) and row["val_loss"] != row["loss"]
  batch = trainer.validation_batch(held_out)
  if objective == "contrastive":
    direct, _, _ = loss_terms(model, batch, config.hinge, config.loss_form)
  else:
    direct, _, _ = autoencoder_loss_terms(model, batch, config.loss_form)
  final = history[-1]
  for k in terms:
    np.testing.assert_allclose(final[f"val_{k}"], float(direct[k]), rtol=1e-5, err_msg=k)
  np.testing.assert_allclose(
    final["val_loss"], float(tf.add_n([direct[k] for k in terms])), rtol=1e-5
  )
  ranking = evaluate_ranking(model, held_out, config.batch_size)
  np.testing.assert_allclose(final["val_hits_at_1"], ranking["hits_at_1"], atol=1e-6)
  np.testing.assert_allclose(final["val_mrr"], ranking["mrr"], atol=1e-6)


def test_validation_negatives_come_from_their_own_episode(cartpole, episodes):
  """The held-out negatives are states of the transition's own episode, and the same batch
  every call (the validation losses of successive epochs measure the same sample)."""
  held_out = episodes[1]
  config = PRAEConfig(epochs=1, batch_size=64, num_negatives=3)
  trainer = PRAETrainer(_model(config, cartpole), episodes[0], config)
  batch = trainer.validation_batch(held_out)
  assert batch["negatives"].shape == (len(held_out["action"]), 3, 4)
  negatives = batch["negatives"].numpy()
  for i in range(0, len(held_out["action"]), 7):
    own = held_out["obs"][held_out["episode"] == held_out["episode"][i]]
    for negative in negatives[i]:
      assert np.any(np.all(own == negative, axis=1))
  np.testing.assert_array_equal(negatives, trainer.validation_batch(held_out)["negatives"].numpy())
  with pytest.raises(ValueError, match="the batch lacks"):
    trainer.evaluate({k: v for k, v in batch.items() if k != "negatives"})


def test_autoencoder_loss_terms_match_numpy(cartpole):
  config = PRAEConfig(objective="autoencoder")
  model = _model(config, cartpole)
  rng = np.random.default_rng(4)
  b = 12
  batch = {
    "obs": rng.normal(size=(b, 4)).astype(np.float32),
    "action": rng.integers(0, 2, b).astype(np.int32),
    "next_obs": rng.normal(size=(b, 4)).astype(np.float32),
    "reward": rng.normal(size=b).astype(np.float32),
  }
  terms, _, _ = autoencoder_loss_terms(model, {k: tf.constant(v) for k, v in batch.items()})
  assert set(terms) == {"transition", "reward", "reconstruction"}
  states = np.concatenate([batch["obs"], batch["next_obs"]])
  z = model.encoder(states).numpy()
  decoded = model.decoder(z).numpy()
  np.testing.assert_allclose(
    float(terms["reconstruction"]), np.mean(np.sum((decoded - states) ** 2, -1)), rtol=1e-5
  )
  z_pred = model.transition([z[:b], batch["action"]]).numpy()
  np.testing.assert_allclose(
    float(terms["transition"]), np.mean(np.sum((z[b:] - z_pred) ** 2, -1)), rtol=1e-5
  )
  reward = model.reward(z_pred).numpy()[:, 0]
  np.testing.assert_allclose(
    float(terms["reward"]), 0.5 * np.mean((batch["reward"] - reward) ** 2), rtol=1e-5
  )
  no_decoder = _model(PRAEConfig(), cartpole)
  with pytest.raises(ValueError, match="has no decoder"):
    autoencoder_loss_terms(no_decoder, {k: tf.constant(v) for k, v in batch.items()})
  with pytest.raises(ValueError, match="needs a PRAEModel with a decoder"):
    PRAETrainer(no_decoder, collect_episodes(cartpole, 2, seed=0), config)


def test_decoder_mirrors_the_encoder(cartpole):
  """Default decoder: the encoder's widths reversed, 50 -> 32 -> 64 -> 4."""
  model = _model(PRAEConfig(objective="autoencoder"), cartpole)
  widths = [layer.units for layer in model.decoder.layers if hasattr(layer, "units")]
  assert widths == [32, 64, 4]
  assert model.decoder.count_params() == 50 * 32 + 32 + 32 * 64 + 64 + 64 * 4 + 4
  assert model.count_params() == 17_729 + model.decoder.count_params()
  wide = _model(PRAEConfig(objective="autoencoder", decoder_hidden=(16,)), cartpole)
  assert [layer.units for layer in wide.decoder.layers if hasattr(layer, "units")] == [16, 4]
  with pytest.raises(ValueError, match="decoder: widths must be positive integers"):
    build_decoder(50, 4, (0,))
  with pytest.raises(ValueError, match="decoder must map latents of width 50"):
    PRAEModel(model.encoder, model.transition, model.reward, build_decoder(50, 3))
  with pytest.raises(ValueError, match="has no decoder"):
    _model(PRAEConfig(), cartpole).decode(np.zeros((1, 50), np.float32))


@pytest.fixture(scope="module")
def autoencoder(cartpole, episodes):
  """The autoencoder baseline trained briefly (batch 128, 12 epochs) with its reconstruction
  error on held-out states before training."""
  config = PRAEConfig(objective="autoencoder", epochs=12, batch_size=128, seed=0)
  model = _model(config, cartpole)
  trainer = PRAETrainer(model, episodes[0], config)
  before = trainer.evaluate(trainer.validation_batch(episodes[1]))
  return model, config, before, trainer.fit(episodes[1])


def test_autoencoder_reconstruction_falls(autoencoder):
  _, _, before, history = autoencoder
  assert all("contrastive" not in row and "val_contrastive" not in row for row in history)
  final = history[-1]
  assert final["reconstruction"] < 0.5 * history[0]["reconstruction"]
  assert final["val_reconstruction"] < 0.5 * before["reconstruction"]
  assert final["val_loss"] < before["loss"]


def test_autoencoder_reloads_in_safe_mode_and_plans(tmp_path, autoencoder, episodes):
  model, _, _, _ = autoencoder
  path = str(tmp_path / "autoencoder.keras")
  model.save(path)
  again = keras.models.load_model(path, safe_mode=True)
  assert isinstance(again, PRAEModel) and again.decoder is not None
  obs = episodes[1]["obs"][:9]
  z = model.encode(obs)
  np.testing.assert_array_equal(again.encode(obs).numpy(), z.numpy())
  np.testing.assert_array_equal(again.decode(z).numpy(), model.decode(z).numpy())
  # The planner and the lifted policy run on the autoencoder's latents.
  mdp = build_abstract_mdp(again, episodes[0]["obs"], num_prototypes=64, seed=0)
  assert mdp.prototypes.shape == (65, 50) and mdp.goal_index == 64
  np.testing.assert_allclose(mdp.transitions.sum(-1), 1.0, atol=1e-5)
  plan = mdp.plan(sweeps=50)
  assert np.argmax(plan.values) == mdp.goal_index
  lifted = LiftedPolicy(again, mdp, plan)
  latents = again.encode(obs).numpy()
  nearest = np.argmin(((latents[:, None] - mdp.prototypes[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(
    lifted.action(obs).numpy(), np.argmax(plan.q_values[nearest], axis=1)
  )
  returns = evaluate_lifted(lifted, "CartPole-v1", episodes=2, seed=0)
  as_logits = evaluation.evaluate_tf(
    lambda o: tf.one_hot(lifted.action(o), 2), "CartPole-v1", 2, greedy=True, seed=0
  )
  assert returns.shape == (2,)
  np.testing.assert_array_equal(returns, as_logits)
