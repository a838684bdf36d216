"""Train the off-policy actor-critic (DrQ-v2 on states, or SAC with --algorithm=sac):
`python -m launchers.train_ac`.

With no flags: the mlp networks on Pendulum-v1, one seed, 100,000 env steps. Examples:

  python -m launchers.train_ac --network=gcnn --seeds=4
  python -m launchers.train_ac --network=relaxed --num_kernels=2 --total_steps=40000
  python -m launchers.train_ac --total_steps=40000 --eval_every=2000 --noise_steps=10000
  python -m launchers.train_ac --algorithm=sac --network=gcnn
  python -m launchers.train_ac --observation=pixels --encoder=gcnn --replay_capacity=100000

With --observation=pixels the agent sees --image_size pictures of the last --frame_stack
states through the --encoder (cnn, gcnn, relaxed, rpp), DrQ-v2's pixel recipe; the replay
buffer holds uint8 pictures (about 130 kB per transition at 85x85 with 3 frames).

Every ACConfig field is a flag (--help lists them). The seeds train --concurrent_seeds at
once, each agent its own compiled graph in its own thread (default: one per CPU core for state
observations under XLA, which runs one graph mostly on one core), or with --seed_batch=N N at
a time as one vectorised program. Writes into --out: run.json (the config and each finished
seed's fingerprint),
seed_<k>.csv (evaluation return of the mean action and training metrics against env steps),
seed_<k>/actor.keras and critic.keras, summary.json. An --out that holds another run is refused;
--resume reuses its finished seeds, --overwrite replaces it.
"""

import os

from absl import app, flags

from launchers.common import (
  config_from_flags,
  define_config_flags,
  exit_when_done,
  folder_name,
  parse_seeds,
  report_failures,
  usage_errors,
)

from tf_equirl.agents.ac import ACConfig
from tf_equirl.agents.ac.experiment import run_ac_experiment
from tf_equirl import envs
from tf_equirl.agents.ac.config import ALGORITHMS, OBSERVATIONS, check_compiles
from tf_equirl.agents.ac.seed_batch import check_seed_batch
from tf_equirl.networks.continuous import CONTINUOUS_KINDS
from tf_equirl.networks.pixel_layout import PIXEL_ENCODER_KINDS

define_config_flags(
  ACConfig,
  skip=("seed",),
  enums={
    "algorithm": ALGORITHMS,
    "network": CONTINUOUS_KINDS,
    "observation": OBSERVATIONS,
    "encoder": PIXEL_ENCODER_KINDS,
  },
)
SEEDS = flags.DEFINE_string("seeds", "1", "Seeds: a count N (0..N-1) or a list '3,7'.")
OUT = flags.DEFINE_string("out", None, "Output folder (default runs/ac_<env>_<network>).")
RESUME = flags.DEFINE_bool("resume", False, "Reuse the finished seeds of the run in --out.")
OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace the run --out holds.")
SEED_BATCH = flags.DEFINE_integer(
  "seed_batch",
  None,
  "Train this many seeds at a time as one vectorised program (state observations on "
  "TensorFlow-op environments); unset: each seed in its own agent.",
)
CONCURRENT_SEEDS = flags.DEFINE_integer(
  "concurrent_seeds",
  None,
  "Agents that train at once, each its own compiled graph in its own thread, taking the next "
  "seed; unset: one per CPU core for state observations under XLA, else one. Ignored with "
  "--seed_batch.",
  lower_bound=1,
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_from_flags(ACConfig)
  with usage_errors():
    seeds = parse_seeds(SEEDS.value)
    env = envs.make(config.env)
    check_compiles(env, config, "train_ac")
    if SEED_BATCH.value is not None:
      check_seed_batch(config, env, SEED_BATCH.value)
  name = config.network if config.observation == "state" else f"pixels_{config.encoder}"
  out = OUT.value or os.path.join("runs", folder_name(f"ac_{config.env}_{name}"))

  def progress(seed, steps, ret):
    print(f"seed {seed}: {steps:>8,} env steps  eval {ret:9.1f}", flush=True)

  result = run_ac_experiment(
    config,
    seeds,
    out,
    resume=RESUME.value,
    overwrite=OVERWRITE.value,
    callback=progress,
    seed_batch=SEED_BATCH.value,
    concurrent_seeds=CONCURRENT_SEEDS.value,
  )
  summary = result.summary
  print(
    f"compile {result.compile_seconds:.1f} s, then {result.steps_per_second:,.0f} env steps/s; "
    f"final return {summary['final_return']:.1f} +- {summary['final_2se']:.1f} (2 SE) at "
    f"{summary['env_steps']:,} env steps"
  )
  print(f"wrote {out}/ (run.json, seed_*.csv, seed_*/actor.keras, summary.json)")


if __name__ == "__main__":
  app.run(exit_when_done(report_failures(main)))
