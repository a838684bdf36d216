"""Approximate equivariance: MLP, exact G-CNN, relaxed G-CNN and RPP actors on the original
environments and their symmetry-breaking variants (issue 12; shared/seeds/002).

  python -m launchers.reproduce_approx --seeds=32

Writes results/approximate_equivariance.md and one curves PNG per environment; per-seed CSVs,
actors and analyses go to --runs (finished configurations there are reused, so an
interrupted run continues).
"""

import sys

from absl import app, flags

from launchers import common
from tf_equirl import approx

_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per network and variant (0..N-1).",
                              lower_bound=1)
_ENVS = flags.DEFINE_list("envs", ["Catch-v0", "CartPole-v1"], "Environments.")
_NETWORKS = flags.DEFINE_list(
    "networks", list(approx.NETWORKS),
    "Actor networks: PPO network kinds, or relaxed_centered (the relaxed network with centered "
    "relaxed weights).")
_CATCH_VARIANTS = flags.DEFINE_list(
    "catch_variants", ["global:0.25", "global:0.5", "reflect:0.5", "reflect:1", "repeat:0.5",
                       "repeat:1"], "Catch variants as breaking:strength.")
_CARTPOLE_VARIANTS = flags.DEFINE_list(
    "cartpole_variants", ["global:0.1", "global:0.3", "reflect:0.5", "reflect:1", "repeat:0.5",
                          "repeat:1"], "CartPole variants as breaking:strength.")
_CATCH_STEPS = flags.DEFINE_integer("catch_steps", 20_000, "Catch steps per run (thesis 20k).",
                                    lower_bound=1)
_CARTPOLE_STEPS = flags.DEFINE_integer("cartpole_steps", 100_000,
                                       "CartPole steps per run (thesis 500k).", lower_bound=1)
_CATCH_NOISE = flags.DEFINE_list("catch_noise", ["0.1", "0.3"],
                                 "Test-time observation noise sigmas on Catch.")
_CARTPOLE_NOISE = flags.DEFINE_list("cartpole_noise", ["0.05", "0.2"],
                                    "Test-time observation noise sigmas on CartPole.")
_WORLD_MODEL_ENV = flags.DEFINE_string(
    "world_model_env", None, "A trained variant (e.g. CartPole-v1:global:0.3) on which to also "
    "compare MLP, exact and relaxed G-CNN transition models; its seed-0 MLP actor is the "
    "expert that collects the data.")
_WORLD_MODEL_SEEDS = flags.DEFINE_integer("world_model_seeds", 3, "Seeds per world model.",
                                          lower_bound=1)
_WORLD_MODEL_EPOCHS = flags.DEFINE_integer("world_model_epochs", 30, "Epochs per world model.",
                                           lower_bound=1)
_RUNS = flags.DEFINE_string("runs", "runs/approx", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the results file and plots.")


def _variants(items):
  out = []
  for item in items:
    breaking, _, strength = item.partition(":")
    try:
      out.append((breaking, float(strength)))
    except ValueError:
      raise app.UsageError(f"variant {item!r} must read breaking:strength, e.g. "
                           "global:0.5") from None
  return tuple(out)


def _sigmas(flag, items):
  try:
    return tuple(float(s) for s in items)
  except ValueError:
    raise app.UsageError(f"--{flag} must be numbers (noise standard deviations), received "
                         f"{items}.") from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _WORLD_MODEL_ENV.value is not None:
    common.parse_env(_WORLD_MODEL_ENV.value, "world_model_env")
  grids = []
  for env in _ENVS.value:
    if env == "Catch-v0":  # thesis Table 4.4 checkpoints
      variants, steps, marks = _CATCH_VARIANTS.value, _CATCH_STEPS.value, (2_000, 10_000, 20_000)
      noise = _sigmas("catch_noise", _CATCH_NOISE.value)
    elif env == "CartPole-v1":  # thesis Table 4.2 has 10k, 100k, 500k; 50k added below 100k
      variants, steps, marks = (_CARTPOLE_VARIANTS.value, _CARTPOLE_STEPS.value,
                                (10_000, 50_000, 100_000, 500_000))
      noise = _sigmas("cartpole_noise", _CARTPOLE_NOISE.value)
    else:
      raise app.UsageError(f"--envs: unknown environment {env!r}; expected Catch-v0 or "
                           "CartPole-v1.")
    checkpoints = tuple(c for c in marks if c <= steps) or (steps,)
    # The early checkpoint is 10k steps on both environments.
    try:
      grids.append(approx.EnvGrid(env, _variants(variants), steps, checkpoints, noise,
                                  early=10_000 if 10_000 in checkpoints else checkpoints[0]))
    except ValueError as e:
      raise app.UsageError(str(e)) from None
  command = "python -m launchers.reproduce_approx " + " ".join(sys.argv[1:])
  try:
    spec = approx.ApproxSpec(grids=tuple(grids), networks=tuple(_NETWORKS.value),
                             seeds=_SEEDS.value, runs=_RUNS.value, results=_RESULTS.value,
                             command=command.strip(), world_model_env=_WORLD_MODEL_ENV.value,
                             world_model_seeds=_WORLD_MODEL_SEEDS.value,
                             world_model_epochs=_WORLD_MODEL_EPOCHS.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  common.check_output_folder(_RUNS.value, "runs")
  common.check_output_folder(_RESULTS.value, "results")
  print(approx.reproduce(spec))


if __name__ == "__main__":
  app.run(main)
