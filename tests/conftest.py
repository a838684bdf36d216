"""Fixtures shared by the test modules.

A module marked `pytestmark = pytest.mark.seed(n)` (or a test marked `@pytest.mark.seed(n)`)
has Python's, NumPy's and TensorFlow's random generators seeded with `n` before each of its
tests (`keras.utils.set_random_seed`); unmarked tests are left alone.
"""

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
