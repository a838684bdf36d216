"""Read finished runs' returns the ways the thesis might have: `python -m launchers.readings`.

  python -m launchers.readings --runs=runs/reproduce128/Catch-v0_gcnn,runs/reproduce128/Catch-v0_mlp

For each run folder (`seed_<k>.csv` and `summary.json` of `launchers.train_ppo` /
`reproduce_ppo`) prints one table row per reading of `tf_equirl.results.READINGS`: the
tables' own, a moving average of 10 iterations, a step axis per environment and the mean of
the episodes finishing (results/ppo_gaps_catch/README.md).
"""

import glob
import json
import os

from absl import app, flags

from launchers.common import parse_checkpoints
from tf_equirl import results
from tf_equirl.runner import default_checkpoints

_RUNS = flags.DEFINE_list(
  "runs", None, "Run folders with seed_<k>.csv and summary.json.", required=True
)
_CHECKPOINTS = flags.DEFINE_list(
  "checkpoints",
  None,
  "Steps to read at (default: the thesis' " "table columns of the run's environment).",
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  wanted = parse_checkpoints(_CHECKPOINTS.value)
  for run in _RUNS.value:
    path = os.path.join(run, "summary.json")
    if not os.path.exists(path):
      raise app.UsageError(f"{run} has no summary.json (a finished train_ppo run expected).")
    with open(path) as f:
      config = json.load(f)["config"]
    config = config.get("ppo", config)  # Dyna runs nest their PPO config
    csvs = sorted(glob.glob(os.path.join(run, "seed_*.csv")))
    columns = [results.read_seed_csv(c) for c in csvs]
    checkpoints = wanted or default_checkpoints(config["env"])
    if not checkpoints:
      raise app.UsageError(
        f"{run}: no default checkpoints for {config['env']}; pass " "--checkpoints."
      )
    summaries = {
      f"{name}": results.read_curves(columns, checkpoints, config["num_envs"], name)
      for name in results.READINGS
    }
    print(f"## {run} ({len(csvs)} seeds, {config['env']}, {config['network']})\n")
    print(results.markdown_summary(summaries, labels_as_rows=True))


if __name__ == "__main__":
  app.run(main)
