"""Train a Dyna agent with a (equivariant) world model: `python -m launchers.train_dyna`.

With no flags: Supervised-Dyna on CartPole-v1 with the zoo's G-CNN world model, an MLP
actor-critic, planning ratio 1, 50 Dyna iterations, one seed, 500,000 real steps. Examples:

  python -m launchers.train_dyna --env=Catch-v0 --model=gcnn --planning_ratio=8 --seeds=8
  python -m launchers.train_dyna --mode=online --model=mlp --planning_ratio=0.5 \
      --dyna_iterations=10 --total_steps=100000
  python -m launchers.train_dyna --mode=online --orbit_augmentation --rollout_start=buffer \
      --rollout_horizon=20

Every PPO flag of `launchers.train_ppo` applies to the actor-critic (--network, --critic,
--learning_rate, ...). Writes the same outputs as train_ppo into --out (per-seed CSVs with the
planned steps beside the real ones, TensorBoard, actor/critic .keras, the online world model,
summary.md/json, curves.png).
"""

import os

from absl import app, flags

from launchers.common import (exit_when_done, flags_parser, folder_name, parse_checkpoints,
                              parse_env, parse_seeds, report_failures, with_runtime_fallback)
from launchers import train_ppo  # its flags (--env, --network, --seeds, PPO fields) apply here
from tf_equirl import results
from tf_equirl.agents.dyna import (MODEL_BUFFERS, MODES, ROLLOUT_STARTS, WORLD_MODELS,
                                   DynaConfig, default_dyna_config)
from tf_equirl.agents.ppo.experiment import run_experiment

FLAGS = flags.FLAGS
FLAGS.set_default("network", "mlp")  # thesis 4.7.5.3: Dyna agents have MLP actor-critics

# XLA's newer CPU runtime cannot compile the world model's planning step in TF 2.15 (an MLIR
# lowering error, see launchers.common.with_runtime_fallback), so Dyna compiles with the classic runtime unless
# asked otherwise (and then falls back to it).
flags.FLAGS.set_default("xla_runtime", False)
_MODE = flags.DEFINE_enum("mode", "supervised", list(MODES), "supervised: a pretrained, frozen "
                          "world model (thesis Alg. 6); online: learnt from scratch (Alg. 2).")
_MODEL = flags.DEFINE_enum("model", "gcnn", list(WORLD_MODELS), "World model: mlp, gcnn (mean "
                           "pooling) or gcnn_proximal.")
_MODEL_PATH = flags.DEFINE_string("model_path", None, "Supervised: zoo name or .keras file of "
                                  "the world model (default: the zoo's model of --model).")
_RATIO = flags.DEFINE_float("planning_ratio", 1.0, "Planned steps per real step (> 0).")
_ITERATIONS = flags.DEFINE_integer("dyna_iterations", 50, "Acting/planning alternations.")
_EPOCHS = flags.DEFINE_integer("model_epochs", None, "Online: model epochs per Dyna iteration "
                               "(default 100 CartPole, 10 Catch).")
_BUFFER = flags.DEFINE_enum("model_buffer", "iteration", list(MODEL_BUFFERS), "Online: learn "
                            "from the last acting phase (thesis) or from all real data.")
_ORBIT = flags.DEFINE_bool("orbit_augmentation", False, "Add every group image of each real "
                           "transition to the model's data.")
_START = flags.DEFINE_enum("rollout_start", "reset", list(ROLLOUT_STARTS), "Planned episodes "
                           "start at reset (thesis) or branch from real states.")
_HORIZON = flags.DEFINE_integer("rollout_horizon", None, "Planned episode length limit "
                                "(required with --rollout_start=buffer).")


def config_from_flags() -> DynaConfig:
  overrides = dict(train_ppo.ppo_overrides(), network=FLAGS.network, critic=FLAGS.critic)
  env = parse_env(FLAGS.env)
  try:
    return default_dyna_config(
        env, ppo_overrides=overrides, mode=_MODE.value, world_model=_MODEL.value,
        world_model_path=_MODEL_PATH.value, planning_ratio=_RATIO.value,
        dyna_iterations=_ITERATIONS.value, model_epochs=_EPOCHS.value,
        model_buffer=_BUFFER.value, orbit_augmentation=_ORBIT.value,
        rollout_start=_START.value, rollout_horizon=_HORIZON.value)
  except ValueError as e:
    raise app.UsageError(str(e))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_from_flags()
  seeds = parse_seeds(FLAGS.seeds)
  checkpoints = (parse_checkpoints(FLAGS.checkpoints)
                 or train_ppo.default_checkpoints(config.env))
  out = FLAGS.out or os.path.join("runs", folder_name(
      f"{config.env}_dyna_{config.mode}_{config.world_model}_pr{config.planning_ratio:g}"))
  try:
    result = run_experiment(config, seeds, out, checkpoints=checkpoints,
                            progress=not FLAGS.no_progress,
                            tensorboard=not FLAGS.no_tensorboard,
                            **train_ppo.run_folder_options())
  except ValueError as e:  # an unknown zoo name, a world model of another environment, or an
    # --out that cannot take the run (tf_equirl.runs.RunFolderError)
    raise app.UsageError(str(e))
  print(f"compile {result.compile_seconds:.1f} s (first Dyna iteration), then "
        f"{result.steps_per_second:,.0f} real env steps/s")
  print(results.markdown_summary({f"dyna ({config.world_model} world model)": result.summary}))
  print(f"wrote {out}/ (summary.md, curves.png, seed_*.csv, tb/, seed_*/actor.keras)")


if __name__ == "__main__":
  app.run(exit_when_done(with_runtime_fallback(report_failures(main))),
          flags_parser=flags_parser(train_ppo.configure_compilation))
