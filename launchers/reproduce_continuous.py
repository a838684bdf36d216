"""The continuous-control study of Park et al. (2025), on states or on pixels
(tf_equirl.experiments.continuous_study).

  python -m launchers.reproduce_continuous                        # states, every task
  python -m launchers.reproduce_continuous --tasks=pendulum       # results/continuous_pendulum
  python -m launchers.reproduce_continuous --observation=pixels   # results/continuous_pixels
  python -m launchers.reproduce_continuous --observation=pixels --quick --results=/tmp/quick
  python -m launchers.reproduce_continuous --declare_only  # the declarations, no training
  python -m launchers.reproduce_continuous --tasks=pendulum --runs=runs/reproduce_all --progress
  python -m launchers.reproduce_continuous --tasks=pendulum --runs=runs/reproduce_all --interim

On states the arms are the mlp, exact, relaxed and RPP actor-critics, one study per task
(Pendulum, the CartPole and Acrobot swing-ups, Reacher); on pixels the cnn, gcnn, relaxed
and RPP encoders of the pixel agent on CartPole swing-up; each on the original environment
and its symmetry-breaking variants. The budgets, seeds and variants are those of the results
registry (`python -m launchers.reproduce_all --list`, studies `continuous_<task>` and
`continuous_pixels`), so this is `reproduce_all --only=<study>` under its own name. Writes
`<--results>/<study>/README.md` with its provenance, curves beside it; per-seed runs go to
`<--runs>/<study>/` (finished seeds there are reused, so an interrupted study continues).
`--interim` writes the report from the arms whose seeds have all finished in `--runs` while
the rest trains (the results index calls it an interim report). A study whose runs train
under XLA flags of their own (`ContinuousGrid.xla_flags`) trains in a process this launcher
starts with them in `XLA_FLAGS`.
"""

import subprocess
import sys

from absl import app, flags

from launchers import common
from tf_equirl.experiments import continuous_study, registry

_TASKS = ("pendulum", "swingup", "acrobot", "reacher")

_OBSERVATION = flags.DEFINE_enum(
  "observation", "state", ["state", "pixels"], "What the agents see: the state vector or pictures."
)
_TASKS_FLAG = flags.DEFINE_list(
  "tasks",
  list(_TASKS),
  f"On states, the tasks whose studies run (study continuous_<task>), in order: of {_TASKS}.",
)
flags.register_validator(
  "tasks",
  lambda tasks: bool(tasks) and all(t in _TASKS for t in tasks),
  message=f"--tasks must be a non-empty comma-separated list of {', '.join(_TASKS)}.",
)
_QUICK = flags.DEFINE_bool("quick", False, "Tiny budgets (a smoke run of the pipeline).")
_RESULTS = flags.DEFINE_string("results", "results", "Results root (writes <root>/<study>/).")
_RUNS = flags.DEFINE_string("runs", "runs", "Root of the per-seed runs (<root>/<study>/).")
_DECLARE_ONLY = flags.DEFINE_bool(
  "declare_only",
  False,
  "Write each study's declaration (variants, arms, budgets, comparisons) and train nothing.",
)
_PROGRESS = flags.DEFINE_bool(
  "progress",
  False,
  "Print how many of each study's runs in --runs finished with this code and config (per "
  "variant and arm, and the stale seeds it would train again), and train nothing.",
)
_INTERIM = flags.DEFINE_bool(
  "interim",
  False,
  "Write each study's report from the arms whose seeds have all finished in --runs (an "
  "interim report: the comparisons still to come are named), and train nothing.",
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  chosen = [f"--{f.name}" for f in (_QUICK, _DECLARE_ONLY, _PROGRESS, _INTERIM) if f.value]
  if len(chosen) > 1:
    raise app.UsageError(
      f"{' and '.join(chosen)} do different things; give at most one of --quick, "
      "--declare_only, --progress and --interim."
    )
  if _OBSERVATION.value == "pixels":
    if _TASKS_FLAG.present:
      raise app.UsageError("--tasks selects state studies; the pixel study has one task.")
    studies = ["continuous_pixels"]
  else:
    studies = [f"continuous_{task}" for task in dict.fromkeys(_TASKS_FLAG.value)]
  if _PROGRESS.value:
    for study in studies:
      spec = registry.full_config(study, _RESULTS.value, _RUNS.value)
      print(continuous_study.format_progress(spec, continuous_study.progress(spec)))
    return
  if _DECLARE_ONLY.value:
    for study in studies:
      spec = registry.full_config(study, _RESULTS.value, _RUNS.value)
      print(f"wrote {continuous_study.declare(spec)}")
    return
  command = "python -m launchers.reproduce_continuous " + " ".join(sys.argv[1:])
  for study in studies:
    spec = registry.full_config(study, _RESULTS.value, _RUNS.value)
    environ = None if _QUICK.value or _INTERIM.value else common.xla_environ(spec.xla_flags)
    if environ is not None:
      # XLA reads its flags once per process: the study trains in a process started with them.
      print(f"== {study} (XLA_FLAGS={environ['XLA_FLAGS']})", flush=True)
      code = subprocess.call(study_process(study), env=environ)
      if code != 0:
        raise SystemExit(code)
      continue
    path = registry.run_study(
      study,
      root=_RESULTS.value,
      runs=_RUNS.value,
      quick=_QUICK.value,
      command=command.strip(),
      interim=_INTERIM.value,
    )
    print(f"wrote {path}")


def study_process(study):
  """The command line that runs `study` alone in a fresh process, with the folder flags this
  one was given (only those, so that the command it records is the one a user would type)."""
  argv = [sys.executable, "-m", "launchers.reproduce_continuous"]
  if study == "continuous_pixels":
    argv.append("--observation=pixels")
  else:
    argv.append(f"--tasks={study.split('_', 1)[1]}")
  return argv + [flag.serialize() for flag in (_RESULTS, _RUNS) if flag.present]


if __name__ == "__main__":
  app.run(main)
