"""Every code block of the documentation runs: README.md and the pages under docs/.

* ```python blocks: each page's blocks run in order in one fresh namespace, in this process
  (TensorFlow is imported once), from a temporary working folder.
* ```bash blocks: every `python -m launchers.X --flags` command is checked without running it:
  the launcher imports and absl accepts its flags (one child process parses them all, since
  launchers define flags of the same names on absl's global FLAGS). A `python benchmarks/X.py`
  or `python tools/X.py` command must name a script that exists.
* ```text blocks are output, not code; any other fence is an error.
* Every relative link of a page names a file or folder that exists (results/, benchmarks/,
  other pages), so links work on the repository as in the built site.

Pages whose examples take long (Ray) are in `SLOW_PAGES` and run with `pytest -m slow`.
"""

import glob
import json
import os
import re
import shlex
import sys

import pytest

from support import check_launcher_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(
  os.path.relpath(p, REPO)
  for p in glob.glob(os.path.join(REPO, "docs", "**", "*.md"), recursive=True)
)
# Pages whose examples take long: a local Ray, several compiled graphs (Dyna, model training).
SLOW_PAGES = {"docs/sweeps.md", "docs/dyna.md", "docs/many_seeds.md", "docs/transition_models.md"}
LANGUAGES = ("python", "bash", "text")
_FENCE = re.compile(r"^```(\S*)\s*$")


