"""One transition-model training run with its files (model, history, summary, TensorBoard).

Shared by `launchers/train_transition.py` (one run) and `launchers/analyze_transition.py`
(the grid of thesis 4.7.5-4.7.6), so both train identically.
"""

from __future__ import annotations

import os
import time

import numpy as np
import tensorflow as tf

from tf_equirl import envs, results
from tf_equirl.models.data import dataset_dir, load_split
from tf_equirl.models.networks import build_transition_model
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.models.training import TrainConfig, TransitionTrainer
from tf_equirl.params import count_params

__all__ = ["label", "default_out", "action_splits", "train_one"]


def label(model: str, pool: str) -> str:
  return "mlp" if model == "mlp" else f"gcnn_{pool}"


def default_out(env_name, model, pool, dataset, seed):
  return os.path.join("runs", "transition", env_name, f"{label(model, pool)}_{dataset}",
                      f"seed_{seed}")


def action_splits(validation, num_actions):
  return {f"a{a}": validation["action"] == a for a in range(num_actions)}


def train_one(env_name: str, model: str, pool: str, dataset: str, epochs: int, seed: int,
              out: str, data_dir: str = "data", data_seed: int = 0, mask_terminal: bool = True,
              progress: bool = True, tensorboard: bool = True, command: str = ""):
  """Trains one model and writes its files; returns (keras model, history rows)."""
  env = envs.make(env_name, batch_size=1)
  spec = TransitionSpec.for_env(env)
  folder = dataset_dir(data_dir, env_name, data_seed)
  train, validation = load_split(folder, dataset), load_split(folder, "validation")
  tf.keras.utils.set_random_seed(seed)
  net = build_transition_model(model, spec, pool)
  trainer = TransitionTrainer(net, spec, TrainConfig(epochs=epochs, seed=seed,
                                                     mask_terminal=mask_terminal))
  os.makedirs(out, exist_ok=True)
  writer = tf.summary.create_file_writer(os.path.join(out, "tb")) if tensorboard else None

  def on_epoch(epoch, row):
    if writer is not None:
      with writer.as_default(step=epoch):
        for k, v in row.items():
          if k != "epoch" and np.isfinite(v):
            tf.summary.scalar(k, v)

  start = time.time()
  history = trainer.fit(train, validation, on_epoch=on_epoch, progress=progress,
                        validation_splits=action_splits(validation, spec.num_actions))
  seconds = time.time() - start
  net.save(os.path.join(out, "model.keras"))
  results.write_seed_csv(os.path.join(out, "history.csv"),
                         {k: [r[k] for r in history] for k in history[0]})
  summary = {"env": env_name, "model": label(model, pool), "dataset": dataset, "seed": seed,
             "epochs": epochs, "params": count_params(net), "train_size": len(train["action"]),
             "seconds": round(seconds, 1), "final": history[-1], "command": command,
             "mask_terminal": mask_terminal}
  results.write_json(os.path.join(out, "summary.json"), summary)
  return net, history
