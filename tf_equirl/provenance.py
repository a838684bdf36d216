"""Provenance of a results file: the command, code, libraries, seeds, time and machine.

Every results file starts with a header written by `header(Provenance)`: one HTML comment
holding the record as JSON (what `read` and the tests parse) and one line a reader sees:

    <!-- provenance {"command": "python -m launchers.reproduce_all --only=ppo_cartpole", ...} -->
    > Made by `python -m launchers.reproduce_all --only=ppo_cartpole` at commit `1a2b3c4`
    > on 2026-11-23 ...

`collect(command, seeds, wall_seconds)` fills the record from the running process: the git
commit of the source tree (marked dirty when tracked files differ from it), the UTC date,
the versions of Python, TensorFlow, tf-agents, TensorFlow Probability and NumPy, and the
machine (CPU model and cores, GPUs TensorFlow sees).

A result resumed from finished runs (an invocation killed partway, then run again) is made by
several invocations: `WallLedger` keeps the wall time of each in the runs folder, and the
record's `wall_seconds` is their sum, `invocations` their number. Each entry also names the
machine and what sets the size of TensorFlow's intra-op thread pool (`thread_pool`), on which
XLA's CPU matrix products run and whose size changes how a seed's curve rounds
(docs/notes/xla_threads.md), and the XLA flags of the process (`xla_flags`, `XLA_FLAGS`, which
can put every product on one thread), so that a study resumed on several machines says which
trained it and how.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import re
import subprocess
import threading
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

__all__ = [
  "Provenance",
  "collect",
  "header",
  "read",
  "parse",
  "git_commit",
  "machine",
  "thread_pool",
  "library_versions",
  "format_seeds",
  "WallLedger",
]

_MARK = "<!-- provenance "
_PATTERN = re.compile(r"<!-- provenance (\{.*?\}) -->", re.DOTALL)
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Provenance:
  """Where a results file came from.

  Attributes:
    command: the exact command that wrote it (`python -m launchers.<name> --flag=...`).
    commit: the git commit of the code (`"unknown"` outside a git checkout).
    dirty: whether tracked files outside the outputs differed from `commit` (`git_commit`).
    date: UTC date and time, ISO 8601.
    versions: library name -> version.
    seeds: the seeds, as `format_seeds` writes them (e.g. `"0-127"`).
    wall_seconds: wall time of the command; summed over `invocations` where the result was
      resumed from runs that earlier invocations finished (`WallLedger`).
    machine: CPU model and cores, and any GPU.
    invocations: how many invocations of the command made the result (1 unless resumed).
  """

  command: str
  commit: str
  dirty: bool
  date: str
  versions: Dict[str, str]
  seeds: str
  wall_seconds: float
  machine: str
  invocations: int = 1


def _git(*args: str) -> Optional[str]:
  try:
    out = subprocess.run(
      ["git", *args], cwd=_ROOT, capture_output=True, text=True, timeout=30, check=False
    )
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> tuple:
  """`(commit, dirty)` of the source tree this package runs from (`("unknown", False)`
  outside a git checkout, e.g. an installed wheel).

  Dirty means that a tracked file outside the outputs differs from the commit: changes under
  `results/` and `runs/` (what the studies themselves write, a report included) and to the
  generated index `docs/results.md` do not count, so a study that rewrites its own report is
  not marked dirty by it."""
  commit = _git("rev-parse", "HEAD")
  if not commit:
    return "unknown", False
  status = _git(
    "status",
    "--porcelain",
    "--untracked-files=no",
    "--",
    ".",
    ":(exclude)results",
    ":(exclude)runs",
    ":(exclude)docs/results.md",
  )
  return commit, bool(status)


def library_versions() -> Dict[str, str]:
  """Versions of the libraries a result depends on."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  versions = {
    "python": platform.python_version(),
    "tensorflow": tf.__version__,
    "numpy": np.__version__,
  }
  for name, module in (
    ("tf-agents", "tf_agents"),
    ("tensorflow-probability", "tensorflow_probability"),
  ):
    try:
      versions[name] = __import__(module).__version__
    except Exception:  # pylint: disable=broad-except
      versions[name] = "not installed"
  return versions


