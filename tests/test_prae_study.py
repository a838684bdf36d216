"""The PRAE study's configs and report (the runs themselves: tests/test_reproduce_all.py)."""

import json

import numpy as np
import pytest

from tf_equirl.experiments import prae_baselines
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
    baselines=(),
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


def test_left_push_row_runs_on_cartpole_only_and_is_compared_with_equivariant():
  """`equivariant_left` keeps action 0's transitions, exists on CartPole alone, and its
  comparison is with `equivariant` (the same model on all the data), not with `prae`."""
  run = study.task_config(study.PRAEStudyConfig(), "CartPole-v0", "equivariant_left", 100, 0)
  assert run.data_actions == (0,) and run.equivariant and run.fold_prototypes
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0", "Catch-v0"),
    budgets=(100,),
    models=("prae", "equivariant", "equivariant_left"),
    baselines=(),
    seeds=3,
  )
  assert study._models(config, "CartPole-v0") == ["prae", "equivariant", "equivariant_left"]
  assert study._models(config, "Catch-v0") == ["prae", "equivariant"]
  rng = np.random.default_rng(1)
  rows = {
    (task, 100, model): [
      {c: float(rng.normal()) for c in study._column_names(task) + ["real_steps"]} for _ in range(3)
    ]
    for task in config.tasks
    for model in study._models(config, task)
  }
  text = study._report(config, rows)
  cartpole, catch = text.split("## Catch-v0")
  assert "| 100 | equivariant_left |" in cartpole and "equivariant_left" not in catch
  assert "equivariant_left (100 episodes) - equivariant (100 episodes)" in cartpole
  assert "equivariant_left (100 episodes) - prae (100 episodes)" not in text


@pytest.mark.slow
def test_quick_study_runs_an_autoencoder_row(tmp_path):
  """Two tiny autoencoder runs through the study (2 epochs, 3 episodes), each trained in a
  fresh process, give finite cells."""
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0",),
    budgets=(3,),
    models=("autoencoder",),
    baselines=(),
    seeds=2,
    runs_per_process=1,
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
  assert set(row) == {"loss", "val_loss", "hits_at_1", "return", "real_steps", "fingerprint"}
  row.pop("fingerprint")
  assert all(np.isfinite(v) for v in row.values()) and row["return"] >= 1
  assert study._saved_run(config, "CartPole-v0", "autoencoder", 3, 1) is not None


def test_baseline_budgets_fit_the_smallest_data_in_whole_iterations():
  # PPO: the fewest transitions over the seeds (1,300), rounded down to iterations of 512.
  assert prae_baselines.baseline_budget("ppo", [2_200, 1_300, 1_900], [0, 0, 0], 512) == 1_024
  # Supervised-Dyna acts for what its model's half leaves: min(2,200-1,100, 1,300-400) = 900.
  assert prae_baselines.baseline_budget("supervised_dyna", [2_200, 1_300], [1_100, 400], 200) == 800
  # Less than one iteration of data: one iteration (the report's real_steps shows it).
  assert prae_baselines.baseline_budget("ppo", [300], [0], 512) == 512
  with pytest.raises(ValueError, match="Unknown PRAE baseline 'sac'"):
    prae_baselines.baseline_budget("sac", [1], [0], 1)


def test_baselines_are_checked():
  with pytest.raises(ValueError, match="baselines must be a tuple of"):
    study.PRAEStudyConfig(baselines=("sac",))
  for field in ("dyna_planned_steps", "dyna_model_epochs"):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer or None"):
      study.PRAEStudyConfig(**{field: 0})
  for bad in (-1, 1.5, True):
    with pytest.raises(ValueError, match="runs_per_process must be an integer >= 0"):
      study.PRAEStudyConfig(runs_per_process=bad)
  with pytest.raises(ValueError, match="runs on .* not 'KeyRoom-v0'"):
    prae_baselines.run_baseline(
      study.PRAEStudyConfig(), "KeyRoom-v0", 100, "ppo", "unused", configs=[]
    )


