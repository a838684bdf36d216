"""Hyperparameter grids and many-seed tables on Ray Tune: `python -m launchers.sweep`.

  python -m launchers.sweep --algo=ppo --env=CartPole-v1 --grid=learning_rate=3.5e-4,1e-3 \\
      --grid=num_epochs=2,4 --seeds=32 --set=network=gcnn --out=runs/sweep_lr_epochs
  python -m launchers.sweep ... --resume                  # continue an interrupted sweep
  python -m launchers.sweep ... --address=auto            # on a running Ray cluster

Every --grid field multiplies the configurations; --sample draws a field per trial
(`uniform:LOW:HIGH`, `loguniform:LOW:HIGH`, `randint:LOW:HIGH`, `choice:A,B,...`; with
--num_samples draws). Writes into --out: runs/<configuration>/seed_<k>.{csv,npz} and log.jsonl,
Ray Tune's experiment under tune/, summary.md/json, curves.png and, for two grid fields,
heatmap.png and matrix.png.

Everything is checked before Ray starts: the environment and its symmetry group, every grid
point's configuration, the samplers, the seeds and --out. Trials compile as the algorithm's
own launcher does on defaults (ppo: XLA's newer runtime, as launchers.train_ppo; dyna: the
classic one, as launchers.train_dyna); --xla_runtime / --noxla_runtime choose for every
trial. A sweep that ends with seeds missing (failed trials, or SIGINT) exits non-zero, says
how many are missing and keeps what finished for --resume.
"""

import sys

from absl import app, flags

from launchers.common import define_compilation_flags, parse_seeds

from tf_equirl import sweeps

_ALGO = flags.DEFINE_enum("algo", "ppo", list(sweeps.algorithms()), "Algorithm to sweep.")
_ENV = flags.DEFINE_string("env", "CartPole-v1", "Environment (CartPole-v1, Catch-v0).")
_GRID = flags.DEFINE_multi_string(
  "grid", [], "FIELD=V1,V2,...: a grid over a config field; " "repeat for more fields."
)
_SAMPLE = flags.DEFINE_multi_string(
  "sample",
  [],
  "FIELD=KIND:ARGS: a Tune sampler, KIND one of "
  "uniform:LOW:HIGH, loguniform:LOW:HIGH, randint:LOW:HIGH, "
  "choice:A,B,...",
)
_SET = flags.DEFINE_multi_string("set", [], "FIELD=VALUE: a fixed config field for every trial.")
_SEEDS = flags.DEFINE_string(
  "seeds", "8", "Number of seeds N (seeds 0..N-1) or a " "comma-separated list."
)
_SEEDS_PER_TRIAL = flags.DEFINE_integer(
  "seeds_per_trial",
  None,
  "Seeds per trial (one worker, "
  "one compiled graph); default all seeds of a "
  "configuration in one trial.",
)
_NUM_SAMPLES = flags.DEFINE_integer(
  "num_samples", 1, "Draws of the --sample fields per grid " "point."
)
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/sweep_<algo>_<env>).")
_ADDRESS = flags.DEFINE_string(
  "address", None, "Ray cluster to join: auto or HOST:PORT " "(default: start Ray on this machine)."
)
_NUM_CPUS = flags.DEFINE_integer("num_cpus", None, "CPUs of a local Ray (default all).")
_CPUS_PER_TRIAL = flags.DEFINE_float("cpus_per_trial", 1, "CPUs reserved per trial.")
_TF_THREADS = flags.DEFINE_integer("tf_threads", None, "TensorFlow threads per trial.")
_MAX_FAILURES = flags.DEFINE_integer("max_failures", 2, "Retries of a crashed trial.")
_RESUME = flags.DEFINE_bool("resume", False, "Continue the interrupted sweep in --out.")
_CHECKPOINTS = flags.DEFINE_list(
  "checkpoints", None, "Env steps to summarise at (default: the " "thesis' table columns)."
)
_EVERY_ITERATION = flags.DEFINE_bool(
  "report_every_iteration",
  False,
  "Report every iteration " "to Tune (default: every compiled call).",
)
_VERBOSE = flags.DEFINE_integer("verbose", 1, "Tune's verbosity (0 silent, 1 status table).")
# --xla_runtime / --xla_cache for the trials; unset --xla_runtime takes the algorithm's default
# (sweeps.Algorithm.xla_runtime) and the workers compile without a cache unless --xla_cache
# names one (they compile side by side).
define_compilation_flags(xla_runtime=True)


def _field_values(text: str, flag: str):
  name, sep, values = text.partition("=")
  if not sep or not name or not values:
    raise app.UsageError(f"--{flag} expects FIELD=VALUES, received {text!r}.")
  return name.strip(), values


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  algorithm = sweeps.get_algorithm(_ALGO.value)
  config_cls = algorithm.config_cls
  try:
    space, overrides = {}, {}
    for text in _GRID.value:
      name, values = _field_values(text, "grid")
      space[name] = [sweeps.parse_value(config_cls, name, v) for v in values.split(",")]
    for text in _SAMPLE.value:
      name, spec = _field_values(text, "sample")
      try:
        space[name] = sweeps.parse_sampler(config_cls, name, spec)
      except ValueError as e:
        raise app.UsageError(f"--sample={e}") from None
    for text in _SET.value:
      name, value = _field_values(text, "set")
      overrides[name] = sweeps.parse_value(config_cls, name, value)
  except ValueError as e:
    raise app.UsageError(str(e))
  out = _OUT.value or f"runs/sweep_{_ALGO.value}_{_ENV.value}"
  command = "python -m launchers.sweep " + " ".join(sys.argv[1:])
  xla_runtime = flags.FLAGS.xla_runtime if flags.FLAGS["xla_runtime"].present else None
  try:
    result = sweeps.run_sweep(
      _ALGO.value,
      space,
      parse_seeds(_SEEDS.value),
      out,
      env=_ENV.value,
      overrides=overrides,
      num_samples=_NUM_SAMPLES.value,
      seeds_per_trial=_SEEDS_PER_TRIAL.value,
      cpus_per_trial=_CPUS_PER_TRIAL.value,
      tf_threads=_TF_THREADS.value,
      max_failures=_MAX_FAILURES.value,
      address=_ADDRESS.value,
      num_cpus=_NUM_CPUS.value,
      resume=_RESUME.value,
      checkpoints=[int(c) for c in _CHECKPOINTS.value] if _CHECKPOINTS.value else None,
      report_every_iteration=_EVERY_ITERATION.value,
      verbose=_VERBOSE.value,
      command=command,
      xla_runtime=xla_runtime,
      xla_cache=flags.FLAGS.xla_cache or None,
    )
  except ValueError as e:
    raise app.UsageError(str(e))
  except sweeps.SweepIncomplete as e:
    print(str(e), file=sys.stderr, flush=True)
    return 130 if e.interrupted else 1
  print(open(f"{result.out}/summary.md").read())
  print(
    f"{len(result.configs)} configurations x {len(result.seeds)} seeds in "
    f"{result.wall_seconds:.0f} s; wrote {result.out}/"
  )
  return 0


if __name__ == "__main__":
  app.run(main)
