"""Where a PPO run's time goes: the phases of a process, and the optimiser's share of an iteration.

  python tools/ppo_profile.py                              # CartPole MLP
  python tools/ppo_profile.py --env=Catch-v0 --network=gcnn
  python tools/ppo_profile.py --xla_runtime --xla_cache=/tmp/xla_cache   # twice: cold, warm

Prints wall and CPU seconds (this process' user+system time, all threads) of each phase of
what `launchers.train_ppo` does: imports, building the agent, tracing the compiled training
call, its first call (XLA compilation and the first iterations), one later call, and the
outputs (two `.keras` models, the TensorBoard scalars of 16 iterations, a figure). Then the
CPU time per iteration after compilation, as trained and with the Adam step replaced by a
plain gradient step (`var -= 1e-4 * grad`, same loss, gradients and clipping): the
difference is what Keras' Adam costs inside the XLA graph. CPU time is the figure to read on
a shared machine; wall time grows with other processes' load.
"""

import os
import sys
import time

T0_WALL, T0_CPU = time.perf_counter(), time.process_time()

from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Imports TensorFlow: XLA is configured by the flags parser below, before absl's init
# callbacks (TensorFlow's initialise its devices, after which XLA's flags are read).
from launchers.common import flags_parser  # noqa: E402
from tf_equirl import compilation  # noqa: E402

_ENV = flags.DEFINE_enum("env", "CartPole-v1", ["CartPole-v1", "Catch-v0"], "Environment.")
_NETWORK = flags.DEFINE_string("network", "mlp", "Actor network.")
_NUM_MINIBATCHES = flags.DEFINE_integer(
  "num_minibatches", None, "Override (vs_purejaxrl.py uses 64 for Catch)."
)
_QUICK = flags.DEFINE_bool("quick", False, "Tiny calls of 2 iterations (smoke test).")
_XLA_RUNTIME = flags.DEFINE_bool(
  "xla_runtime",
  False,
  "Compile with XLA's newer CPU runtime " "(tf_equirl.compilation; what launchers.train_ppo uses).",
)
_XLA_CACHE = flags.DEFINE_string(
  "xla_cache",
  "",
  "With --xla_runtime: a persistent " "compilation cache folder (a second run reads it).",
)


class _Clock:
  def __init__(self):
    self.wall, self.cpu = T0_WALL, T0_CPU

  def lap(self, name):
    wall, cpu = time.perf_counter(), time.process_time()
    print(f"| {name} | {wall - self.wall:.2f} | {cpu - self.cpu:.2f} |", flush=True)
    self.wall, self.cpu = wall, cpu


def _cpu_per_iteration(train_chunk, carry, iterations, calls=3):
  """Best CPU ms per iteration over `calls` compiled calls (after the first)."""
  best = float("inf")
  for _ in range(calls):
    start = time.process_time()
    carry, metrics = train_chunk(carry, iterations)
    metrics["mean_return"].numpy()
    best = min(best, time.process_time() - start)
  return carry, 1e3 * best / iterations


def main(argv):
  del argv
  clock = _Clock()
  print("| phase | wall s | CPU s |\n|---|---:|---:|")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (imported with compilation)

  clock.lap("import tensorflow (and absl's start)")
  from tf_equirl import results  # pylint: disable=g-import-not-at-top
  from tf_equirl.agents.ppo import PPO, default_config  # pylint: disable=g-import-not-at-top
  from tf_equirl import runner  # pylint: disable=g-import-not-at-top

  clock.lap("import tf-agents, tf_equirl")
  overrides = {} if _NUM_MINIBATCHES.value is None else {"num_minibatches": _NUM_MINIBATCHES.value}
  if _QUICK.value:
    overrides.update(iterations_per_call=2, num_steps=32)
  config = default_config(_ENV.value, network=_NETWORK.value, **overrides)
  ppo = PPO(config)
  ppo.reset(0)
  clock.lap("build the agent")
  ppo._train_chunk.get_concrete_function(ppo._carry, ppo._chunk)  # pylint: disable=protected-access
  clock.lap("trace the training call (no AutoGraph)")
  carry, metrics = ppo._train_chunk(ppo._carry, ppo._chunk)  # pylint: disable=protected-access
  metrics = {k: v.numpy() for k, v in metrics.items()}
  clock.lap(f"first call: XLA compilation + {ppo._chunk} iterations")  # pylint: disable=protected-access
  carry, _ = ppo._train_chunk(carry, ppo._chunk)  # pylint: disable=protected-access
  clock.lap(f"a later call: {ppo._chunk} iterations")  # pylint: disable=protected-access
  import tempfile  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory() as out:
    ppo.actor_model.save(os.path.join(out, "actor.keras"))
    ppo.critic_model.save(os.path.join(out, "critic.keras"))
    clock.lap("save actor and critic (.keras)")
    writer = tf.summary.create_file_writer(out)
    import numpy as np  # pylint: disable=g-import-not-at-top

    steps = np.arange(1, ppo._chunk + 1, dtype=np.int64) * config.batch_size  # pylint: disable=protected-access
    runner._scalar_writer(writer)(steps, metrics)  # pylint: disable=protected-access
    writer.flush()
    clock.lap(f"TensorBoard scalars of {ppo._chunk} iterations")  # pylint: disable=protected-access
    results.plot_curves(
      os.path.join(out, "curves.png"), {"x": metrics["mean_return"][None]}, steps, title="profile"
    )
    clock.lap("figure (matplotlib import + plot)")

  chunk = ppo._chunk  # pylint: disable=protected-access
  carry, adam_ms = _cpu_per_iteration(ppo._train_chunk, carry, chunk)  # pylint: disable=protected-access
  # The same update with a plain gradient step in place of Adam, traced into a second graph.
  ppo.optimizer.apply_gradients = lambda grads_and_vars: [
    v.assign_sub(1e-4 * g) for g, v in grads_and_vars
  ]
  plain = tf.function(ppo._train_chunk_impl, jit_compile=True, autograph=False)  # pylint: disable=protected-access
  carry, _ = plain(carry, chunk)
  _, sgd_ms = _cpu_per_iteration(plain, carry, chunk)
  updates = config.num_epochs * config.num_minibatches
  print(
    f"\n{config.env} {config.network}: {updates} Adam steps of minibatch "
    f"{config.minibatch_size} per iteration of {config.batch_size} env steps"
  )
  print("| update | CPU ms per iteration |\n|---|---:|")
  print(f"| Keras Adam (as trained) | {adam_ms:.2f} |")
  print(f"| plain gradient step instead | {sgd_ms:.2f} |")
  print(f"| Adam's share | {adam_ms - sgd_ms:.2f} ({100 * (adam_ms - sgd_ms) / adam_ms:.0f} %) |")
  print(f"as trained: {1e3 * config.batch_size / adam_ms:,.0f} env steps/s per CPU second")


if __name__ == "__main__":
  app.run(
    main,
    flags_parser=flags_parser(
      lambda: compilation.configure(
        compilation.CompilationConfig(_XLA_RUNTIME.value, _XLA_CACHE.value or None)
      )
    ),
  )
