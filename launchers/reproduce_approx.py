"""Approximate equivariance: MLP, exact G-CNN, relaxed G-CNN and RPP actors on the original
environments and their symmetry-breaking variants (tf_equirl.experiments.approx_equivariance).

  python -m launchers.reproduce_approx --seeds=32

Writes results/approximate_equivariance/README.md and one curves PNG per environment beside
it; per-seed CSVs, actors and analyses go to --runs (finished configurations there are reused, so an
interrupted run continues). The per-environment defaults (variants, steps, checkpoints, noise)
are those of `tf_equirl.envs.defaults`.
"""

import sys

from absl import app, flags

from launchers import common
from tf_equirl.envs.defaults import env_defaults
from tf_equirl.experiments import approx_equivariance as study

_CATCH = env_defaults("Catch-v0").approx
_CARTPOLE = env_defaults("CartPole-v1").approx
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per network and variant (0..N-1).", lower_bound=1)
_ENVS = flags.DEFINE_list("envs", ["Catch-v0", "CartPole-v1"], "Environments.")
_NETWORKS = flags.DEFINE_list(
  "networks",
  list(study.NETWORKS),
  "Actor networks: PPO network kinds, or relaxed_centered (the relaxed network with centered "
  "relaxed weights).",
)
_VARIANTS = {
  "Catch-v0": flags.DEFINE_list(
    "catch_variants", list(_CATCH.variants), "Catch variants as breaking:strength."
  ),
  "CartPole-v1": flags.DEFINE_list(
    "cartpole_variants", list(_CARTPOLE.variants), "CartPole variants as breaking:strength."
  ),
}
_STEPS = {
  "Catch-v0": flags.DEFINE_integer(
    "catch_steps", _CATCH.total_steps, "Catch steps per run (thesis 20k).", lower_bound=1
  ),
  "CartPole-v1": flags.DEFINE_integer(
    "cartpole_steps", _CARTPOLE.total_steps, "CartPole steps per run (thesis 500k).", lower_bound=1
  ),
}
_NOISE = {
  "Catch-v0": flags.DEFINE_list(
    "catch_noise",
    [str(s) for s in _CATCH.noise_sigmas],
    "Test-time observation noise sigmas on Catch.",
  ),
  "CartPole-v1": flags.DEFINE_list(
    "cartpole_noise",
    [str(s) for s in _CARTPOLE.noise_sigmas],
    "Test-time observation noise sigmas on CartPole.",
  ),
}
_WORLD_MODEL_ENV = flags.DEFINE_string(
  "world_model_env",
  None,
  "A trained variant (e.g. CartPole-v1:global:0.3) on which to also "
  "compare MLP, exact and relaxed G-CNN transition models; its seed-0 MLP actor is the "
  "expert that collects the data.",
)
_WORLD_MODEL_SEEDS = flags.DEFINE_integer(
  "world_model_seeds", 3, "Seeds per world model.", lower_bound=1
)
_WORLD_MODEL_EPOCHS = flags.DEFINE_integer(
  "world_model_epochs", 30, "Epochs per world model.", lower_bound=1
)
_RUNS = flags.DEFINE_string("runs", "runs/approx", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the results file and plots.")


def _sigmas(env, items):
  flag = _NOISE[env].name
  try:
    return tuple(float(s) for s in items)
  except ValueError:
    raise app.UsageError(
      f"--{flag} must be numbers (noise standard deviations), received " f"{items}."
    ) from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _WORLD_MODEL_ENV.value is not None:
    common.parse_env(_WORLD_MODEL_ENV.value, "world_model_env")
  unknown = [env for env in _ENVS.value if env not in _VARIANTS]
  if unknown:
    raise app.UsageError(
      f"--envs: unknown environments {unknown}; expected some of " f"{sorted(_VARIANTS)}."
    )
  command = "python -m launchers.reproduce_approx " + " ".join(sys.argv[1:])
  with common.usage_errors():
    grids = tuple(
      study.env_grid(env, _VARIANTS[env].value, _STEPS[env].value, _sigmas(env, _NOISE[env].value))
      for env in _ENVS.value
    )
    spec = study.ApproxSpec(
      grids=grids,
      networks=tuple(_NETWORKS.value),
      seeds=_SEEDS.value,
      runs=_RUNS.value,
      results=_RESULTS.value,
      command=command.strip(),
      world_model_env=_WORLD_MODEL_ENV.value,
      world_model_seeds=_WORLD_MODEL_SEEDS.value,
      world_model_epochs=_WORLD_MODEL_EPOCHS.value,
    )
  common.check_output_folders(runs=_RUNS.value, results=_RESULTS.value)
  print(study.run(spec))


if __name__ == "__main__":
  app.run(main)
