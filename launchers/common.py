"""Flag parsing shared by the launchers; flags are defined only when a launcher calls a
`define_*` function."""

import atexit
import contextlib
import dataclasses
import os
import re
import sys
import tempfile
import typing
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from absl import app, flags

from tf_equirl import compilation  # light: no TensorFlow import


_FLAG_KINDS = {
  int: flags.DEFINE_integer,
  float: flags.DEFINE_float,
  bool: flags.DEFINE_bool,
  str: flags.DEFINE_string,
}
# The flags define_config_flags made: (config class, prefix) -> {field: (flag name, item type)}.
_CONFIG_FLAGS: Dict[tuple, Dict[str, tuple]] = {}


def _field_kind(hint) -> Optional[tuple]:
  """`(scalar type, is_list)` of a field's type hint (`Optional[X]` is `X`, `Tuple[X, ...]` a
  list of `X`), or None for a type a flag cannot hold (a nested config)."""
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin is typing.Union and type(None) in args:
    rest = [a for a in args if a is not type(None)]
    return _field_kind(rest[0]) if len(rest) == 1 else None
  if origin in (tuple, list) and args and args[0] in _FLAG_KINDS and args[0] is not bool:
    return args[0], True
  if hint in _FLAG_KINDS:
    return hint, False
  return None


def field_docs(config_cls) -> Dict[str, str]:
  """Each field's text in the `Attributes:` section of `config_cls`'s docstring (one entry
  may name several fields: `a, b: ...`), on one line."""
  docs, names, lines = {}, [], (config_cls.__doc__ or "").splitlines()
  inside, indent = False, None
  for line in lines:
    stripped = line.strip()
    if stripped == "Attributes:":
      inside, indent = True, None
      continue
    if not inside:
      continue
    if not stripped:
      continue
    depth = len(line) - len(line.lstrip())
    if indent is None:
      indent = depth
    if depth < indent:  # prose between the entries (PPOConfig has some)
      names = []
      continue
    match = re.match(r"([\w, ]+):\s*(.*)", stripped)
    if depth == indent and match:
      names = [n.strip() for n in match.group(1).split(",") if n.strip()]
      for name in names:
        docs[name] = match.group(2)
    elif depth > indent:
      for name in names:
        docs[name] += " " + stripped
    else:
      names = []
  return docs


