"""tf_equirl.compilation: XLA's CPU runtime and the persistent compilation cache."""

import csv
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tf_equirl import compilation

from support import run_module, run_python

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_config_validation():
  assert compilation.CompilationConfig(cache_dir="").cache_dir is None
  with pytest.raises(ValueError, match="needs xla_runtime=True"):
    compilation.CompilationConfig(xla_runtime=False, cache_dir="/tmp/x")
  with pytest.raises(ValueError, match="folder path or None"):
    compilation.CompilationConfig(cache_dir=3)
  assert compilation.CompilationConfig(xla_runtime=False, cache_dir=None).cache_dir is None


def _entry(size=64):
  """Bytes of a well-formed XlaSerializedCacheEntry: key, hlo_module and executable."""
  fields = b""
  for field, payload in ((1, b"k" * 10), (2, b"h" * 300), (3, b"x" * size)):
    length, header = len(payload), bytearray([field << 3 | 2])
    while length >= 0x80:
      header.append(length & 0x7F | 0x80)
      length >>= 7
    fields += bytes(header) + bytes([length]) + payload
  return fields


def _no_atexit(monkeypatch):
  registered = []
  monkeypatch.setattr(compilation.atexit, "register", lambda f, *a: registered.append((f, a)))
  return registered


def _private(cache):
  return [n for n in os.listdir(cache) if n.startswith(".process_")]


def test_configure_keeps_other_flags_and_publishes_atomically(tmp_path, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d --xla_cpu_use_xla_runtime=false")
  monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
  registered = _no_atexit(monkeypatch)
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / "old_entry.pb").write_bytes(_entry())
  compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d --xla_cpu_use_xla_runtime=true"
  flags = os.environ["TF_XLA_FLAGS"].split()
  assert flags[0] == "--tf_xla_auto_jit=0"
  private = flags[1].split("=", 1)[1]
  # The process compiles into a private folder that starts with the finished entries.
  assert os.path.dirname(private) == str(cache) and os.listdir(private) == ["old_entry.pb"]
  assert os.path.basename(private).startswith(f".process_{os.getpid()}@")
  with open(os.path.join(private, "new_entry.pb"), "wb") as f:
    f.write(_entry(100))
  ((fn, args),) = registered
  fn(*args)  # what happens at exit
  assert sorted(os.listdir(cache)) == ["new_entry.pb", "old_entry.pb"]
  assert (cache / "new_entry.pb").read_bytes() == _entry(100)

  compilation.configure(compilation.CompilationConfig(xla_runtime=False, cache_dir=None))
  assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d"
  assert os.environ["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=0"


def test_entry_check_finds_truncated_and_garbage_entries(tmp_path):
  path = tmp_path / "e.pb"
  good = _entry(200)
  path.write_bytes(good)
  assert compilation._entry_problem(str(path)) is None
  for cut in range(len(good)):  # every truncation, field boundaries included
    path.write_bytes(good[:cut])
    assert compilation._entry_problem(str(path)), cut
  for garbage in (b"garbage\n", b"\xff" * 20, good + b"\x00"):
    path.write_bytes(garbage)
    assert compilation._entry_problem(str(path)), garbage


def test_configure_drops_bad_entries_with_one_line_each(tmp_path, monkeypatch, caplog):
  registered = _no_atexit(monkeypatch)
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / "good.pb").write_bytes(_entry())
  (cache / "garbage.pb").write_bytes(b"garbage")
  (cache / "truncated.pb").write_bytes(_entry()[:-5])
  with caplog.at_level("WARNING", logger="tf_equirl.compilation"):
    config = compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  assert config.cache_dir == str(cache)
  (private,) = _private(cache)
  assert os.listdir(cache / private) == ["good.pb"]
  assert sorted(os.listdir(cache)) == sorted([private, "good.pb"])  # deleted for everyone
  lines = [r.getMessage() for r in caplog.records]
  assert len(lines) == 2, lines
  for name, problem in (
    ("garbage.pb", "not one of the length-delimited fields"),
    ("truncated.pb", "truncated: its executable needs 64 bytes"),
  ):
    (line,) = [m for m in lines if str(cache / name) in m]
    assert problem in line and "expected a complete XlaSerializedCacheEntry" in line
  # An entry cut short in this process' folder is not published either.
  (cache / private / "new.pb").write_bytes(_entry()[:100])
  ((fn, args),) = registered
  fn(*args)
  assert sorted(os.listdir(cache)) == ["good.pb"]