def thread_pool() -> Dict[str, Optional[int]]:
  """What sets the size of TensorFlow's intra-op thread pool in this process: the size set
  through `tf.config.threading` (None: not set), the environment variable
  `TF_NUM_INTRAOP_THREADS` (None: unset or not a number), which TensorFlow reads when it
  starts, and the CPUs this process may run on, which TensorFlow uses without either."""
  configured = None
  try:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    configured = tf.config.threading.get_intra_op_parallelism_threads() or None
  except ImportError:
    pass
  variable = os.environ.get("TF_NUM_INTRAOP_THREADS", "").strip()
  try:
    cpus = len(os.sched_getaffinity(0))
  except AttributeError:  # not on Linux
    cpus = os.cpu_count() or 0
  return {
    "tf_config": configured,
    "TF_NUM_INTRAOP_THREADS": int(variable) if variable.isdigit() else None,
    "cpus": cpus,
  }


def machine() -> str:
  """`"<CPU model>, <n> cores"` plus `"; GPU: <names>"` where TensorFlow sees a GPU."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  text = f"{cpu}, {os.cpu_count()} cores"
  try:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
      names = [
        tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
      ]
      text += "; GPU: " + ", ".join(names)
  except Exception:  # pylint: disable=broad-except
    pass
  return text


def format_seeds(seeds: Sequence[int]) -> str:
  """Seeds as ranges: `[0, 1, 2, 5]` -> `"0-2, 5"` (`"none"` for no seeds)."""
  values = sorted(int(s) for s in seeds)
  if not values:
    return "none"
  parts, start, prev = [], values[0], values[0]
  for v in values[1:] + [None]:
    if v is not None and v == prev + 1:
      prev = v
      continue
    parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    if v is not None:
      start = prev = v
  return ", ".join(parts)


def collect(
  command: str, seeds: Sequence[int] = (), wall_seconds: float = 0.0, invocations: int = 1
) -> Provenance:
  """The provenance of a result being written now by `command` (`wall_seconds` over
  `invocations`: see `WallLedger`)."""
  if not command or not command.strip():
    raise ValueError("provenance.collect: command must be the command that makes the result.")
  if int(invocations) < 1:
    raise ValueError(f"provenance.collect: invocations must be at least 1, got {invocations}.")
  commit, dirty = git_commit()
  date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
  return Provenance(
    command=command.strip(),
    commit=commit,
    dirty=dirty,
    date=date,
    versions=library_versions(),
    seeds=format_seeds(seeds),
    wall_seconds=float(wall_seconds),
    machine=machine(),
    invocations=int(invocations),
  )


def _duration(seconds: float) -> str:
  if seconds < 90:
    return f"{seconds:.0f} s"
  if seconds < 5400:
    return f"{seconds / 60:.0f} min"
  return f"{seconds / 3600:.1f} h"


def _over(record: Provenance) -> str:
  if record.invocations <= 1:
    return ""
  return f" over {record.invocations} invocations (each resumed the runs the last had finished)"


def header(record: Provenance) -> str:
  """The header a results file starts with (see the module docstring)."""
  data = json.dumps(dataclasses.asdict(record), sort_keys=True)
  commit = record.commit[:10] + (" (with uncommitted changes)" if record.dirty else "")
  libs = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
  return (
    f"{_MARK}{data} -->\n"
    f"> Made by `{record.command}` at commit `{commit}` on {record.date[:10]}; "
    f"seeds {record.seeds}; wall time {_duration(record.wall_seconds)}{_over(record)}; "
    f"{record.machine}; {libs}.\n"
  )


def parse(text: str) -> Optional[Provenance]:
  """The provenance record in a results file's text (None if it has none).

  Raises:
    ValueError: the record is there but malformed.
  """
  match = _PATTERN.search(text)
  if match is None:
    return None
  try:
    data = json.loads(match.group(1))
    return Provenance(**data)
  except (json.JSONDecodeError, TypeError) as error:
    raise ValueError(f"malformed provenance record: {error}") from error


def read(path: str) -> Optional[Provenance]:
  """`parse` of the file at `path`."""
  with open(path, encoding="utf-8") as f:
    return parse(f.read())


class WallLedger:
  """The wall time of every invocation that works in one runs folder on one key (the code
  version and the command), so that a result resumed from finished runs reports all of it.

  `with WallLedger(folder, key) as ledger:` adds an entry for this invocation to
  `<folder>/invocations.json` and rewrites its wall time every `every` seconds (from a daemon
  thread) and on leaving: an invocation killed partway counts up to its last update. Entries
  of other keys (other code, another command) are kept but not counted, as their runs are not
  reused. `ledger.total()` is `(seconds, invocations)` over the entries of this key, this one
  included.
  """

  FILE = "invocations.json"

  def __init__(self, folder: str, key: str, every: float = 60.0):
    if not key:
      raise ValueError("WallLedger: key must name the code version and the command.")
    if every <= 0:
      raise ValueError(f"WallLedger: every must be positive seconds, got {every}.")
    self.path = os.path.join(folder, self.FILE)
    self.key, self.every = key, float(every)
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread: Optional[threading.Thread] = None
    self._start = 0.0
    self._index = -1

  def _load(self) -> list:
    if not os.path.exists(self.path):
      return []
    try:
      with open(self.path, encoding="utf-8") as f:
        entries = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
      raise ValueError(
        f"WallLedger: {self.path} is not a list of invocations ({error}); remove it to start "
        "the count again."
      ) from error
    if not isinstance(entries, list) or not all(
      isinstance(e, dict) and "key" in e and "wall_seconds" in e for e in entries
    ):
      raise ValueError(
        f"WallLedger: {self.path} is not a list of invocations with keys 'key' and "
        "'wall_seconds'; remove it to start the count again."
      )
    return entries

  def _write(self, entries: list) -> None:
    tmp = f"{self.path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
      json.dump(entries, f, indent=1)
    os.replace(tmp, self.path)

  def update(self) -> None:
    """Writes this invocation's wall time so far."""
    with self._lock:
      entries = self._load()
      if 0 <= self._index < len(entries) and entries[self._index].get("pid") == os.getpid():
        entries[self._index]["wall_seconds"] = time.perf_counter() - self._start
        self._write(entries)

  @classmethod
  def recorded(cls, folder: str, accept: Callable[[str], bool]) -> Tuple[float, int]:
    """`(seconds, invocations)` of the entries in `<folder>/invocations.json` whose key
    `accept` takes, read without adding one ((0.0, 0) where there is no ledger).

    Raises:
      ValueError: the file is not a list of invocations.
    """
    mine = [e for e in cls(folder, "read")._load() if accept(str(e["key"]))]
    return float(sum(e["wall_seconds"] for e in mine)), len(mine)

  def total(self) -> Tuple[float, int]:
    """`(seconds, invocations)` of this key's entries (this invocation's time up to now)."""
    self.update()
    with self._lock:
      mine = [e for e in self._load() if e["key"] == self.key]
    return float(sum(e["wall_seconds"] for e in mine)), len(mine)

  def _beat(self) -> None:
    while not self._stop.wait(self.every):
      try:
        self.update()
      except (OSError, ValueError):  # the folder was removed: the invocation's report says so
        return

  def __enter__(self) -> "WallLedger":
    os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
    self._start = time.perf_counter()
    with self._lock:
      entries = self._load()
      date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
      entries.append(
        {
          "key": self.key,
          "started": date,
          "pid": os.getpid(),
          "wall_seconds": 0.0,
          "machine": machine(),
          "thread_pool": thread_pool(),
          "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }
      )
      self._index = len(entries) - 1
      self._write(entries)
    self._thread = threading.Thread(target=self._beat, name="wall-ledger", daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._stop.set()
    if self._thread is not None:
      self._thread.join()
    self.update()
