"""A training step through each form of the group layers: which form "auto" should pick for PPO.

  python benchmarks/train_step_forms.py                       # XLA's classic runtime
  python benchmarks/train_step_forms.py --xla_runtime         # the newer one (train_ppo's)
  python benchmarks/train_step_forms.py --quick               # smoke test
  python benchmarks/train_step_forms.py --group_sizes=2 --batch_sizes=256 --channels=182
      # the hidden layer of the Pendulum actor-critic's gcnn/relaxed critics (a mirror)

`benchmarks/forward_overhead.py` times forward passes, mostly at large batches; PPO's updates
run the forward pass, its gradient and a weight update on minibatches of 8 (Catch) to 128
(CartPole, the grid world). This times exactly that, for `PermutationEquivariantDense` and
`GroupConv` in their spatial and Fourier forms (same layer sizes, tanh), and `RelaxedGroupConv` with L = 1 and 2 kernels (spatial: one
convolution with the assembled kernel; Fourier: the L convolutions in the Fourier basis,
then the mixing): one compiled loop of
`--steps` steps (loss = sum of squared outputs, plain gradient step), best of `--repeats`
calls, microseconds per step.
"""

import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from launchers.common import flags_parser  # noqa: E402
from tf_equirl import compilation  # noqa: E402

_GROUP_SIZES = flags.DEFINE_list("group_sizes", ["2", "4", "8"], "Cyclic groups C_n.")
_BATCHES = flags.DEFINE_list("batch_sizes", ["8", "128", "512"], "Batch sizes.")
_CHANNELS = flags.DEFINE_integer("channels", 49, "Channels in and out (Catch's G-CNN: 49).")
_STEPS = flags.DEFINE_integer("steps", 500, "Training steps per compiled call.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Calls; the best is reported.")
_QUICK = flags.DEFINE_bool("quick", False, "Tiny: C2, batch 8, 20 steps, 2 calls.")
_XLA_RUNTIME = flags.DEFINE_bool(
  "xla_runtime",
  False,
  "XLA's newer CPU runtime " "(tf_equirl.compilation; what launchers.train_ppo uses).",
)


def _step_us(model, batch: int, shape, steps: int, repeats: int) -> float:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  x = tf.random.stateless_normal([batch] + list(shape), [1, 2])
  variables = model.trainable_variables

  @tf.function(jit_compile=True, autograph=False)
  def run():
    def body(i):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x)))
      grads = tape.gradient(loss, variables)
      with tf.control_dependencies([v.assign_sub(1e-5 * g) for v, g in zip(variables, grads)]):
        return i + 1

    return tf.while_loop(lambda i: i < steps, body, [tf.constant(0)])[0]

  run()
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    run().numpy()
    best = min(best, time.perf_counter() - start)
  return 1e6 * best / steps


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_equirl.groups import cyclic  # pylint: disable=g-import-not-at-top
  from tf_equirl.layers import (  # pylint: disable=g-import-not-at-top
    GroupConv,
    PermutationEquivariantDense,
    RelaxedGroupConv,
  )

  keras = tf.keras
  sizes = [2] if _QUICK.value else [int(n) for n in _GROUP_SIZES.value]
  batches = [8] if _QUICK.value else [int(b) for b in _BATCHES.value]
  steps, repeats = (20, 2) if _QUICK.value else (_STEPS.value, _REPEATS.value)
  c = _CHANNELS.value
  runtime = "newer" if compilation.runtime_enabled() else "classic"
  print(
    f"training steps per layer form, XLA ({runtime} runtime), {c} channels in and out, "
    f"TF {tf.__version__}, {os.cpu_count()} cores\n"
  )
  print(
    "| layer | group | batch | spatial us/step | fourier us/step | fourier / spatial | "
    "auto picks |"
  )
  print("|---|---|---:|---:|---:|---:|---|")
  for n in sizes:
    for batch in batches:
      for name, make in (
        (
          "PermutationEquivariantDense",
          lambda impl: PermutationEquivariantDense(c, activation="tanh", implementation=impl),
        ),
        (
          "GroupConv",
          lambda impl, n=n: GroupConv(c, cyclic(n), activation="tanh", implementation=impl),
        ),
        *(
          (
            f"RelaxedGroupConv L={kernels}",
            lambda impl, n=n, kernels=kernels: RelaxedGroupConv(
              c, cyclic(n), num_kernels=kernels, activation="tanh", implementation=impl
            ),
          )
          for kernels in (1, 2)
        ),
      ):
        times = {}
        for impl in ("spatial", "fourier"):
          inp = keras.Input((n, c))
          times[impl] = _step_us(keras.Model(inp, make(impl)(inp)), batch, (n, c), steps, repeats)
        probe = make("auto")
        probe.build((None, n, c))
        auto = "fourier" if probe.uses_fourier("xla", batch) else "spatial"
        print(
          f"| {name} | C{n} | {batch} | {times['spatial']:.1f} | {times['fourier']:.1f} | "
          f"{times['fourier'] / times['spatial']:.2f}x | {auto} |",
          flush=True,
        )


if __name__ == "__main__":
  app.run(
    main,
    flags_parser=flags_parser(
      lambda: compilation.configure(compilation.CompilationConfig(_XLA_RUNTIME.value, None))
    ),
  )
