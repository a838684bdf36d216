"""The continuous-control study of Park et al. (2025), on states or on pixels
(tf_equirl.experiments.continuous_study).

  python -m launchers.reproduce_continuous                        # states: results/continuous
  python -m launchers.reproduce_continuous --observation=pixels   # results/continuous_pixels
  python -m launchers.reproduce_continuous --observation=pixels --quick --results=/tmp/quick

On states the arms are the mlp, exact, relaxed and RPP actor-critics on Pendulum, the
swing-ups and Reacher; on pixels the cnn, gcnn, relaxed and RPP encoders of the pixel agent
on CartPole swing-up, each on the original environment and its symmetry-breaking variants.
The budgets, seeds and variants are those of the results registry (`python -m
launchers.reproduce_all --list`, studies `continuous` and `continuous_pixels`), so this is
`reproduce_all --only=<study>` under its own name. Writes `<--results>/<study>/README.md`
with its provenance, curves beside it; per-seed runs go to `<--runs>/<study>/` (finished
seeds there are reused, so an interrupted study continues).
"""

import sys

from absl import app, flags

from tf_equirl.experiments import registry

_STUDIES = {"state": "continuous", "pixels": "continuous_pixels"}

_OBSERVATION = flags.DEFINE_enum(
  "observation", "state", list(_STUDIES), "What the agents see: the state vector or pictures."
)
_QUICK = flags.DEFINE_bool("quick", False, "Tiny budgets (a smoke run of the pipeline).")
_RESULTS = flags.DEFINE_string("results", "results", "Results root (writes <root>/<study>/).")
_RUNS = flags.DEFINE_string("runs", "runs", "Root of the per-seed runs (<root>/<study>/).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  command = "python -m launchers.reproduce_continuous " + " ".join(sys.argv[1:])
  path = registry.run_study(
    _STUDIES[_OBSERVATION.value],
    root=_RESULTS.value,
    runs=_RUNS.value,
    quick=_QUICK.value,
    command=command.strip(),
  )
  print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
