"""The PRAE study: PRAE, equivariant PRAE, PRAE without negatives, PRAE from the reference's
initialisation and the autoencoder by
data budget and task, with PPO and Supervised-Dyna at the same real transitions
(tf_equirl.experiments.prae_study, tf_equirl.experiments.prae_baselines).

  python -m launchers.reproduce_prae --tasks=CartPole-v0 --seeds=16
  python -m launchers.reproduce_all --only=prae_cartpole     # the same, into results/prae_cartpole

Writes <--results>/README.md; per-run summaries go to --runs (runs of the same settings and
code there are reused, so an interrupted study continues).
"""

import sys

from absl import app, flags

from tf_equirl.experiments import prae_study as study

_SEEDS = flags.DEFINE_integer("seeds", 16, "Seeds per row (0..N-1).", lower_bound=1)
_TASKS = flags.DEFINE_list("tasks", list(study.TASKS), "Tasks (tf_equirl.experiments.prae_study).")
_MODELS = flags.DEFINE_list(
  "models", list(study.MODELS), "Models: " + ", ".join(study.MODELS) + "."
)
_BUDGETS = flags.DEFINE_list("budgets", ["100", "1000"], "Training episodes per run.")
_EPOCHS = flags.DEFINE_integer("epochs", 100, "Epochs per run.", lower_bound=1)
_EVAL = flags.DEFINE_integer("eval_episodes", 100, "Evaluation episodes per run.", lower_bound=1)
_BASELINES = flags.DEFINE_list(
  "baselines",
  list(study.BASELINES),
  "Baselines beside the models at PRAE's real transitions "
  "(tf_equirl.experiments.prae_baselines); empty for none.",
)
_PLANNED = flags.DEFINE_integer(
  "dyna_planned_steps",
  None,
  "Supervised-Dyna's planned steps (default: the environment's PPO budget).",
  lower_bound=1,
)
_MODEL_EPOCHS = flags.DEFINE_integer(
  "dyna_model_epochs",
  None,
  "Epochs of Supervised-Dyna's world model (default: the thesis').",
  lower_bound=1,
)
_RUNS = flags.DEFINE_string("runs", "runs/prae", "Folder of per-run summaries.")
_RESULTS = flags.DEFINE_string(
  "results",
  "runs/prae/report",
  "Folder of the report (results/<study> belongs to the registry studies: reproduce_all).",
)
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Accepted for symmetry; prints nothing.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    config = study.PRAEStudyConfig(
      tasks=tuple(_TASKS.value),
      budgets=tuple(int(b) for b in _BUDGETS.value),
      models=tuple(_MODELS.value),
      seeds=_SEEDS.value,
      epochs=_EPOCHS.value,
      eval_episodes=_EVAL.value,
      baselines=tuple(_BASELINES.value),
      dyna_planned_steps=_PLANNED.value,
      dyna_model_epochs=_MODEL_EPOCHS.value,
      runs=_RUNS.value,
      results=_RESULTS.value,
      report=f"{_RESULTS.value}/README.md",
      command="python -m launchers.reproduce_prae " + " ".join(sys.argv[1:]),
    )
  except ValueError as error:
    raise app.UsageError(str(error)) from error
  print(f"wrote {study.run(config)}")


if __name__ == "__main__":
  app.run(main)
