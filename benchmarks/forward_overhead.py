"""The cost of equivariance in a forward pass, and how it grows with the group and the batch.

Two sections, each timed eagerly, in `tf.function` and under XLA (`tf.function(jit_compile=True)`):

* actors: the CartPole-v1 and Catch-v0 actors of `tf_equirl.networks.build_actor`
  (`mlp`, `gcnn`, `symmetrizer`, parameter-matched to the 64-64 MLP) at batch sizes
  1, 4, 128 and 10,000. Each equivariant actor is also timed as `<kind> [before]`: the
  same weights with every layer forced back to the computation it did before this
  benchmark's layer changes (spatial forms, the general einsum fold of EquivariantLogits,
  SymmetrizerDense's in-loop bias under XLA), so before/after comes from one run.
* scaling: a `GroupLift -> GroupConv -> GroupConv -> GroupPool` stack (tanh) over C2, C4,
  D4 and C16 at a fixed parameter count (`match_width`), in the spatial and the Fourier
  form of `GroupConv`, next to a tanh MLP with the same input, depth and parameter count.
  The state representation is the planar rotation/reflection action plus the regular one.

Method: after warm-up, all networks of one (section, setting, batch) cell, in all modes,
are timed in rounds; each round times every (network, mode) once, as a run of calls taking
about 2 ms, in a fresh random order each round, so drift and background load hit them
alike. A clone of the MLP (`mlp (A/A control)`: same graph, its own layers and weights)
shows how far two identical networks land apart: differences of that size are noise.
Reported: median and interquartile range of the per-call time over rounds, and each
network's ratio to the MLP in the same mode: the median over rounds of the per-round
ratio, with its interquartile range.
Throughput is states per second, i.e. env steps/s a policy of this cost could serve.

XLA study (`--xla_study`): reruns the actors at one batch size in fresh processes under
settings that isolate where XLA on CPU differs from `tf.function` (oneDNN off for
`tf.function`, oneDNN dots for XLA, single-threaded Eigen dots in XLA, one intra-op
thread, one core kept busy by a competing process) and counts the operations in the
optimised HLO that XLA compiles for each actor (`--xla_dump_to`).

Usage:
  python benchmarks/forward_overhead.py                      # full run (< 5 minutes)
  python benchmarks/forward_overhead.py --quick              # tiny run to check it works
  python -m launchers.reproduce_all --only=forward_overhead  # results/forward_overhead/
  python benchmarks/forward_overhead.py --xla_study          # about 3 minutes
  python benchmarks/forward_overhead.py --envs=GridWorld-v0 --sections=actors \
      --networks=mlp,gcnn@C2,gcnn@C4,gcnn,symmetrizer,encoder   # the grid world's actors
  python benchmarks/forward_overhead.py --envs=GridWorld-v0 --sections=actors \
      --networks=mlp,gcnn,steerable@C2,steerable@C4,steerable --no_spatial_copies
      # features in irreducible coordinates (no [before] copy: nothing to force spatial)
  python benchmarks/forward_overhead.py --envs=GridWorld-v0,Catch-v0,CartPole-v1 \
      --sections=actors --networks=mlp,gcnn,steerable,steerable_lean \
      --batch_sizes=1,128,10000 --modes=function,xla   # free multiplicities per irreducible type

Networks are actor kinds, optionally over a named subgroup of the environment's symmetry
(`gcnn@C4`, see `env.symmetries`).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tf_equirl.envs import make  # noqa: E402
from tf_equirl.groups import Representation, cyclic, dihedral, direct_sum  # noqa: E402
from tf_equirl.layers import GroupConv, GroupLift, GroupPool  # noqa: E402
from tf_equirl.networks import build_actor  # noqa: E402
from tf_equirl.networks.builders import sign_character  # noqa: E402
from tf_equirl.params import count_params, match_width  # noqa: E402

keras = tf.keras

MODES = ("eager", "function", "xla")
MODE_TITLES = {"eager": "eager", "function": "tf.function", "xla": "XLA"}
GROUPS = {
  "C2": lambda: cyclic(2),
  "C4": lambda: cyclic(4),
  "D4": lambda: dihedral(4),
  "C8": lambda: cyclic(8),
  "D8": lambda: dihedral(8),
  "C16": lambda: cyclic(16),
}
SPATIAL = "spatial"


# ----------------------------------------------------------------------------- networks
def force_spatial(model: keras.Model):
  """A copy of `model` computing what the layers computed before their fast paths existed
  (same weights), or None when nothing in it has a fast path: every `implementation`
  option set to "spatial", `EquivariantLogits` folding a scalar input representation
  with the general einsum, and `SymmetrizerDense` forming its bias as before under XLA."""
  config = model.get_config()
  changed = False
  for layer in config["layers"]:
    if "implementation" in layer["config"]:
      layer["config"]["implementation"] = SPATIAL
      changed = True
  clone = keras.Model.from_config(config)
  clone.set_weights(model.get_weights())
  # pylint: disable=protected-access
  for layer in clone.layers:
    if getattr(layer, "_scalar_fold", None) is not None:
      layer._scalar_fold = None
      changed = True
    if getattr(layer, "_kron_bias_under_xla", False) and layer.has_bias:
      layer._kron_bias_under_xla = False
      changed = True
  return clone if changed else None


def actor_networks(env_name: str, kinds, spatial_copies: bool = True):
  """`{label: model}`: the parameter-matched actors, plus their all-spatial copies."""
  env = make(env_name)
  nets = {}
  for spec in kinds:
    kind, _, group = spec.partition("@")  # "gcnn@C4": over the environment's subgroup C4
    symmetry = env.get_symmetry(group or None)
    model = build_actor(kind, symmetry)
    kind = spec
    nets[kind] = model
    if kind == "mlp" and spatial_copies:  # a clone: same graph, separate layers and weights
      control = keras.Model.from_config(model.get_config())
      control.set_weights(model.get_weights())
      nets["mlp (A/A control)"] = control
    spatial = force_spatial(model) if spatial_copies else None
    if spatial is not None:
      nets[f"{kind} [before]"] = spatial
    if kind == "gcnn" and spatial_copies and sign_character(symmetry.state_rep) is not None:
      # The odd network has the thesis' width 64 (builders.ODD_WIDTH); width 65 would match
      # the MLP's parameter count more closely, and its row shows what an odd width costs
      # under XLA (see docs/notes/forward_overhead.md).
      nets["gcnn (width 65)"] = build_actor(kind, symmetry, width=65)
  return nets, env.symmetry.state_dim


def lift_networks(env_name: str):
  """`{label: model}` for the lifts section: a `d -> 64` tanh dense layer (the MLP's first
  layer, the baseline), then the lift of the environment's G-CNN actor (its width, tanh) in
  the spatial and in the Fourier (isotypic-basis) form, same weights."""
  symmetry = make(env_name).symmetry
  actor = build_actor("gcnn", symmetry)
  lifts = [layer for layer in actor.layers if isinstance(layer, GroupLift)]
  if not lifts:
    return {}, symmetry.state_dim
  units = lifts[0].units
  inp = keras.Input((symmetry.state_dim,))
  nets = {"dense d -> 64": keras.Model(inp, keras.layers.Dense(64, "tanh")(inp))}
  weights = None
  for implementation in (SPATIAL, "fourier"):
    layer = GroupLift(units, symmetry.state_rep, implementation=implementation, activation="tanh")
    model = keras.Model(inp, layer(inp))
    if weights is None:
      weights = model.get_weights()
    model.set_weights(weights)
    nets[f"lift {implementation} (|G| {symmetry.group.order}, {units} units)"] = model
  return nets, symmetry.state_dim


def planar_matrices(group) -> np.ndarray:
  """2-D rotation/reflection matrices of C_n / D_n in the element order of cyclic/dihedral."""
  n_rot = group.order // 2 if group.name.startswith("D") else group.order
  mats = []
  for g in range(group.order):
    k, m = g % n_rot, g // n_rot
    c, s = np.cos(2 * np.pi * k / n_rot), np.sin(2 * np.pi * k / n_rot)
    mats.append(np.array([[c, -s], [s, c]]) @ (np.diag([1.0, -1.0]) if m else np.eye(2)))
  return np.round(np.array(mats), 12)


def scaling_state_rep(group) -> Representation:
  """Planar action on a 2-vector plus the regular action on |G| more coordinates."""
  return direct_sum(
    Representation(group, planar_matrices(group), name="planar"), Representation.regular(group)
  )


def group_stack(rep: Representation, width: int, implementation: str) -> keras.Model:
  inp = keras.Input((rep.dim,))
  h = GroupLift(width, rep, activation="tanh")(inp)
  h = GroupConv(width, rep.group, activation="tanh", implementation=implementation)(h)
  h = GroupConv(width, rep.group, activation="tanh", implementation=implementation)(h)
  return keras.Model(inp, GroupPool("mean")(h))


def mlp_stack(dim: int, width: int) -> keras.Model:
  inp = keras.Input((dim,))
  h = inp
  for _ in range(3):
    h = keras.layers.Dense(width, "tanh")(h)
  return keras.Model(inp, h)


def scaling_networks(group_name: str, target_params: int):
  group = GROUPS[group_name]()
  rep = scaling_state_rep(group)
  width, _ = match_width(
    lambda w: group_stack(rep, w, SPATIAL), target_params, tolerance=0.15, widths=range(1, 513)
  )
  mlp_width, _ = match_width(
    lambda w: mlp_stack(rep.dim, w), target_params, tolerance=0.15, widths=range(1, 1025)
  )
  nets = {"mlp": mlp_stack(rep.dim, mlp_width)}
  spatial = group_stack(rep, width, SPATIAL)
  fourier = group_stack(rep, width, "fourier")
  fourier.set_weights(spatial.get_weights())
  probe = GroupConv(width, group)  # what implementation="auto" picks for these convolutions
  probe.build((None, group.order, width))
  auto = {mode: "fourier" if probe.uses_fourier(mode) else SPATIAL for mode in MODES}
  nets[f"G-CNN {SPATIAL}"] = spatial
  nets["G-CNN fourier"] = fourier
  return nets, rep.dim, {"width": width, "mlp_width": mlp_width, "auto": auto}


# ----------------------------------------------------------------------------- timing
def compiled(model: keras.Model, mode: str):
  def forward(x):
    return model(x, training=False)

  if mode == "eager":
    return forward
  return tf.function(forward, jit_compile=mode == "xla", autograph=False)


def time_cell(
  fns: dict, x: tf.Tensor, seconds: float, min_rounds: int, max_rounds: int, sample_s: float = 2e-3
):
  """Interleaved timing of `fns` on `x`: `{key: per-call seconds, one per round}`.

  Every round times each function once, as a run of `inner[key]` calls taking about
  `sample_s`, in a fresh random order (a fixed order would give every function the same
  predecessor, whose cache and thread state measurably bias small-batch timings)."""
  keys = list(fns)
  inner = {}
  for key in keys:  # warm-up (tracing, XLA compilation, caches), then a single-call estimate
    fns[key](x).numpy()
    start = time.perf_counter()
    for _ in range(3):
      y = fns[key](x)
    y.numpy()
    inner[key] = max(1, int(sample_s / max((time.perf_counter() - start) / 3, 1e-7)))
  times = {key: [] for key in keys}
  order = np.random.default_rng(0)
  start = time.perf_counter()
  rounds = 0
  while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() - start < seconds):
    for key in [keys[i] for i in order.permutation(len(keys))]:
      fn, n = fns[key], inner[key]
      t0 = time.perf_counter()
      for _ in range(n):
        y = fn(x)
      y.numpy()
      times[key].append((time.perf_counter() - t0) / n)
    rounds += 1
  return times, inner


def summarize(times: dict, baseline, batch: int) -> dict:
  out = {}
  base = np.asarray(times[baseline])
  for key, ts in times.items():
    ts = np.asarray(ts)
    q1, med, q3 = np.percentile(ts, [25, 50, 75])
    r1, rmed, r3 = np.percentile(ts / base, [25, 50, 75])
    out[key] = {
      "median_us": 1e6 * med,
      "q1_us": 1e6 * q1,
      "q3_us": 1e6 * q3,
      "rounds": int(ts.size),
      "steps_per_s": batch / med,
      "ratio": float(rmed),
      "ratio_q1": float(r1),
      "ratio_q3": float(r3),
    }
  return out


def run_section(title: str, settings: dict, batch_sizes, modes, args, log) -> list:
  """`settings`: `{setting: (nets, input_dim, info)}`. One interleaved cell per (setting,
  batch) holding every network in every mode; ratios are to the first network (the MLP)
  in the same mode and round. Returns a list of row dicts."""
  rows = []
  rng = np.random.default_rng(0)
  for setting, (nets, dim, info) in settings.items():
    fns = {(label, mode): compiled(m, mode) for mode in modes for label, m in nets.items()}
    baseline = next(iter(nets))
    for batch in batch_sizes:
      x = tf.constant(rng.standard_normal((batch, dim)).astype(np.float32))
      times, inner = time_cell(fns, x, args.seconds, args.min_rounds, args.max_rounds)
      for mode in modes:
        stats = summarize({label: times[(label, mode)] for label in nets}, baseline, batch)
        for label, st in stats.items():
          rows.append(
            {
              "section": title,
              "setting": setting,
              "network": label,
              "batch": batch,
              "mode": mode,
              "params": count_params(nets[label]),
              "inner": inner[(label, mode)],
              **info,
              **st,
            }
          )
        log(
          f"  {title} {setting} batch {batch} {mode}: "
          + ", ".join(
            f"{label} {st['median_us']:.0f} us ({st['ratio']:.2f}x)" for label, st in stats.items()
          )
        )
  return rows


# ----------------------------------------------------------------------------- tables
def _cell(row) -> str:
  ratio = (
    ""
    if row["network"] == "mlp"
    else (f" **{row['ratio']:.2f}x** [{row['ratio_q1']:.2f}-{row['ratio_q3']:.2f}]")
  )
  return f"{_us(row['median_us'])} [{_us(row['q1_us'])}-{_us(row['q3_us'])}]{ratio}"


def _us(v: float) -> str:
  return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def detail_table(rows, section: str, batch_sizes, modes) -> str:
  """One row per (setting, mode, network); one column per batch size."""
  lines = [
    "| setting | mode | network | params | "
    + " | ".join(f"batch {b:,}: us [IQR], ratio to MLP [IQR]" for b in batch_sizes)
    + " |",
    "|---|---|---|---:|" + "---|" * len(batch_sizes),
  ]
  index = {
    (r["setting"], r["mode"], r["network"], r["batch"]): r for r in rows if r["section"] == section
  }
  settings = list(dict.fromkeys(r["setting"] for r in rows if r["section"] == section))
  for setting in settings:
    networks = list(
      dict.fromkeys(
        r["network"] for r in rows if r["section"] == section and r["setting"] == setting
      )
    )
    for mode in modes:
      for net in networks:
        cells = [index.get((setting, mode, net, b)) for b in batch_sizes]
        params = next(c["params"] for c in cells if c)
        lines.append(
          f"| {setting} | {MODE_TITLES[mode]} | {net} | {params:,} | "
          + " | ".join(_cell(c) if c else "-" for c in cells)
          + " |"
        )
  return "\n".join(lines)


def summary_table(rows, modes) -> str:
  """Ratio to the MLP at the smallest and largest batch, per actor (for the README)."""
  actor_rows = [r for r in rows if r["section"] == "actors"]
  if not actor_rows:
    return ""
  small, large = min(r["batch"] for r in actor_rows), max(r["batch"] for r in actor_rows)
  cols = [(b, m) for b in (small, large) for m in modes if m != "eager"] or [
    (b, m) for b in (small, large) for m in modes
  ]
  index = {(r["setting"], r["network"], r["batch"], r["mode"]): r for r in actor_rows}
  lines = [
    "| actor | params | " + " | ".join(f"batch {b:,}, {MODE_TITLES[m]}" for b, m in cols) + " |",
    "|---|---:|" + "---:|" * len(cols),
  ]
  for setting in dict.fromkeys(r["setting"] for r in actor_rows):
    mlp = index.get((setting, "mlp", large, cols[-1][1]))
    for net in dict.fromkeys(r["network"] for r in actor_rows if r["setting"] == setting):
      cells = []
      for b, m in cols:
        r = index.get((setting, net, b, m))
        if r is None:
          cells.append("-")
        elif net == "mlp":
          cells.append(
            f"{_us(r['median_us'])} us ({r['steps_per_s'] / 1e6:.2f}M steps/s)"
            if b == large
            else f"{_us(r['median_us'])} us"
          )
        else:
          cells.append(f"{r['ratio']:.2f}x")
      params = index[(setting, net, large, cols[-1][1])]["params"] if mlp else "-"
      lines.append(f"| {setting} {net} | {params:,} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def scaling_summary(rows, modes) -> str:
  srows = [r for r in rows if r["section"] == "scaling"]
  if not srows:
    return ""
  large = max(r["batch"] for r in srows)
  mode_list = [m for m in modes if m != "eager"] or list(modes)
  index = {(r["setting"], r["network"], r["mode"]): r for r in srows if r["batch"] == large}
  lines = [
    "| group | |G| | width | params | "
    + " | ".join(f"{form}, {MODE_TITLES[m]}" for m in mode_list for form in ("spatial", "fourier"))
    + " | auto picks |",
    "|---|---:|---:|---:|" + "---:|" * (2 * len(mode_list) + 1),
  ]
  for setting in dict.fromkeys(r["setting"] for r in srows):
    r0 = index.get((setting, f"G-CNN {SPATIAL}", mode_list[0]))
    if r0 is None:
      continue
    cells = []
    for m in mode_list:
      for form in (SPATIAL, "fourier"):
        r = index.get((setting, f"G-CNN {form}", m))
        cells.append(f"{r['ratio']:.2f}x" if r else "-")
    auto = ", ".join(f"{MODE_TITLES[m]}: {r0['auto'][m]}" for m in mode_list if m in r0["auto"])
    lines.append(
      f"| {setting} | {GROUPS[setting]().order} | {r0['width']} | {r0['params']:,} | "
      + " | ".join(cells)
      + f" | {auto} |"
    )
  return "\n".join(lines)


# ----------------------------------------------------------------------------- XLA study
STUDY_VARIANTS = [
  ("default", {}, []),
  ("TF_ENABLE_ONEDNN_OPTS=0", {"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
  ("XLA dots through oneDNN", {"XLA_FLAGS": "--xla_cpu_use_mkl_dnn=true"}, []),
  ("XLA dots single-threaded", {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}, []),
  ("1 intra-op thread", {}, ["--threads=1"]),
  ("one core busy", {}, ["--busy"]),
]
HLO_OPS = ("dot", "fusion", "call", "copy", "transpose", "gather", "concatenate", "slice")
IR_COUNTS = ("fused elementwise loops", "vector float ops", "scalar float ops")


def _busy_loop():  # pragma: no cover - runs in a child process
  while True:
    pass


def hlo_op_counts(dump_dir: str) -> dict:
  """Operations of the optimised entry computation (fused computations not expanded)."""
  counts = collections.Counter()
  for path in glob.glob(os.path.join(dump_dir, "*cpu_after_optimizations.txt")):
    with open(path) as f:
      text = f.read()
    entry = text[text.index("\nENTRY") :]
    for op in re.findall(r"= \S+ ([a-z-]+)\(", entry):
      counts[op] += 1
    counts["fused elementwise loops"] += len(re.findall(r"kind=kLoop", text))
  for path in glob.glob(os.path.join(dump_dir, "*ir-with-opt.ll")):
    with open(path) as f:
      ir = f.read()
    # Vectorised float operations in the machine code LLVM generated for the loops, and
    # scalar ones (<1 x float>: a loop LLVM could not vectorise, or a remainder).
    widths = collections.Counter(int(w) for w in re.findall(r"<(\d+) x float>", ir))
    counts["vector float ops"] += sum(c for w, c in widths.items() if w > 1)
    counts["scalar float ops"] += widths.get(1, 0)
  return dict(counts)


def xla_study(args, log) -> str:
  batch = args.study_batch
  lines = (
    []
    if "timing" not in args.study_parts
    else [
      f"### Actors at batch {batch:,}: tf.function and XLA under settings that isolate the "
      "difference",
      "",
      "| setting | actor or product | tf.function us | XLA us | XLA / tf.function |",
      "|---|---|---:|---:|---:|",
    ]
  )
  script = os.path.abspath(__file__)
  for name, env, extra in STUDY_VARIANTS if "timing" in args.study_parts else []:
    with tempfile.TemporaryDirectory() as tmp:
      out = os.path.join(tmp, "rows.json")
      cmd = [
        sys.executable,
        script,
        "--sections=actors,matmul",
        f"--envs={args.envs}",
        f"--networks={args.networks}",
        f"--batch_sizes={batch}",
        "--modes=function,xla",
        f"--seconds={args.seconds}",
        f"--min_rounds={args.min_rounds}",
        f"--json={out}",
        "--no_spatial_copies",
        *extra,
      ]
      proc = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True)
      if proc.returncode:
        raise RuntimeError(f"study variant {name!r} failed: {proc.stderr[-2000:]}")
      with open(out) as f:
        rows = json.load(f)["rows"]
    index = {(r["setting"], r["network"], r["mode"]): r for r in rows}
    for (setting, net, mode), r in index.items():
      if mode != "function":
        continue
      x = index[(setting, net, "xla")]
      what = (
        f"[{batch}, {setting[2:]}] x [{setting[2:]}, {setting[2:]}]"
        if net == "matmul"
        else (f"{setting} {net}")
      )
      lines.append(
        f"| {name} | {what} | {_us(r['median_us'])} | {_us(x['median_us'])} "
        f"| {x['median_us'] / r['median_us']:.2f} |"
      )
    log(f"  study: {name} done")
  if "hlo" not in args.study_parts:
    return "\n".join(lines)
  lines += [
    "",
    f"### Optimised HLO of each actor (batch {batch:,})",
    "",
    "(`call`: a fused loop XLA splits across threads; `fused elementwise loops` counts all,"
    " nested ones included; the last two columns count `<N x float>` operations with "
    "N > 1 and N = 1 in the optimised LLVM IR)",
    "",
    "| actor | " + " | ".join(HLO_OPS + IR_COUNTS) + " |",
    "|---|" + "---:|" * (len(HLO_OPS) + len(IR_COUNTS)),
  ]
  for env_name in args.envs.split(","):
    nets, dim = actor_networks(env_name, args.networks.split(","))
    for label in nets:
      with tempfile.TemporaryDirectory() as tmp:
        code = (
          f"import sys; sys.argv=['x']; sys.path.insert(0, {os.path.dirname(script)!r});"
          f"import forward_overhead as fo, numpy as np, tensorflow as tf;"
          f"nets, dim = fo.actor_networks({env_name!r}, {args.networks.split(',')!r});"
          f"m = nets[{label!r}];"
          f"x = tf.zeros([{batch}, dim]);"
          f"fo.compiled(m, 'xla')(x).numpy()"
        )
        env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={tmp} --xla_dump_hlo_as_text")
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        counts = hlo_op_counts(tmp)
      lines.append(
        f"| {env_name} {label} | "
        + " | ".join(str(counts.get(op, 0)) for op in HLO_OPS + IR_COUNTS)
        + " |"
      )
  return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
    "--sections",
    default="actors,scaling",
    help="actors, lifts (GroupLift alone: spatial vs isotypic basis), "
    "scaling and/or matmul (one product, for the XLA study)",
  )
  parser.add_argument("--envs", default="CartPole-v1,Catch-v0")
  parser.add_argument("--networks", default="mlp,gcnn,symmetrizer")
  parser.add_argument("--batch_sizes", default="1,4,128,10000")
  parser.add_argument("--modes", default=",".join(MODES))
  parser.add_argument("--groups", default="C2,C4,D4,C16")
  parser.add_argument("--scaling_batch_sizes", default="1,128,10000")
  parser.add_argument(
    "--scaling_params",
    type=int,
    default=20_000,
    help="parameter count every scaling stack is matched to",
  )
  parser.add_argument(
    "--seconds",
    type=float,
    default=3.0,
    help="timed seconds per cell (all networks and modes together)",
  )
  parser.add_argument("--min_rounds", type=int, default=15)
  parser.add_argument("--max_rounds", type=int, default=2000)
  parser.add_argument(
    "--threads", type=int, default=0, help="intra-op threads (0: TensorFlow's default, all cores)"
  )
  parser.add_argument(
    "--busy", action="store_true", help="keep one core busy with a competing process while timing"
  )
  parser.add_argument(
    "--no_spatial_copies",
    action="store_true",
    help="time only the networks asked for: no [before] copies, no controls",
  )
  parser.add_argument(
    "--xla_study",
    action="store_true",
    help="run the XLA-versus-tf.function study instead (see the docstring)",
  )
  parser.add_argument("--study_batch", type=int, default=10_000)
  parser.add_argument("--study_parts", default="timing,hlo")
  parser.add_argument("--matmul_sizes", default="64,128,256,512")
  parser.add_argument("--json", default=None, help="write all rows to this JSON file")
  parser.add_argument("--markdown", default=None, help="write the tables to this file")
  parser.add_argument(
    "--quick", action="store_true", help="tiny run: CartPole, batches 1 and 4, C2 and C4, 5 rounds"
  )
  args = parser.parse_args(argv)
  tf.get_logger().setLevel("ERROR")  # one trace per batch size is intended
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  if args.quick:
    args.envs, args.batch_sizes, args.groups = "CartPole-v1", "1,4", "C2,C4"
    args.scaling_batch_sizes, args.scaling_params = "4", 2000
    args.seconds, args.min_rounds = 0.05, 5
  if args.xla_study:
    text = xla_study(args, lambda m: print(m, flush=True))
    print("\n" + text)
    if args.markdown:
      with open(args.markdown, "w") as f:
        f.write(text + "\n")
    return
  sections = args.sections.split(",")
  for section in sections:
    if section not in ("actors", "lifts", "scaling", "matmul"):
      parser.error(
        f"unknown section {section!r}; expected some of actors, lifts, scaling, " "matmul"
      )
  modes = args.modes.split(",")
  for m in modes:
    if m not in MODES:
      parser.error(f"unknown mode {m!r}; expected some of {MODES}")
  for g in args.groups.split(","):
    if g not in GROUPS:
      parser.error(f"unknown group {g!r}; expected some of {sorted(GROUPS)}")
  batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
  scaling_batches = [int(b) for b in args.scaling_batch_sizes.split(",")]
  busy = None
  if args.busy:
    import multiprocessing  # pylint: disable=g-import-not-at-top

    busy = multiprocessing.Process(target=_busy_loop, daemon=True)
    busy.start()
  started = time.perf_counter()
  header = (
    f"TF {tf.__version__}, {platform.processor() or platform.machine()}, "
    f"{os.cpu_count()} CPU cores, intra-op threads {args.threads or 'default'}, "
    f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, float32; "
    f"load average at start {os.getloadavg()[0]:.2f}"
  )
  print(header, flush=True)
  log = lambda s: print(s, flush=True)
  rows = []
  if "actors" in sections:
    settings = {}
    for env_name in args.envs.split(","):
      nets, dim = actor_networks(env_name, args.networks.split(","), not args.no_spatial_copies)
      settings[env_name] = (nets, dim, {})
    rows += run_section("actors", settings, batch_sizes, modes, args, log)
  if "lifts" in sections:  # GroupLift alone, spatial vs isotypic basis, per environment
    settings = {}
    for env_name in args.envs.split(","):
      nets, dim = lift_networks(env_name)
      if nets:
        settings[env_name] = (nets, dim, {})
    rows += run_section("lifts", settings, batch_sizes, modes, args, log)
  if "scaling" in sections:
    settings = {g: scaling_networks(g, args.scaling_params) for g in args.groups.split(",")}
    rows += run_section("scaling", settings, scaling_batches, modes, args, log)
  if "matmul" in sections:  # one [batch, k] x [k, k] product, for the XLA study
    settings = {}
    for k in (int(v) for v in args.matmul_sizes.split(",")):
      inp = keras.Input((k,))
      product = keras.Model(inp, keras.layers.Dense(k, use_bias=False)(inp))
      settings[f"k={k}"] = ({"matmul": product}, k, {})
    rows += run_section("matmul", settings, batch_sizes, modes, args, log)
  if busy is not None:
    busy.terminate()
  elapsed = time.perf_counter() - started
  footer = (
    f"{elapsed:.0f} s in all; load average at end {os.getloadavg()[0]:.2f}; command: "
    f"python benchmarks/forward_overhead.py {' '.join(argv or sys.argv[1:])}"
  )

  parts = [header, ""]
  if "actors" in sections:
    parts += [
      "## Cost of equivariance (ratio of forward-pass time to the MLP, same run)",
      "",
      summary_table(rows, modes),
      "",
      "## Actors: forward-pass time per call",
      "",
      detail_table(rows, "actors", batch_sizes, modes),
      "",
    ]
  if "lifts" in sections:
    parts += [
      "## GroupLift alone: spatial vs isotypic basis (ratio to a d -> 64 dense layer)",
      "",
      detail_table(rows, "lifts", batch_sizes, modes),
      "",
    ]
  if "scaling" in sections:
    parts += [
      f"## Scaling with |G| at ~{args.scaling_params:,} parameters, batch "
      f"{max(scaling_batches):,} (ratio to an MLP with as many parameters)",
      "",
      scaling_summary(rows, modes),
      "",
      "## Scaling: forward-pass time per call",
      "",
      detail_table(rows, "scaling", scaling_batches, modes),
      "",
    ]
  parts.append(footer)
  text = "\n".join(parts)
  print("\n" + text)
  if args.markdown:
    with open(args.markdown, "w") as f:
      f.write(text + "\n")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"header": header, "footer": footer, "args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()
