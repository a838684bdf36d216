"""Time per seed: N PPO seeds in one compiled program (`SeedBatchPPO`) against N seeds one after
another (`PPO.train(seed=k)` in one compiled graph, as `train_ppo --seeds=N`).

  python benchmarks/seed_batch.py                           # tiny: 2,048 CartPole steps per seed
  python benchmarks/seed_batch.py --total_steps=500000 --seed_counts=8,32,128 \\
      --networks=mlp,gcnn --sequential_seeds=2              # the full CartPole comparison

PureJaxRL's vectorised run to compare with (same machine, run alternately):
  ../shared/bench/purejaxrl/.venv/bin/python ../shared/bench/purejaxrl/run_cartpole.py \\
      --once --num_seeds N

For each network and seed count the script times, in this process, the whole training of the
seeds (construction, tracing, XLA compilation, every call) and the time after the first call,
and divides by the number of seeds. The sequential path is timed on `--sequential_seeds`
seeds (its time per seed does not depend on how many); its first seed includes the
compilation, which later seeds reuse. Rows: network, path, seeds, whole s/seed, after-compile
s/seed, env steps/s after compilation (all seeds together).
`--split_products=false,true` times the vectorised path with and without each product of two
per-seed operands written as one product per seed (`SeedBatchPPO.split_products`).

`--transition` times transition-model training instead: N seeds of one model in one program
per epoch (`tf_equirl.models.seed_batch.SeedBatchTransitionTrainer`) against N lone runs
(`TransitionTrainer`, as `train_one` trains each seed: its own trainer, so its own
compilation), on a dataset of `--transitions` uniform-random transitions of `--env`, for
`--epochs` epochs without validation; with `--repeats` > 1 the two paths alternate which
runs first. Rows: model, path, seeds, whole s/seed, s per epoch per seed after the first
epoch (which compiles), transitions/s after it (all seeds together).

  python benchmarks/seed_batch.py --transition --seed_counts=8 --sequential_seeds=8 \
      --models=mlp,gcnn --transitions=40000 --epochs=3 --repeats=2

`--ac` times the continuous-control actor-critic instead: N seeds in one program
(`tf_equirl.agents.ac.seed_batch.SeedBatchAC`), N seeds one after another in one agent
(`AC.train(seed=k)`) and, with `--concurrent_seeds=K`, the `--sequential_seeds` seeds taken
by K agents training at once, each in its own thread (`run_ac_experiment(...,
concurrent_seeds=K)`, what `train_ac --seeds=N` does by default with K the cores), on
`--ac_env` for `--total_steps` env steps per seed in two training calls (the first compiles;
evaluations of 2 episodes after each), with `--repeats` alternating the order of the paths.
Rows: network, path, seeds, whole s/seed (construction, compilation, every call and
evaluation), s/seed of the second call ("-" where agents overlap), env steps/s of the second
call (all seeds together), env steps/s over the whole run.

  python benchmarks/seed_batch.py --ac --networks=mlp,gcnn --seed_counts=4 \
      --sequential_seeds=4 --concurrent_seeds=2 --total_steps=20000 --repeats=2
"""

import os
import sys
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from launchers.common import flags_parser  # noqa: E402
from tf_equirl import compilation  # noqa: E402
from tf_equirl.agents.ppo.config import default_config  # noqa: E402
from tf_equirl.agents.ppo.learner import PPO  # noqa: E402
from tf_equirl.agents.ppo.seed_batch import SeedBatchPPO  # noqa: E402

_ENV = flags.DEFINE_string("env", "CartPole-v1", "Environment.")
_NETWORKS = flags.DEFINE_list("networks", ["mlp"], "Actor kinds.")
_SEED_COUNTS = flags.DEFINE_list("seed_counts", ["2", "4"], "Seeds per vectorised program.")
_SEQUENTIAL = flags.DEFINE_integer(
  "sequential_seeds", 2, "Seeds of the sequential path (0: skip it)."
)
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", 2048, "Env steps per seed.")
_PRESET = flags.DEFINE_string("preset", None, "PPO preset (e.g. purejaxrl_step).")
_SPLIT = flags.DEFINE_list(
  "split_products",
  ["default"],
  "Vectorised path: products of two "
  "per-seed operands as one product per seed (true), as pfor's "
  "batched product (false), SeedBatchPPO's choice (default), or "
  "several (false,true: one row each).",
)
_TRANSITION = flags.DEFINE_bool(
  "transition", False, "Time transition-model training instead of PPO."
)
_MODELS = flags.DEFINE_list(
  "models", ["mlp", "gcnn"], "--transition: transition models (mlp, gcnn, relaxed)."
)
_POOL = flags.DEFINE_string("pool", "proximal", "--transition: the G-CNN's pooling.")
_TRANSITIONS = flags.DEFINE_integer(
  "transitions", 40_000, "--transition: training transitions (thesis: 40,000 CartPole)."
)
_EPOCHS = flags.DEFINE_integer("epochs", 3, "--transition: epochs per run (the first compiles).")
_REPEATS = flags.DEFINE_integer("repeats", 1, "--transition: times each path is timed.")
_AC = flags.DEFINE_bool("ac", False, "Time the continuous-control actor-critic instead of PPO.")
_AC_ENV = flags.DEFINE_string("ac_env", "Pendulum-v1", "--ac: environment.")
_CONCURRENT = flags.DEFINE_integer(
  "concurrent_seeds",
  0,
  "--ac: agents training the --sequential_seeds seeds at once, each in its own thread "
  "(0: skip this path).",
  lower_bound=0,
)
_XLA_RUNTIME = flags.DEFINE_bool(
  "xla_runtime", False, "Compile with XLA's newer CPU runtime " "(tf_equirl.compilation)."
)