def define_config_flags(
  config_cls,
  defaults: Optional[Mapping[str, Any]] = None,
  prefix: str = "",
  skip: Iterable[str] = (),
  names: Optional[Mapping[str, str]] = None,
  enums: Optional[Mapping[str, Sequence[str]]] = None,
  lower_bounds: Optional[Mapping[str, int]] = None,
  overrides_only: bool = False,
) -> None:
  """Defines one absl flag per field of the dataclass `config_cls` (read back with
  `config_from_flags`).

  Each flag is named `prefix + field` (or `prefix + names[field]`), typed as the field
  (`int`, `float`, `bool`, `str`, their `Optional`, or a `Tuple` of them as a list flag; a
  field of another type, such as a nested config, gets no flag), helped by the field's text in
  the class docstring's `Attributes:` section, an enum where `enums` lists its values, with
  a lower bound where `lower_bounds` gives one. Its default is `defaults[field]` if given, else
  the field's own default, or with `overrides_only` None: unset, the config's factory
  decides (e.g. per-environment defaults).

  Raises:
    ValueError: a name in `skip`, `defaults`, `names`, `enums` or `lower_bounds` is not a
      field of `config_cls`.
  """
  defaults, names = dict(defaults or {}), dict(names or {})
  enums, lower_bounds = dict(enums or {}), dict(lower_bounds or {})
  fields = {f.name: f for f in dataclasses.fields(config_cls)}
  for given in (skip, defaults, names, enums, lower_bounds):
    unknown = sorted(set(given) - set(fields))
    if unknown:
      raise ValueError(
        f"define_config_flags({config_cls.__name__}): {unknown} are not "
        f"fields; expected some of {sorted(fields)}."
      )
  hints = typing.get_type_hints(config_cls)
  docs = field_docs(config_cls)
  made = {}
  for name, field in fields.items():
    kind = _field_kind(hints[name])
    if name in set(skip) or kind is None:
      continue
    scalar, is_list = kind
    own = (
      field.default
      if field.default is not dataclasses.MISSING
      else (field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
    )
    default = defaults[name] if name in defaults else (None if overrides_only else own)
    if is_list and default is not None:
      default = [str(v) for v in default]
    doc = docs.get(name, "").rstrip(".") or f"{config_cls.__name__}.{name}"
    text = f"{doc} ({config_cls.__name__}.{name}, default {own!r})."
    flag = prefix + names.get(name, name)
    if name in enums:
      flags.DEFINE_enum(flag, default, list(enums[name]), text)
    elif is_list:
      flags.DEFINE_list(flag, default, text)
    elif name in lower_bounds:
      _FLAG_KINDS[scalar](flag, default, text, lower_bound=lower_bounds[name])
    else:
      _FLAG_KINDS[scalar](flag, default, text)
    made[name] = (flag, scalar if is_list else None)
  _CONFIG_FLAGS[(config_cls, prefix)] = made


def config_values(config_cls, prefix: str = "", flag_values=None) -> Dict[str, Any]:
  """The fields of `config_cls` whose flags (`define_config_flags` with `prefix`) are set
  (not None), as keyword arguments of the config.

  Raises:
    app.UsageError: an item of a list flag is not of the field's type.
  """
  flag_values = flag_values or flags.FLAGS
  out = {}
  for name, (flag, item) in _CONFIG_FLAGS[(config_cls, prefix)].items():
    value = flag_values[flag].value
    if value is None:
      continue
    if item is not None:
      try:
        value = tuple(item(v) for v in value)
      except ValueError:
        raise app.UsageError(
          f"--{flag} must be a comma-separated list of "
          f"{item.__name__} values, received {value}."
        ) from None
    out[name] = value
  return out


def config_from_flags(
  config_cls,
  flag_values=None,
  prefix: str = "",
  factory: Optional[Callable[..., Any]] = None,
  **overrides,
):
  """`factory(**fields)` (default `config_cls(**fields)`): the fields set by the flags of
  `define_config_flags`, then `overrides`. A `ValueError` of the config (a value out of
  range, named with its field) becomes a one-line usage error."""
  fields = config_values(config_cls, prefix, flag_values)
  fields.update(overrides)
  with usage_errors():
    return (factory or config_cls)(**fields)


@contextlib.contextmanager
def usage_errors():
  """Turns a `ValueError` raised inside (a library's check of a value the command line gave)
  into a one-line usage error."""
  try:
    yield
  except ValueError as e:
    raise app.UsageError(str(e)) from None


def parse_seeds(text: str) -> List[int]:
  """`--seeds`: a count N (seeds 0..N-1) or a comma-separated list of distinct non-negative
  seeds ('3,7')."""
  parts = [p.strip() for p in text.split(",") if p.strip()]
  try:
    values = [int(p) for p in parts]
  except ValueError:
    values = None
  if not values:
    raise app.UsageError(
      f"--seeds must be a count or a comma-separated list of integers, " f"received {text!r}."
    )
  if len(values) == 1 and "," not in text:
    if values[0] < 1:
      raise app.UsageError(f"--seeds count must be positive, received {values[0]}.")
    return list(range(values[0]))
  negative = [v for v in values if v < 0]
  if negative:
    raise app.UsageError(f"--seeds must be non-negative, received {negative} in {text!r}.")
  repeated = sorted({v for v in values if values.count(v) > 1})
  if repeated:
    raise app.UsageError(
      f"--seeds lists {repeated} more than once in {text!r}; each seed " "runs once."
    )
  return values


def parse_checkpoints(
  values: Optional[Sequence[str]], flag: str = "checkpoints"
) -> Optional[List[int]]:
  """`--checkpoints` (a list flag): positive integers of environment steps, '10000' or
  '10_000', sorted; None or empty gives None (the default checkpoints)."""
  if not values:
    return None
  steps = []
  for value in values:
    text = str(value).strip()
    try:
      step = int(text)
    except ValueError:
      step = None
    if step is None or step < 1:
      raise app.UsageError(
        f"--{flag} must be positive integers of environment steps (e.g. "
        f"10000 or 10_000), received {text!r}."
      )
    steps.append(step)
  return sorted(set(steps))


def parse_env(name: str, flag: str = "env") -> str:
  """`--env`: a registered environment or a symmetry-breaking variant of one
  ('Catch-v0:global:0.5'), checked by building it (`tf_equirl.envs.make`)."""
  from tf_equirl import envs  # pylint: disable=import-outside-toplevel  (imports TensorFlow)

  try:
    envs.make(name)
  except (ValueError, TypeError) as e:
    message = str(e)
    if "registered environments" not in message:
      message += (
        f" Registered environments: {envs.list_envs()}; a symmetry-breaking "
        "variant reads '<env>:<breaking>:<strength>', e.g. 'Catch-v0:global:0.5'."
      )
    raise app.UsageError(f"--{flag}={name!r}: {message}") from None
  return name


def folder_name(text: str) -> str:
  """`text` as one folder name: every character other than letters, digits and '-_.@+='
  becomes '_' (an env variant's 'Catch-v0:global:0.5' -> 'Catch-v0_global_0.5')."""
  return re.sub(r"[^A-Za-z0-9._@+=-]", "_", text)


def _check_creatable(path: str, flag: str) -> None:
  """The one-line usage error of `check_output_folder` if the folder `path` is a file, or if
  it is missing and its nearest existing parent is not a folder this process can write;
  creates nothing."""
  if os.path.exists(path) and not os.path.isdir(path):
    raise app.UsageError(f"--{flag}={path!r} is a file; expected a folder (created if " "missing).")
  probe = os.path.abspath(path)
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  try:
    if not os.path.isdir(probe):
      raise NotADirectoryError(20, "Not a directory")
    tempfile.TemporaryFile(dir=probe).close()
  except OSError as e:
    raise app.UsageError(
      f"--{flag}={path!r} is not writable ({e.strerror}); expected a "
      "folder this process can write."
    ) from None


def check_output_folder(path: str, flag: str) -> str:
  """Fails with a one-line usage error, before any work, if the folder `--<flag>` names is a
  file or cannot be created or written; else creates it (if missing) and returns `path`."""
  _check_creatable(path, flag)
  os.makedirs(path, exist_ok=True)
  return path


def define_backend_flags():
  """Defines `--backend`, `--address` and `--seeds_per_trial` (how a reproduction launcher
  runs its seeds) and returns a function giving their values as keyword arguments of the
  studies' configs (`tf_equirl.experiments`)."""
  backend = flags.DEFINE_enum(
    "backend",
    "local",
    ["local", "ray"],
    "local: one process trains the seeds one after "
    "another; ray: the seeds run as Ray Tune trials (tf_equirl.sweeps), locally or on "
    "--address.",
  )
  address = flags.DEFINE_string(
    "address",
    None,
    "--backend=ray: Ray cluster to join (auto or "
    "HOST:PORT); default a local Ray on this machine's cores.",
  )
  seeds_per_trial = flags.DEFINE_integer(
    "seeds_per_trial",
    16,
    "--backend=ray: seeds per " "trial (one worker and one compiled graph each).",
    lower_bound=1,
  )

  def values() -> Dict:
    return {
      "backend": backend.value,
      "address": address.value,
      "seeds_per_trial": seeds_per_trial.value,
    }

  return values


def define_compilation_flags(xla_runtime: bool):
  """Defines `--xla_runtime` (default `xla_runtime`) and `--xla_cache`, and returns
  `apply(cache_by_default=True)`, which configures XLA from them (`tf_equirl.compilation`;
  `--xla_cache` naming a file is a usage error, an unusable folder a warning).
  `cache_by_default=False` (e.g. for Ray workers, which compile side by side) leaves the
  cache off unless `--xla_cache` names one. Run it through `flags_parser(apply)`: it must
  run before TensorFlow initialises its devices, which absl's init callbacks already do."""
  runtime = flags.DEFINE_bool(
    "xla_runtime",
    xla_runtime,
    "Compile with XLA's newer CPU runtime: faster training "
    "code, a slower first compilation, cacheable across processes; rounds floats "
    "differently from the classic runtime (tf_equirl.compilation).",
  )
  cache = flags.DEFINE_string(
    "xla_cache",
    None,
    "Folder of the persistent XLA compilation cache (needs "
    "--xla_runtime); default with --xla_runtime: $TF_EQUIRL_XLA_CACHE or "
    "~/.cache/tf_equirl/xla. '' for none.",
  )

  def apply(
    cache_by_default: bool = True, runtime_default: Optional[bool] = None
  ) -> compilation.CompilationConfig:
    """`runtime_default` replaces the flag's default when `--xla_runtime` is not on the
    command line (e.g. the classic runtime for several vectorised seeds)."""
    use_runtime = runtime.value
    if runtime_default is not None and not flags.FLAGS["xla_runtime"].present:
      use_runtime = runtime_default
    folder = cache.value
    # A value the user typed that names a file is a mistake in the command: a usage error.
    # A folder that cannot be created or written (read-only, under a file), or a default
    # from the environment that is unusable, only costs speed: `configure` warns and
    # compiles without a cache.
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
      raise app.UsageError(
        f"--xla_cache={folder!r} is not a folder; expected the folder "
        f"of XLA's compilation cache (created if missing), or '' for "
        f"none."
      )
    if folder is None:
      folder = compilation.default_cache_dir() if use_runtime and cache_by_default else ""
    try:
      return compilation.configure(compilation.CompilationConfig(use_runtime, folder or None))
    except ValueError as e:
      raise app.UsageError(str(e))

  return apply


def xla_environ(xla_flags: Sequence[str]) -> Optional[Dict[str, str]]:
  """This process' environment with `xla_flags` (`--name=value`) in `XLA_FLAGS`, each
  replacing a setting of the same flag there, for a child process that must compile with them
  (XLA reads its flags once per process); None when `XLA_FLAGS` already has them all."""
  present = os.environ.get("XLA_FLAGS", "").split()
  if all(flag in present for flag in xla_flags):
    return None
  names = {flag.split("=", 1)[0] for flag in xla_flags}
  kept = [f for f in present if f.split("=", 1)[0] not in names]
  return dict(os.environ, XLA_FLAGS=" ".join(kept + list(xla_flags)))


def flags_parser(configure: Callable[[], object]):
  """A `flags_parser` for `app.run(main, flags_parser=...)`: parses the flags, then calls
  `configure()` (e.g. `define_compilation_flags`' `apply`) before absl runs its init
  callbacks, among them TensorFlow's, which initialise the devices and with them XLA's
  flags (too late from `main`)."""

  def parse(argv):
    args = app.parse_flags_with_usage(argv)
    try:
      configure()
    except app.UsageError as error:
      app.usage(shorthelp=True, detailed_error=error, exitcode=error.exitcode)
    return args

  return parse


def with_runtime_fallback(main: Callable):
  """Wraps a launcher's `main`: if XLA's newer CPU runtime (`--xla_runtime`, experimental in
  TF 2.15) fails to compile a graph, the launcher starts again with `--noxla_runtime` (the
  classic runtime) and says so. Known cases, all one MLIR lowering error ("'arith.xori' op
  requires the same type for all operands", a vectorised boolean negation): the `augment`
  network with importance weights, a learned world model's step (Dyna planning,
  `tf_equirl.models.model_dynamics`) and some environment variants' steps in a compiled
  loop."""

  def wrapped(argv):
    try:
      return main(argv)
    except Exception as error:  # pylint: disable=broad-except
      if not (compilation.runtime_enabled() and compilation.is_runtime_failure(error)):
        raise
      first = str(error).strip().splitlines()[0][:300]
      print(
        f"XLA's runtime could not compile this configuration ({first}); starting again "
        "with --noxla_runtime (XLA's classic runtime).",
        file=sys.stderr,
        flush=True,
      )
      atexit._run_exitfuncs()  # pylint: disable=protected-access  (publish the cache)
      again = ["--noxla_runtime", "--xla_cache="]
      if "resume" in flags.FLAGS and "overwrite" in flags.FLAGS:
        again += ["--resume", "--nooverwrite"]  # the run folder this attempt took
      os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:], *again])

  return wrapped


