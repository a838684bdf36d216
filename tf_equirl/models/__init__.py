"""Transition models (world models) that respect an MDP's symmetry (thesis 4.7).

* `TransitionSpec.for_env(env)`: what a model of `env` needs (representations, action
  codes, proximal distance, loss and metrics).
* `MLPTransitionModel().build(spec)` and `EquivariantTransitionModel(pool="proximal" |
  "mean").build(spec)`: plain functional Keras models `[observation [B, d] float32,
  action [B] int32] -> prediction`, parameter counts matched within 10 %.
* `TransitionTrainer(model, spec, TrainConfig(...)).fit(train, validation)`: Adam 1e-3,
  grad-norm clip 0.5, batch 64 (thesis Table 5.5), compiled steps over `tf.data`;
  `train_one(...)`: one training run on a saved dataset, with its files.
* `collect_episodes`: whole episodes with the episode of every transition.
* `make_datasets`, `load_split`, `as_tf_dataset`: the joint / left / random / validation
  transition datasets (`tf_equirl.models.data` documents the .npz format).
* `model_dynamics(model, env)` -> a `physics` function for `env.with_dynamics`, and
  `predicted_step(model, env, state, action)` -> `(next_state, reward, terminated)` with
  rewards from the environment's own rule (eq. 4.21).
"""

from tf_equirl.models.data import (
  DATASETS,
  DataConfig,
  as_tf_dataset,
  collect_episodes,
  collect_transitions,
  dataset_dir,
  load_split,
  make_datasets,
  save_split,
)
from tf_equirl.models.dynamics import model_dynamics, predict_observation, predicted_step
from tf_equirl.models.networks import (
  POOLS,
  EquivariantTransitionModel,
  MLPTransitionModel,
  build_transition_model,
  matched_channels,
)
from tf_equirl.models.spec import TransitionSpec
from tf_equirl.models.training import TrainConfig, TransitionTrainer, evaluate, train_one

__all__ = [
  "TransitionSpec",
  "MLPTransitionModel",
  "EquivariantTransitionModel",
  "POOLS",
  "build_transition_model",
  "matched_channels",
  "TrainConfig",
  "TransitionTrainer",
  "evaluate",
  "train_one",
  "DataConfig",
  "DATASETS",
  "make_datasets",
  "collect_transitions",
  "collect_episodes",
  "save_split",
  "load_split",
  "as_tf_dataset",
  "dataset_dir",
  "model_dynamics",
  "predicted_step",
  "predict_observation",
]
