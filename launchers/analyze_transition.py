"""Thesis 4.7.5-4.7.6 analyses of transition models; writes results/transition_<env>/README.md.

  python -m launchers.make_transition_data --env=CartPole-v1 --seed=0
  python -m launchers.analyze_transition --env=CartPole-v1 --epochs=30 --seeds=3
  python -m launchers.make_transition_data --env=Catch-v0 --seed=0
  python -m launchers.analyze_transition --env=Catch-v0 --epochs=5 --seeds=1

Parses flags (one per field) into a
`tf_equirl.experiments.transition_study.TransitionStudyConfig` and calls its `run`:
for every seed, dataset (joint, left, random) and model (MLP, G-CNN with proximal pooling,
G-CNN with mean pooling) it trains a model (skipping runs already in `runs/transition/` with
the same epochs; the seeds of a model and dataset together as one compiled program, or one
after another with `--novectorize_seeds`), then writes:

* `results/transition_<env>/transition_<env>_curves.png`: validation RMS (CartPole, Fig.
  4.6) or validation loss and accuracy (Catch, Fig. 4.9) against epochs, one panel per
  dataset;
* `results/transition_cartpole/transition_cartpole_angle.png`: final validation RMS by pole
  angle (Fig. 4.7);
* the equivariance rate (thesis 4.7.4) of untrained models over `--equivariance_seeds`
  initialisations and of every trained model, on all 675 Catch state-action pairs or on
  the 10,000 CartPole validation pairs;
* this environment's section of `results/transition_<env>/README.md` (`--report`; between
  generated markers, the rest of the file is left as it is).

`--zoo` copies the seed-0 models trained on `joint` into
`zoo/<env>/{mlp,gcnn,gcnn_proximal}_transition.keras` (`gcnn`: mean pooling) and updates the
manifest and cards.
"""

import sys

import tensorflow as tf
from absl import app, flags

from launchers import common

from tf_equirl.envs.defaults import TRANSITION_ENVS
from tf_equirl.experiments import transition_study

common.define_config_flags(
  transition_study.TransitionStudyConfig,
  skip=("progress", "command"),
  names={"ship_to_zoo": "zoo"},
  enums={"env": TRANSITION_ENVS},
)
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")


def main(argv):
  tf.get_logger().setLevel("ERROR")  # one trainer per run: its retracing notes are expected
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = common.config_from_flags(
    transition_study.TransitionStudyConfig,
    progress=not _NO_PROGRESS.value,
    command="python -m launchers.analyze_transition " + " ".join(sys.argv[1:]),
  )
  with common.usage_errors():
    transition_study.check_datasets(config)
  common.check_output_folders(runs_dir=config.runs_dir, results_dir=config.results_dir)
  print(transition_study.run_study(config))


if __name__ == "__main__":
  app.run(main)