def define_run_folder_flags():
  """Defines `--resume`, `--overwrite` and `--checkpoint_every` (how a training launcher treats
  its `--out`, `tf_equirl.runs.RunFolder`) and returns a function giving their values as
  keyword arguments of `run_experiment`."""
  resume = flags.DEFINE_bool(
    "resume",
    False,
    "Continue the run in --out: reuse its finished seeds (same config and "
    "code) and continue an interrupted seed from its last checkpoint.",
  )
  overwrite = flags.DEFINE_bool("overwrite", False, "Replace the run --out holds.")
  every = flags.DEFINE_integer(
    "checkpoint_every",
    100,
    "Save each seed's training state every this many iterations, " "for --resume (0: never).",
    lower_bound=0,
  )

  def values() -> Dict:
    if resume.value and overwrite.value:
      raise app.UsageError(
        "--resume and --overwrite exclude each other: continue the run in " "--out, or replace it."
      )
    return {"resume": resume.value, "overwrite": overwrite.value, "checkpoint_every": every.value}

  return values


def report_failures(main: Callable):
  """Wraps a training launcher's `main`: a run that diverged (`TrainingDiverged`) ends with its
  one-line message and exit status 1, an interrupted one (Ctrl-C, SIGINT) with a line saying
  how to continue it and status 130, and an output folder that cannot take the run
  (`RunFolderError`, raised before any training) is a usage error."""
  from tf_equirl import runs  # pylint: disable=import-outside-toplevel

  def wrapped(argv):
    try:
      return main(argv)
    except runs.RunFolderError as error:
      raise app.UsageError(str(error))
    except runs.TrainingDiverged as error:
      print(f"error: {error}", file=sys.stderr, flush=True)
      return 1
    except KeyboardInterrupt:
      print(
        "interrupted: finished seeds and the last checkpoint are kept; run the same "
        "command with --resume to continue.",
        file=sys.stderr,
        flush=True,
      )
      return 130

  return wrapped


