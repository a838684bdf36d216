"""PureJaxRL's own PPO as a second reference for the returns tables
(results/ppo_catch/thesis_gaps.md).

  python3 benchmarks/purejaxrl_returns.py --env=Catch-bsuite --steps=20000 --seeds=32 \\
      --set LR=3.5e-4 --set NUM_MINIBATCHES=64
  python3 benchmarks/purejaxrl_returns.py --env=CartPole-v1 --steps=500000 --seeds=32

Runs PureJaxRL's `ppo.py` (unchanged, from ../shared/bench/purejaxrl/, set up with its
`setup.sh`; this script re-executes itself under that virtual environment) vmapped over
`--seeds` PRNG keys and prints the table of `launchers.reproduce_ppo`: mean +- 2 SE over the
seeds of PureJaxRL's metric (`returned_episode_returns`, averaged over the steps and
environments of the update that reaches the step count), the same reading as tf_equirl's
tables. The config is PureJaxRL's CartPole default (`run_cartpole.py`) with `--set`
overrides. No timings are taken.
"""

import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "bench", "purejaxrl")
BENCH = os.environ.get(
  "PJR_BENCH", BENCH if os.path.isdir(BENCH) else "/work/shared/bench/purejaxrl"
)
VENV = os.environ.get("PJR_VENV", "/tmp/purejaxrl-venv")
DEST = os.environ.get("PJR_DEST", "/tmp/purejaxrl-src")
CHECKPOINTS = {"CartPole-v1": (10_000, 100_000, 500_000), "Catch-bsuite": (2_000, 10_000, 20_000)}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--env", default="CartPole-v1", help="gymnax environment name")
  ap.add_argument("--steps", type=float, default=5e5, help="TOTAL_TIMESTEPS")
  ap.add_argument("--seeds", type=int, default=32, help="PRNG keys 0..N-1")
  ap.add_argument(
    "--set",
    action="append",
    default=[],
    metavar="KEY=VALUE",
    help="override a PureJaxRL config key, e.g. --set LR=3.5e-4",
  )
  args = ap.parse_args()
  if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
    if not os.path.exists(f"{VENV}/bin/python"):
      raise SystemExit(f"no PureJaxRL environment at {VENV}: run bash {BENCH}/setup.sh first")
    os.execv(f"{VENV}/bin/python", [f"{VENV}/bin/python", os.path.abspath(__file__)] + sys.argv[1:])
  sys.path.insert(0, BENCH)
  sys.path.insert(0, f"{DEST}/stubs")
  sys.path.insert(0, f"{DEST}/purejaxrl")
  import jax
  import numpy as np

  if not hasattr(jax, "tree_map"):
    jax.tree_map = jax.tree_util.tree_map
  from ppo import make_train  # PureJaxRL's, unmodified
  from run_cartpole import PJR_CARTPOLE_CONFIG

  config = dict(PJR_CARTPOLE_CONFIG, DEBUG=False, ENV_NAME=args.env, TOTAL_TIMESTEPS=args.steps)
  for item in args.set:
    key, _, value = item.partition("=")
    if key not in config:
      raise SystemExit(f"--set: unknown config key {key!r}; known: {sorted(config)}")
    config[key] = (
      json.loads(value.lower()) if value.lower() in ("true", "false") else type(config[key])(value)
    )
  print("config " + json.dumps(config, sort_keys=True), flush=True)
  train = jax.jit(jax.vmap(make_train(config)))
  out = train(jax.random.split(jax.random.PRNGKey(0), args.seeds))
  r = np.asarray(out["metrics"]["returned_episode_returns"])  # [seeds, updates, steps, envs]
  curves = r.mean(axis=(2, 3))
  batch = config["NUM_ENVS"] * config["NUM_STEPS"]
  env_steps = batch * np.arange(1, curves.shape[1] + 1)
  print(f"| env steps | purejaxrl {args.env} ({args.seeds} seeds) |\n|---|---|")
  for step in CHECKPOINTS.get(args.env, (int(args.steps),)):
    i = int(min(np.searchsorted(env_steps, step), len(env_steps) - 1))
    values = curves[:, i]
    two_se = 2 * values.std(ddof=1) / math.sqrt(len(values))
    print(f"| {step:,} | {values.mean():.3f} +- {two_se:.3f} |")


if __name__ == "__main__":
  main()
