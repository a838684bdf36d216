"""The PRAE study's configs and report (the runs themselves: tests/test_reproduce_all.py)."""

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
  assert study.task_config(config, "CartPole-v0", "prae", 10, 0).max_episode_steps == 200
  with pytest.raises(ValueError, match="models must be a non-empty tuple"):
    study.PRAEStudyConfig(models=("vae",))


def test_report_tables_and_comparisons():
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0", "KeyRoom-v0"), budgets=(100,), models=("prae", "equivariant"), seeds=3
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
