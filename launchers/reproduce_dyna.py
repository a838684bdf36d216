"""Reproduce the thesis' Supervised-Dyna tables (4.5, 4.6) and test Dyna's levers.

  python -m launchers.reproduce_dyna --env=CartPole-v1 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --part=levers --seeds=16 --planning_ratios=2

`--part=supervised` trains the baseline, Dyna (MLP world model) and Equi-Dyna (G-CNN world
model, mean pooling) with the zoo's pretrained world models at every --planning_ratios and
writes results/dyna_<env>.md (+ .png). `--part=levers` trains online Dyna with and without
orbit-augmented model data, branched rollouts and a whole-run model buffer and writes
results/dyna_<env>_levers.md. Finished configurations in --runs are reused.
"""

import os
import sys

from absl import app, flags

from tf_equirl.agents.dyna import reproduce

_ENV = flags.DEFINE_enum("env", "CartPole-v1", ["CartPole-v1", "Catch-v0"], "Environment.")
_PART = flags.DEFINE_enum("part", "supervised", ["supervised", "levers"], "Which experiment.")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per configuration (0..N-1).")
_RATIOS = flags.DEFINE_list("planning_ratios", ["1", "2", "4", "8"], "Planning ratios.")
_ITERATIONS = flags.DEFINE_integer("dyna_iterations", 50, "Dyna iterations (thesis: 50).")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", None, "Real steps per seed (default: the "
                                    "thesis' 500,000 CartPole / 20,000 Catch).")
_MODEL_EPOCHS = flags.DEFINE_integer("model_epochs", None, "Online model epochs per Dyna "
                                     "iteration (levers; default 100 CartPole, 10 Catch).")
_HORIZON = flags.DEFINE_integer("horizon", 20, "Branched-rollout horizon (levers).")
_RUNS = flags.DEFINE_string("runs", "runs/reproduce_dyna", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the markdown and plot.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  env = _ENV.value
  try:
    ratios = [float(r) for r in _RATIOS.value]
    if _PART.value == "supervised":
      arms = reproduce.supervised_arms(env, ratios, _ITERATIONS.value, _TOTAL_STEPS.value)
      title, suffix = "Supervised-Dyna", ""
    else:
      if len(ratios) != 1:
        raise ValueError("--part=levers takes one planning ratio.")
      arms = reproduce.lever_arms(env, ratios[0], _ITERATIONS.value, _TOTAL_STEPS.value,
                                  horizon=_HORIZON.value, model_epochs=_MODEL_EPOCHS.value)
      title, suffix = "Online Dyna: levers", "_levers"
  except ValueError as e:
    raise app.UsageError(str(e))
  seeds = list(range(_SEEDS.value))
  short = "cartpole" if env == "CartPole-v1" else "catch"
  runs = reproduce.run_arms(arms, seeds, os.path.join(_RUNS.value, f"{short}{suffix}"),
                            progress=not _NO_PROGRESS.value)
  os.makedirs(_RESULTS.value, exist_ok=True)
  path = reproduce.write_report(
      os.path.join(_RESULTS.value, f"dyna_{short}{suffix}.md"), env, arms, runs, seeds,
      "python -m launchers.reproduce_dyna " + " ".join(sys.argv[1:]), title)
  print(open(path).read())


if __name__ == "__main__":
  app.run(main)
