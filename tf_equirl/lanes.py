"""Lanes: independent trainers of one configuration that take work items from a shared list,
each in its own thread.

XLA's CPU backend runs a compiled program mostly on one core, so a process trains faster with
several programs at once: `tf_equirl.runner` runs PPO and Dyna seed groups this way, and
`tf_equirl.agents.ac.experiment` the actor-critic's seeds. What runs beside a program does
not change its numbers: each lane has its own compiled graphs and state.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from tf_equirl import runs

__all__ = ["Stopped", "check_lane_count", "default_lanes", "run_lanes"]


def default_lanes() -> int:
  """Lanes that train at once by default (PPO and Dyna seed groups of `run_experiment`,
  actor-critic seeds of `run_ac_experiment`): the CPU cores this process may use, or 1 where
  TensorFlow sees a GPU (its programs share the one device)."""
  if tf.config.list_physical_devices("GPU"):
    return 1
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not Linux
    return max(1, os.cpu_count() or 1)


def check_lane_count(value, name: str, counts: str, none_means: str) -> None:
  """Raises a ValueError unless `value` (the argument `name`) is None or a positive integer;
  the message says what it `counts` and what None means (`none_means`)."""
  if value is None:
    return
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(
      f"{name} must be a positive integer ({counts}) or None ({none_means}), "
      f"received {value!r}."
    )


class Stopped(Exception):
  """Raised in a lane's callback to end its program run early (another lane failed, or the
  main thread was interrupted)."""


def run_lanes(
  lanes: Sequence[Any],
  groups: Sequence[List[int]],
  run_group: Callable,
  abort: Optional[threading.Event] = None,
) -> None:
  """`run_group(lane, group)` for every group: in this thread with one lane; otherwise each
  lane takes the next group in its own thread until none is left.

  After the first error of a lane no lane starts another group. A `runs.TrainingDiverged`
  lets the groups already running finish; any other error, or an interrupt of this thread,
  also sets `abort` (which `run_group`'s callbacks check after every compiled call, raising
  `Stopped`). The first error is raised here once every lane has stopped."""
  abort = abort or threading.Event()
  if len(lanes) == 1:
    for group in groups:
      run_group(lanes[0], group)
    return
  todo = list(groups)
  take = threading.Lock()
  no_more = threading.Event()
  errors: List[BaseException] = []

  def lane_loop(lane):
    while not (no_more.is_set() or abort.is_set()):
      with take:
        if not todo:
          return
        group = todo.pop(0)
      try:
        run_group(lane, group)
      except Stopped:
        return
      except BaseException as error:  # pylint: disable=broad-except  (raised by the caller)
        errors.append(error)
        no_more.set()
        if not isinstance(error, runs.TrainingDiverged):
          abort.set()
        return

  threads = [
    threading.Thread(target=lane_loop, args=(lane,), name=f"seed-group-lane-{i}", daemon=True)
    for i, lane in enumerate(lanes)
  ]
  for thread in threads:
    thread.start()
  try:
    for thread in threads:
      while thread.is_alive():
        thread.join(0.2)
  except BaseException:
    abort.set()
    for thread in threads:
      thread.join()
    raise
  if errors:
    raise errors[0]
