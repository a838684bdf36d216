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

import dataclasses
import os

from absl import app, flags

from launchers.common import (define_compilation_flags, define_run_folder_flags,
                              exit_when_done, flags_parser, folder_name, parse_checkpoints,
                              parse_env, parse_seeds, report_failures,
                              with_runtime_fallback)

from tf_equirl import envs
from tf_equirl.agents.ppo import PRESETS, PPOConfig, default_config
from tf_equirl.agents.ppo.experiment import DEFAULT_CHECKPOINTS, run_experiment
from tf_equirl.networks import ACTOR_KINDS, CRITIC_KINDS
from tf_equirl import results

_ENV = flags.DEFINE_string("env", "CartPole-v1", f"Environment: one of {envs.list_envs()}, or "
                           "a symmetry-breaking variant '<env>:<breaking>:<strength>', e.g. "
                           "Catch-v0:global:0.5 (tf_equirl.envs.breaking).")
_NETWORK = flags.DEFINE_enum("network", "gcnn", list(ACTOR_KINDS), "Actor network.")
_CRITIC = flags.DEFINE_enum("critic", "mlp", list(CRITIC_KINDS), "Critic network.")
_PRESET = flags.DEFINE_enum("preset", None, sorted(PRESETS), "Named settings applied before "
                            "the flags below (tf_equirl.agents.ppo.PRESETS, "
                            "results/thesis_gaps.md).")
_SEEDS = flags.DEFINE_string("seeds", "1", "Number of seeds N (runs seeds 0..N-1) or a "
                             "comma-separated list of seeds, e.g. '3,7'.")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", None, "Environment steps per seed "
                                    "(default: 500,000 for CartPole, 20,000 for Catch).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/<env>_<network>, with "
                           "':' of a variant replaced by '_').")
_CHECKPOINTS = flags.DEFINE_list("checkpoints", None, "Env steps to summarise at, e.g. "
                                 "10000,100_000 (default: the thesis' table columns of the "
                                 "environment).")
_NO_PROGRESS = flags.DEFINE_bool("no_progress", False, "Hide the progress bar.")
_NO_TENSORBOARD = flags.DEFINE_bool("no_tensorboard", False, "Skip TensorBoard scalars.")
# --xla_runtime / --xla_cache and --resume / --overwrite / --checkpoint_every (also used by
# launchers.train_dyna)
configure_compilation = define_compilation_flags(xla_runtime=True)
run_folder_options = define_run_folder_flags()

# Overrides of PPOConfig fields: every field but the ones above gets a flag of its own.
_SKIP = {"env", "network", "critic", "total_steps", "seed", "preset"}
_OVERRIDES = {}
for _field in dataclasses.fields(PPOConfig):
  if _field.name in _SKIP:
    continue
  _kind = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool,
           str: flags.DEFINE_string}
  _type = {"int": int, "float": float, "bool": bool, "str": str,
           "Optional[int]": int, "Optional[str]": str}[str(_field.type)]
  _OVERRIDES[_field.name] = _kind[_type](_field.name, None, f"Override PPOConfig.{_field.name} "
                                         f"(default {_field.default!r}; see its docstring).")


def ppo_overrides() -> dict:
  """The PPOConfig fields set on the command line (also used by launchers.train_dyna)."""
  overrides = dict(PRESETS[_PRESET.value]) if _PRESET.value else {}
  overrides.update({name: flag.value for name, flag in _OVERRIDES.items()
                    if flag.value is not None})
  if _TOTAL_STEPS.value is not None:
    overrides["total_steps"] = _TOTAL_STEPS.value
  return overrides


def config_from_flags() -> PPOConfig:
  overrides = ppo_overrides()
  env = parse_env(_ENV.value)
  try:
    config = default_config(env, network=_NETWORK.value, critic=_CRITIC.value,
                            **overrides)
    envs.make(config.env).get_symmetry(config.group)  # an unknown --group fails here
    return config
  except ValueError as e:
    raise app.UsageError(str(e))


def default_checkpoints(env: str):
  """The table columns of `env`, or of its base environment for a variant (also used by
  launchers.train_dyna); None where there are none."""
  return DEFAULT_CHECKPOINTS.get(env.split(":")[0])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = config_from_flags()
  seeds = parse_seeds(_SEEDS.value)
  checkpoints = parse_checkpoints(_CHECKPOINTS.value) or default_checkpoints(config.env)
  arm = config.network + (f"@{config.group}" if config.group else "")
  out = _OUT.value or os.path.join("runs", folder_name(f"{config.env}_{arm.replace('@', '_')}"))
  result = run_experiment(config, seeds, out, checkpoints=checkpoints,
                          progress=not _NO_PROGRESS.value,
                          tensorboard=not _NO_TENSORBOARD.value, **run_folder_options())
  print(f"compile {result.compile_seconds:.1f} s, then {result.steps_per_second:,.0f} env "
        f"steps/s")
  print(results.markdown_summary({arm: result.summary}))
  print(f"wrote {out}/ (summary.md, curves.png, seed_*.csv, tb/, seed_*/actor.keras)")


if __name__ == "__main__":
  app.run(exit_when_done(with_runtime_fallback(report_failures(main))),
          flags_parser=flags_parser(configure_compilation))
