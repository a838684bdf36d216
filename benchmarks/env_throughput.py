"""Environment steps per second of the TF environments inside one compiled while-loop.

For each environment, batch size and policy, one `tf.function(jit_compile=True)`
runs `iterations` steps of `policy -> env.pure_step` in a single `tf.while_loop`;
env steps = batch size * iterations. The first call (one iteration) pays tracing
and XLA compilation and is reported as compile time; the timed calls reuse that
executable (the iteration count is a tensor, so nothing retraces).

Policies: `random` (uniform actions from a stateless RNG) and `mlp` (a 64-64 tanh
MLP on the observation; actions sampled from its logits with the Gumbel-max trick,
as a PPO collection loop would, or greedy with `--mlp_actions=greedy`).

Usage:
  python benchmarks/env_throughput.py            # full run, prints a markdown table
  python benchmarks/env_throughput.py --quick    # tiny run to check that it works
  python benchmarks/env_throughput.py --envs=GridWorld-v0   # any registered environment
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tf_equirl.envs import make  # pylint: disable=g-import-not-at-top


def make_mlp_policy(obs_dim: int, num_actions: int, sample: bool, seed: int = 0):
  """A 64-64 tanh MLP policy held in plain tf.Variables."""
  rng = np.random.default_rng(seed)
  sizes = [obs_dim, 64, 64, num_actions]
  weights = []
  for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
    limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform
    weights.append(
      (
        tf.Variable(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)),
        tf.Variable(np.zeros(fan_out, np.float32)),
      )
    )

  def policy(observation, key):
    h = tf.reshape(observation, [tf.shape(observation)[0], -1])
    for i, (w, b) in enumerate(weights):
      h = tf.matmul(h, w) + b
      if i < len(weights) - 1:
        h = tf.tanh(h)
    if sample:
      u = tf.random.stateless_uniform(tf.shape(h), seed=key, minval=1e-7, maxval=1.0)
      h = h - tf.math.log(-tf.math.log(u))  # Gumbel-max: a sample of softmax(logits)
    return tf.argmax(h, axis=-1, output_type=tf.int32)

  return policy


def make_random_policy(num_actions: int):
  def policy(observation, key):
    return tf.random.stateless_uniform(
      [tf.shape(observation)[0]], seed=key, minval=0, maxval=num_actions, dtype=tf.int32
    )

  return policy


def build_loop(env, policy):
  """One compiled while-loop of `iterations` policy + env steps."""

  @tf.function(jit_compile=True)
  def run(seed, iterations):
    state, step = env.pure_reset(seed)

    def body(i, state, observation, total):
      key = tf.stack([seed, tf.cast(i, tf.int64)])
      state, step = env.pure_step(state, policy(observation, key))
      return i + 1, state, step.observation, total + tf.reduce_sum(step.reward)

    _, state, _, total = tf.while_loop(
      lambda i, *_: i < iterations,
      body,
      (tf.constant(0), state, step.observation, tf.constant(0.0)),
    )
    return total, tf.reduce_sum(state.step_count)

  return run


def measure(
  env_name: str, batch_size: int, policy_name: str, env_steps: int, repeats: int, mlp_actions: str
):
  env = make(env_name, batch_size=batch_size, seed=0)
  obs_dim = int(np.prod(env.observation_spec().shape))
  if policy_name == "mlp":
    policy = make_mlp_policy(obs_dim, env.num_actions, sample=mlp_actions == "sample")
  else:
    policy = make_random_policy(env.num_actions)
  run = build_loop(env, policy)
  iterations = max(10, env_steps // batch_size)
  start = time.perf_counter()
  [t.numpy() for t in run(tf.constant(0, tf.int64), tf.constant(1))]
  compile_s = time.perf_counter() - start
  rates = []
  for r in range(repeats):
    start = time.perf_counter()
    [t.numpy() for t in run(tf.constant(r + 1, tf.int64), tf.constant(iterations))]
    rates.append(batch_size * iterations / (time.perf_counter() - start))
  assert run.experimental_get_tracing_count() == 1
  return iterations, statistics.median(rates), compile_s


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
    "--envs",
    default="CartPole-v1,Catch-v0",
    help="comma-separated registered names (also GridWorld-v0)",
  )
  parser.add_argument("--batch_sizes", default="4,64,1024")
  parser.add_argument("--policies", default="random,mlp")
  parser.add_argument(
    "--env_steps",
    type=int,
    default=2_000_000,
    help="env steps per timed run (iterations = env_steps // batch)",
  )
  parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is shown")
  parser.add_argument("--mlp_actions", choices=["sample", "greedy"], default="sample")
  parser.add_argument("--quick", action="store_true", help="tiny run: 20k steps, 1 repeat")
  args = parser.parse_args(argv)
  tf.get_logger().setLevel("ERROR")  # one tf.function per configuration is intended
  if args.quick:
    args.env_steps, args.repeats = 20_000, 1
  envs = args.envs.split(",")
  batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
  policies = args.policies.split(",")
  for p in policies:
    if p not in ("random", "mlp"):
      parser.error(f"unknown policy {p!r}; expected 'random' or 'mlp'")

  print(
    f"TF {tf.__version__}, {platform.processor() or platform.machine()}, "
    f"{os.cpu_count()} CPU cores, GPUs: {len(tf.config.list_physical_devices('GPU'))}; "
    f"{args.env_steps} env steps per timed run, median of {args.repeats}, "
    f"MLP actions: {args.mlp_actions}\n"
  )
  print("| env | policy | batch | loop iterations | env steps/s | compile (s) |")
  print("|---|---|---:|---:|---:|---:|")
  for env_name in envs:
    for policy_name in policies:
      for batch_size in batch_sizes:
        iterations, rate, compile_s = measure(
          env_name, batch_size, policy_name, args.env_steps, args.repeats, args.mlp_actions
        )
        print(
          f"| {env_name} | {policy_name} | {batch_size} | {iterations} | "
          f"{rate:,.0f} | {compile_s:.2f} |",
          flush=True,
        )


if __name__ == "__main__":
  main()
