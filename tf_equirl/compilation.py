"""How XLA compiles the training graphs: its CPU runtime, and a compilation cache across processes.

TensorFlow 2.15's XLA has two CPU runtimes. The classic one is TensorFlow's default. The newer
MLIR-based "XLA runtime" (XLA flag `--xla_cpu_use_xla_runtime`, experimental in TF 2.15)
generates much faster code for these graphs (a PPO iteration 1.6x faster on CartPole, 2.1x
on Catch, where the classic runtime's Adam steps dominate; `benchmarks/ppo_profile.py`), and
its executables can be stored by TensorFlow's persistent compilation cache
(`--tf_xla_persistent_cache_directory`), which fails on CPU with the classic runtime
("TargetRegistry::lookupTarget failed"). It compiles more slowly (about 1.4 s more for a PPO
training call); with a warm cache a later process with the same graph skips most of that.

Both are process-wide settings that TensorFlow reads early (the cache folder as soon as it
initialises its devices, the runtime at the first compilation), so `configure` must run before
TensorFlow executes anything: the launchers call it from their absl flags parser
(`launchers.common.flags_parser`; flags `--xla_runtime`, `--xla_cache`), before absl's init
callbacks, one of which TensorFlow uses to list its devices. A library user who never calls it
gets TensorFlow's defaults. The newer runtime is not better everywhere: its batch-10,000
forward passes are about 3x slower (docs/notes/forward_overhead.md), and TF 2.15's version cannot
lower some graphs (`launchers.common.with_runtime_fallback`). The two runtimes round floating point differently, so per-seed
curves differ while the statistics agree (docs/notes/xla_runtime.md); results committed
before this module existed were made with the classic runtime (`--xla_runtime=false`
reproduces them bit for bit).

The cache never fails a run; at worst it is not used. TensorFlow fails a compiled call on an
entry it cannot read (a truncated or garbage `.pb` file: "Read less bytes than requested"),
in every later process too, so entries are checked as a process links them and a bad one
is deleted, named in one log line and compiled again. The check walks an entry's
top-level protobuf fields (`_entry_problem`): 0.1 ms for a cache of four entries (3.6 MB)
where reading their bytes alone, as a parse would, takes 0.6 ms, and TensorFlow ships no
Python module for the entry's proto; catching the failed call instead would mean starting
the process again. A cache folder that cannot be created or written (read-only, a file, a
path under a file) is a warning and no cache (`launchers.common` makes an explicit
`--xla_cache` naming a file a usage error). A process's private folder (see `configure`)
is named for it (`.process_<pid>@<host>_...`), so one left by a killed process on this host
is removed by the next `configure`, one from another host (or unnamed) after a day.
TensorFlow reads an entry with a text-or-binary proto reader that tries the text format
first, whatever the file's name, and protobuf would log `[libprotobuf ERROR ...] Error
parsing text-format tensorflow.XlaSerializedCacheEntry` for every warm entry; with a cache,
`configure` turns TensorFlow's C++ protobuf log off (`_silence_protobuf_log`).
"""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import importlib.util
import logging
import os
import re
import secrets
import shutil
import socket
import time
from typing import Optional

__all__ = [
  "CompilationConfig",
  "configure",
  "default_cache_dir",
  "runtime_enabled",
  "is_runtime_failure",
]

_RUNTIME_FLAG = "--xla_cpu_use_xla_runtime"
_CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def default_cache_dir() -> str:
  """`$TF_EQUIRL_XLA_CACHE`, else `$XDG_CACHE_HOME/tf_equirl/xla` (`~/.cache/...`)."""
  if os.environ.get("TF_EQUIRL_XLA_CACHE"):
    return os.environ["TF_EQUIRL_XLA_CACHE"]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "tf_equirl", "xla")


