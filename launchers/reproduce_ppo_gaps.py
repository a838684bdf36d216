"""Why some PPO numbers differ from the thesis' Tables 4.2 and 4.4: one hypothesis at a time.

  python -m launchers.reproduce_ppo_gaps --env=Catch-v0 --seeds=32
  python -m launchers.reproduce_ppo_gaps --env=CartPole-v1 --seeds=32
  python -m launchers.reproduce_ppo_gaps --env=Catch-v0 --hypotheses=step,updates

Trains the arms of every hypothesis of --env (`tf_equirl.experiments.ppo_gaps.HYPOTHESES`;
runs/ keeps the per-seed CSVs, finished arms are reused) and writes
results/ppo_gaps_<env>/README.md (`--report`): per hypothesis the arms' returns at the
thesis' checkpoints beside the thesis' numbers and each pair's difference, Holm-corrected.
`python -m launchers.reproduce_all --only=ppo_gaps_catch` regenerates the committed study
with its provenance. The flags are the fields of `PPOGapsConfig`.
"""

from absl import app, flags

from launchers import common
from tf_equirl.experiments import ppo_gaps

STUDY = common.define_study_flags(
  ppo_gaps.PPOGapsConfig,
  skip=("checkpoints",),
  enums={"env": list(ppo_gaps.ENVS)},
  lower_bounds={"seeds": 2, "total_steps": 1},
)
_CHECKPOINTS = flags.DEFINE_list(
  "checkpoints", None, "Env steps of the tables' rows (default: the thesis' checkpoints)."
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = STUDY.config(
    ppo_gaps.PPOGapsConfig,
    "launchers.reproduce_ppo_gaps",
    checkpoints=common.parse_checkpoints(_CHECKPOINTS.value),
  )
  print(open(ppo_gaps.run(config)).read())


if __name__ == "__main__":
  STUDY.run(main)
