"""Train PPO with an (equivariant) actor-critic: `python -m launchers.train_ppo`.

With no flags: a G-CNN agent on CartPole-v1, one seed, 500,000 steps. Examples:

  python -m launchers.train_ppo --env=Catch-v0 --network=mlp --seeds=8
  python -m launchers.train_ppo --network=symmetrizer --total_steps=100000 --learning_rate=2.5e-4
  python -m launchers.train_ppo --env=GridWorld-v0 --network=gcnn --group=C4 --seeds=4
  python -m launchers.train_ppo --env=Catch-v0:global:0.5 --network=relaxed --seeds=0,3

Writes into --out: run.json (the config and each finished seed's fingerprint), per-seed CSVs,
TensorBoard scalars (tb/), the trained actor and critic (seed_<k>/actor.keras),
summary.md/json at the checkpoints and curves.png. An --out that holds another run is refused;
--resume continues an interrupted run (finished seeds reused, the interrupted one from its last
checkpoint, saved every --checkpoint_every iterations), --overwrite replaces it. A run whose
training diverges stops with an error naming the seed and the iteration, and is marked failed.
"""

import os

from absl import app

from launchers.common import (
  define_training_flags,
  exit_when_done,
  flags_parser,
  folder_name,
  report_failures,
  with_runtime_fallback,
)

from tf_equirl import results
from tf_equirl.runner import run_experiment

TRAINING = define_training_flags(
  network="gcnn",
  xla_runtime=True,
  out_help="Output folder (default runs/<env>_<network>, with ':' of a variant replaced by "
  "'_').",
)
configure_compilation = TRAINING.configure_compilation


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = TRAINING.ppo_config()
  seeds = TRAINING.seed_list()
  checkpoints = TRAINING.checkpoint_steps(config.env)
  arm = config.network + (f"@{config.group}" if config.group else "")
  out = TRAINING.out.value or os.path.join(
    "runs", folder_name(f"{config.env}_{arm.replace('@', '_')}")
  )
  result = run_experiment(config, seeds, out, checkpoints=checkpoints, **TRAINING.run_options())
  print(
    f"compile {result.compile_seconds:.1f} s, then {result.steps_per_second:,.0f} env " f"steps/s"
  )
  print(results.markdown_summary({arm: result.summary}))
  print(f"wrote {out}/ (summary.md, curves.png, seed_*.csv, tb/, seed_*/actor.keras)")


if __name__ == "__main__":
  app.run(
    exit_when_done(with_runtime_fallback(report_failures(main))),
    flags_parser=flags_parser(configure_compilation),
  )
