"""SeedBatchTransitionTrainer: N transition-model seeds in one program equal N lone runs."""

import os

import numpy as np
import pytest
import tensorflow as tf

from tf_equirl import envs
from tf_equirl.models import (
  TrainConfig,
  TransitionSpec,
  TransitionTrainer,
  build_transition_model,
  collect_transitions,
)
from tf_equirl.models.seed_batch import SeedBatchTransitionTrainer

keras = tf.keras

# Weights after training equal the lone run's to this relative (L2) difference: the seed axis
# changes only how XLA sums, not what is computed.
RELATIVE = 1e-5
CONFIG = TrainConfig(epochs=2, batch_size=32)


def _flat(values):
  return np.concatenate([np.asarray(v).ravel() for v in values])


def _data(env_name, n=192):
  env = envs.make(env_name, batch_size=1)
  return TransitionSpec.for_env(env), collect_transitions(env, None, n, seed=11, num_envs=16)


@pytest.fixture(scope="module")
def cartpole():
  return _data("CartPole-v1")


@pytest.fixture(scope="module")
def catch():
  return _data("Catch-v0")


def _lone(build, spec, train, seed, validation=None):
  """`train_one`'s run without its files: global seed, model, trainer, fit."""
  keras.utils.set_random_seed(seed)
  net = build()
  history = TransitionTrainer(net, spec, TrainConfig(**{**CONFIG.__dict__, "seed": seed})).fit(
    train, validation
  )
  return _flat([v.numpy() for v in net.trainable_variables]), history


@pytest.mark.parametrize(
  "data,model,pool",
  [
    ("cartpole", "mlp", "mean"),
    ("catch", "gcnn", "proximal"),
    pytest.param("cartpole", "gcnn", "mean", marks=pytest.mark.slow),
  ],
)
def test_seeds_match_lone_runs_after_each_epoch(data, model, pool, request):
  spec, train = request.getfixturevalue(data)
  build = lambda: build_transition_model(model, spec, pool)  # noqa: E731
  seeds = [3, 0, 5]
  trainer = SeedBatchTransitionTrainer(build, spec, seeds, CONFIG)
  validation = {k: v[:64] for k, v in train.items()}
  histories = trainer.fit(train, validation)
  assert trainer.tracing_count == 1  # one program for every epoch
  params, history = _lone(build, spec, train, seeds[2], validation)
  ours = _flat(trainer.weights(2))
  assert np.linalg.norm(ours - params) <= RELATIVE * np.linalg.norm(params)
  assert [r["epoch"] for r in histories[2]] == [0, 1, 2]
  for mine, theirs in zip(histories[2], history):
    np.testing.assert_allclose(mine["train_loss"], theirs["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(mine["val_loss"], theirs["val_loss"], rtol=1e-4)
  # The seeds trained differently, and seed k's model is an ordinary Keras model.
  assert np.linalg.norm(_flat(trainer.weights(0)) - ours) > 0.1 * np.linalg.norm(ours)
  net = trainer.model(2)
  np.testing.assert_array_equal(_flat(net.trainable_weights), ours)


def test_one_seeds_huge_loss_does_not_change_another_seeds_update(cartpole):
  spec, train = cartpole
  build = lambda: build_transition_model("mlp", spec)  # noqa: E731
  config = TrainConfig(epochs=1, batch_size=32)
  plain = SeedBatchTransitionTrainer(build, spec, [1, 2], config)
  plain.fit(train)
  scaled = SeedBatchTransitionTrainer(build, spec, [1, 2], config)
  scaled._loss_scale = np.array([1e6, 1.0], np.float32)  # pylint: disable=protected-access
  scaled.fit(train)
  np.testing.assert_allclose(
    _flat(scaled.weights(1)), _flat(plain.weights(1)), rtol=1e-6, atol=1e-7
  )
  # Seed 1's steps were clipped by its own norm: its update differs, but stays bounded.
  moved = np.linalg.norm(_flat(scaled.weights(0)) - _flat(plain.weights(0)))
  assert 0 < moved < 1.0


def test_bad_arguments_are_named(cartpole):
  spec, train = cartpole
  build = lambda: build_transition_model("mlp", spec)  # noqa: E731
  with pytest.raises(ValueError, match="seeds must be a non-empty list"):
    SeedBatchTransitionTrainer(build, spec, [])
  with pytest.raises(ValueError, match="spec must be a tf_equirl.models.TransitionSpec"):
    SeedBatchTransitionTrainer(build, "CartPole", [0])
  trainer = SeedBatchTransitionTrainer(build, spec, [0], TrainConfig(epochs=1, batch_size=512))
  with pytest.raises(ValueError, match="batch_size=512 does not fit a dataset of 192"):
    trainer.fit(train)
  with pytest.raises(ValueError, match="train lacks the arrays"):
    trainer.fit({"obs": train["obs"]})
  with pytest.raises(ValueError, match="seed index 4 is out of range"):
    trainer.weights(4)


@pytest.fixture(scope="module")
def saved_data(tmp_path_factory, cartpole):
  from tf_equirl.models.data import dataset_dir, save_split

  _, train = cartpole
  root = str(tmp_path_factory.mktemp("data"))
  folder = dataset_dir(root, "CartPole-v1", 0)
  save_split(folder, "joint", train)
  save_split(folder, "validation", {k: v[:64] for k, v in train.items()})
  return root


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_transition_study_trains_a_cells_seeds_together_unless_told_not_to(
  saved_data, tmp_path, monkeypatch
):
  from tf_equirl.experiments import transition_study

  monkeypatch.setattr(transition_study, "DATASETS", ("joint",))
  monkeypatch.setattr(transition_study, "MODELS", (("mlp", "mean"),))
  monkeypatch.setattr(transition_study, "LABELS", ["mlp"])
  finals = {}
  for vectorize in (True, False):
    config = transition_study.TransitionStudyConfig(
      epochs=1,
      seeds=2,
      progress=False,
      data_dir=saved_data,
      runs_dir=str(tmp_path / "runs"),
      retrain=True,
      vectorize_seeds=vectorize,
    )
    runs = transition_study.train_grid(config)
    summaries = transition_study._summaries(runs[("mlp", "joint")])  # pylint: disable=W0212
    assert [s["seed"] for s in summaries] == [0, 1]
    assert [s.get("seeds_together", 1) for s in summaries] == [2 if vectorize else 1] * 2
    assert summaries[1]["command"].endswith("--seed=1 --data_seed=0")
    assert os.listdir(os.path.join(runs[("mlp", "joint")][1], "tb"))
    finals[vectorize] = [s["final"]["val_rms"] for s in summaries]
  # Each seed trained together is its lone run (train_one) up to float rounding.
  np.testing.assert_allclose(finals[True], finals[False], rtol=1e-4)
