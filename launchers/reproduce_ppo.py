"""Reproduce thesis Tables 4.2 (CartPole) and 4.4 (Catch) across many seeds.

  python -m launchers.reproduce_ppo --env=CartPole-v1 --seeds=128
  python -m launchers.reproduce_ppo --env=Catch-v0 --seeds=128
  python -m launchers.reproduce_ppo --env=GridWorld-v0 --seeds=32 --total_steps=100000
  python -m launchers.reproduce_ppo --seeds=128 --backend=ray --address=auto   # on a cluster

Trains every network of --networks for --seeds seeds (runs/ keeps the per-seed CSVs and
models) and writes results/ppo_<env>.md with the table, the thesis' numbers beside it, the
parameter counts, sample efficiency by group order and this command, plus
results/ppo_<env>.png (Fig. 4.3 style). The analysis lives in tf_equirl.agents.ppo.reproduce.
"""

import os
import sys

from absl import app, flags

from launchers import common
from tf_equirl.agents.ppo import PRESETS, reproduce
from tf_equirl.agents.ppo.experiment import run_arms
from tf_equirl.envs import list_envs

_ENV = flags.DEFINE_string("env", "CartPole-v1", "Registered environment (tf_equirl.envs."
                           "list_envs()).")
_SEEDS = flags.DEFINE_integer("seeds", 32, "Seeds per network (0..N-1).", lower_bound=1)
_NETWORKS = flags.DEFINE_list("networks", None, "Networks as actor[@group][:critic], e.g. "
                              "gcnn:invariant or gcnn@C4. Default: mlp, symmetrizer, gcnn for "
                              "CartPole; mlp, gcnn for Catch, as in the thesis; for the grid "
                              "world the group ladder and the baselines; critics default "
                              "to the thesis' MLP, the group to the environment's whole symmetry.")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", None, "Env steps per seed (default: the "
                                    "environment's default config).", lower_bound=1)
_PRESET = flags.DEFINE_enum("preset", None, sorted(PRESETS), "Named PPO settings instead of "
                            "the thesis' printed ones (tf_equirl.agents.ppo.PRESETS; "
                            "results/thesis_gaps.md).")
_CHECKPOINTS = flags.DEFINE_list("checkpoints", None, "Env steps of the table's rows (default: "
                                 "the thesis' for CartPole and Catch, else 10 %, 50 %, 100 %).")
_RUNS = flags.DEFINE_string("runs", "runs/reproduce", "Folder for per-seed outputs.")
_RESULTS = flags.DEFINE_string("results", "results", "Folder for the markdown table and plot.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")
_BACKEND_FLAGS = common.define_backend_flags()
# Off by default: the committed results were made with XLA's classic runtime, and these
# commands reproduce them bit for bit.
_CONFIGURE_COMPILATION = common.define_compilation_flags(xla_runtime=False)
_RESUME = flags.DEFINE_bool("resume", True, "Reuse a network's finished runs (summary.json with "
                            "the same config and seeds, and every seed's CSV) instead of "
                            "training it again, e.g. after an interrupted reproduction.")


def main(argv):
  del argv
  env = _ENV.value
  if env not in list_envs():
    raise app.UsageError(f"Unknown --env={env!r}; registered: {list_envs()} (symmetry-breaking "
                         "variants are trained by launchers.train_ppo and "
                         "launchers.reproduce_approx).")
  overrides = {"total_steps": _TOTAL_STEPS.value} if _TOTAL_STEPS.value is not None else {}
  if _PRESET.value:
    overrides["preset"] = _PRESET.value
  try:
    arms = reproduce.network_arms(env, _NETWORKS.value, **overrides)
    checkpoints = common.parse_checkpoints(_CHECKPOINTS.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  seeds = list(range(_SEEDS.value))
  short = reproduce.SHORT_NAMES.get(env, env.split("-")[0].lower())
  common.check_output_folder(_RUNS.value, "runs")
  common.check_output_folder(_RESULTS.value, "results")
  runs = run_arms(arms, seeds, os.path.join(_RUNS.value, env), resume=_RESUME.value,
                  progress=not _NO_PROGRESS.value, **_BACKEND_FLAGS())
  os.makedirs(_RESULTS.value, exist_ok=True)
  path = reproduce.write_report(
      os.path.join(_RESULTS.value, f"ppo_{short}.md"), env, arms, runs, seeds,
      "python -m launchers.reproduce_ppo " + " ".join(sys.argv[1:]), checkpoints)
  print(open(path).read())


if __name__ == "__main__":
  app.run(common.with_runtime_fallback(main), flags_parser=common.flags_parser(
      lambda: _CONFIGURE_COMPILATION(cache_by_default=_BACKEND_FLAGS()["backend"] == "local")))
