"""Regenerate the results: every study of the registry, or some, each into results/<name>/.

  python -m launchers.reproduce_all --list                   # the studies, commands, budgets
  python -m launchers.reproduce_all --only=ppo_catch         # one study at its full budget
  python -m launchers.reproduce_all --quick                  # all, tiny budgets, temp folder
  python -m launchers.reproduce_all --quick --jobs=2         # the same, two studies at a time
  python -m launchers.reproduce_all --quick --out=/tmp/quick --only=ppo_catch,dyna_catch
  python -m launchers.reproduce_all --index                  # rewrite docs/results.md
  python -m launchers.reproduce_all --only=prae_keyroom --export_records=/tmp/records
  python -m launchers.reproduce_all --only=prae_keyroom --import_records=/tmp/records
  python -m launchers.reproduce_all --only=continuous_pendulum \
      --import_records=results/continuous_pendulum/records --interim

Each study writes `<out>/<name>/README.md`, which starts with its provenance record (commit,
date, libraries, machine, seeds, wall time and the exact command, `python -m
launchers.reproduce_all --only=<name>`, plus `--quick`), then its report, with its figures and
data beside it. Per-seed runs, datasets and other intermediate files go to `<runs>/<name>/`
(finished runs of the same code are reused, so a study killed partway resumes; its wall time
then sums every invocation of that code and command, kept in `<runs>/<name>/invocations.json`). The studies are `tf_equirl.experiments.registry`; with
`--quick` every study runs on tiny budgets (2 seeds, a few thousand steps, 1 epoch, the
smallest grid), making the datasets it needs, into a temporary folder unless --out is given.

A study whose report needs only its run records (`Study.records`: the PRAE and continuous
studies) can go on on another machine: `--export_records=DIR` copies the records of its
finished seeds (`tf_equirl.runs.copy_records`: JSON and CSV files, no models, datasets or
checkpoints) from `<runs>/<name>/` into `DIR` and exits; `--import_records=DIR` copies them
into `<runs>/<name>/` first and then runs the study, which trains only what the records lack.
It refuses a `<runs>/<name>/` that holds other records of the study (a folder that went on
after its records were exported: the import would forget its newer seeds).
The records carry their fingerprints, so only a checkout of the same code reuses them.
`--interim` writes the report of a study that takes many hours from what has finished in
`<runs>/<name>/` (after `--import_records`, from those records) and trains nothing
(`Study.interim`: the continuous-control studies); the results index marks it as interim.

A study whose runs train under XLA flags of their own (`Study.xla_flags`: the continuous-control
studies after Pendulum compile with single-threaded matrix products) trains in a process that
this launcher starts with them added to `XLA_FLAGS`, since XLA reads its flags once per process.

When several studies are selected, each runs in a process of its own (this launcher with
`--only=<name>`), so one study's compiled programs and datasets are freed before the next
starts, and a study that fails does not stop the others: the launcher runs them all, lists
the ones that failed and exits non-zero. `--jobs=N` runs up to N of these processes at once,
each writing its output to `<runs>/<name>/reproduce.log`, printed when it ends; the studies
then share the CPU, so their wall times in the provenance records count the sharing: keep the
default of one for results, use two for a smoke run on two cores.
"""