def _config(network: str):
  return default_config(
    _ENV.value, preset=_PRESET.value, network=network, total_steps=_TOTAL_STEPS.value
  )


def _vectorised(network: str, seeds: int, split):
  start = time.perf_counter()
  batch = SeedBatchPPO(_config(network), list(range(seeds)))
  if split is not None:
    batch.split_products = split
  results = batch.train()
  whole = time.perf_counter() - start
  after = results[0].train_seconds
  return whole, after, results[0].env_steps[-1] - results[0].compile_steps


def _sequential(network: str, seeds: int):
  start = time.perf_counter()
  ppo = PPO(_config(network))
  after = 0.0
  for seed in range(seeds):
    result = ppo.train(seed=seed)
    after += result.train_seconds
  whole = time.perf_counter() - start
  return whole, after, result.env_steps[-1] - result.compile_steps


def _transition_data():
  from tf_equirl import envs
  from tf_equirl.models import TransitionSpec, collect_transitions

  env = envs.make(_ENV.value, batch_size=1)
  data = collect_transitions(env, None, _TRANSITIONS.value, seed=0, num_envs=64)
  return TransitionSpec.for_env(env), data


def _transition_sequential(spec, data, model: str, seeds: int):
  """Seeds one after another, each with its own `TransitionTrainer` (as `train_one`)."""
  import tensorflow as tf

  from tf_equirl.models import TrainConfig, TransitionTrainer, build_transition_model

  whole = after = 0.0
  for seed in range(seeds):
    start = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    net = build_transition_model(model, spec, _POOL.value)
    trainer = TransitionTrainer(net, spec, TrainConfig(epochs=_EPOCHS.value, seed=seed))
    ends = []
    trainer.fit(data, on_epoch=lambda epoch, row: ends.append(time.perf_counter()))
    whole += time.perf_counter() - start
    after += ends[-1] - ends[1]  # ends[0]: before training; ends[1]: the compiling epoch
  return whole, after


def _transition_vectorised(spec, data, model: str, seeds: int):
  from tf_equirl.models import TrainConfig, build_transition_model
  from tf_equirl.models.seed_batch import SeedBatchTransitionTrainer

  start = time.perf_counter()
  trainer = SeedBatchTransitionTrainer(
    lambda: build_transition_model(model, spec, _POOL.value),
    spec,
    list(range(seeds)),
    TrainConfig(epochs=_EPOCHS.value),
  )
  trainer.fit(data)
  return time.perf_counter() - start, trainer.train_seconds


def _transition_main():
  if _EPOCHS.value < 2:
    raise app.UsageError("--transition needs --epochs >= 2 (the first epoch compiles).")
  spec, data = _transition_data()
  steps = len(data["action"]) // 64 * 64  # transitions per epoch (batches of 64)
  print(
    f"{_ENV.value} transition models, {len(data['action']):,} transitions, {_EPOCHS.value} "
    f"epochs, batch 64, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
  )
  print("| model | path | seeds | whole s/seed | s/epoch/seed after compile | transitions/s |")
  print("|---|---|---|---|---|---|")
  for model in _MODELS.value:
    for repeat in range(_REPEATS.value):
      runs = []
      for count in (int(c) for c in _SEED_COUNTS.value):
        runs.append(("vectorised", count, _transition_vectorised))
      if _SEQUENTIAL.value:
        runs.append(("sequential", _SEQUENTIAL.value, _transition_sequential))
      if repeat % 2:  # alternate which path runs first
        runs.reverse()
      for path, seeds, run in runs:
        whole, after = run(spec, data, model, seeds)
        per_epoch = after / ((_EPOCHS.value - 1) * seeds)
        print(
          f"| {model} | {path} | {seeds} | {whole / seeds:.2f} | {per_epoch:.3f} | "
          f"{steps / per_epoch:,.0f} |",
          flush=True,
        )
  print(f"load average after: {os.getloadavg()[0]:.2f}")


