"""Throughput of the Dyna driver: real and planned env steps/s, model training, whole runs.

  python benchmarks/dyna_throughput.py                       # CartPole, 102,400 real steps
  python benchmarks/dyna_throughput.py --env=Catch-v0        # Catch, 20,000 real steps
  python benchmarks/dyna_throughput.py --quick               # tiny run (smoke test)

For each configuration (PPO alone; Supervised Equi-Dyna at planning ratio 1 and 8; online Dyna
with the MLP and the G-CNN world model at ratio 1) it trains one seed twice in one process:
the first run includes tracing and XLA compilation, the second is timed per phase. Printed:
the whole second run's wall time and its ratio to PPO's on the same real steps, real steps/s
of the acting phase, planned steps/s of the planning phase, and seconds per Dyna iteration of
model training. All figures come from one run of this script on one machine.
"""

import os
import platform
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from tf_equirl.agents.dyna import Dyna, default_dyna_config  # noqa: E402
from tf_equirl.agents.ppo import PPO  # noqa: E402

_ENV = flags.DEFINE_enum("env", "CartPole-v1", ["CartPole-v1", "Catch-v0"], "Environment.")
_TOTAL_STEPS = flags.DEFINE_integer(
  "total_steps", None, "Real steps (default 102,400 CartPole, " "20,000 Catch)."
)
_ITERATIONS = flags.DEFINE_integer("dyna_iterations", 50, "Dyna iterations.")
_MODEL_EPOCHS = flags.DEFINE_integer("model_epochs", None, "Online model epochs per iteration.")
_QUICK = flags.DEFINE_bool("quick", False, "Tiny run of one Dyna configuration (smoke test).")


def _timed_phases(dyna: Dyna, seed: int):
  """One run with every phase call timed (same calls as `Dyna.train`)."""
  cfg = dyna.config
  dyna.reset(seed)
  key = tf.constant([seed, 1], tf.int64)
  times = {"act": 0.0, "learn": 0.0, "plan": 0.0}
  start = time.perf_counter()
  for i in range(cfg.dyna_iterations):
    t = time.perf_counter()
    dyna.ppo._carry, m = dyna._act(dyna.ppo._carry)  # pylint: disable=protected-access
    m["mean_return"].numpy()
    times["act"] += time.perf_counter() - t
    if dyna.trainer is not None:
      t = time.perf_counter()
      float(dyna._learn(tf.constant(cfg.epochs), tf.random.experimental.stateless_fold_in(key, i)))
      times["learn"] += time.perf_counter() - t
    count = cfg.planning_iterations(i)
    if count:
      t = time.perf_counter()
      dyna._plan_carry, p = dyna._plan(dyna._plan_carry, tf.constant(count))
      float(p["mean_return"])
      times["plan"] += time.perf_counter() - t
  return time.perf_counter() - start, times


def main(argv):
  del argv
  env = _ENV.value
  steps = _TOTAL_STEPS.value or (102_400 if env == "CartPole-v1" else 20_000)
  iterations = _ITERATIONS.value
  if _QUICK.value:
    steps, iterations = (10_240, 5) if env == "CartPole-v1" else (2_000, 5)
  ppo = {"total_steps": steps}
  configs = {
    "supervised equi-dyna, ratio 1": dict(mode="supervised", world_model="gcnn", planning_ratio=1),
    "supervised equi-dyna, ratio 8": dict(mode="supervised", world_model="gcnn", planning_ratio=8),
    "online dyna (mlp model), ratio 1": dict(
      mode="online", world_model="mlp", planning_ratio=1, model_epochs=_MODEL_EPOCHS.value
    ),
    "online equi-dyna (gcnn model), ratio 1": dict(
      mode="online", world_model="gcnn", planning_ratio=1, model_epochs=_MODEL_EPOCHS.value
    ),
  }
  if _QUICK.value:  # smoke test: one Dyna configuration
    configs = dict(list(configs.items())[:1])
  print(f"# Dyna throughput: {env}, {steps:,} real steps, {iterations} Dyna iterations\n")
  print(
    f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
    f"TF {tf.__version__}, load average {os.getloadavg()[0]:.2f}\n"
  )
  base_cfg = default_dyna_config(env, ppo_overrides=ppo, dyna_iterations=iterations)
  agent = PPO(base_cfg.ppo)
  t = time.perf_counter()
  agent.train(seed=0)
  ppo_first = time.perf_counter() - t
  t = time.perf_counter()
  agent.train(seed=1)
  ppo_wall = time.perf_counter() - t
  print(
    "| configuration | first run s (compile) | run s | x PPO | real steps/s (acting) | "
    "planned steps/s | model s per Dyna iteration |"
  )
  print("|---|---|---|---|---|---|---|")
  print(
    f"| PPO alone | {ppo_first:.1f} | {ppo_wall:.1f} | 1.00 | "
    f"{base_cfg.ppo.num_iterations * base_cfg.ppo.batch_size / ppo_wall:,.0f} | - | - |"
  )
  for name, fields in configs.items():
    cfg = default_dyna_config(env, ppo_overrides=ppo, dyna_iterations=iterations, **fields)
    dyna = Dyna(cfg)
    t = time.perf_counter()
    dyna.train(seed=0)
    first = time.perf_counter() - t
    wall, times = _timed_phases(dyna, seed=1)
    planned = (
      sum(cfg.planning_iterations(i) for i in range(cfg.dyna_iterations)) * cfg.ppo.batch_size
    )
    model = f"{times['learn'] / cfg.dyna_iterations:.3f}" if dyna.trainer else "-"
    print(
      f"| {name} | {first:.1f} | {wall:.1f} | {wall / ppo_wall:.2f} | "
      f"{cfg.total_real_steps / times['act']:,.0f} | "
      f"{planned / times['plan']:,.0f} | {model} |",
      flush=True,
    )
  print(f"\nload average after: {os.getloadavg()[0]:.2f}")
  print(f"\nCommand: python benchmarks/dyna_throughput.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
  app.run(main)
