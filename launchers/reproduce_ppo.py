"""Reproduce thesis Tables 4.2 (CartPole) and 4.4 (Catch) across many seeds.

  python -m launchers.reproduce_ppo --env=CartPole-v1 --seeds=128
  python -m launchers.reproduce_ppo --env=Catch-v0 --seeds=128
  python -m launchers.reproduce_ppo --env=GridWorld-v0 --seeds=32 --total_steps=100000
  python -m launchers.reproduce_ppo --seeds=128 --backend=ray --address=auto   # on a cluster

Trains every network of --networks for --seeds seeds (runs/ keeps the per-seed CSVs and
models) and writes results/ppo_<env>/README.md (`--report`) with the table, the thesis'
numbers beside it, the parameter counts, each network against the MLP, sample efficiency by
group order and this command, plus ppo_<env>.png beside it (Fig. 4.3 style);
`python -m launchers.reproduce_all --only=ppo_catch` regenerates a committed study with its
provenance. The study is tf_equirl.experiments.ppo_tables: the
flags are the fields of its `PPOTablesConfig`.
"""

from absl import app, flags

from launchers import common
from tf_equirl.agents.ppo import PRESETS
from tf_equirl.envs import list_envs
from tf_equirl.experiments import ppo_tables

STUDY = common.define_study_flags(
  ppo_tables.PPOTablesConfig,
  skip=("checkpoints",),
  enums={"env": list_envs(), "preset": sorted(PRESETS)},
  lower_bounds={"seeds": 1, "total_steps": 1},
)
_CHECKPOINTS = flags.DEFINE_list(
  "checkpoints",
  None,
  "Env steps of the table's rows (default: "
  "the thesis' for CartPole and Catch, else 10 %, 50 %, 100 %).",
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = STUDY.config(
    ppo_tables.PPOTablesConfig,
    "launchers.reproduce_ppo",
    checkpoints=common.parse_checkpoints(_CHECKPOINTS.value),
  )
  print(open(ppo_tables.run(config)).read())


if __name__ == "__main__":
  STUDY.run(main)