def _ac_config(network: str):
  from tf_equirl.agents.ac import ACConfig

  total = _TOTAL_STEPS.value
  return ACConfig(
    env=_AC_ENV.value,
    network=network,
    total_steps=total,
    eval_every=total // 2,
    random_steps=min(2_000, total // 8),
    eval_episodes=2,
    final_episodes=0,
  )


def _ac_sequential(network: str, seeds: int):
  from tf_equirl.agents.ac import AC

  start = time.perf_counter()
  agent = AC(_ac_config(network))
  after = sum(agent.train(seed=seed).train_seconds for seed in range(seeds))
  return time.perf_counter() - start, after


def _ac_vectorised(network: str, seeds: int):
  from tf_equirl.agents.ac.seed_batch import SeedBatchAC

  start = time.perf_counter()
  results = SeedBatchAC(_ac_config(network), list(range(seeds))).train()
  return time.perf_counter() - start, results[0].train_seconds


def _ac_concurrent(network: str, seeds: int):
  from tf_equirl.agents.ac.experiment import run_ac_experiment

  start = time.perf_counter()
  run_ac_experiment(_ac_config(network), list(range(seeds)), concurrent_seeds=_CONCURRENT.value)
  return time.perf_counter() - start, None


def _ac_main():
  if _TOTAL_STEPS.value % 2 or _TOTAL_STEPS.value < 1000:
    raise app.UsageError("--ac needs an even --total_steps of at least 1000 (two calls).")
  print(
    f"{_AC_ENV.value} actor-critic, {_TOTAL_STEPS.value:,} env steps per seed in two calls, "
    f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
  )
  print(
    "| network | path | seeds | whole s/seed | second call s/seed | env steps/s (second call) "
    "| env steps/s (whole) |"
  )
  print("|---|---|---|---|---|---|---|")
  total, half = _TOTAL_STEPS.value, _TOTAL_STEPS.value // 2
  for network in _NETWORKS.value:
    for repeat in range(_REPEATS.value):
      runs = [("vectorised", int(c), _ac_vectorised) for c in _SEED_COUNTS.value]
      if _SEQUENTIAL.value:
        runs.append(("sequential", _SEQUENTIAL.value, _ac_sequential))
        if _CONCURRENT.value:
          path = f"{_CONCURRENT.value} agents at once"
          runs.append((path, _SEQUENTIAL.value, _ac_concurrent))
      if repeat % 2:  # alternate the order of the paths
        runs.reverse()
      for path, seeds, run in runs:
        whole, after = run(network, seeds)
        second = "-" if after is None else f"{after / seeds:.2f}"
        second_rate = "-" if after is None else f"{seeds * half / after:,.0f}"
        print(
          f"| {network} | {path} | {seeds} | {whole / seeds:.2f} | {second} | {second_rate} | "
          f"{seeds * total / whole:,.0f} |",
          flush=True,
        )
  print(f"load average after: {os.getloadavg()[0]:.2f}")


def main(_):
  if _TRANSITION.value:
    _transition_main()
    return
  if _AC.value:
    _ac_main()
    return
  print(
    f"{_ENV.value}, {_TOTAL_STEPS.value:,} env steps per seed, "
    f"{os.cpu_count()} CPUs, XLA runtime: {_XLA_RUNTIME.value}"
  )
  print("| network | path | seeds | whole s/seed | after-compile s/seed | steps/s |")
  print("|---|---|---|---|---|---|")
  for network in _NETWORKS.value:
    rows = []
    if _SEQUENTIAL.value:
      rows.append(("sequential", _SEQUENTIAL.value, *_sequential(network, _SEQUENTIAL.value)))
    for count in (int(c) for c in _SEED_COUNTS.value):
      for split in _SPLIT.value:
        split = None if split == "default" else split.lower() in ("true", "1", "yes")
        label = {None: "", True: " (split products)", False: " (batched products)"}[split]
        path = "vectorised" + label
        rows.append((path, count, *_vectorised(network, count, split)))
    for path, seeds, whole, after, steps_after in rows:
      steps_per_second = seeds * steps_after / after if after > 0 else float("nan")
      print(
        f"| {network} | {path} | {seeds} | {whole / seeds:.3f} | {after / seeds:.3f} | "
        f"{steps_per_second:,.0f} |",
        flush=True,
      )


if __name__ == "__main__":
  app.run(
    main,
    flags_parser=flags_parser(  # XLA configured before TensorFlow's devices
      lambda: compilation.configure(compilation.CompilationConfig(_XLA_RUNTIME.value, None))
    ),
  )