def test_report_sets_each_baseline_against_prae_where_it_runs():
  config = study.PRAEStudyConfig(
    tasks=("CartPole-v0", "GridWorld-v0", "KeyRoom-v0"), budgets=(100,), models=("prae",), seeds=3
  )
  rng = np.random.default_rng(1)
  rows = {}
  for task in config.tasks:
    rows[(task, 100, "prae")] = [
      dict({c: float(rng.normal()) for c in study._column_names(task)}, real_steps=2_000 + k)
      for k in range(3)
    ]
    for name in study._baselines(config, task):
      rows[(task, 100, name)] = [
        {"return": float(rng.normal()), "real_steps": 1_536} for _ in range(3)
      ]
  assert study._baselines(config, "CartPole-v0") == ["ppo", "supervised_dyna"]
  assert study._baselines(config, "GridWorld-v0") == ["ppo"]
  assert study._baselines(config, "KeyRoom-v0") == []
  text = study._report(config, rows)
  ppo = next(x for x in text.splitlines() if x.startswith("| 100 | ppo |"))
  mean = np.mean([r["return"] for r in rows[("CartPole-v0", 100, "ppo")]])
  assert ppo.split(" | ")[2:5] == ["-", "-", "-"] and f"{mean:.3f} +- " in ppo
  assert ppo.endswith("| 1536 +- 0 |")
  assert "| 100 | prae | " in text and "| 2001 +- " in text
  assert "supervised_dyna (100 episodes) - prae (100 episodes)" in text
  assert text.count("ppo (100 episodes) - prae (100 episodes)") == 2  # CartPole, grid world
  keyroom = text.split("## KeyRoom-v0")[1]
  assert "ppo" not in keyroom.split("###")[0]


def test_supervised_dyna_model_data_is_the_first_half_of_the_episodes():
  episode = np.repeat(np.arange(10), 3)
  data = {"episode": episode, "action": np.arange(30)}
  half = prae_baselines._first_half(data, 10)
  assert set(half["episode"]) == {0, 1, 2, 3, 4} and list(half["action"]) == list(range(15))
  assert set(prae_baselines._first_half(data, 1)["episode"]) == {0}


def test_saved_runs_are_reused_only_for_the_same_fingerprint(tmp_path):
  path = str(tmp_path / "runs" / "seed_0.json")
  assert study._saved(path, "abc") is None  # nothing saved
  study._save(path, {"return": 12.0}, "abc")
  assert study._saved(path, "abc") == {"return": 12.0}
  assert study._saved(path, "other settings or code") is None
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"return": 12.0}, f)  # saved before runs carried a fingerprint
  assert study._saved(path, "abc") is None


def test_fingerprints_follow_the_settings_of_a_run():
  from tf_equirl import runs

  base = study.PRAEStudyConfig()
  one = runs.seed_fingerprint(study.task_config(base, "CartPole-v0", "prae", 100, 0), 0)
  fewer = study.PRAEStudyConfig(epochs=30)
  assert one == runs.seed_fingerprint(study.task_config(base, "CartPole-v0", "prae", 100, 0), 0)
  assert one != runs.seed_fingerprint(study.task_config(fewer, "CartPole-v0", "prae", 100, 0), 0)
  key = prae_baselines.BaselineRun.of(base, "CartPole-v0", 100, "supervised_dyna")
  planned = prae_baselines.BaselineRun.of(
    study.PRAEStudyConfig(dyna_planned_steps=1_000), "CartPole-v0", 100, "supervised_dyna"
  )
  assert key != planned and runs.config_hash(key) != runs.config_hash(planned)
  # PPO does not plan: the Dyna settings do not change its runs.
  assert prae_baselines.BaselineRun.of(base, "CartPole-v0", 100, "ppo") == (
    prae_baselines.BaselineRun.of(
      study.PRAEStudyConfig(dyna_planned_steps=1_000), "CartPole-v0", 100, "ppo"
    )
  )
