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
forward passes are about 3x slower (results/forward_overhead.md), and TF 2.15's version cannot
lower some graphs (`launchers.common.with_runtime_fallback`). The two runtimes round floating point differently, so per-seed
curves differ while the statistics agree (results/ppo_throughput.md); results committed
before this module existed were made with the classic runtime (`--xla_runtime=false`
reproduces them bit for bit).

A warm cache entry is read with TensorFlow's text-or-binary proto reader, which first tries
the text format and lets protobuf log one harmless
`[libprotobuf ERROR ...] Error parsing text-format tensorflow.XlaSerializedCacheEntry` line
per compiled function before reading the binary file.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
import time
from typing import Optional

__all__ = ["CompilationConfig", "configure", "default_cache_dir", "runtime_enabled",
           "is_runtime_failure"]

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
      raise ValueError(f"CompilationConfig.cache_dir must be a folder path or None, received "
                       f"{self.cache_dir!r}.")
    if self.cache_dir == "":
      object.__setattr__(self, "cache_dir", None)
    if self.cache_dir and not self.xla_runtime:
      raise ValueError("CompilationConfig: a compilation cache (cache_dir) needs "
                       "xla_runtime=True; TensorFlow 2.15 cannot cache executables of XLA's "
                       "classic CPU runtime. Pass cache_dir=None (--xla_cache='') to compile "
                       "with the classic runtime.")


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
  compiled; returns the config applied.

  TensorFlow reads and writes its cache files in place (a plain write, then verified reads
  that fail the compiled call on a partial file), which is unsafe when two processes compile
  the same graph at once. So this process gets a private folder inside `cache_dir`, filled
  with hard links to the finished entries, and its new entries are moved into `cache_dir` by
  an atomic rename when it exits. Processes it starts inherit the flags: a process that
  trains beside others (a Ray worker) should call `configure` itself.
  """
  config = config or CompilationConfig()
  _set_flag("XLA_FLAGS", _RUNTIME_FLAG, "true" if config.xla_runtime else None)
  private = _private_cache(config.cache_dir) if config.cache_dir else None
  _set_flag("TF_XLA_FLAGS", _CACHE_FLAG, private)
  return config


def runtime_enabled() -> bool:
  """Whether `XLA_FLAGS` asks for XLA's newer CPU runtime."""
  return f"{_RUNTIME_FLAG}=true" in os.environ.get("XLA_FLAGS", "").split()


def is_runtime_failure(error: BaseException) -> bool:
  """Whether `error` is the newer runtime failing to compile a graph (its MLIR pipeline
  reports errors located in "xla.program")."""
  return type(error).__name__ == "InternalError" and "xla.program" in str(error)


_ENTRY_SUFFIX = ".pb"
_PRIVATE_PREFIX = ".process_"
_STALE_SECONDS = 24 * 3600


def _private_cache(cache_dir: str) -> str:
  """A fresh private cache folder in `cache_dir`, holding links to its entries; published
  back at exit (`_publish`)."""
  os.makedirs(cache_dir, exist_ok=True)
  now = time.time()
  for name in os.listdir(cache_dir):  # folders left by killed processes
    path = os.path.join(cache_dir, name)
    if name.startswith(_PRIVATE_PREFIX) and now - os.path.getmtime(path) > _STALE_SECONDS:
      shutil.rmtree(path, ignore_errors=True)
  private = tempfile.mkdtemp(prefix=_PRIVATE_PREFIX, dir=cache_dir)
  for name in os.listdir(cache_dir):
    if name.endswith(_ENTRY_SUFFIX):
      try:
        os.link(os.path.join(cache_dir, name), os.path.join(private, name))
      except OSError:  # a file system without hard links
        shutil.copyfile(os.path.join(cache_dir, name), os.path.join(private, name))
  atexit.register(_publish, private, cache_dir)
  return private


def _publish(private: str, cache_dir: str) -> None:
  """Moves the entries this process compiled into `cache_dir` (atomic renames) and removes
  its private folder."""
  try:
    for name in os.listdir(private):
      target = os.path.join(cache_dir, name)
      if name.endswith(_ENTRY_SUFFIX) and not os.path.exists(target):
        os.replace(os.path.join(private, name), target)
  finally:
    shutil.rmtree(private, ignore_errors=True)
