"""Train a Dyna agent with a (equivariant) world model: `python -m launchers.train_dyna`.

With no flags: Supervised-Dyna on CartPole-v1 with the zoo's G-CNN world model, an MLP
actor-critic, planning ratio 1, 50 Dyna iterations, one seed, 500,000 real steps. Examples:

  python -m launchers.train_dyna --env=Catch-v0 --model=gcnn --planning_ratio=8 --seeds=8
  python -m launchers.train_dyna --mode=online --model=mlp --planning_ratio=0.5 \
      --dyna_iterations=10 --total_steps=100000
  python -m launchers.train_dyna --mode=online --orbit_augmentation --rollout_start=buffer \
      --rollout_horizon=20
  python -m launchers.train_dyna --mode=online --model=true       # upper bound: the real env
  python -m launchers.train_dyna --mode=online --model=mlp --nomodel_training   # lower bound
  python -m launchers.train_dyna --env=Catch-v0 --mode=online --model=gcnn --learned_outcome

Every PPO flag of `launchers.train_ppo` applies to the actor-critic (--network, --critic,
--learning_rate, ...), and every `DynaConfig` field has a flag (--model and --model_path for
`world_model` and `world_model_path`). Writes the same outputs as train_ppo into --out
(per-seed CSVs with the planned steps beside the real ones, TensorBoard, actor/critic .keras,
the online world model, summary.md/json, curves.png).
"""

import os

from absl import app

from launchers.common import (
  config_from_flags,
  define_config_flags,
  define_training_flags,
  exit_when_done,
  flags_parser,
  folder_name,
  parse_env,
  report_failures,
  with_runtime_fallback,
)
from tf_equirl import results
from tf_equirl.agents.dyna import (
  MODEL_BUFFERS,
  MODES,
  ROLLOUT_STARTS,
  WORLD_MODELS,
  DynaConfig,
  default_dyna_config,
)
from tf_equirl.runner import run_experiment

# MLP actor-critics by default (thesis 4.7.5.3). XLA's newer CPU runtime cannot compile the
# world model's planning step in TF 2.15 (an MLIR lowering error, see
# launchers.common.with_runtime_fallback), so Dyna compiles with the classic runtime unless
# asked otherwise (and then falls back to it).
TRAINING = define_training_flags(
  network="mlp",
  xla_runtime=False,
  out_help="Output folder (default runs/<env>_dyna_<mode>_<model>_pr<ratio>).",
)
define_config_flags(
  DynaConfig,
  names={"world_model": "model", "world_model_path": "model_path"},
  enums={
    "mode": MODES,
    "world_model": WORLD_MODELS,
    "model_buffer": MODEL_BUFFERS,
    "rollout_start": ROLLOUT_STARTS,
  },
)


def config_from_command_line() -> DynaConfig:
  """The `DynaConfig` of the flags: the thesis' Dyna settings of --env, the PPO flags on its
  actor-critic, the Dyna flags."""
  env = parse_env(TRAINING.env.value)
  return config_from_flags(
    DynaConfig,
    factory=lambda **fields: default_dyna_config(
      env, ppo_overrides=TRAINING.ppo_fields(), **fields
    ),
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_from_command_line()
  seeds = TRAINING.seed_list()
  checkpoints = TRAINING.checkpoint_steps(config.env)
  out = TRAINING.out.value or os.path.join(
    "runs",
    folder_name(
      f"{config.env}_dyna_{config.mode}_{config.world_model}_pr{config.planning_ratio:g}"
    ),
  )
  try:
    result = run_experiment(config, seeds, out, checkpoints=checkpoints, **TRAINING.run_options())
  except ValueError as e:  # an unknown zoo name, a world model of another environment, or an
    # --out that cannot take the run (tf_equirl.runs.RunFolderError)
    raise app.UsageError(str(e))
  print(
    f"compile {result.compile_seconds:.1f} s (first Dyna iteration), then "
    f"{result.steps_per_second:,.0f} real env steps/s"
  )
  print(results.markdown_summary({f"dyna ({config.world_model} world model)": result.summary}))
  print(f"wrote {out}/ (summary.md, curves.png, seed_*.csv, tb/, seed_*/actor.keras)")


if __name__ == "__main__":
  app.run(
    exit_when_done(with_runtime_fallback(report_failures(main))),
    flags_parser=flags_parser(TRAINING.configure_compilation),
  )
