"""Regenerate the results: every study of the registry, or some, each into results/<name>/.

  python -m launchers.reproduce_all --list                   # the studies, commands, budgets
  python -m launchers.reproduce_all --only=ppo_catch         # one study at its full budget
  python -m launchers.reproduce_all --quick                  # all, tiny budgets, temp folder
  python -m launchers.reproduce_all --quick --out=/tmp/quick --only=ppo_catch,dyna_catch
  python -m launchers.reproduce_all --index                  # rewrite docs/results.md

Each study writes `<out>/<name>/README.md`, which starts with its provenance record (commit,
date, libraries, machine, seeds, wall time and the exact command, `python -m
launchers.reproduce_all --only=<name>`, plus `--quick`), then its report, with its figures and
data beside it. Per-seed runs, datasets and other intermediate files go to `<runs>/<name>/`
(finished runs there are reused). The studies are `tf_equirl.experiments.registry`; with
`--quick` every study runs on tiny budgets (2 seeds, a few thousand steps, 1 epoch, the
smallest grid), making the datasets it needs, into a temporary folder unless --out is given.

When several studies are selected, each runs in a process of its own (this launcher with
`--only=<name>`), so one study's compiled programs and datasets are freed before the next
starts, and a study that fails does not stop the others: the launcher runs them all, lists
the ones that failed and exits non-zero.
"""

import os
import subprocess
import sys
import tempfile

from absl import app, flags

from launchers import common
from tf_equirl.experiments import registry

_ONLY = flags.DEFINE_list("only", None, "Studies to run (default: all); see --list.")
_QUICK = flags.DEFINE_bool(
  "quick",
  False,
  "Tiny budgets (a smoke run of every study), into a " "temporary folder unless --out is given.",
)
_OUT = flags.DEFINE_string(
  "out",
  None,
  "Results root: each study writes <out>/<name>/ "
  "(default: results, or a temporary folder with --quick).",
)
_RUNS = flags.DEFINE_string(
  "runs",
  None,
  "Root of the studies' runs and datasets (default: "
  "runs/reproduce_all, or <a temporary folder>/runs with --quick).",
)
_LIST = flags.DEFINE_bool(
  "list", False, "Print the registry (name, command, seeds, budget) " "and exit."
)
_INDEX = flags.DEFINE_bool(
  "index",
  False,
  "Rewrite docs/results.md from the registry and the " "results' provenance records, and exit.",
)
_COMPILATION = common.define_compilation_flags(xla_runtime=False)


def selected(only):
  """The studies `--only` names (all when None), in the registry's order.

  Raises:
    app.UsageError: an unknown name (the message lists the studies).
  """
  if not only:
    return list(registry.names())
  unknown = [name for name in only if name not in registry.names()]
  if unknown:
    raise app.UsageError(
      f"--only: unknown studies {unknown}; the studies are: " f"{', '.join(registry.names())}."
    )
  return [name for name in registry.names() if name in only]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  names = selected(_ONLY.value)
  if _LIST.value:
    for name in names:
      study = registry.get(name)
      print(
        f"{name}: {study.title}\n  command: {study.command}\n  seeds: {study.seeds}\n"
        f"  budget: {study.budget}"
      )
    return
  if _INDEX.value:
    path = os.path.join(registry.REPO, "docs", "results.md")
    with open(path, "w", encoding="utf-8") as f:
      f.write(registry.results_index())
    print(f"wrote {path}")
    return
  needs_scratch = _QUICK.value and not (_OUT.value and _RUNS.value)
  scratch = tempfile.mkdtemp(prefix="reproduce_all_") if needs_scratch else None
  out = _OUT.value or (scratch if _QUICK.value else "results")
  runs = _RUNS.value or (
    os.path.join(scratch, "runs") if _QUICK.value else os.path.join("runs", "reproduce_all")
  )
  common.check_output_folders(out=out, runs=runs)
  with common.usage_errors():  # every config is checked before anything trains
    for name in names:
      study = registry.get(name)
      (study.quick if _QUICK.value else study.full)(
        registry.Target(
          os.path.join(out, name),
          os.path.join(runs, name),
          registry.study_command(name, _QUICK.value),
        )
      )
  if len(names) == 1:
    path = registry.run_study(names[0], root=out, runs=runs, quick=_QUICK.value)
    print(f"wrote {path}", flush=True)
    return
  failed = []
  for name in names:
    print(f"== {name}", flush=True)
    code = subprocess.call(study_process(name, out, runs), cwd=registry.REPO)
    if code != 0:
      failed.append(name)
      print(f"!! {name} failed (exit status {code})", flush=True)
  if failed:
    raise SystemExit(
      f"{len(failed)} of {len(names)} studies failed: {', '.join(failed)}; "
      f"rerun one with --only=<name> to see its error alone."
    )


def study_process(name, out, runs):
  """The command line that runs study `name` alone in a fresh process, with this process'
  `--quick` and compilation flags and absolute output folders."""
  argv = [sys.executable, "-m", "launchers.reproduce_all", f"--only={name}"]
  argv += [f"--out={os.path.abspath(out)}", f"--runs={os.path.abspath(runs)}"]
  if _QUICK.value:
    argv.append("--quick")
  for flag in ("xla_runtime", "xla_cache"):
    if flags.FLAGS[flag].present:
      argv.append(flags.FLAGS[flag].serialize())
  return argv


if __name__ == "__main__":
  app.run(main, flags_parser=common.flags_parser(_COMPILATION))
