"""Run the real Elixir compiler (mix) so tests can compare exfix with it.

Three toolchains: Debian's elixir on the host (1.14) and two debootstrap chroots
(1.18 in ``trixie``, 1.20 in ``forky``) under ``$EXFIX_CHROOTS`` (default
``/opt/exfix-chroots``).  ``bash scripts/setup-tests`` installs all three.

Releases Debian does not package (1.15, 1.16, 1.17, 1.19) can be used when they were built
from source (README, "Elixir versions"): a build is a folder ``X.Y.Z`` holding ``bin/mix`` and
a ``.built`` marker, under ``$EXFIX_ELIXIRS`` (default ``/opt/exfix-elixirs``) on the host or
under ``/opt/exfix-elixirs`` inside a chroot (1.19 needs trixie's OTP 27).  They are opt-in:
``EXFIX_ORACLE_BUILT=1`` adds the versions found to the ones the oracle tests run on;
without it the tests compare with their recordings (tests/data/projects, made by
``scripts/record-versions``).

    tc = toolchain("1.18")            # raises OracleUnavailable if missing
    c = compiled("1.18", project)     # one `mix compile` per (version, project) per session
    c.xref_graph("--label", "compile")
    c.recompile_after({"lib/a.ex": "defmodule A do end\n"})  # -> ["lib/a.ex", "lib/b.ex"]

Every mix runs with a clean environment (``env -i``): PATH, HOME and TMPDIR
inside the session's scratch area, LANG=C.UTF-8, MIX_ENV=dev unless given.
Set EXFIX_ORACLE_KEEP=1 to keep the scratch area after the session.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

VERSIONS = ("1.14", "1.18", "1.20")
# releases built from source, looked for under these chroots (None: the host)
BUILT_PLACES = (None, "trixie", "forky")
BUILT_MARKER = ".built"

# version -> Debian suite of the chroot (None: Debian's elixir on the host)
SUITES = {"1.14": None, "1.18": "trixie", "1.20": "forky"}

SETUP_HINT = "run `bash scripts/setup-tests` (as root) to install it"
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMEOUT = float(os.environ.get("EXFIX_ORACLE_TIMEOUT", "900"))

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PROJECTS = REPO_ROOT / "fixtures" / "projects"


class OracleUnavailable(RuntimeError):
    """A toolchain is not installed or does not work on this machine."""


class MixFailed(subprocess.CalledProcessError):
    """A mix command exited non-zero; str() shows the command and its output."""

    def __init__(self, version, workdir, proc):
        super().__init__(proc.returncode, proc.args, proc.stdout, proc.stderr)
        self.version = version
        self.workdir = workdir

    def __str__(self):
        return (
            f"elixir {self.version}: `{' '.join(map(str, self.cmd))}` in {self.workdir} "
            f"exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


def chroots_dir() -> Path:
    return Path(os.environ.get("EXFIX_CHROOTS") or "/opt/exfix-chroots")


def built_dir() -> Path:
    return Path(os.environ.get("EXFIX_ELIXIRS") or "/opt/exfix-elixirs")


def built_elixirs() -> dict[str, tuple[str | None, str]]:
    """"1.N" -> (suite or None for the host, the build's folder as its toolchain sees it), for
    each release built from source (a folder X.Y.Z with the .built marker); the newest patch of
    each minor version; the packaged versions (VERSIONS) are left out."""
    found: dict[str, tuple[tuple[int, ...], str | None, str]] = {}
    for suite in BUILT_PLACES:
        top = built_dir() if suite is None else chroots_dir() / suite / "opt" / "exfix-elixirs"
        if not top.is_dir():
            continue
        for d in top.iterdir():
            m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", d.name)
            if not m or not (d / BUILT_MARKER).is_file() or not (d / "bin" / "mix").is_file():
                continue
            minor = f"{m.group(1)}.{m.group(2)}"
            patch = tuple(int(x) for x in m.groups())
            inside = str(d) if suite is None else f"/opt/exfix-elixirs/{d.name}"
            if minor not in VERSIONS and (minor not in found or found[minor][0] < patch):
                found[minor] = (patch, suite, inside)
    return {v: (suite, inside) for v, (_, suite, inside) in sorted(
        found.items(), key=lambda kv: tuple(int(x) for x in kv[0].split(".")))}


def live_versions() -> tuple[str, ...]:
    """The versions the oracle tests run mix on: VERSIONS, plus the built releases when
    EXFIX_ORACLE_BUILT=1."""
    if os.environ.get("EXFIX_ORACLE_BUILT") not in (None, "", "0"):
        return tuple(sorted({*VERSIONS, *built_elixirs()},
                            key=lambda v: tuple(int(x) for x in v.split("."))))
    return VERSIONS


def fixture_projects() -> list[Path]:
    """The dirs ``fixtures/projects/*`` that hold a ``mix.exs`` (maybe none), sorted."""
    if not FIXTURE_PROJECTS.is_dir():
        return []
    return sorted(p for p in FIXTURE_PROJECTS.iterdir() if (p / "mix.exs").is_file())


# --------------------------------------------------------------------------- toolchains

class Toolchain:
    def __init__(self, version: str, full_version: str, chroot: Path | None, bin_dir: str | None = None):
        self.version = version
        self.full_version = full_version
        self.chroot = chroot
        self.bin_dir = bin_dir                 # a source build's bin/ (as seen inside), first on PATH
        self._base: Path | None = None

    def __repr__(self):
        where = f"chroot {self.chroot}" if self.chroot else "host"
        if self.bin_dir:
            where += f", {self.bin_dir}"
        return f"<Toolchain elixir {self.full_version} ({where})>"

    # scratch area: one per toolchain per process, removed at exit
    @property
    def base(self) -> Path:
        if self._base is None:
            parent = (self.chroot / "tmp") if self.chroot else _host_tmp()
            parent.mkdir(parents=True, exist_ok=True)
            self._base = Path(tempfile.mkdtemp(prefix=f"exfix-oracle-{self.version}-", dir=parent))
            for sub in ("home", "tmp", "work"):
                (self._base / sub).mkdir()
            if not os.environ.get("EXFIX_ORACLE_KEEP"):
                atexit.register(shutil.rmtree, self._base, True)
        return self._base

    def workdir(self, name: str) -> Path:
        """A fresh, empty host directory that this toolchain can see."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "w"
        return Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=self.base / "work"))

    def inside(self, host_path: Path) -> str:
        """The path the toolchain sees for a host path."""
        host_path = Path(host_path).resolve()
        if self.chroot is None:
            return str(host_path)
        try:
            rel = host_path.relative_to(self.chroot.resolve())
        except ValueError:
            raise ValueError(f"{host_path} is not inside the chroot {self.chroot}") from None
        return "/" + rel.as_posix()

    def env(self, extra: dict | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin_dir}:{STD_PATH}" if self.bin_dir else STD_PATH,
            "HOME": self.inside(self.base / "home"),
            "TMPDIR": self.inside(self.base / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "MIX_ENV": "dev",
            "TERM": "dumb",
        }
        env.update({k: str(v) for k, v in (extra or {}).items()})
        return env

    def run(self, workdir: Path, argv: list[str], env: dict | None = None,
            check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run argv (e.g. ["mix", "compile"]) in workdir (a host path) with a clean env."""
        workdir = Path(workdir)
        argv = [str(a) for a in argv]
        full_env = self.env(env)
        cd_exec = ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", self.inside(workdir), *argv]
        if self.chroot is None:
            cmd, run_env = cd_exec, full_env
        else:
            cmd = ["chroot", str(self.chroot), "/usr/bin/env", "-i",
                   *(f"{k}={v}" for k, v in full_env.items()), *cd_exec]
            run_env = {"PATH": STD_PATH, "LANG": "C.UTF-8"}
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", env=run_env, timeout=timeout or TIMEOUT)
        proc.args = argv
        if check and proc.returncode != 0:
            raise MixFailed(self.full_version, workdir, proc)
        return proc


def _host_tmp() -> Path:
    return Path(os.environ.get("EXFIX_ORACLE_TMP") or tempfile.gettempdir())


def _probe(version: str) -> Toolchain:
    bin_dir = None
    if version in SUITES:
        suite = SUITES[version]
    else:
        built = built_elixirs()
        if version not in built:
            raise OracleUnavailable(
                f"Elixir {version}: not packaged ({', '.join(VERSIONS)}) and no build of it with a "
                f"{BUILT_MARKER} marker under {built_dir()} or {chroots_dir()}/*/opt/exfix-elixirs "
                f"(README, \"Elixir versions\", says how to build one)")
        suite, home = built[version]
        bin_dir = f"{home}/bin"
    path = f"{bin_dir}:{STD_PATH}" if bin_dir else STD_PATH
    if suite is None:
        where = "the host (Debian package elixir)"
        if not shutil.which("elixir", path=path) or not shutil.which("mix", path=path):
            raise OracleUnavailable(f"Elixir {version}: no elixir/mix on {where}; {SETUP_HINT}")
        cmd = ["elixir", "--version"]
        chroot = None
    else:
        chroot = chroots_dir() / suite
        where = f"the chroot {chroot}"
        if not (chroot / "usr" / "bin" / "elixir").exists():
            raise OracleUnavailable(f"Elixir {version}: {where} is missing; {SETUP_HINT}")
        if os.geteuid() != 0:
            raise OracleUnavailable(f"Elixir {version} runs in {where}, which needs root")
        cmd = ["chroot", str(chroot), "/usr/bin/env", "-i", f"PATH={path}", "LANG=C.UTF-8",
               "elixir", "--version"]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env={"PATH": path, "LANG": "C.UTF-8"}, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise OracleUnavailable(f"Elixir {version}: `elixir --version` in {where} failed: {e}; "
                                f"{SETUP_HINT}") from None
    m = re.search(r"^Elixir (\d+\.\d+\.\d+\S*)", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise OracleUnavailable(
            f"Elixir {version}: `elixir --version` in {where} did not answer "
            f"(exit {proc.returncode}): {(proc.stdout + proc.stderr).strip()[-500:]}; {SETUP_HINT}")
    full = m.group(1)
    if not full.startswith(version + "."):
        raise OracleUnavailable(f"Elixir {version}: {where} has Elixir {full} instead; {SETUP_HINT}")
    return Toolchain(version, full, chroot, bin_dir)


_toolchains: dict[str, Toolchain | OracleUnavailable] = {}


def toolchain(version: str) -> Toolchain:
    """The toolchain for "1.14", "1.18", "1.20" or a built release ("1.15"...); raises
    OracleUnavailable if missing."""
    if version not in _toolchains:
        try:
            _toolchains[version] = _probe(version)
        except OracleUnavailable as e:
            _toolchains[version] = e
    got = _toolchains[version]
    if isinstance(got, OracleUnavailable):
        raise OracleUnavailable(str(got))
    return got


# --------------------------------------------------------------------------- projects

_COMPILED_RE = re.compile(r"^Compiled (\S.*?)\s*$")
_SECTION_RE = re.compile(r"^==> (\S+)\s*$")
_APP_RE = re.compile(r"\bapp:\s*:([A-Za-z_][A-Za-z0-9_]*)")
_PATH_DEP_RE = re.compile(r"\bpath:\s*\"([^\"]+)\"")


def parse_compiled(output: str, app: str | None = None, umbrella_apps=()) -> list[str]:
    """Source files that `mix compile --verbose` output says were compiled, sorted.

    Every version (1.14, 1.18, 1.20) prints one ``Compiled lib/x.ex`` line per file of
    the project itself, relative to the project; deps are compiled without --verbose and
    are preceded by ``==> dep``: their files are not listed.  In an umbrella the
    children's files come under ``==> child`` and are returned as ``apps/child/...``
    (umbrella_apps: the children's app names, or a dict app name -> dir under apps/).
    """
    if not isinstance(umbrella_apps, dict):
        umbrella_apps = {a: a for a in umbrella_apps}
    files: set[str] = set()
    section = None
    for line in output.splitlines():
        m = _SECTION_RE.match(line)
        if m:
            section = m.group(1)
            continue
        m = _COMPILED_RE.match(line)
        if not m:
            continue
        name = m.group(1)
        if section is None or section == app:
            files.add(name)
        elif section in umbrella_apps:
            files.add(f"apps/{umbrella_apps[section]}/{name}")
    return sorted(files)


def _app_name(project: Path) -> str | None:
    m = _APP_RE.search((project / "mix.exs").read_text(errors="replace"))
    return m.group(1) if m else None


def _copy_layout(project: Path) -> tuple[Path, list[Path]]:
    """(top, dirs): the project plus the path deps outside it, and their common parent."""
    project = project.resolve()
    dirs = [project]
    todo = [project]
    while todo:
        d = todo.pop()
        for mix in [d / "mix.exs", *d.glob("apps/*/mix.exs")]:
            if not mix.is_file():
                continue
            for dep in _PATH_DEP_RE.findall(mix.read_text(errors="replace")):
                target = (mix.parent / dep).resolve()
                if target.is_dir() and not any(target.is_relative_to(x) for x in dirs):
                    dirs.append(target)
                    todo.append(target)
    top = Path(os.path.commonpath(dirs)) if len(dirs) > 1 else project
    return top, dirs


def _ignore_generated(dirpath, names):
    return [n for n in names if n in ("_build", "xref_graph.dot", "xref_graph.json")
            and not (Path(dirpath) / n).is_symlink()]


class _Project:
    """A compiled copy of a project that mix commands can run in."""

    path: Path
    toolchain: Toolchain

    def _run(self, argv, check=True, env=None):
        return self.toolchain.run(self.path, argv, env=env, check=check)

    def mix(self, *argv: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `mix ARGV` in this copy."""
        return self._run(["mix", *argv], check=check, env=env)

    def xref_graph(self, *args: str) -> str:
        """stdout of `mix xref graph ARGS`; for --format dot/json, the file it writes.

        1.14 has no --output: without --output the file is always read from
        xref_graph.dot / xref_graph.json in the project dir (and then removed).
        With --output FILE that file is read (and kept); with --output - stdout.
        """
        args = tuple(str(a) for a in args)
        fmt, output = None, None
        for i, a in enumerate(args):
            if a == "--format" and i + 1 < len(args):
                fmt = args[i + 1]
            elif a.startswith("--format="):
                fmt = a.split("=", 1)[1]
            elif a == "--output" and i + 1 < len(args):
                output = args[i + 1]
            elif a.startswith("--output="):
                output = a.split("=", 1)[1]
        if fmt not in ("dot", "json") or output == "-":
            return self.mix("xref", "graph", *args).stdout
        out_file = self.path / (output or f"xref_graph.{fmt}")
        out_file.unlink(missing_ok=True)
        proc = self.mix("xref", "graph", *args)
        if not out_file.exists():
            raise MixFailed(self.toolchain.full_version, self.path, subprocess.CompletedProcess(
                proc.args, 1, proc.stdout, proc.stderr + f"\n(mix wrote no {out_file.name})"))
        text = out_file.read_text()
        if output is None:
            out_file.unlink()
        return text

    def xref_trace(self, file: str, *args: str) -> str:
        """stdout of `mix xref trace FILE ARGS`."""
        return self.mix("xref", "trace", file, *args).stdout

    def xref_traces(self, files: list[str]) -> dict[str, str]:
        """`mix xref trace FILE` for each file, run in one VM (Mix.Task.rerun per file), which
        prints exactly what separate `mix xref trace` calls print, ten times faster."""
        script = (
            'for f <- ~w(%s) do IO.puts("==TRACE " <> f); Mix.Task.rerun("xref", ["trace", f]) end'
            % " ".join(files)
        )
        out = self.mix("run", "--no-start", "-e", script).stdout
        traces = dict(re.findall(r"^==TRACE (\S+)\n(.*?)(?=^==TRACE |\Z)", out, re.M | re.S))
        assert sorted(traces) == sorted(files), out
        return traces


class Recompiled(_Project):
    """An edited copy of a Compiled project after `mix compile --verbose`.

    mix >= 1.15 keys its manifest on the project's absolute path and recompiles
    everything when that changes, so mix always runs on this copy while it is
    renamed into the place of the original compiled copy (which is set aside
    meanwhile); between commands the copy lives at `path`.
    """

    def __init__(self, compiled: "Compiled", work: Path):
        self.compiled = compiled
        self.toolchain = compiled.toolchain
        self.work = work                       # root of the copy
        self.path = work / compiled.path.relative_to(compiled.root)  # host path of the copy
        self.files: list[str] = []             # what mix says it compiled, sorted
        self.result: subprocess.CompletedProcess | None = None

    def __repr__(self):
        return f"<Recompiled {self.files} at {self.path}>"

    def _run(self, argv, check=True, env=None):
        root = self.compiled.root
        aside = root.with_name(root.name + ".orig")
        os.rename(root, aside)
        try:
            os.rename(self.work, root)
            try:
                return self.toolchain.run(self.compiled.path, argv, env=env, check=check)
            finally:
                os.rename(root, self.work)
        finally:
            os.rename(aside, root)


class Compiled(_Project):
    """A project compiled once per session; treat it as read-only (use recompile())."""

    def __init__(self, path, toolchain, root, compile_result, app):
        self.path: Path = path                 # host path of the compiled copy
        self.toolchain: Toolchain = toolchain
        self.root: Path = root                 # workdir holding the copy (and path deps outside it)
        self.compile_result: subprocess.CompletedProcess = compile_result
        self.app: str | None = app

        self._memo: dict[tuple, str] = {}

    def __repr__(self):
        return f"<Compiled {self.path} by elixir {self.toolchain.full_version}>"

    # the copy does not change, so xref answers are cached for the session
    def xref_graph(self, *args: str) -> str:
        key = ("graph", *map(str, args))
        if key not in self._memo:
            self._memo[key] = super().xref_graph(*args)
        return self._memo[key]

    def xref_trace(self, file: str, *args: str) -> str:
        key = ("trace", str(file), *map(str, args))
        if key not in self._memo:
            self._memo[key] = super().xref_trace(file, *args)
        return self._memo[key]

    def recompile(self, edits: dict[str, str | None]) -> Recompiled:
        """Copy the compiled project, apply edits (paths relative to the project;
        None deletes), run `mix compile --verbose` on the copy."""
        work = self.toolchain.workdir("recompile")
        shutil.copytree(self.root, work, symlinks=True, dirs_exist_ok=True)
        copy = work / self.path.relative_to(self.root)
        # mix compares whole seconds (source mtime > manifest mtime), so an edit must
        # land in a later second than anything the compile wrote.
        wait = int(_newest_mtime(work)) + 1 - time.time()
        if wait > 0:
            time.sleep(wait + 0.01)
        for rel, text in edits.items():
            target = copy / rel
            if text is None:
                if target.exists() or target.is_symlink():
                    target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        rec = Recompiled(self, work)
        proc = rec.mix("compile", "--verbose")
        umbrella = {(_app_name(d) or d.name): d.name
                    for d in sorted(copy.glob("apps/*")) if (d / "mix.exs").is_file()}
        rec.files = parse_compiled(proc.stdout, self.app, umbrella)
        rec.result = proc
        return rec

    def recompile_after(self, edits: dict[str, str | None]) -> list[str]:
        """Sorted source files mix recompiles after the edits (a fresh copy per call)."""
        return self.recompile(edits).files


# the edits the recompile comparisons make: a comment appended (same exports), and a public
# function added to the file's first module
BODY_EDIT = "\n# edited\n"
_DEFMODULE = re.compile(r"^(\s*)defmodule\s+([\w.]+)\s+do\s*$", re.M)


def with_new_export(text: str) -> tuple[str, str] | None:
    """The text with a public function added to its first module, and that module's name."""
    m = _DEFMODULE.search(text)
    if m is None:
        return None
    insert = f"{m.group(1)}  def exfix_probe_export, do: :ok\n"
    return text[: m.end()] + "\n" + insert + text[m.end() + 1 :], m.group(2)


def _newest_mtime(root: Path) -> float:
    newest = 0.0
    for dirpath, _dirs, files in os.walk(root):
        for n in files:
            try:
                newest = max(newest, os.lstat(os.path.join(dirpath, n)).st_mtime)
            except OSError:
                pass
    return newest


_compiled: dict[tuple[str, Path], Compiled] = {}


def compiled(version: str, project: Path) -> Compiled:
    """The project compiled with `mix compile` by that version, once per session."""
    project = Path(project).resolve()
    key = (version, project)
    if key not in _compiled:
        if not (project / "mix.exs").is_file():
            raise FileNotFoundError(f"{project} has no mix.exs")
        tc = toolchain(version)
        top, dirs = _copy_layout(project)
        root = tc.workdir(project.name)
        for d in dirs:
            shutil.copytree(d, root / d.relative_to(top), symlinks=True, dirs_exist_ok=True,
                            ignore=_ignore_generated)
        path = root / project.relative_to(top)
        proc = tc.run(path, ["mix", "compile"])
        _compiled[key] = Compiled(path, tc, root, proc, _app_name(path))
    return _compiled[key]