@dataclasses.dataclass(frozen=True)
class CompilationConfig:
  """Attributes:
  xla_runtime: compile CPU graphs with XLA's newer runtime (faster code, cacheable).
  cache_dir: folder of the persistent compilation cache, or None for no cache. Needs
    `xla_runtime` (the classic CPU runtime cannot be cached in TF 2.15).
  """

  xla_runtime: bool = True
  cache_dir: Optional[str] = dataclasses.field(default_factory=default_cache_dir)

  def __post_init__(self):
    if self.cache_dir is not None and not isinstance(self.cache_dir, str):
      raise ValueError(
        f"CompilationConfig.cache_dir must be a folder path or None, received "
        f"{self.cache_dir!r}."
      )
    if self.cache_dir == "":
      object.__setattr__(self, "cache_dir", None)
    if self.cache_dir and not self.xla_runtime:
      raise ValueError(
        "CompilationConfig: a compilation cache (cache_dir) needs "
        "xla_runtime=True; TensorFlow 2.15 cannot cache executables of XLA's "
        "classic CPU runtime. Pass cache_dir=None (--xla_cache='') to compile "
        "with the classic runtime."
      )


def _set_flag(variable: str, flag: str, value: Optional[str]) -> None:
  """Sets `flag=value` in the space-separated `os.environ[variable]` (None removes it),
  keeping every other flag the user set there."""
  kept = [f for f in os.environ.get(variable, "").split() if f.split("=")[0] != flag]
  if value is not None:
    kept.append(f"{flag}={value}")
  if kept:
    os.environ[variable] = " ".join(kept)
  else:
    os.environ.pop(variable, None)


def configure(config: Optional[CompilationConfig] = None) -> CompilationConfig:
  """Applies `config` (default `CompilationConfig()`: XLA runtime and the default cache)
  through `XLA_FLAGS` / `TF_XLA_FLAGS` for this process. Call it before anything is
  compiled; returns the config applied: its `cache_dir` is None if the folder could not be
  used (a warning says why; a run never fails for its cache).

  Processes that compile the same graph at once never see each other's files: this process
  gets a private folder inside `cache_dir` (named for its pid and host), filled with hard
  links to the finished entries that pass `_entry_problem` (one that does not, e.g. cut
  short by a full disk or a partial copy, is deleted, logged and compiled again, where
  TensorFlow would fail the compiled call on it), and its new entries are moved into
  `cache_dir` by an atomic rename when it exits. Processes it starts inherit the flags: a
  process that trains beside others (a Ray worker) should call `configure` itself. With a
  cache, TensorFlow's C++ protobuf log is turned off (`_silence_protobuf_log`).
  """
  config = config or CompilationConfig()
  private = None
  if config.cache_dir:
    private = _private_cache(config.cache_dir)
    if private is None:
      config = dataclasses.replace(config, cache_dir=None)
    else:
      _silence_protobuf_log()
  _set_flag("XLA_FLAGS", _RUNTIME_FLAG, "true" if config.xla_runtime else None)
  _set_flag("TF_XLA_FLAGS", _CACHE_FLAG, private)
  return config


def runtime_enabled() -> bool:
  """Whether `XLA_FLAGS` asks for XLA's newer CPU runtime."""
  return f"{_RUNTIME_FLAG}=true" in os.environ.get("XLA_FLAGS", "").split()


def is_runtime_failure(error: BaseException) -> bool:
  """Whether `error` is the newer runtime failing to compile a graph (its MLIR pipeline
  reports errors located in "xla.program")."""
  return type(error).__name__ == "InternalError" and "xla.program" in str(error)


_log = logging.getLogger(__name__)
_ENTRY_SUFFIX = ".pb"
_PRIVATE_PREFIX = ".process_"
# .process_<pid>@<host>_<random>: <host> has neither "_" nor "@" (`_host`).
_PRIVATE_NAME = re.compile(r"\.process_(?P<pid>\d+)@(?P<host>[^_@]*)_")
_STALE_SECONDS = 24 * 3600
# XlaSerializedCacheEntry (tensorflow/compiler/jit/xla_compilation_cache.proto): key,
# hlo_module and executable, fields 1 to 3, each a message or bytes.
_ENTRY_FIELDS = {1: "key", 2: "hlo_module", 3: "executable"}


