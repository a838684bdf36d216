"""tf_equirl.compilation: XLA's CPU runtime and the persistent compilation cache."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from tf_equirl import compilation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_config_validation():
  assert compilation.CompilationConfig(cache_dir="").cache_dir is None
  with pytest.raises(ValueError, match="needs xla_runtime=True"):
    compilation.CompilationConfig(xla_runtime=False, cache_dir="/tmp/x")
  with pytest.raises(ValueError, match="folder path or None"):
    compilation.CompilationConfig(cache_dir=3)
  assert compilation.CompilationConfig(xla_runtime=False, cache_dir=None).cache_dir is None


def test_configure_keeps_other_flags_and_publishes_atomically(tmp_path, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d --xla_cpu_use_xla_runtime=false")
  monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
  registered = []
  monkeypatch.setattr(compilation.atexit, "register", lambda f, *a: registered.append((f, a)))
  cache = tmp_path / "cache"
  cache.mkdir()
  (cache / "old_entry.pb").write_bytes(b"old")
  compilation.configure(compilation.CompilationConfig(cache_dir=str(cache)))
  assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d --xla_cpu_use_xla_runtime=true"
  flags = os.environ["TF_XLA_FLAGS"].split()
  assert flags[0] == "--tf_xla_auto_jit=0"
  private = flags[1].split("=", 1)[1]
  # The process compiles into a private folder that starts with the finished entries.
  assert os.path.dirname(private) == str(cache) and os.listdir(private) == ["old_entry.pb"]
  with open(os.path.join(private, "new_entry.pb"), "wb") as f:
    f.write(b"new")
  (fn, args), = registered
  fn(*args)  # what happens at exit
  assert sorted(os.listdir(cache)) == ["new_entry.pb", "old_entry.pb"]
  assert (cache / "new_entry.pb").read_bytes() == b"new"

  compilation.configure(compilation.CompilationConfig(xla_runtime=False, cache_dir=None))
  assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/d"
  assert os.environ["TF_XLA_FLAGS"] == "--tf_xla_auto_jit=0"


def _train(out, *flags):
  return subprocess.run(
      [sys.executable, "-m", "launchers.train_ppo", "--network=mlp", "--total_steps=16384",
       "--no_progress", "--no_tensorboard", f"--out={out}", *flags],
      cwd=REPO, capture_output=True, text=True, timeout=300)


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
  second = _train(tmp_path / "b", f"--xla_cache={cache}")
  assert second.returncode == 0, second.stderr[-3000:]
  # TensorFlow reads an entry with a text-then-binary reader; protobuf logs the failed text
  # parse, so this line shows the entry was read (see tf_equirl.compilation).
  assert "XlaSerializedCacheEntry" in second.stderr
  curve = _curve(tmp_path / "a")
  np.testing.assert_array_equal(curve, _curve(tmp_path / "b"))
  assert curve[-4:].mean() > 2 * curve[:4].mean()  # it learns


def test_launcher_rejects_a_cache_without_the_xla_runtime(tmp_path):
  proc = _train(tmp_path / "c", "--noxla_runtime", f"--xla_cache={tmp_path}")
  assert proc.returncode != 0
  assert "needs xla_runtime=True" in proc.stderr


def test_launcher_falls_back_to_the_classic_runtime_where_the_xla_runtime_fails(tmp_path):
  # TF 2.15's XLA runtime cannot lower this graph (see launchers.common.with_runtime_fallback).
  proc = subprocess.run(
      [sys.executable, "-m", "launchers.train_ppo", "--env=Catch-v0", "--network=augment",
       "--augment_weights=true", "--total_steps=1024", "--no_progress", "--no_tensorboard",
       f"--out={tmp_path / 'out'}", f"--xla_cache={tmp_path / 'cache'}"],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "starting again with --noxla_runtime" in proc.stderr
  assert len(_curve(tmp_path / "out")) == 2
