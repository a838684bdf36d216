"""Train one transition model (thesis 4.7.5-4.7.6) on a dataset from make_transition_data.

  python -m launchers.train_transition --env=CartPole-v1 --model=gcnn --pool=mean \
      --dataset=joint --epochs=30 --seed=0 --out=runs/transition/demo

Settings of thesis Table 5.5: Adam 1e-3, global grad-norm clip 0.5, batch 64 (every field of
`tf_equirl.models.TrainConfig` has a flag; --epochs defaults to 30 here). Writes
`<out>/model.keras` (a plain Keras model: `[observation, action] -> prediction`),
`<out>/history.csv` (validation metrics per epoch, also per action), `<out>/summary.json`
and TensorBoard scalars under `<out>/tb`. `--zoo` also puts the model into the zoo as
`<env>/<model>_transition` (`mlp`, `gcnn` for mean pooling, `gcnn_proximal`), with its
equivariance error measured, and updates the manifest and cards:

  python -m launchers.train_transition --env=Catch-v0 --model=gcnn --pool=proximal \
      --dataset=joint --epochs=10 --seed=0 --data_seed=0 --zoo
"""

import json
import sys

import tensorflow as tf
from absl import app, flags

from launchers import common

from tf_equirl.envs.defaults import TRANSITION_ENVS
from tf_equirl.experiments.transition_study import ship_run
from tf_equirl.models import DATASETS, POOLS, TrainConfig
from tf_equirl.models.training import run_folder, train_one

_ENV = flags.DEFINE_enum("env", "CartPole-v1", list(TRANSITION_ENVS), "Environment.")
_MODEL = flags.DEFINE_enum("model", "gcnn", ["mlp", "gcnn"], "Network.")
_POOL = flags.DEFINE_enum("pool", "mean", list(POOLS), "Pooling of the G-CNN's images.")
_DATASET = flags.DEFINE_enum("dataset", "joint", list(DATASETS), "Training split.")
common.define_config_flags(
  TrainConfig, defaults={"epochs": 30}, lower_bounds={"epochs": 1, "seed": 0, "batch_size": 1}
)
_DATA_SEED = flags.DEFINE_integer(
  "data_seed", 0, "Seed the datasets were made with.", lower_bound=0
)
_DATA_DIR = flags.DEFINE_string("data_dir", "data", "Root of the datasets.")
_OUT = flags.DEFINE_string(
  "out", None, "Output folder (default runs/transition/<env>/" "<model>_<dataset>/seed_<seed>)."
)
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bar.")
_NO_TENSORBOARD = flags.DEFINE_bool("no_tensorboard", False, "Skip TensorBoard scalars.")
_ZOO = flags.DEFINE_bool(
  "zoo",
  False,
  "Put the trained model into the zoo (trained on joint " "only: the zoo's models are).",
)


def main(argv):
  tf.get_logger().setLevel("ERROR")  # one trainer per run: its retracing notes are expected
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = common.config_from_flags(TrainConfig)
  out = _OUT.value or run_folder(
    "runs/transition", _ENV.value, _MODEL.value, _POOL.value, _DATASET.value, config.seed
  )
  if _ZOO.value and _DATASET.value != "joint":
    raise app.UsageError(
      f"--zoo ships models trained on --dataset=joint, not " f"{_DATASET.value!r}."
    )
  common.check_output_folder(out, "out")
  try:
    _, history = train_one(
      _ENV.value,
      _MODEL.value,
      _POOL.value,
      _DATASET.value,
      out,
      config,
      _DATA_DIR.value,
      _DATA_SEED.value,
      not _NO_PROGRESS.value,
      not _NO_TENSORBOARD.value,
      command="python -m launchers.train_transition " + " ".join(sys.argv[1:]),
    )
  except ValueError as e:
    raise app.UsageError(str(e))
  final = {k: v for k, v in history[-1].items() if k.startswith("val_")}
  print(
    f"wrote {out}/model.keras; final validation: "
    + json.dumps({k: round(v, 5) for k, v in final.items()})
  )
  if _ZOO.value:
    print("zoo:", ship_run(_ENV.value, out, _DATA_DIR.value, _DATA_SEED.value))


if __name__ == "__main__":
  app.run(main)