def code_blocks(page):
  """`[(language, first_line_number, source)]` of the fenced blocks of `page` (top level)."""
  blocks, current = [], None
  with open(os.path.join(REPO, page), encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      match = _FENCE.match(line.rstrip("\n"))
      if current is None and match:
        current = (match.group(1), number + 1, [])
      elif current is not None and line.rstrip() == "```":
        blocks.append((current[0], current[1], "".join(current[2])))
        current = None
      elif current is not None:
        current[2].append(line)
  if current is not None:
    raise AssertionError(f"{page}:{current[1] - 1}: code block is never closed")
  return blocks


def shell_commands(source):
  """Commands of a bash block: continuation lines joined, comments dropped, split at `&&`
  and `;`."""
  text = source.replace("\\\n", " ")
  commands = []
  for line in text.splitlines():
    tokens = shlex.split(line, comments=True)
    current = []
    for token in tokens + ["&&"]:
      if token in ("&&", ";", "||"):
        if current:
          commands.append(current)
        current = []
      else:
        current.append(token)
  return commands


def launcher_commands(page):
  """`[(where, module, args)]` of the `python -m launchers.X` commands in `page`'s bash
  blocks, and the scripts its `python path/to/script.py` commands name."""
  launchers, scripts = [], []
  for language, line, source in code_blocks(page):
    if language != "bash":
      continue
    for command in shell_commands(source):
      if command[0] not in ("python", "python3"):
        continue
      where = f"{page}:{line}: {' '.join(command)}"
      if len(command) > 2 and command[1] == "-m" and command[2].startswith("launchers."):
        launchers.append((where, command[2], command[3:]))
      elif len(command) > 1 and command[1].endswith(".py"):
        scripts.append((where, command[1]))
  return launchers, scripts


def test_every_page_has_only_known_blocks():
  bad = [
    f"{page}:{line - 1}: ```{language}"
    for page in PAGES
    for language, line, _ in code_blocks(page)
    if language not in LANGUAGES
  ]
  assert not bad, f"code blocks must be one of {LANGUAGES} (```text for output): " + "; ".join(bad)


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_relative_links_exist():
  broken = []
  for page in PAGES:
    with open(os.path.join(REPO, page), encoding="utf-8") as f:
      text = re.sub(r"```.*?```", "", f.read(), flags=re.S)  # links only outside code
    for target in _LINK.findall(text):
      if re.match(r"[a-z]+:", target) or target.startswith("#"):
        continue  # a URL or an anchor on the same page
      path = os.path.join(REPO, os.path.dirname(page), target.split("#")[0])
      if not os.path.exists(os.path.normpath(path)):
        broken.append(f"{page}: {target}")
  assert not broken, "links to files that do not exist: " + "; ".join(broken)


def _page_params():
  for page in PAGES:
    if not any(language == "python" for language, _, _ in code_blocks(page)):
      continue
    marks = [pytest.mark.slow] if page in SLOW_PAGES else []
    yield pytest.param(page, marks=marks, id=page)


@pytest.mark.parametrize("page", list(_page_params()))
def test_python_blocks_run(page, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # examples write runs/, *.keras
  # (the compilation page configures XLA: tests/conftest.py restores its flags afterwards)
  namespace = {"__name__": "__docs__"}
  try:
    for language, line, source in code_blocks(page):
      if language == "python":
        exec(compile(source, f"{page}:{line}", "exec"), namespace)  # pylint: disable=exec-used
  finally:
    ray = sys.modules.get("ray")  # a sweeps example starts a local Ray in this process
    if ray is not None and ray.is_initialized():
      ray.shutdown()


def test_bash_commands_name_existing_launchers_flags_and_scripts():
  launchers, scripts = [], []
  for page in PAGES:
    found = launcher_commands(page)
    launchers += found[0]
    scripts += found[1]
  assert launchers, "no `python -m launchers.X` command found in the documentation"
  missing = [where for where, script in scripts if not os.path.isfile(os.path.join(REPO, script))]
  assert not missing, "commands name scripts that do not exist: " + "; ".join(missing)
  report = check_launcher_flags(launchers)
  assert report["checked"] == len(launchers)
  assert not report["errors"], "\n".join(report["errors"])


def _check_launchers(launchers):
  """In a child process: imports each launcher and parses each command's flags with absl's
  FLAGS, then removes the launcher's flags so that the next launcher can define its own."""
  import importlib  # pylint: disable=import-outside-toplevel
  from absl import flags  # pylint: disable=import-outside-toplevel

  FLAGS = flags.FLAGS  # pylint: disable=invalid-name
  by_module = {}
  for where, module, args in launchers:
    by_module.setdefault(module, []).append((where, args))
  errors, checked = [], 0
  for module, commands in by_module.items():
    before_flags, before_modules = set(FLAGS), set(sys.modules)
    try:
      importlib.import_module(module)
    except Exception as error:  # pylint: disable=broad-except
      errors += [f"{where}: cannot import {module}: {error!r}" for where, _ in commands]
      checked += len(commands)
      continue
    for where, args in commands:
      checked += 1
      FLAGS.unparse_flags()
      try:
        rest = FLAGS([module] + args)
        if rest[1:]:
          errors.append(f"{where}: arguments that are not flags: {rest[1:]}")
      except flags.Error as error:
        errors.append(f"{where}: {error}")
    FLAGS.unparse_flags()
    for name in set(FLAGS) - before_flags:
      if name in FLAGS:  # a flag's short name goes with it
        delattr(FLAGS, name)
    for name in set(sys.modules) - before_modules:  # imported afresh by the next launcher
      if name.startswith("launchers.") and name != "launchers.common":
        del sys.modules[name]
        if hasattr(sys.modules["launchers"], name.split(".")[1]):
          delattr(sys.modules["launchers"], name.split(".")[1])
  return {"checked": checked, "errors": errors}


if __name__ == "__main__":
  sys.path.insert(0, REPO)
  print(json.dumps(_check_launchers([tuple(item) for item in json.load(sys.stdin)])))


# Words of how the project was made, not of the software (history goes in CHANGELOG.md).
_PROCESS_WORDS = re.compile(
  r"\b(" + "|".join(["iss" + "ues?", "sitt" + "ings?", "this " + "turn"]) + r")\b", re.I
)


def test_project_text_speaks_of_the_software():
  """README, docs, results, docstrings, comments and tests never mention how the project
  was made (its tickets or work periods); CHANGELOG.md is where history goes."""
  patterns = ["README.md", "docs/**/*.md", "results/**/*.md", "benchmarks/**/*.md"]
  patterns += [f"{d}/**/*.py" for d in ("tf_equirl", "tests", "launchers", "benchmarks", "tools")]
  found = []
  for pattern in patterns:
    for path in sorted(glob.glob(os.path.join(REPO, pattern), recursive=True)):
      with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
          if _PROCESS_WORDS.search(line):
            found.append(f"{os.path.relpath(path, REPO)}:{number}: {line.strip()}")
  assert not found, "\n".join(found)
