"""Fixtures shared by the test modules.

A module marked `pytestmark = pytest.mark.seed(n)` (or a test marked `@pytest.mark.seed(n)`)
has Python's, NumPy's and TensorFlow's random generators seeded with `n` before each of its
tests (`keras.utils.set_random_seed`); unmarked tests are left alone.

`cartpole` is a batch-1 `CartPole-v1` environment, one per test module.

Every test also gets XLA's process flags (`XLA_FLAGS`, `TF_XLA_FLAGS`) restored after it:
`tf_equirl.compilation.configure` sets them for its process, and later tests' subprocesses
would otherwise inherit one test's XLA runtime.

Ctrl-C raises `KeyboardInterrupt` in the test process, and SIGINT has its default action in
the processes the tests start, even where the suite itself was started with SIGINT ignored
(`nohup`, a background job of a non-interactive shell, some CI runners): tests that interrupt
a run (tests/test_runner_seeds.py, tests/test_runs.py, tests/test_sweeps.py) rely on it.
"""

import os
import signal

import pytest
import tensorflow as tf


def pytest_configure(config):
  # An ignored SIGINT is inherited by every child process; a handled one is reset to the
  # default action at exec, so children start with Python's own KeyboardInterrupt handler.
  if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
  config.addinivalue_line(
    "markers",
    "seed(n): seed Python, NumPy and TensorFlow with n before " "each test (tests/conftest.py)",
  )


@pytest.fixture(autouse=True)
def _seed(request):
  marker = request.node.get_closest_marker("seed")
  if marker is not None:
    tf.keras.utils.set_random_seed(*marker.args)


@pytest.fixture(autouse=True)
def _keep_the_xla_flags_of_the_process():
  saved = {name: os.environ.get(name) for name in ("XLA_FLAGS", "TF_XLA_FLAGS")}
  yield
  for name, value in saved.items():
    if value is None:
      os.environ.pop(name, None)
    else:
      os.environ[name] = value


@pytest.fixture(scope="module")
def cartpole():
  from tf_equirl import envs  # pylint: disable=import-outside-toplevel

  return envs.make("CartPole-v1", batch_size=1)