def exit_when_done(main: Callable):
  """Wraps a launcher's `main`: once it has returned (every output written and closed), runs
  the exit handlers (e.g. publishing the compilation cache), flushes stdout and stderr and
  ends the process with `os._exit`, skipping the interpreter's teardown of TensorFlow (about
  1.2 s after a PPO run on this machine, against 3 ms for the exit handlers). An exception
  takes the normal path."""

  def wrapped(argv):
    code = main(argv)
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)  # pylint: disable=protected-access

  return wrapped


@dataclasses.dataclass
class TrainingFlags:
  """The flags `define_training_flags` defines, shared by `launchers.train_ppo` and
  `launchers.train_dyna`; read them once absl has parsed the command line."""

  env: Any
  preset: Any
  seeds: Any
  out: Any
  checkpoints: Any
  no_progress: Any
  no_tensorboard: Any
  configure_compilation: Callable
  run_folder_options: Callable
  vectorize_seeds: Any = None
  seed_batch: Any = None
  concurrent_groups: Any = None

  def ppo_fields(self) -> Dict[str, Any]:
    """The `PPOConfig` fields set on the command line (`--preset`'s first, then the flags)."""
    from tf_equirl.agents.ppo import PRESETS, PPOConfig  # pylint: disable=import-outside-toplevel

    fields = dict(PRESETS[self.preset.value]) if self.preset.value else {}
    fields.update(config_values(PPOConfig))
    return fields

  def ppo_config(self):
    """The `PPOConfig` of the flags: the environment's defaults, then --preset, then the
    flags; an unknown --env or --group is a usage error."""
    # pylint: disable=import-outside-toplevel
    from tf_equirl import envs
    from tf_equirl.agents.ppo import PPOConfig, default_config

    env = parse_env(self.env.value)
    config = config_from_flags(
      PPOConfig, factory=lambda **fields: default_config(env, preset=self.preset.value, **fields)
    )
    try:
      envs.make(config.env).get_symmetry(config.group)  # an unknown --group fails here
    except ValueError as e:
      raise app.UsageError(str(e))
    return config

  def seed_list(self) -> List[int]:
    return parse_seeds(self.seeds.value)

  def checkpoint_steps(self, env: str):
    """--checkpoints, or the results-table columns of `env` (`tf_equirl.envs.defaults`)."""
    from tf_equirl.runner import default_checkpoints  # pylint: disable=import-outside-toplevel

    return parse_checkpoints(self.checkpoints.value) or default_checkpoints(env)

  def run_options(self) -> Dict[str, Any]:
    """Keyword arguments of `tf_equirl.runner.run_experiment` from the flags (a --seed_batch
    outside [1, number of seeds] is a usage error)."""
    options = {
      "progress": not self.no_progress.value,
      "tensorboard": not self.no_tensorboard.value,
      **self.run_folder_options(),
    }
    if self.vectorize_seeds is not None:
      batch = self.seed_batch.value
      num_seeds = len(self.seed_list())
      if batch is not None and not 1 <= batch <= num_seeds:
        raise app.UsageError(
          f"--seed_batch must be from 1 to the number of seeds " f"({num_seeds}), received {batch}."
        )
      options.update(vectorize=None if self.vectorize_seeds.value else False, seed_batch=batch)
    if self.concurrent_groups is not None and self.concurrent_groups.value is not None:
      if self.concurrent_groups.value < 1:
        raise app.UsageError(
          f"--concurrent_groups must be 1 or more seed groups, received "
          f"{self.concurrent_groups.value}."
        )
      options.update(concurrent_groups=self.concurrent_groups.value)
    return options


