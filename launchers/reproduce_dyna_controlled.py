"""Does Equi-Dyna beat PPO? The controlled study on one environment.

  python -m launchers.reproduce_dyna_controlled --env=CartPole-v1 --seeds=32
  python -m launchers.reproduce_dyna_controlled --env=Catch-v0 --seeds=32
  python -m launchers.reproduce_dyna_controlled --seeds=32 --backend=ray --address=auto
  python -m launchers.reproduce_dyna_controlled --env=Catch-v0 --declare_only  # no training

Writes the study's declaration (arms, budgets, measures and the comparisons it will test)
into --report (default <results>/README.md) before anything trains, then tunes PPO over a
small grid on tuning seeds (--tuning_learning_rates, --tuning_epochs, --tuning_seeds), trains
PPO, the compute-matched PPO, the tuned PPO, online Dyna with MLP, G-CNN and proximal G-CNN
world models (with the environment's rules and learning the reward and termination), and the
true-model and untrained-model bounds (runs/ keeps the per-seed runs; finished ones are
reused), and completes the report with each arm's return and steps to the threshold and the
declared comparisons. The study is tf_equirl.experiments.dyna_controlled: the flags are the
fields of its `ControlledDynaConfig`.
"""

from absl import app, flags

from launchers import common
from tf_equirl.experiments import dyna_controlled as study

STUDY = common.define_study_flags(
  study.ControlledDynaConfig,
  enums={"env": sorted(study.THRESHOLDS)},
  lower_bounds={"seeds": 1, "total_steps": 1, "dyna_iterations": 1, "window": 1},
)

_DECLARE_ONLY = flags.DEFINE_bool(
  "declare_only", False, "Write the declaration (arms, budgets, comparisons) and train nothing."
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = STUDY.config(study.ControlledDynaConfig, "launchers.reproduce_dyna_controlled")
  path = study.declare(config) if _DECLARE_ONLY.value else study.run(config)
  print(open(path, encoding="utf-8").read())


if __name__ == "__main__":
  STUDY.run(main)
