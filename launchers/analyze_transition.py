"""Thesis 4.7.5-4.7.6 analyses of transition models; writes results/transition_models.md.

  python -m launchers.make_transition_data --env=CartPole-v1 --seed=0
  python -m launchers.analyze_transition --env=CartPole-v1 --epochs=30 --seeds=3
  python -m launchers.make_transition_data --env=Catch-v0 --seed=0
  python -m launchers.analyze_transition --env=Catch-v0 --epochs=5 --seeds=1

Parses flags into a `tf_equirl.models.study.TransitionStudyConfig` and calls `run_study`:
for every seed, dataset (joint, left, random) and model (MLP, G-CNN with proximal pooling,
G-CNN with mean pooling) it trains a model (skipping runs already in `runs/transition/` with
the same epochs), then writes:

* `results/transition_<env>_curves.png`: validation RMS (CartPole, Fig. 4.6) or validation
  loss and accuracy (Catch, Fig. 4.9) against epochs, one panel per dataset;
* `results/transition_cartpole_angle.png`: final validation RMS by pole angle (Fig. 4.7);
* the equivariance rate (thesis 4.7.4) of untrained models over `--equivariance_seeds`
  initialisations and of every trained model, on all 675 Catch state-action pairs or on
  the 10,000 CartPole validation pairs;
* this environment's section of `results/transition_models.md` (between generated markers;
  the rest of the file is left as it is).

`--zoo` copies the seed-0 models trained on `joint` into
`zoo/<env>/{mlp,gcnn,gcnn_proximal}_transition.keras` (`gcnn`: mean pooling) and updates the
manifest and cards.
"""

import os
import sys

import tensorflow as tf
from absl import app, flags

from launchers import common

from tf_equirl.models.data import SPLITS, dataset_dir
from tf_equirl.models.presets import ZOO_FOLDER
from tf_equirl.models.study import TransitionStudyConfig, run_study

_ENV = flags.DEFINE_enum("env", "CartPole-v1", sorted(ZOO_FOLDER), "Environment.")
_EPOCHS = flags.DEFINE_integer("epochs", 30, "Training epochs of every model.")
_SEEDS = flags.DEFINE_integer("seeds", 1, "Initialisation seeds 0..N-1 per configuration.")
_EQ_SEEDS = flags.DEFINE_integer("equivariance_seeds", 1000, "Untrained initialisations "
                                 "for the equivariance rate.")
_EQ_ATOL = flags.DEFINE_float("equivariance_atol", 1e-5, "A pair counts as equivariant when "
                              "its error is at most this.")
_DATA_SEED = flags.DEFINE_integer("data_seed", 0, "Seed the datasets were made with.")
_DATA_DIR = flags.DEFINE_string("data_dir", "data", "Root of the datasets.")
_RUNS = flags.DEFINE_string("runs_dir", "runs/transition", "Run folders.")
_RESULTS = flags.DEFINE_string("results_dir", "results", "Where figures and the table go.")
_RETRAIN = flags.DEFINE_bool("retrain", False, "Retrain runs that already exist.")
_ZOO = flags.DEFINE_bool("zoo", False, "Put the seed-0 joint models into the zoo.")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide progress bars.")


def main(argv):
  tf.get_logger().setLevel("ERROR")  # one trainer per run: its retracing notes are expected
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  try:
    config = TransitionStudyConfig(
        env=_ENV.value, epochs=_EPOCHS.value, seeds=_SEEDS.value,
        equivariance_seeds=_EQ_SEEDS.value, equivariance_atol=_EQ_ATOL.value,
        data_seed=_DATA_SEED.value, data_dir=_DATA_DIR.value, runs_dir=_RUNS.value,
        results_dir=_RESULTS.value, retrain=_RETRAIN.value,
        progress=not _NO_PROGRESS.value,
        command="python -m launchers.analyze_transition " + " ".join(sys.argv[1:]))
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  folder = dataset_dir(config.data_dir, config.env, config.data_seed)
  missing = [name for name in SPLITS
             if not os.path.exists(os.path.join(folder, f"{name}.npz"))]
  if missing:
    raise app.UsageError(f"No transition datasets {missing} in {folder}; create them with "
                         f"`python -m launchers.make_transition_data --env={config.env} "
                         f"--seed={config.data_seed} --data_dir={config.data_dir}`.")
  common.check_output_folder(_RUNS.value, "runs_dir")
  common.check_output_folder(_RESULTS.value, "results_dir")
  print(run_study(config, ship_to_zoo=_ZOO.value))


if __name__ == "__main__":
  app.run(main)
