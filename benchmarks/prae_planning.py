"""Seconds per plan of PRAE's value iteration: the library's form (one [A N, N] x [N, 1]
matrix product per sweep, `tf_equirl.prae.planning.value_iteration`) against the same sweeps
as a batched matrix-vector product, both compiled with XLA, on random abstract MDPs of N
prototypes and 4 actions.

  python benchmarks/prae_planning.py
  python benchmarks/prae_planning.py --prototypes=256,1025 --sweeps=500 --repeats=5

Each form is timed after a first call of each shape (which compiles), the two forms
alternately in one run; the values of the two forms are printed beside the times (they agree to float
rounding). Asserts nothing: a benchmark, not a test.
"""

import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from tf_equirl.prae import planning  # noqa: E402

_PROTOTYPES = flags.DEFINE_list("prototypes", ["256", "1025"], "Prototype counts N.")
_ACTIONS = flags.DEFINE_integer("actions", 4, "Actions A.")
_SWEEPS = flags.DEFINE_integer("sweeps", 500, "Value-iteration sweeps per plan.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed plans per form and size (the median).")
_QUICK = flags.DEFINE_bool("quick", False, "A tiny size that only checks the script runs.")


@tf.function(jit_compile=True)
def _matvec_form(transitions, rewards, gamma, sweeps):
  """The sweeps as `tf.linalg.matvec` on `[A, N, N]` (the straightforward form)."""

  def body(k, values, q):
    q = rewards + gamma * tf.linalg.matvec(transitions, values)
    return k + 1, tf.reduce_max(q, axis=0), q

  zeros = tf.zeros([tf.shape(transitions)[1]], transitions.dtype)
  _, values, q = tf.while_loop(
    lambda k, *_: k < sweeps, body, (tf.constant(0), zeros, tf.zeros_like(rewards))
  )
  return values, tf.transpose(q)


def _mdp(n: int, num_actions: int, seed: int):
  rs = np.random.RandomState(seed)
  transitions = rs.rand(num_actions, n, n).astype(np.float32) ** 8
  transitions /= transitions.sum(-1, keepdims=True)
  rewards = np.zeros((num_actions, n), np.float32)
  rewards[:, -1] = 1.0
  return transitions, rewards


def _alternating_seconds(forms, args, repeats: int):
  """Median seconds per call of each form, timed alternately (form 1, form 2, form 1, ...)
  after a first call of each (which compiles)."""
  for fn in forms:
    fn(*args)[0].numpy()
  times: list = [[] for _ in forms]
  for _ in range(repeats):
    for fn, spent in zip(forms, times):
      start = time.perf_counter()
      fn(*args)[0].numpy()
      spent.append(time.perf_counter() - start)
  return [float(np.median(spent)) for spent in times]


def main(argv):
  del argv
  sizes = [16] if _QUICK.value else [int(n) for n in _PROTOTYPES.value]
  sweeps = 20 if _QUICK.value else _SWEEPS.value
  repeats = 1 if _QUICK.value else _REPEATS.value
  print(f"PRAE value iteration: {_ACTIONS.value} actions, {sweeps} sweeps, median of {repeats}")
  print("| prototypes | library (s/plan) | matvec form (s/plan) | matvec / library | max |dV| |")
  print("|---|---|---|---|---|")
  for n in sizes:
    transitions, rewards = _mdp(n, _ACTIONS.value, seed=n)
    args = (
      tf.constant(transitions),
      tf.constant(rewards),
      tf.constant(0.9, tf.float32),
      tf.constant(sweeps),
    )
    library, matvec = _alternating_seconds(
      (planning._value_iteration, _matvec_form),  # pylint: disable=protected-access
      args,
      repeats,
    )
    ours = planning.value_iteration(transitions, rewards, 0.9, sweeps).values
    theirs = _matvec_form(*args)[0].numpy()
    print(
      f"| {n} | {library:.3f} | {matvec:.3f} | {matvec / library:.2f} | "
      f"{np.max(np.abs(ours - theirs)):.1e} |"
    )


if __name__ == "__main__":
  app.run(main)