import filecmp
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from launchers import common
from tf_equirl import runs as runs_lib
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
_JOBS = flags.DEFINE_integer(
  "jobs",
  1,
  "How many study processes run at once when several studies are selected (their outputs go "
  "to <runs>/<name>/reproduce.log, printed as each ends). Above one, the wall times of the "
  "provenance records include the sharing of the CPU.",
  lower_bound=1,
)
_EXPORT = flags.DEFINE_string(
  "export_records",
  None,
  "Copy the run records of the one --only study (one whose report needs only them) from "
  "<runs>/<name>/ into this folder, and exit.",
)
_IMPORT = flags.DEFINE_string(
  "import_records",
  None,
  "Copy run records (made by --export_records) from this folder into <runs>/<name>/ of the "
  "one --only study, then run it.",
)
_INTERIM = flags.DEFINE_bool(
  "interim",
  False,
  "Write the interim report of the one --only study from its finished runs in <runs>/<name>/ "
  "(after --import_records, from those records), and train nothing.",
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
  if _INTERIM.value:  # checked before any folder is made
    interim_study(names, _EXPORT.value)
  if _EXPORT.value or _IMPORT.value:  # checked before any folder is made
    name = records_study(names, _EXPORT.value, _IMPORT.value)
    if _EXPORT.value:
      source = os.path.join(runs, name)
      if not os.path.isdir(source):
        raise app.UsageError(f"--export_records: {source!r} holds no runs of {name}.")
      copied = runs_lib.copy_records(source, _EXPORT.value)
      print(f"copied {len(copied)} records of {name} into {_EXPORT.value}")
      return
    if not os.path.isdir(_IMPORT.value):
      raise app.UsageError(f"--import_records: {_IMPORT.value!r} is not a folder of records.")
  common.check_output_folders(out=out, runs=runs)
  if _IMPORT.value:
    replaced = replaced_records(_IMPORT.value, os.path.join(runs, name))
    if replaced:
      raise app.UsageError(
        f"--import_records: {os.path.join(runs, name)} already holds other records of "
        f"{name} ({', '.join(replaced[:3])}{', ...' if len(replaced) > 3 else ''}); the "
        "import would replace them, and with them the seeds they record as finished. Go on "
        "from that folder without --import_records, or import into an empty --runs folder."
      )
    copied = runs_lib.copy_records(_IMPORT.value, os.path.join(runs, name))
    print(f"copied {len(copied)} records of {name} into {os.path.join(runs, name)}", flush=True)
  environs = {}
  with common.usage_errors():  # every config is checked before anything trains
    for name in names:
      study = registry.get(name)
      config = (study.quick if _QUICK.value else study.full)(
        registry.Target(
          os.path.join(out, name),
          os.path.join(runs, name),
          registry.study_command(name, _QUICK.value),
        )
      )
      environs[name] = common.xla_environ(study.xla_flags(config))
  if len(names) == 1 and environs[names[0]] is not None and not _INTERIM.value:
    # XLA reads its flags once per process: the study trains in a process started with them.
    print(f"== {names[0]} (XLA_FLAGS={environs[names[0]]['XLA_FLAGS']})", flush=True)
    code = subprocess.call(
      study_process(names[0], out, runs), cwd=registry.REPO, env=environs[names[0]]
    )
    if code != 0:
      raise SystemExit(code)
    return
  if len(names) == 1:
    command = None  # the study's own, `registry.study_command`
    if _INTERIM.value:  # the records it reads are part of what makes it
      command = "python -m launchers.reproduce_all " + " ".join(sys.argv[1:])
    path = registry.run_study(
      names[0], root=out, runs=runs, quick=_QUICK.value, command=command, interim=_INTERIM.value
    )
    print(f"wrote {path}", flush=True)
    return
  failed = run_processes(names, out, runs, jobs=_JOBS.value, environs=environs)
  if failed:
    raise SystemExit(
      f"{len(failed)} of {len(names)} studies failed: {', '.join(failed)}; "
      f"rerun one with --only=<name> to see its error alone."
    )


def replaced_records(source, destination):
  """The records (`runs.copy_records`' selection, paths relative to `source`) that copying
  `source` into `destination` would overwrite with other contents: a runs folder that went on
  after its records were exported holds newer ones."""
  if not os.path.isdir(destination):
    return []
  with tempfile.TemporaryDirectory() as staged:
    copied = runs_lib.copy_records(source, staged)
    return [
      relative
      for relative in copied
      if os.path.exists(os.path.join(destination, relative))
      and not filecmp.cmp(
        os.path.join(staged, relative), os.path.join(destination, relative), shallow=False
      )
    ]


def records_study(names, export, import_):
  """The one study `--export_records` / `--import_records` apply to.

  Raises:
    app.UsageError: both flags, not exactly one study, or a study whose report needs more
      than its records.
  """
  if export and import_:
    raise app.UsageError("--export_records and --import_records: pass one of them.")
  flag = "--export_records" if export else "--import_records"
  if len(names) != 1:
    raise app.UsageError(f"{flag} needs exactly one study in --only, received {len(names)}.")
  if not registry.get(names[0]).records:
    able = [n for n in registry.names() if registry.get(n).records]
    raise app.UsageError(
      f"{flag}: the report of {names[0]} needs more than its run records (models or "
      f"datasets); the studies that go on from records are: {', '.join(able)}."
    )
  return names[0]


def interim_study(names, export):
  """Checks `--interim`: one study, one that has an interim report, and no `--export_records`
  beside it (with `--quick`, the interim report of the smoke run's runs).

  Raises:
    app.UsageError: otherwise.
  """
  if export:
    raise app.UsageError("--interim writes a report and --export_records copies records: pass one.")
  if len(names) != 1:
    raise app.UsageError(f"--interim needs exactly one study in --only, received {len(names)}.")
  if registry.get(names[0]).interim is None:
    able = [n for n in registry.names() if registry.get(n).interim is not None]
    raise app.UsageError(
      f"--interim: {names[0]} has no interim report; the studies with one are: "
      f"{', '.join(able)}."
    )


def run_processes(names, out, runs, jobs, environs=None):
  """Runs each study of `names` in a process of its own, up to `jobs` at once, and returns the
  names of those that failed (in the registry's order). With one job the processes write to
  this one's output; with more, each writes to `<runs>/<name>/reproduce.log`, which is printed
  when it ends. `environs[name]`, where given and not None, is the environment of the study's
  process (`common.xla_environ`: the XLA flags its runs train under)."""
  environs = environs or {}
  if jobs == 1:
    failed = []
    for name in names:
      print(f"== {name}", flush=True)
      code = subprocess.call(
        study_process(name, out, runs), cwd=registry.REPO, env=environs.get(name)
      )
      if code != 0:
        failed.append(name)
        print(f"!! {name} failed (exit status {code})", flush=True)
    return failed
  pending, running, codes = list(names), {}, {}
  while pending or running:
    while pending and len(running) < jobs:
      name = pending.pop(0)
      log_path = os.path.join(runs, name, "reproduce.log")
      os.makedirs(os.path.dirname(log_path), exist_ok=True)
      log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed when it ends)
      proc = subprocess.Popen(
        study_process(name, out, runs),
        cwd=registry.REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environs.get(name),
      )
      running[name] = (proc, log, log_path, time.perf_counter())
      print(f"-> {name} started", flush=True)
    time.sleep(0.5)
    for name, (proc, log, log_path, start) in list(running.items()):
      if proc.poll() is None:
        continue
      del running[name]
      log.close()
      codes[name] = proc.returncode
      with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
      print(f"== {name} ({time.perf_counter() - start:.0f} s)\n{text}", end="", flush=True)
      if proc.returncode != 0:
        print(f"!! {name} failed (exit status {proc.returncode})", flush=True)
  return [name for name in names if codes[name] != 0]


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