def _host() -> str:
  """This machine's name, and on Linux its pid namespace (containers on one host share a
  cache folder but not their pids), in characters a private folder's name can parse."""
  host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())
  try:
    host += f"-pidns{os.stat('/proc/self/ns/pid').st_ino}"
  except OSError:  # not Linux
    pass
  return host


def _private_cache(cache_dir: str) -> Optional[str]:
  """A fresh private cache folder in `cache_dir`, holding links to its sound entries (a bad
  one is deleted: `_drop`); published back at exit (`_publish`). None, with a warning, if
  `cache_dir` cannot be created or written (read-only, a file, ...)."""
  try:
    os.makedirs(cache_dir, exist_ok=True)
    _remove_orphans(cache_dir)
    private = os.path.join(
      cache_dir, f"{_PRIVATE_PREFIX}{os.getpid()}@{_host()}_" f"{secrets.token_hex(4)}"
    )
    os.mkdir(private, 0o700)
  except OSError as error:
    _log.warning(
      "XLA compilation cache %r is unusable (%s: %s); expected a folder this "
      "process can create and write in. Compiling without a cache.",
      cache_dir,
      type(error).__name__,
      error,
    )
    return None
  for name in os.listdir(cache_dir):
    if name.endswith(_ENTRY_SUFFIX):
      shared, link = os.path.join(cache_dir, name), os.path.join(private, name)
      problem = _entry_problem(shared)
      if problem:  # entries are only ever replaced by sound ones (`_publish`)
        _drop(shared, problem)
        continue
      try:
        try:
          os.link(shared, link)
        except OSError:  # a file system without hard links
          shutil.copyfile(shared, link)
      except OSError:  # removed meanwhile, or unreadable: compiled again if needed
        continue
  atexit.register(_publish, private, cache_dir)
  return private


