"""Would splitting PPO's training call into two XLA programs pay? Compile time against speed.

  python benchmarks/compile_split.py                    # CartPole MLP, XLA's newer runtime
  python benchmarks/compile_split.py --network=gcnn --noxla_runtime
  python benchmarks/compile_split.py --quick            # tiny run (smoke test)

XLA:CPU in TensorFlow 2.15 compiles one program on one core, and a first run of
`launchers.train_ppo` spends most of its first call there (results/ppo_throughput.md). The
training call (`PPO._train_chunk`: `iterations_per_call` iterations of collect, GAE and
updates in one `tf.while_loop`) is one program. This benchmark measures the alternative: the
same iterations as a plain TensorFlow loop over two compiled functions, collect+GAE and the
updates, which are smaller programs (and could compile side by side on two cores), against
the fused call, each in a fresh PPO of the same seed, one after the other in one process
(after a small warm-up compilation):

* first call: XLA's lowering and compilation of the call's program(s) plus its iterations
  (tracing excluded);
* ms per iteration: the later calls' wall time per PPO iteration;
* identical: whether both give the same curves, bit for bit.

Only for networks without augmentation (`augment` extends the batch between the two halves).
"""

import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from launchers.common import flags_parser  # noqa: E402
from tf_equirl import compilation  # noqa: E402

_ENV = flags.DEFINE_string("env", "CartPole-v1", "Registered environment.")
_NETWORK = flags.DEFINE_string("network", "mlp", "Actor network (not augment).")
_TOTAL_STEPS = flags.DEFINE_integer("total_steps", 98_304, "Env steps per run.")
_QUICK = flags.DEFINE_bool("quick", False, "Tiny run: 4,096 steps, 2 iterations per call.")
_XLA_RUNTIME = flags.DEFINE_bool("xla_runtime", True, "XLA's newer CPU runtime "
                                 "(tf_equirl.compilation; what launchers.train_ppo uses).")


def _split_call(ppo):
  """`call(carry, n) -> (carry, metrics)`: `n` iterations as a TensorFlow loop over two
  compiled functions (collect+GAE, updates); the same operations as `PPO._iteration`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tf_equirl import rng  # pylint: disable=import-outside-toplevel
  from tf_equirl.agents.ppo.learner import (  # pylint: disable=import-outside-toplevel
      METRICS, rollout_metrics)

  def collect(carry):  # PPO._iteration's first half
    carry, key, rollout, batch = ppo._collect_batch(carry)  # pylint: disable=protected-access
    return carry._replace(iteration=carry.iteration + 1), batch, key, rollout_metrics(rollout)

  def update(batch, key):  # its second half (no augmentation)
    return ppo._update(batch, rng.fold_in(key, 1))  # pylint: disable=protected-access

  collect = tf.function(collect, jit_compile=True, autograph=False)
  update = tf.function(update, jit_compile=True, autograph=False)

  def call(carry, n):
    arrays = {name: tf.TensorArray(tf.float32, size=n, element_shape=[]) for name in METRICS}

    def body(i, carry, arrays):
      carry, batch, key, values = collect(carry)
      values = dict(values, **update(batch, key))
      return i + 1, carry, {k: arrays[k].write(i, values[k]) for k in arrays}

    _, carry, arrays = tf.while_loop(lambda i, *_: i < n, body, (tf.constant(0), carry, arrays))
    return carry, {k: v.stack() for k, v in arrays.items()}

  return tf.function(call, autograph=False)


def _run(config, split: bool):
  from tf_equirl.agents.ppo import PPO  # pylint: disable=import-outside-toplevel
  ppo = PPO(config)
  ppo.reset(config.seed)
  call = _split_call(ppo) if split else ppo._train_chunk  # pylint: disable=protected-access
  n = ppo._chunk  # pylint: disable=protected-access
  call.get_concrete_function(ppo._carry, n)  # pylint: disable=protected-access
  carry, curves, times = ppo._carry, [], []  # pylint: disable=protected-access
  for _ in range(config.num_iterations // n):
    start = time.perf_counter()
    carry, metrics = call(carry, n)
    curves.append({k: v.numpy() for k, v in metrics.items()})
    times.append(time.perf_counter() - start)
  curves = {k: np.concatenate([c[k] for c in curves]) for k in curves[0]}
  later = (config.num_iterations - n)
  ms = 1e3 * sum(times[1:]) / later if later else float("nan")
  return times[0], ms, curves


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tf_equirl.agents.ppo import default_config  # pylint: disable=import-outside-toplevel
  from tf_equirl.networks import builders  # pylint: disable=import-outside-toplevel
  if _NETWORK.value in builders.AUGMENTED_KINDS:
    raise app.UsageError(f"--network={_NETWORK.value}: augmentation extends the batch between "
                         "the two halves; pick a network without it.")
  total = 4096 if _QUICK.value else _TOTAL_STEPS.value
  config = default_config(_ENV.value, network=_NETWORK.value, total_steps=total,
                          **({"iterations_per_call": 2} if _QUICK.value else {}))
  # XLA's own start-up (its CPU client, LLVM) is paid here, not by whichever program is first.
  tf.function(lambda x: tf.tanh(x) * 2.0, jit_compile=True)(tf.ones([4]))
  fused = _run(config, split=False)
  split = _run(config, split=True)
  identical = all(np.array_equal(fused[2][k], split[2][k], equal_nan=True) for k in fused[2])
  runtime = "newer XLA runtime" if _XLA_RUNTIME.value else "classic XLA runtime"
  print(f"\n{_ENV.value} {_NETWORK.value}, {total:,} env steps, {config.num_iterations} "
        f"iterations ({config.iterations_per_call} per call), {runtime}, TF {tf.__version__}\n")
  print("| training call | first call s | ms per iteration | steps/s | identical curves |")
  print("|---|---:|---:|---:|---|")
  for name, (first, ms, _) in (("one program (PPO's)", fused),
                               ("two programs per iteration", split)):
    print(f"| {name} | {first:.2f} | {ms:.3f} | {config.batch_size / ms * 1e3:,.0f} | "
          f"{'yes' if identical else 'no'} |")


if __name__ == "__main__":
  app.run(main, flags_parser=flags_parser(
      lambda: compilation.configure(compilation.CompilationConfig(_XLA_RUNTIME.value, None))))
