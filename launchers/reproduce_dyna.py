"""Reproduce the thesis' Supervised-Dyna tables (4.5, 4.6) and test Dyna's levers.

  python -m launchers.reproduce_dyna --env=CartPole-v1 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --seeds=32
  python -m launchers.reproduce_dyna --env=Catch-v0 --part=levers --seeds=16 --planning_ratios=2

`--part=supervised` trains the baseline, Dyna (MLP world model) and Equi-Dyna (G-CNN world
model, mean pooling; `--models=...,gcnn_proximal` adds the thesis' proximal pooling) with the
zoo's pretrained world models at every --planning_ratios and writes results/dyna_<env>.md
(+ .png). `--part=levers` trains online Dyna with and without
orbit-augmented model data, branched rollouts and a whole-run model buffer and writes
results/dyna_<env>_levers.md. `--part=online_grid` trains online Dyna over --planning_ratios x
--dyna_iterations for each of --models (thesis 4.8, Fig. 4.11) and writes
results/dyna_<env>_online.md with a matrix of plots. Finished configurations in --runs are
reused.

  python -m launchers.reproduce_dyna --env=Catch-v0 --part=online_grid --seeds=8 \
      --planning_ratios=0.5,1,2,4,8 --dyna_iterations=5,10,50,100
"""

import os
import sys

from absl import app, flags

from launchers import common
from tf_equirl.agents.dyna import reproduce

_ENV = flags.DEFINE_enum("env", "CartPole-v1", ["CartPole-v1", "Catch-v0"], "Environment.")
_PART = flags.DEFINE_enum("part", "supervised", ["supervised", "levers", "online_grid"],
                          "Which experiment.")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per configuration (0..N-1).", lower_bound=1)
_RATIOS = flags.DEFINE_list("planning_ratios", ["1", "2", "4", "8"], "Planning ratios.")
_ITERATIONS = flags.DEFINE_list("dyna_iterations", ["50"], "Dyna iterations (thesis: 50; the "
                                "online grid: 5,10,50,100).")
_MODELS = flags.DEFINE_list("models", ["mlp", "gcnn"], "World models (supervised: the zoo's "
                            "mlp, gcnn (mean pooling), gcnn_proximal; the online grid: mlp, "
                            "gcnn).")
_FROM_SWEEPS = flags.DEFINE_list("from_sweeps", None, "online_grid: report the grid already "
                                 "swept with launchers.sweep --algo=dyna into these folders (one "
                                 "per world model) instead of training it here; the baseline "
                                 "comes from --part=supervised's runs.")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", None, "Real steps per seed (default: the "
                                    "thesis' 500,000 CartPole / 20,000 Catch).", lower_bound=1)
_MODEL_EPOCHS = flags.DEFINE_integer("model_epochs", None, "Online model epochs per Dyna "
                                     "iteration (levers; default 100 CartPole, 10 Catch).",
                                     lower_bound=1)
_HORIZON = flags.DEFINE_integer("horizon", 20, "Branched-rollout horizon (levers).",
                                lower_bound=1)
_RUNS = flags.DEFINE_string("runs", "runs/reproduce_dyna", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the markdown and plot.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")
_BACKEND_FLAGS = common.define_backend_flags()
# Off by default: the committed results were made with XLA's classic runtime, and these
# commands reproduce them bit for bit.
_CONFIGURE_COMPILATION = common.define_compilation_flags(xla_runtime=False)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  env = _ENV.value
  try:
    ratios = [float(r) for r in _RATIOS.value]
  except ValueError:
    raise app.UsageError(f"--planning_ratios must be numbers, received {_RATIOS.value}.") from None
  try:
    counts = [int(c) for c in _ITERATIONS.value]
  except ValueError:
    raise app.UsageError(f"--dyna_iterations must be integers, received "
                         f"{_ITERATIONS.value}.") from None
  try:
    if _PART.value == "online_grid":
      arms = reproduce.online_grid_arms(env, ratios, counts, _MODELS.value, _TOTAL_STEPS.value,
                                        _MODEL_EPOCHS.value)
      suffix = "_online"
    elif len(counts) != 1:
      raise ValueError(f"--part={_PART.value} takes one --dyna_iterations value.")
    elif _PART.value == "supervised":
      arms = reproduce.supervised_arms(env, ratios, counts[0], _TOTAL_STEPS.value,
                                       world_models=_MODELS.value)
      title, suffix = "Supervised-Dyna", ""
    else:
      if len(ratios) != 1:
        raise ValueError("--part=levers takes one planning ratio.")
      arms = reproduce.lever_arms(env, ratios[0], counts[0], _TOTAL_STEPS.value,
                                  horizon=_HORIZON.value, model_epochs=_MODEL_EPOCHS.value)
      title, suffix = "Online Dyna: levers", "_levers"
  except ValueError as e:
    raise app.UsageError(str(e))
  seeds = list(range(_SEEDS.value))
  short = "cartpole" if env == "CartPole-v1" else "catch"
  common.check_output_folder(_RUNS.value, "runs")
  common.check_output_folder(_RESULTS.value, "results")
  if _FROM_SWEEPS.value:
    if _PART.value != "online_grid":
      raise app.UsageError("--from_sweeps is for --part=online_grid.")
    arms, runs = reproduce.grid_runs_from_sweeps(
        _FROM_SWEEPS.value, arms[0], os.path.join(_RUNS.value, short, "baseline"), seeds)
  else:
    runs = reproduce.run_arms(arms, seeds, os.path.join(_RUNS.value, f"{short}{suffix}"),
                              progress=not _NO_PROGRESS.value, **_BACKEND_FLAGS())
  os.makedirs(_RESULTS.value, exist_ok=True)
  path = os.path.join(_RESULTS.value, f"dyna_{short}{suffix}.md")
  command = "python -m launchers.reproduce_dyna " + " ".join(sys.argv[1:])
  if _PART.value == "online_grid":
    reproduce.write_grid_report(path, env, arms, runs, seeds, command)
  else:
    reproduce.write_report(path, env, arms, runs, seeds, command, title,
                           thesis=_PART.value == "supervised")
  print(open(path).read())


if __name__ == "__main__":
  app.run(common.with_runtime_fallback(main), flags_parser=common.flags_parser(
      lambda: _CONFIGURE_COMPILATION(cache_by_default=_BACKEND_FLAGS()["backend"] == "local")))