def _expect_no_cache(config, caplog, cache):
  assert config.cache_dir is None
  assert "--tf_xla_persistent_cache_directory" not in os.environ.get("TF_XLA_FLAGS", "")
  (line,) = [r.getMessage() for r in caplog.records]
  assert f"XLA compilation cache {str(cache)!r} is unusable" in line
  assert "expected a folder this process can create and write in" in line


@pytest.mark.parametrize("where", ["a file", "under a file", "not writable"])
def test_an_unusable_cache_folder_means_no_cache_and_a_warning(
  where, tmp_path, monkeypatch, caplog
):
  _no_atexit(monkeypatch)
  monkeypatch.setenv("TF_XLA_FLAGS", "")
  (tmp_path / "file").write_text("not a folder")
  cache = {
    "a file": tmp_path / "file",
    "under a file": tmp_path / "file" / "xla",
    "not writable": tmp_path / "cache",
  }[where]
  if where == "not writable":  # what a read-only folder does, also where root may write
    cache.mkdir()

    def refuse(path, mode=0o777):
      raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(compilation.os, "mkdir", refuse)
  with caplog.at_level("WARNING", logger="tf_equirl.compilation"):
    config = compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  _expect_no_cache(config, caplog, cache)
  assert config.xla_runtime and compilation.runtime_enabled()


@pytest.mark.skipif(
  os.name != "posix" or os.geteuid() == 0,
  reason="root writes into read-only folders; the test above simulates it",
)
def test_a_read_only_cache_folder_means_no_cache_and_a_warning(tmp_path, monkeypatch, caplog):
  _no_atexit(monkeypatch)
  monkeypatch.setenv("TF_XLA_FLAGS", "")
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / "good.pb").write_bytes(_entry())
  cache.chmod(0o500)
  try:
    with caplog.at_level("WARNING", logger="tf_equirl.compilation"):
      config = compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  finally:
    cache.chmod(0o700)
  _expect_no_cache(config, caplog, cache)


def test_folders_of_ended_processes_are_removed(tmp_path, monkeypatch):
  _no_atexit(monkeypatch)
  cache = tmp_path / "cache"
  cache.mkdir()
  ended = subprocess.Popen([sys.executable, "-c", "pass"])
  ended.wait()
  running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    host = compilation._host()
    dead = cache / f".process_{ended.pid}@{host}_0000aaaa"
    alive = cache / f".process_{running.pid}@{host}_0000bbbb"
    foreign = cache / f".process_{ended.pid}@elsewhere_0000cccc"
    old_foreign = cache / f".process_{ended.pid}@elsewhere_0000dddd"
    old_unnamed = cache / ".process_abc123"
    for folder in (dead, alive, foreign, old_foreign, old_unnamed):
      folder.mkdir()
      (folder / "partial.pb").write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    for folder in (old_foreign, old_unnamed):
      os.utime(folder, (day_ago, day_ago))
    compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  finally:
    running.kill()
    running.wait()
  left = set(_private(cache))
  assert {alive.name, foreign.name} < left
  assert not {dead.name, old_foreign.name, old_unnamed.name} & left
  assert len(left) == 3  # and this process' own


def test_a_failed_publish_is_a_warning(tmp_path, monkeypatch, caplog):
  registered = _no_atexit(monkeypatch)
  cache = tmp_path / "cache"
  compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  (private,) = _private(cache)
  (cache / private / "new.pb").write_bytes(_entry())
  monkeypatch.setattr(
    compilation.os,
    "replace",
    lambda *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied")),
  )
  ((fn, args),) = registered
  with caplog.at_level("WARNING", logger="tf_equirl.compilation"):
    fn(*args)
  assert "Could not publish" in caplog.text and "PermissionError" in caplog.text
  assert os.listdir(cache) == []


_TINY = """
import sys
from tf_equirl import compilation
compilation.configure(compilation.CompilationConfig(cache_dir=sys.argv[1]))
import tensorflow as tf
f = tf.function(lambda x: tf.reduce_sum(tf.sin(x) * 3.0), jit_compile=True)
print(repr(float(f(tf.range(10, dtype=tf.float32)))))
"""


