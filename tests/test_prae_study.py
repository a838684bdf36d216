"""The PRAE study's configs and report (the runs themselves: tests/test_reproduce_all.py)."""

import json

import numpy as np
import pytest

from tf_equirl.experiments import prae_study as study


def test_every_row_has_a_valid_config():
  config = study.PRAEStudyConfig()
  for task in study.TASKS:
    for model in study.MODELS:
      run = study.task_config(config, task, model, 100, 3)
      assert run.num_episodes == 100 and run.seed == 3 and run.num_validation_episodes == 20
      if model == "equivariant":
        assert run.equivariant and run.fold_prototypes == (task not in study.UNFOLDED)
      assert run.objective == ("autoencoder" if model == "autoencoder" else "contrastive")
  assert study.task_config(config, "CartPole-v0", "prae", 10, 0).max_episode_steps == 200
  with pytest.raises(ValueError, match="models must be a non-empty tuple"):
    study.PRAEStudyConfig(models=("vae",))


def test_report_tables_and_comparisons():
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0", "KeyRoom-v0"),
    budgets=(100,),
    models=("prae", "equivariant", "autoencoder"),
    seeds=3,
  )
  rng = np.random.default_rng(0)
  rows = {}
  for task in config.tasks:
    for model in config.models:
      rows[(task, 100, model)] = [
        {c: float(rng.normal()) for c in study._column_names(task)} for _ in range(3)
      ]
  text = study._report(config, rows)
  assert "## CartPole-v0" in text and "## KeyRoom-v0" in text
  assert "| 100 | equivariant |" in text and "success_test_doors" in text
  values = [r["return"] for r in rows[("CartPole-v0", 100, "prae")]]
  mean = np.mean(values)
  assert f"{mean:.3f} +- " in text
  assert "equivariant (100 episodes) - prae (100 episodes)" in text
  assert "| 100 | autoencoder |" in text and "| val_loss |" in text
  assert "autoencoder (100 episodes) - prae (100 episodes)" in text
  # A run saved before the val_loss column existed: its cell says so.
  for row in rows[("CartPole-v0", 100, "prae")]:
    del row["val_loss"]
  assert "| 100 | prae | " in study._report(config, rows)
  line = next(x for x in study._report(config, rows).splitlines() if x.startswith("| 100 | prae |"))
  assert line.split(" | ")[3] == "n/a"


@pytest.mark.slow
def test_quick_study_runs_an_autoencoder_row(tmp_path):
  """One tiny autoencoder run through the study (2 epochs, 3 episodes) gives finite cells."""
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0",),
    budgets=(3,),
    models=("autoencoder",),
    seeds=1,
    epochs=2,
    batch_size=64,
    num_prototypes=16,
    sweeps=10,
    eval_episodes=2,
    runs=str(tmp_path / "runs"),
    report=str(tmp_path / "README.md"),
  )
  text = open(study.run(config), encoding="utf-8").read()
  assert "| 3 | autoencoder |" in text
  path = study._run_path(config, "CartPole-v0", "autoencoder", 3, 0)
  with open(path, encoding="utf-8") as f:
    row = json.load(f)
  assert set(row) == {"loss", "val_loss", "hits_at_1", "return"}
  assert all(np.isfinite(v) for v in row.values()) and row["return"] >= 1