def _remove_orphans(cache_dir: str) -> None:
  """Removes the private folders of processes that ended without publishing (killed): on
  this host those whose pid no longer runs, elsewhere (pids not checkable) or in the older
  unnamed form those untouched for a day."""
  here, now = _host(), time.time()
  for name in os.listdir(cache_dir):
    if not name.startswith(_PRIVATE_PREFIX):
      continue
    path = os.path.join(cache_dir, name)
    owner = _PRIVATE_NAME.match(name)
    try:
      if owner and owner["host"] == here and os.name == "posix":
        orphan = not _running(int(owner["pid"]))
      else:
        orphan = now - os.path.getmtime(path) > _STALE_SECONDS
    except OSError:  # removed meanwhile
      continue
    if orphan:
      shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
  """Whether process `pid` exists (on POSIX; signal 0 checks without sending)."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's process
    return True
  return True


def _entry_problem(path: str) -> Optional[str]:
  """Why the file at `path` is not a complete XlaSerializedCacheEntry, or None.

  Walks the entry's top-level protobuf fields, seeking over their contents: a file cut
  short ends inside a field or lacks the last one, garbage has tags or lengths that do not
  fit. That reads a few bytes per entry where parsing it would read it all (see the module
  docstring), and needs no generated proto module. A well-formed entry whose key does not
  match its function would still fail the call in TensorFlow; only a crafted file is so.
  """
  seen = set()
  try:
    with open(path, "rb") as f:
      size = os.fstat(f.fileno()).st_size
      while f.tell() < size:
        tag = _varint(f)
        field, wire_type = tag >> 3, tag & 7
        if field not in _ENTRY_FIELDS or wire_type != 2:
          return (
            f"byte {f.tell()} holds field {field} of wire type {wire_type}, not one of "
            f"the length-delimited fields 1 to 3"
          )
        length = _varint(f)
        if f.tell() + length > size:
          return (
            f"truncated: its {_ENTRY_FIELDS[field]} needs {length} bytes, the file "
            f"ends {size - f.tell()} bytes later"
          )
        f.seek(length, os.SEEK_CUR)
        if length:
          seen.add(field)
  except (OSError, ValueError) as error:
    return str(error)
  missing = [name for field, name in _ENTRY_FIELDS.items() if field not in seen]
  return f"{size} bytes without its {', '.join(missing)}" if missing else None


def _varint(f) -> int:
  """Reads one protobuf varint from the file `f`."""
  value = 0
  for shift in range(0, 70, 7):
    byte = f.read(1)
    if not byte:
      raise ValueError(f"truncated: the file ends inside a field header at byte {f.tell()}")
    value |= (byte[0] & 0x7F) << shift
    if byte[0] < 0x80:
      return value
  raise ValueError(f"a field header longer than 10 bytes at byte {f.tell()}")


def _drop(path: str, problem: str) -> None:
  """Deletes the bad entry `path`, with one log line naming it."""
  try:
    os.remove(path)
  except OSError:  # removed meanwhile by another process, or not ours to remove
    pass
  _log.warning(
    "Dropped the unreadable XLA compilation cache entry %s (%s; expected a "
    "complete XlaSerializedCacheEntry as TensorFlow writes it); its function is "
    "compiled again.",
    path,
    problem,
  )


def _publish(private: str, cache_dir: str) -> None:
  """Moves the sound entries this process compiled into `cache_dir` (atomic renames) and
  removes its private folder; a failure is a warning, never an error at exit."""
  try:
    for name in os.listdir(private):
      source, target = os.path.join(private, name), os.path.join(cache_dir, name)
      if name.endswith(_ENTRY_SUFFIX) and not os.path.exists(target):
        problem = _entry_problem(source)
        if problem:
          _drop(source, problem)
        else:
          os.replace(source, target)
  except OSError as error:
    _log.warning(
      "Could not publish this process' XLA compilation cache entries from %s "
      "to %s (%s: %s); later processes compile them again.",
      private,
      cache_dir,
      type(error).__name__,
      error,
    )
  finally:
    shutil.rmtree(private, ignore_errors=True)


# google::protobuf::SetLogHandler(LogHandler*), exported by libtensorflow_framework.
_SET_LOG_HANDLER = (
  "_ZN6google8protobuf13SetLogHandlerEPFvNS0_8LogLevelEPKciRKNSt7__cxx11"
  "12basic_stringIcSt11char_traitsIcESaIcEEEE"
)


def _silence_protobuf_log() -> bool:
  """Turns off the log of TensorFlow's C++ protobuf library; returns whether it could.

  TensorFlow reads a cache entry with `ReadTextOrBinaryProto`, which tries the text format
  first whatever the file's name, and protobuf logs that failed parse as
  `[libprotobuf ERROR ...] Error parsing text-format tensorflow.XlaSerializedCacheEntry`
  before the binary read succeeds: a line per warm entry that reads as a failure. The only
  switch is protobuf's log handler; `SetLogHandler(nullptr)` installs its null handler
  (fatal errors still abort). This loads TensorFlow's framework library (without
  importing TensorFlow, 30 ms; TensorFlow loads it anyway), where filtering the process'
  stderr would need a pipe and a reader that a crash cuts short, losing the last lines
  that matter most. What is lost is protobuf's own detail on a parse error; TensorFlow
  still reports the error as a status of its own.
  """
  spec = importlib.util.find_spec("tensorflow")
  if spec is None or not spec.origin:
    return False
  folder = os.path.dirname(spec.origin)
  for name in ("libtensorflow_framework.so.2", "libtensorflow_framework.2.dylib"):
    try:
      handler = getattr(ctypes.CDLL(os.path.join(folder, name)), _SET_LOG_HANDLER)
    except (OSError, AttributeError):  # another platform or TensorFlow build
      continue
    handler.restype, handler.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    handler(None)
    return True
  return False
