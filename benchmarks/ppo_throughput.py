"""Compile time and env steps/s of a whole PPO training run, per actor network.

  python benchmarks/ppo_throughput.py                  # 500,000 CartPole steps per network
  python benchmarks/ppo_throughput.py --quick          # tiny run (CI smoke test)
  python benchmarks/ppo_throughput.py --env=Catch-v0 --total_steps=20000
  python benchmarks/ppo_throughput.py --env=GridWorld-v0 --total_steps=100000 \
      --networks=mlp,gcnn@C2,gcnn@C4,gcnn,symmetrizer,augment,encoder
  python benchmarks/ppo_throughput.py --env=GridWorld-v0 --total_steps=100000 \
      --networks=mlp,gcnn,steerable,steerable:steerable
  python benchmarks/ppo_throughput.py --env=GridWorld-v0 --total_steps=100000 \
      --networks=mlp,gcnn,steerable,steerable_lean
  python benchmarks/ppo_throughput.py ... --xla_runtime   # XLA's newer CPU runtime
  python benchmarks/ppo_throughput.py --networks=mlp,gcnn --widths=mlp=65,gcnn=65 --xla_runtime

Each run is one seed of `launchers/train_ppo.py`'s training (4 envs x 128 steps, 4 epochs x
minibatches, XLA): "trace s" is the reset and the tracing of the training call, "first call
s" its first call (XLA's lowering and compilation, then its first iterations), "train s" the
wall time of all later calls. Ratios are to the MLP
measured in the same process. Prints a markdown table and writes JSON with --json.

Against PureJaxRL, side by side (whole process and after compilation, alternating runs):
`python benchmarks/vs_purejaxrl.py` (results/ppo_throughput/vs_purejaxrl.md).
"""

import dataclasses
import json
import os
import platform
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from launchers.common import flags_parser  # noqa: E402
from tf_equirl import compilation  # noqa: E402
from tf_equirl.agents.ppo import PPO  # noqa: E402
from tf_equirl.experiments.ppo_tables import network_arms  # noqa: E402

_ENV = flags.DEFINE_string("env", "CartPole-v1", "Registered environment.")
_NETWORKS = flags.DEFINE_list(
  "networks",
  ["mlp", "gcnn", "symmetrizer"],
  "Networks as " "actor[@group][:critic] (tf_equirl.experiments.ppo_tables).",
)
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", 500_000, "Env steps per run.")
_QUICK = flags.DEFINE_bool("quick", False, "Tiny run: 4,096 steps.")
_JSON = flags.DEFINE_string("json", None, "Write the rows to this JSON file.")
_WIDTHS = flags.DEFINE_list(
  "widths",
  [],
  "Extra runs with an explicit actor width, as "
  "network=width (e.g. gcnn=65: the odd network at the MLP's closest "
  "parameter count instead of the thesis' 64).",
)
_XLA_RUNTIME = flags.DEFINE_bool(
  "xla_runtime",
  False,
  "Compile with XLA's newer CPU runtime " "(tf_equirl.compilation; what launchers.train_ppo uses).",
)


def main(argv):
  del argv
  total = 4096 if _QUICK.value else _TOTAL_STEPS.value
  device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
  rows = []
  arms = [
    (arm.name, arm.config) for arm in network_arms(_ENV.value, _NETWORKS.value, total_steps=total)
  ]
  for item in _WIDTHS.value:
    spec, _, width = item.partition("=")
    if not width.isdigit():
      raise app.UsageError(f"--widths: expected network=width, received {item!r}.")
    config = network_arms(_ENV.value, [spec], total_steps=total)[0].config
    arms.append((f"{spec} (width {width})", dataclasses.replace(config, width=int(width))))
  for network, config in arms:
    start = time.perf_counter()
    ppo = PPO(config)
    build_s = time.perf_counter() - start
    traced = []
    start = time.perf_counter()
    result = ppo.train(seed=0, on_compile=lambda: traced.append(time.perf_counter() - start))
    counts = ppo.parameter_counts()
    steps = int(result.env_steps[-1])
    rows.append(
      {
        "network": network,
        "actor_params": counts["actor"],
        "critic_params": counts["critic"],
        "env_steps": steps,
        "build_s": build_s,
        "trace_s": traced[0],
        "first_call_s": result.compile_seconds,
        "train_s": result.train_seconds,
        "steps_per_s": result.steps_per_second,
        "final_return": float(result.mean_return[-10:].mean()),
      }
    )
  mlp = next((r for r in rows if r["network"] == "mlp"), None)
  runtime = "XLA's newer CPU runtime" if _XLA_RUNTIME.value else "XLA's classic CPU runtime"
  if device == "GPU":
    runtime = "XLA"
  print(
    f"\n{_ENV.value}, {total:,} env steps per run, {device} ({platform.processor() or platform.machine()}, "
    f"{os.cpu_count()} cores), TF {tf.__version__}, {runtime}\n"
  )
  print(
    "| network | params (actor+critic) | trace s | first call s | train s (after compile) | "
    "env steps/s | vs MLP | return, last 10 iterations |"
  )
  print("|---|---|---|---|---|---|---|---|")
  for r in rows:
    ratio = f"{r['steps_per_s'] / mlp['steps_per_s']:.2f}x" if mlp else "-"
    print(
      f"| {r['network']} | {r['actor_params']}+{r['critic_params']} | {r['trace_s']:.2f} | "
      f"{r['first_call_s']:.2f} | "
      f"{r['train_s']:.2f} | {r['steps_per_s']:,.0f} | {ratio} | {r['final_return']:.1f} |"
    )
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump(
        {"env": _ENV.value, "device": device, "xla_runtime": _XLA_RUNTIME.value, "rows": rows},
        f,
        indent=2,
      )


if __name__ == "__main__":
  app.run(
    main,
    flags_parser=flags_parser(  # XLA configured before TensorFlow's devices
      lambda: compilation.configure(compilation.CompilationConfig(_XLA_RUNTIME.value, None))
    ),
  )