def define_training_flags(network: str, xla_runtime: bool, out_help: str) -> TrainingFlags:
  """Defines the flags of a training launcher: `--env`, `--preset`, `--seeds`, `--out`,
  `--checkpoints`, `--no_progress`, `--no_tensorboard`, the compilation and run-folder flags,
  and one flag per `PPOConfig` field (`--network` defaulting to `network`, `--critic` to the
  thesis' MLP, the others unset: the environment's defaults apply)."""
  # pylint: disable=import-outside-toplevel  (TensorFlow: only when a launcher asks)
  from tf_equirl import envs
  from tf_equirl.agents.ppo import PRESETS, PPOConfig
  from tf_equirl.networks import ACTOR_KINDS, CRITIC_KINDS

  training = TrainingFlags(
    env=flags.DEFINE_string(
      "env",
      "CartPole-v1",
      f"Environment: one of {envs.list_envs()}, or a "
      "symmetry-breaking variant '<env>:<breaking>:<strength>', e.g. Catch-v0:global:0.5 "
      "(tf_equirl.envs.breaking).",
    ),
    preset=flags.DEFINE_enum(
      "preset",
      None,
      sorted(PRESETS),
      "Named PPO settings applied before the PPOConfig "
      "flags (tf_equirl.agents.ppo.PRESETS, results/ppo_gaps_catch/README.md).",
    ),
    seeds=flags.DEFINE_string(
      "seeds",
      "1",
      "Number of seeds N (runs seeds 0..N-1) or a " "comma-separated list of seeds, e.g. '3,7'.",
    ),
    out=flags.DEFINE_string("out", None, out_help),
    checkpoints=flags.DEFINE_list(
      "checkpoints",
      None,
      "Env steps to summarise at, e.g. 10000,100_000 (default: the "
      "thesis' table columns of the environment).",
    ),
    no_progress=flags.DEFINE_bool("no_progress", False, "Hide the progress bar."),
    no_tensorboard=flags.DEFINE_bool("no_tensorboard", False, "Skip TensorBoard scalars."),
    configure_compilation=define_compilation_flags(xla_runtime=xla_runtime),
    run_folder_options=define_run_folder_flags(),
    vectorize_seeds=flags.DEFINE_bool(
      "vectorize_seeds",
      True,
      "Train several PPO seeds as one vectorised XLA program "
      "(each seed exactly its lone run; tf_equirl.agents.ppo.seed_batch), or, under XLA's "
      "newer CPU runtime, each as its own program, several at once "
      "(tf_equirl.runner.lone_programs); --novectorize_seeds trains them one after another. "
      "Dyna seeds too, branched rollouts included (tf_equirl.agents.dyna.seed_batch).",
    ),
    seed_batch=flags.DEFINE_integer(
      "seed_batch",
      None,
      "Seeds per vectorised program run (default: one, each its own program, under XLA's "
      "newer CPU runtime for PPO; otherwise the seeds shared evenly between groups "
      "of at most 4, the same on every machine): bounds memory for many seeds; every "
      "finished group is kept if the run is interrupted.",
    ),
    concurrent_groups=flags.DEFINE_integer(
      "concurrent_groups",
      None,
      "Seed groups trained at once, each its own program in its own thread (default: "
      "one per CPU core, 1 on a GPU). The groups, and so the curves, do not depend on it.",
    ),
  )
  define_config_flags(
    PPOConfig,
    defaults={"network": network, "critic": "mlp"},
    skip=("env", "seed"),
    overrides_only=True,
    enums={"network": ACTOR_KINDS, "critic": CRITIC_KINDS},
  )
  return training


