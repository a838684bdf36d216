"""The PRAE study: learned MDP homomorphisms by data budget, model and task.

Rows: data budgets (random-policy episodes) x models x tasks. Models:

* `prae`: the reference's PRAE (MLP encoder, latent action and reward);
* `equivariant`: equivariant PRAE (G-CNN encoder, equivariant latent action, invariant
  reward) planning on the quotient by the group (`fold_prototypes`), except on KeyRoom,
  whose goal (a door off the diagonal) is not invariant (`UNFOLDED`);
* `no_negatives`: PRAE without the contrastive term (`num_negatives=0`);
* `equivariant_left`: equivariant PRAE trained on the left pushes alone (`data_actions=(0,)`:
  the episodes' transitions of action 0), CartPole only (`MODEL_TASKS`); compared with
  `equivariant` (`COMPARED_WITH`), whose data it halves;
* `keras_init`: PRAE whose weights start from Keras' defaults (Glorot-uniform kernels, zero
  biases) instead of as the reference's PyTorch layers do (`PRAEConfig.init`);
* `thesis_loss`: PRAE trained on the thesis' written form of the loss (eqs. 3.6-3.7,
  `loss_form="thesis"`; `tf_equirl.prae.losses` lists how it differs);
* `autoencoder`: the paper's baseline, the reference's encoder with a mirrored decoder
  trained on reconstruction, transition and reward losses (`objective="autoencoder"`), then
  the same prototypes, value iteration and lifted policy.

Baselines beside them (`tf_equirl.experiments.prae_baselines`), at no more real transitions
than the row's PRAE data: `ppo` (model-free) and `supervised_dyna` (Equi-Dyna's world model
learned from the same random episodes, then planning).

Tasks (`TASKS`): CartPole with CartPole-v0's 200-step episodes and the upright goal, Catch
and the D4 grid world with the learned reward, and KeyRoom with a goal per door, evaluated
on its four training doors (corners) and on held-out doors (`ROOM_TEST_DOORS`).

Columns, per row, over the seeds (mean +- 2 SE of the per-seed values): the last epoch's
training loss, its loss and Hits@1 on held-out episodes (the loss is each model's own
objective, so losses compare across budgets and seeds, not across models), and the lifted policy's mean return (KeyRoom: success
rate on training and held-out doors) over `eval_episodes` episodes per seed, and the real
transitions the row learned from (`real_steps`). The comparisons table
(`tf_equirl.stats.compare`, paired over seeds) sets every model and baseline against `prae`
at the same task and budget (`equivariant_left` against `equivariant`, `COMPARED_WITH`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tf_equirl import checks, envs, results, runs
from tf_equirl.experiments import _compare
from tf_equirl.experiments._arms import run_in_fresh_process
from tf_equirl.experiments.prae_baselines import (
  BASELINE_TASKS,
  BASELINES,
  BaselineRun,
  run_baseline,
)
from tf_equirl.prae import (
  PRAEConfig,
  PRAETrainer,
  build_model,
  collect_data,
  env_kwargs,
  plan_and_evaluate,
)

__all__ = [
  "PRAEStudyConfig",
  "BASELINES",
  "MODELS",
  "MODEL_TASKS",
  "COMPARED_WITH",
  "TASKS",
  "ROOM_TEST_DOORS",
  "task_config",
  "run",
]

MODELS: Dict[str, Dict[str, Any]] = {
  "prae": {},
  "equivariant": dict(encoder="gcnn", equivariant=True, fold_prototypes=True),
  "no_negatives": dict(num_negatives=0),
  "equivariant_left": dict(
    encoder="gcnn", equivariant=True, fold_prototypes=True, data_actions=(0,)
  ),
  "keras_init": dict(init="keras"),
  "thesis_loss": dict(loss_form="thesis"),
  "autoencoder": dict(objective="autoencoder"),
}
# Models that run on some tasks only (elsewhere the row is skipped): on CartPole the left
# push is half of the mirror's action orbit; other tasks have actions that the mirror fixes.
MODEL_TASKS: Dict[str, Tuple[str, ...]] = {"equivariant_left": ("CartPole-v0",)}
# The model each row is compared with (default `prae`).
COMPARED_WITH: Dict[str, str] = {"equivariant_left": "equivariant"}
# Per task: the PRAEConfig fields (widths divisible by |G|: C2 for CartPole, Catch and the
# room, D4 for the grid world).
TASKS: Dict[str, Dict[str, Any]] = {
  "CartPole-v0": dict(env_name="CartPole-v1", max_episode_steps=200, reward="goal"),
  "Catch-v0": dict(env_name="Catch-v0", max_episode_steps=9, reward="learned"),
  "GridWorld-v0": dict(
    env_name="GridWorld-v0",
    max_episode_steps=50,
    reward="learned",
    latent_dim=48,
    encoder_hidden=(64, 32),
    action_hidden=96,
  ),
  "KeyRoom-v0": dict(env_name="KeyRoom-v0", reward="goal"),
}
# Tasks whose goal is not invariant: planning on the quotient would reward the goal's mirror
# image too (the room's door (r, c) and (c, r)), so their equivariant model plans unfolded.
UNFOLDED = ("KeyRoom-v0",)
# Held-out doors: interior cells off the corners (the reference tests on any free cell).
ROOM_TEST_DOORS = ((1, 3), (2, 5), (3, 1), (3, 4), (4, 2), (4, 6), (6, 3), (5, 1))


@dataclasses.dataclass(frozen=True)
class PRAEStudyConfig:
  """Settings of the PRAE study.

  Attributes:
    tasks: names of `TASKS`.
    budgets: training episodes per run.
    models: names of `MODELS`.
    seeds: seeds 0..seeds-1 per row.
    epochs, batch_size, num_prototypes, sweeps, eval_episodes: as in `PRAEConfig`.
    baselines: names of `prae_baselines.BASELINES` run beside the models (each on its
      `BASELINE_TASKS` among `tasks`); () for none.
    dyna_planned_steps: Supervised-Dyna's planned steps per run; None: the environment's
      PPO budget (`default_config(env).total_steps`).
    dyna_model_epochs: epochs of Supervised-Dyna's world model; None: the thesis' (CartPole
      100, Catch 10).
    runs_per_process: unfinished runs trained per fresh process
      (`_arms.run_in_fresh_process`; a baseline's row is one process). XLA keeps each run's
      compiled programs for the life of its process, about 1 GB per PRAE run on the grid
      world, so a study in one process runs out of memory; 0 trains in this process.
    runs: folder of per-run summaries (finished runs are reused).
    results: the study's results folder.
    report: path of the report.
    command: the command written into the report.
  """

  tasks: Tuple[str, ...] = tuple(TASKS)
  budgets: Tuple[int, ...] = (100, 1000)
  models: Tuple[str, ...] = tuple(MODELS)
  seeds: int = 16
  epochs: int = 100
  batch_size: int = 1024
  num_prototypes: int = 1024
  sweeps: int = 500
  eval_episodes: int = 100
  baselines: Tuple[str, ...] = BASELINES
  dyna_planned_steps: Optional[int] = None
  dyna_model_epochs: Optional[int] = None
  runs_per_process: int = 4
  runs: str = "runs/prae"
  results: str = "runs/prae/report"
  report: str = "runs/prae/report/README.md"
  command: str = ""

  def __post_init__(self):
    for name, allowed in (("tasks", TASKS), ("models", MODELS)):
      unknown = [v for v in getattr(self, name) if v not in allowed]
      if unknown or not getattr(self, name):
        raise ValueError(
          f"PRAEStudyConfig.{name} must be a non-empty tuple of {tuple(allowed)}, received "
          f"{getattr(self, name)!r}."
        )
    unknown = [v for v in self.baselines if v not in BASELINES]
    if unknown:
      raise ValueError(
        f"PRAEStudyConfig.baselines must be a tuple of {BASELINES}, received "
        f"{self.baselines!r}."
      )
    checks.positive_int(
      "PRAEStudyConfig",
      "dyna_planned_steps",
      self.dyna_planned_steps,
      allow_none=True,
      none_means="the environment's PPO budget",
    )
    checks.positive_int(
      "PRAEStudyConfig",
      "dyna_model_epochs",
      self.dyna_model_epochs,
      allow_none=True,
      none_means="the thesis' epochs",
    )
    if not self.budgets or any(int(b) < 1 for b in self.budgets):
      raise ValueError(f"PRAEStudyConfig.budgets must be positive, received {self.budgets!r}.")
    if int(self.seeds) < 1:
      raise ValueError(f"PRAEStudyConfig.seeds must be >= 1, received {self.seeds!r}.")
    if isinstance(self.runs_per_process, bool) or not (
      isinstance(self.runs_per_process, int) and self.runs_per_process >= 0
    ):
      raise ValueError(
        "PRAEStudyConfig.runs_per_process must be an integer >= 0 (0: every run in this "
        f"process), received {self.runs_per_process!r}."
      )


def task_config(study: PRAEStudyConfig, task: str, model: str, budget: int, seed: int):
  """The `PRAEConfig` of one run."""
  fields = dict(MODELS[model])
  if task in UNFOLDED and fields.get("fold_prototypes"):
    fields["fold_prototypes"] = False
  return PRAEConfig(
    **TASKS[task],
    **fields,
    num_episodes=int(budget),
    num_validation_episodes=max(1, int(budget) // 5),
    epochs=study.epochs,
    batch_size=study.batch_size,
    num_prototypes=study.num_prototypes,
    sweeps=study.sweeps,
    eval_episodes=study.eval_episodes,
    seed=seed,
  )


def _one_run(config: PRAEConfig, task: str) -> Dict[str, Any]:
  from tensorflow import keras  # pylint: disable=import-outside-toplevel

  from tf_equirl.envs.key_room import TRAIN_DOORS, key_room_goal_observation, key_room_success

  env = envs.make(config.env_name, batch_size=1, **env_kwargs(config))
  train, validation = collect_data(config, env)
  keras.utils.set_random_seed(config.seed)
  model = build_model(config, env)
  history = PRAETrainer(model, train, config).fit(validation)
  final = history[-1]
  row: Dict[str, Any] = {
    "real_steps": int(len(train["action"])),
    "loss": final["loss"],
    "val_loss": final.get("val_loss", final["loss"]),
    "hits_at_1": final.get("val_hits_at_1", final["hits_at_1"]),
  }
  if task != "KeyRoom-v0":
    returns = plan_and_evaluate(model, train["obs"], config, env)[3]
    row["return"] = float(np.mean(returns))
    return row
  per_door = max(1, config.eval_episodes // len(TRAIN_DOORS))
  small = dataclasses.replace(config, eval_episodes=per_door)
  for split, doors in (("train_doors", TRAIN_DOORS), ("test_doors", ROOM_TEST_DOORS)):
    success = [
      key_room_success(
        plan_and_evaluate(
          model, train["obs"], small, env, key_room_goal_observation(door), {"door": door}
        )[3]
      )
      for door in doors
    ]
    row[f"success_{split}"] = float(np.mean(np.concatenate(success)))
  return row


def _run_path(study: PRAEStudyConfig, task: str, model: str, budget: int, seed: int) -> str:
  return os.path.join(study.runs, task, f"{model}_{budget}", f"seed_{seed}.json")


def _column_names(task: str) -> List[str]:
  if task == "KeyRoom-v0":
    return ["loss", "val_loss", "hits_at_1", "success_train_doors", "success_test_doors"]
  return ["loss", "val_loss", "hits_at_1", "return"]


def _saved(path: str, fingerprint: str) -> Optional[Dict[str, Any]]:
  """The run saved at `path` if it was made by the same config, seed, code and XLA runtime
  (`fingerprint`, `tf_equirl.runs.seed_fingerprint`), else None: a run of other settings or
  older code is made again, never reused."""
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    row = json.load(f)
  if row.pop("fingerprint", None) != fingerprint:
    return None
  return row


def _save(path: str, row: Dict[str, Any], fingerprint: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  results.write_json(path, dict(row, fingerprint=fingerprint))


def _saved_run(
  study: PRAEStudyConfig, task: str, model: str, budget: int, seed: int
) -> Optional[Dict[str, Any]]:
  config = task_config(study, task, model, budget, seed)
  return _saved(_run_path(study, task, model, budget, seed), runs.seed_fingerprint(config, seed))


def _train_runs(
  study: PRAEStudyConfig, task: str, model: str, budget: int, seeds: Sequence[int]
) -> None:
  """Trains and saves the runs of `seeds` (module level: a fresh process calls it)."""
  for seed in seeds:
    config = task_config(study, task, model, budget, seed)
    row = _one_run(config, task)
    _save(_run_path(study, task, model, budget, seed), row, runs.seed_fingerprint(config, seed))


def _model_rows(study: PRAEStudyConfig, task: str, model: str, budget: int):
  """The row's runs, training the missing ones `study.runs_per_process` to a fresh process."""
  pending = [s for s in range(study.seeds) if _saved_run(study, task, model, budget, s) is None]
  step = study.runs_per_process
  if step == 0:
    _train_runs(study, task, model, budget, pending)
  else:
    for start in range(0, len(pending), step):
      chunk = pending[start : start + step]
      run_in_fresh_process(
        _train_runs,
        (study, task, model, budget, chunk),
        f"PRAE {model!r} on {task} ({budget} episodes), seeds {chunk}",
      )
  per_seed = [_saved_run(study, task, model, budget, s) for s in range(study.seeds)]
  missing = [s for s, row in enumerate(per_seed) if row is None]
  if missing:
    raise RuntimeError(
      f"PRAE {model!r} on {task} ({budget} episodes): seeds {missing} were trained but "
      f"their runs are not in {study.runs} under this code version (did tf_equirl's "
      "sources change while they trained? Runs are keyed on the code version)."
    )
  return per_seed


def run(study: PRAEStudyConfig) -> str:
  """Runs every row (reusing runs of the same settings and code) and writes the report;
  returns its path."""
  rows: Dict[Tuple[str, int, str], List[Dict[str, Any]]] = {}
  for task in study.tasks:
    for budget in study.budgets:
      for model in _models(study, task):
        rows[(task, budget, model)] = _model_rows(study, task, model, budget)
      for name in _baselines(study, task):
        rows[(task, budget, name)] = _baseline_rows(study, task, budget, name)
  os.makedirs(os.path.dirname(os.path.abspath(study.report)), exist_ok=True)
  notes = results.kept_notes(study.report)
  with open(study.report, "w", encoding="utf-8") as f:
    f.write(_report(study, rows) + notes)
  return study.report


def _models(study: PRAEStudyConfig, task: str) -> List[str]:
  return [m for m in study.models if task in MODEL_TASKS.get(m, (task,))]


def _baselines(study: PRAEStudyConfig, task: str) -> List[str]:
  return [name for name in study.baselines if task in BASELINE_TASKS[name]]


def _baseline_rows(
  study: PRAEStudyConfig, task: str, budget: int, name: str, isolate: bool = True
) -> List[Dict[str, Any]]:
  key = BaselineRun.of(study, task, budget, name)
  paths = [_run_path(study, task, name, budget, seed) for seed in range(study.seeds)]
  prints = [runs.seed_fingerprint(key, seed) for seed in range(study.seeds)]
  saved = [_saved(p, f) for p, f in zip(paths, prints)]
  done = [row for row in saved if row is not None]
  if len(done) == len(saved):
    return done
  if isolate and study.runs_per_process:
    run_in_fresh_process(
      _train_baseline, (study, task, budget, name), f"the {name} baseline on {task}"
    )
    return _baseline_rows(study, task, budget, name, isolate=False)
  # Trained runs of these settings and this code live in a folder of their own.
  folder = os.path.join(
    study.runs, task, f"{name}_{budget}", f"train_{runs.config_hash(key)}_{runs.code_version()}"
  )
  configs = [task_config(study, task, "prae", budget, seed) for seed in range(study.seeds)]
  trained = run_baseline(study, task, budget, name, folder, configs)
  for path, row, fingerprint in zip(paths, trained, prints):
    _save(path, row, fingerprint)
  return trained


def _train_baseline(study: PRAEStudyConfig, task: str, budget: int, name: str) -> None:
  """Trains and saves a baseline's row (module level: a fresh process calls it)."""
  _baseline_rows(study, task, budget, name, isolate=False)


def _cell(values: Sequence[float], digits: int = 3) -> str:
  mean, two_se = results.mean_and_2se(np.asarray(values, np.float64))
  return f"{mean:.{digits}f} +- {two_se:.{digits}f}"


def _report(study: PRAEStudyConfig, rows) -> str:
  lines = [
    "# PRAE: learned MDP homomorphisms by budget, model and task\n",
    f"Command: `{study.command}`. Seeds 0-{study.seeds - 1} per row; {study.epochs} epochs "
    f"(batch {study.batch_size}), {study.num_prototypes} prototypes, {study.sweeps} sweeps; "
    f"the lifted policy on {study.eval_episodes} episodes per seed. Cells: mean +- 2 SE over "
    "seeds. `loss`: the last epoch's training loss, `val_loss` the same terms on held-out "
    "episodes (a fifth of the budget), each model's own objective; `hits_at_1`: on the "
    "held-out episodes; `real_steps`: the real transitions the row learned from. How each "
    "run is made: `tf_equirl.experiments.prae_study`.\n",
  ]
  if study.baselines:
    planned = (
      f"{study.dyna_planned_steps:,} steps"
      if study.dyna_planned_steps
      else "as many steps as the environment's PPO budget"
    )
    lines.append(
      "Baselines (`tf_equirl.experiments.prae_baselines`), evaluated greedily on the same "
      "episodes: `ppo`, PPO with the thesis' MLP actor-critic for as many whole iterations as "
      "fit in the fewest transitions of any seed's data; `supervised_dyna`, Equi-Dyna's world "
      "model (proximal G-CNN) learned from the first half of the seed's random episodes, then "
      f"Dyna acting for the rest of the budget in whole iterations and planning {planned}. "
      "Neither runs on KeyRoom (goal-conditioned); Supervised-Dyna has no world model "
      "of the grid world. Where one iteration is more than the data, the baseline gets that "
      "iteration, and `real_steps` shows it.\n"
    )
  for task in study.tasks:
    columns = _column_names(task)
    lines.append(f"## {task}\n")
    shown = columns + ["real_steps"]
    lines.append("| episodes | model | " + " | ".join(shown) + " |")
    lines.append("|---" * (len(shown) + 2) + "|")
    values: Dict[str, np.ndarray] = {}
    pairs = []
    for budget in study.budgets:
      models = _models(study, task)
      for model in models + _baselines(study, task):
        per_seed = rows[(task, budget, model)]
        # Runs saved before a column existed leave it out: "n/a" rather than a partial mean;
        # a baseline has no latent model, so no loss or Hits@1 ("-").
        cells = [
          _cell([r[c] for r in per_seed], 0 if c == "real_steps" else 3)
          if all(c in r for r in per_seed)
          else ("-" if model in BASELINES else "n/a")
          for c in shown
        ]
        lines.append(f"| {budget} | {model} | " + " | ".join(cells) + " |")
        values[f"{model} ({budget} episodes)"] = np.array([r[columns[-1]] for r in per_seed])
        other = COMPARED_WITH.get(model, "prae")
        if model != other and other in models:
          pairs.append((f"{model} ({budget} episodes)", f"{other} ({budget} episodes)"))
    lines.append("")
    section = _compare.comparisons_section(
      values,
      pairs,
      {k: list(range(study.seeds)) for k in values},
      heading=f"### Comparisons on {task}",
      what=columns[-1],
    )
    if section:
      lines.append(section)
  return "\n".join(lines) + "\n"
