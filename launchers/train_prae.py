"""Train a PRAE (plannable approximate MDP homomorphism), plan in its abstract MDP and
evaluate the lifted policy.

  python -m launchers.train_prae --out=runs/prae/cartpole/seed_0

One flag per field of `tf_equirl.prae.PRAEConfig` (defaults: the reference's CartPole
settings with 100 random episodes: 100 epochs, batch 1024, Adam 1e-3, 5 negatives per
sample, hinge 1, 1,024 prototypes, tau 0.1, 500 sweeps at gamma 0.9, reward 1 at the
upright goal state). Writes `<out>/history.csv` (loss terms, Hits@1 and MRR per epoch),
`<out>/summary.json` (returns of the lifted policy, Hits@1, MRR), `<out>/model.keras` and
`<out>/plan.npz`.
"""

import json
import sys

from absl import app, flags

from launchers import common

from tf_equirl.prae import ENCODERS, LOSS_FORMS, OBJECTIVES, REWARDS, PRAEConfig, train_prae

common.define_config_flags(
  PRAEConfig,
  enums={
    "encoder": ENCODERS,
    "loss_form": LOSS_FORMS,
    "objective": OBJECTIVES,
    "reward": REWARDS,
  },
  lower_bounds={"epochs": 1, "seed": 0, "batch_size": 1, "num_episodes": 1},
)
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/prae/<env>/seed_<seed>).")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bar.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = common.config_from_flags(PRAEConfig)
  out = _OUT.value or f"runs/prae/{common.folder_name(config.env_name)}/seed_{config.seed}"
  common.check_output_folder(out, "out")
  with common.usage_errors():
    run = train_prae(
      config,
      out,
      progress=not _NO_PROGRESS.value,
      command="python -m launchers.train_prae " + " ".join(sys.argv[1:]),
    )
  keys = ("return_mean", "return_std", "hits_at_1", "mrr", "val_hits_at_1", "val_mrr")
  print(f"wrote {out}: " + json.dumps({k: run.summary[k] for k in keys}))


if __name__ == "__main__":
  app.run(main)
