"""Fixtures shared by the test modules.

A module marked `pytestmark = pytest.mark.seed(n)` (or a test marked `@pytest.mark.seed(n)`)
has Python's, NumPy's and TensorFlow's random generators seeded with `n` before each of its
tests (`keras.utils.set_random_seed`); unmarked tests are left alone.

`cartpole` is a batch-1 `CartPole-v1` environment, one per test module.

Every test also gets XLA's process flags (`XLA_FLAGS`, `TF_XLA_FLAGS`) restored after it:
`tf_equirl.compilation.configure` sets them for its process, and later tests' subprocesses
would otherwise inherit one test's XLA runtime.
"""

import os

import pytest
import tensorflow as tf


def pytest_configure(config):
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