@dataclasses.dataclass
class StudyFlags:
  """The flags `define_study_flags` defines, shared by the reproduction launchers."""

  no_progress: Any
  backend: Callable[[], Dict]
  configure_compilation: Callable

  def options(self) -> Dict[str, Any]:
    """`progress`, `backend`, `address` and `seeds_per_trial` of a study's config."""
    return {"progress": not self.no_progress.value, **self.backend()}

  def config(self, config_cls, launcher: str, **fields: Any):
    """The study's config from its flags, with `fields`, the study options and the command
    line (`python -m <launcher> <arguments>`); its `runs` and `results` folders must be
    usable (`check_output_folders`)."""
    config = config_from_flags(
      config_cls,
      **fields,
      **self.options(),
      command=f"python -m {launcher} " + " ".join(sys.argv[1:]),
    )
    check_output_folders(runs=config.runs, results=config.results)
    return config

  def run(self, main: Callable) -> None:
    """`app.run(main)`: falls back to XLA's classic runtime where the newer one fails, and
    configures XLA before TensorFlow starts (a compilation cache only for the local
    backend: Ray workers compile side by side)."""
    app.run(
      with_runtime_fallback(main),
      flags_parser=flags_parser(
        lambda: self.configure_compilation(cache_by_default=self.backend()["backend"] == "local")
      ),
    )


def define_study_flags(config_cls, skip: Iterable[str] = (), **config_flags) -> StudyFlags:
  """Defines the flags of a reproduction launcher: one per field of the study's config
  `config_cls` (`define_config_flags(config_cls, skip=..., **config_flags)`) but `progress`,
  `command` and the backend's, then `--no_progress`, the backend flags
  (`define_backend_flags`) and the compilation flags, with XLA's newer CPU runtime off by
  default (the committed results were made with the classic one, and these commands
  reproduce them bit for bit)."""
  define_config_flags(
    config_cls,
    skip=("progress", "command", "backend", "address", "seeds_per_trial", *skip),
    **config_flags,
  )
  return StudyFlags(
    no_progress=flags.DEFINE_bool("no_progress", False, "Hide progress bars."),
    backend=define_backend_flags(),
    configure_compilation=define_compilation_flags(xla_runtime=False),
  )


def check_output_folders(**folders: str) -> None:
  """`check_output_folder(path, flag)` for each `flag=path`: all are checked before any is
  created, so one bad folder leaves no other behind."""
  for flag, path in folders.items():
    _check_creatable(path, flag)
  for flag, path in folders.items():
    check_output_folder(path, flag)