def _tiny(cache):
  proc = run_python("-c", _TINY, str(cache))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_a_truncated_or_garbage_entry_is_dropped_and_compiled_again(tmp_path):
  cache = tmp_path / "cache"
  cold = _tiny(cache)
  (entry,) = [p for p in cache.iterdir() if p.suffix == ".pb"]
  complete = entry.read_bytes()
  entry.write_bytes(complete[: len(complete) // 2])
  garbage = cache / "xla_compile_cache__1__2__XLA_CPU_JIT.pb"
  garbage.write_bytes(b"garbage")
  warm = _tiny(cache)  # TensorFlow alone fails: "Read less bytes than requested"
  assert warm.stdout == cold.stdout
  dropped = [line for line in warm.stderr.splitlines() if "Dropped the unreadable" in line]
  assert len(dropped) == 2, warm.stderr[-3000:]
  assert any(str(entry) in line for line in dropped) and any(
    str(garbage) in line for line in dropped
  )
  assert not garbage.exists()
  assert compilation._entry_problem(str(entry)) is None  # compiled again and published
  assert len(entry.read_bytes()) == len(complete)
  assert "Dropped" not in _tiny(cache).stderr


def _train(out, *flags, env=None):
  return run_module(
    "launchers.train_ppo",
    "--network=mlp",
    "--total_steps=16384",
    "--no_progress",
    "--no_tensorboard",
    f"--out={out}",
    *flags,
    env=env,
  )


def _curve(out):
  with open(os.path.join(out, "seed_0.csv")) as f:
    return np.array([float(r["mean_return"]) for r in csv.DictReader(f)])


def test_launcher_learns_with_the_xla_runtime_and_reuses_its_cache(tmp_path):
  cache = tmp_path / "cache"
  first = _train(tmp_path / "a", f"--xla_cache={cache}")
  assert first.returncode == 0, first.stderr[-3000:]
  entries = [n for n in os.listdir(cache) if not n.startswith(".")]
  assert entries and all(n.endswith(".pb") for n in entries)
  assert [n for n in os.listdir(cache) if n.startswith(".process_")] == []
  assert "XlaSerializedCacheEntry" not in first.stderr  # nothing to read yet
  # TensorFlow's log at its most verbose for the cache: it says when it loads an entry.
  second = _train(
    tmp_path / "b",
    f"--xla_cache={cache}",
    env={"TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_executable_persistor=1"},
  )
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Loading cached entry for" in second.stderr
  # TensorFlow's reader tries the text format first; protobuf's log of that is turned off.
  assert "libprotobuf" not in second.stderr and "XlaSerializedCacheEntry" not in second.stderr
  curve = _curve(tmp_path / "a")
  np.testing.assert_array_equal(curve, _curve(tmp_path / "b"))
  assert curve[-4:].mean() > 2 * curve[:4].mean()  # it learns


def test_launcher_rejects_a_cache_without_the_xla_runtime(tmp_path):
  proc = _train(tmp_path / "c", "--noxla_runtime", f"--xla_cache={tmp_path}")
  assert proc.returncode != 0
  assert "needs xla_runtime=True" in proc.stderr


def test_launcher_rejects_an_xla_cache_that_is_a_file(tmp_path):
  (tmp_path / "file").write_text("not a folder")
  proc = _train(tmp_path / "c", f"--xla_cache={tmp_path / 'file'}")
  assert proc.returncode != 0
  assert f"--xla_cache='{tmp_path / 'file'}' is not a folder; expected the folder" in proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.slow  # long; run by `pytest -m slow` (.ci/run)
def test_launcher_falls_back_to_the_classic_runtime_where_the_xla_runtime_fails(tmp_path):
  # TF 2.15's XLA runtime cannot lower this graph (see launchers.common.with_runtime_fallback).
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "launchers.train_ppo",
      "--env=Catch-v0",
      "--network=augment",
      "--augment_weights=true",
      "--total_steps=1024",
      "--no_progress",
      "--no_tensorboard",
      f"--out={tmp_path / 'out'}",
      f"--xla_cache={tmp_path / 'cache'}",
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "starting again with --noxla_runtime" in proc.stderr
  assert len(_curve(tmp_path / "out")) == 2


_IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import tf_equirl
from tensorflow.python.eager import context
started = []
for info in pkgutil.walk_packages(tf_equirl.__path__, "tf_equirl."):
  if info.name.startswith("tf_equirl.sweeps"):
    continue  # Ray: an optional extra
  importlib.import_module(info.name)
  if context.context()._initialized and not started:
    started.append(info.name)
print("started by:", started[0] if started else None)
"""


def test_importing_the_package_does_not_start_tensorflows_runtime():
  """No module makes a tensor at import time: that would start TensorFlow's runtime before
  `tf_equirl.compilation` sets XLA's flags, and `--xla_cache` would write nothing."""
  proc = run_python("-c", _IMPORT_EVERYTHING, env={"TF_CPP_MIN_LOG_LEVEL": "2"})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "started by: None" in proc.stdout, proc.stdout
