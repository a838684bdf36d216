"""tf_equirl.results.read_curves: the alternative readings of a run's returns."""

import math

import numpy as np
import pytest

from tf_equirl import results


def _columns():
  steps = 512.0 * np.arange(1, 41)
  seeds = []
  for k in range(4):
    mean_return = np.linspace(-1.0, 1.0, 40) + 0.01 * k
    finished = mean_return - 0.5
    finished[3] = np.nan  # no episode finished in iteration 4
    seeds.append({"env_steps": steps, "mean_return": mean_return, "finished_return": finished})
  return seeds


def test_readings_pick_the_right_iteration_and_column():
  columns = _columns()
  curve = columns[0]["mean_return"]
  ours = results.read_curves(columns, [2000, 10000], num_envs=4)
  assert ours[0]["env_steps"] == 2048 and ours[1]["env_steps"] == 10240
  assert ours[0]["mean"] == pytest.approx(curve[3] + 0.015)
  ma = results.read_curves(columns, [10000], num_envs=4, reading="ma10")
  assert ma[0]["mean"] == pytest.approx(curve[10:20].mean() + 0.015)
  per_env = results.read_curves(columns, [2000, 10000], num_envs=4, reading="per_env")
  assert per_env[0]["step"] == 2000 and per_env[0]["env_steps"] == 8192
  assert per_env[0]["mean"] == pytest.approx(curve[15] + 0.015)
  assert math.isnan(per_env[1]["mean"])  # 40,000 steps are past the end of the run
  finished = results.read_curves(columns, [2000], num_envs=4, reading="finished")
  # iteration 4 had no finished episode: the previous one's value is carried over
  assert finished[0]["mean"] == pytest.approx(curve[2] - 0.5 + 0.015)
  with pytest.raises(ValueError, match="reading must be one of"):
    results.read_curves(columns, [2000], num_envs=4, reading="smoothed")
