"""A project's `.exfix.exs`: read without running it, found upward, and what each setting does."""

from __future__ import annotations

import json

import pytest

from gate_helpers import NEW_FINDING, copy_example, exfix, findings
from refactor import config
from refactor.rules import ALL_RULES


def load(tmp_path, text: str) -> config.Config:
    path = tmp_path / ".exfix.exs"
    path.write_text(text)
    return config.load(path, ALL_RULES, ".exfix.exs")


def test_every_setting_is_read(tmp_path):
    cfg = load(tmp_path, """# team settings
[
  elixir: "1.18",
  exclude: ["lib/generated/**", "test/support/fixtures.ex"],
  rules: %{
    "module-concat" => false,
    "split-macro-module" => [enabled: false],
    :"attribute-to-function" => [severity: :error],
    "hoist-conditional-use" => [strategy: :guard, hoist_max_lines: 60, guard_module: "MyApp.Optional"]
  }
]
""")
    assert cfg.elixir == "1.18" and cfg.elixir_line == 3
    assert cfg.exclude == ["lib/generated/**", "test/support/fixtures.ex"]
    assert cfg.disabled == {"module-concat", "split-macro-module"}
    assert cfg.severities == {"attribute-to-function": "error"}
    assert cfg.options == {"strategy": "guard", "hoist_max_lines": 60, "guard_module": "MyApp.Optional"}


def test_a_map_with_atom_keys_reads_the_same(tmp_path):
    cfg = load(tmp_path, '%{elixir: "1.14", rules: %{"module-concat" => false}}')
    assert cfg.elixir == "1.14" and cfg.disabled == {"module-concat"}


@pytest.mark.parametrize("text,line,message", [
    ('[\n  elixir: System.get_env("V")\n]', 2, "not a literal: System.get_env(\"V\")"),
    ('[exclude: ["lib/#{:x}"]]', 1, "interpolation in a string"),
    ('[\n\n  colour: true]', 3, "unknown setting colour"),
    ('[rules: %{\n  "no-such-rule" => false}]', 2, "unknown rule no-such-rule"),
    ('[rules: %{"hoist-conditional-use" => [strategy: :sideways]}]', 1,
     "hoist-conditional-use: strategy: expected one of :auto, :hoist, :guard"),
    ('[rules: %{"hoist-conditional-use" => [hoist_max_lines: "many"]}]', 1, "expected a count"),
    ('[rules: %{"module-concat" => [severity: :fatal]}]', 1, "severity: expected :error, :warning or :info"),
    ('[rules: %{"module-concat" => [speed: 1]}]', 1, "module-concat: unknown option speed"),
    ('[elixir: "2.3"]', 1, "Elixir 2.3 is not modelled"),
    ('[exclude: "lib"]', 1, "exclude: expected a list"),
    ('[elixir: "1.18"]\n[elixir: "1.14"]', 2, "expected one keyword list or map"),
    ('[elixir: "1.18", elixir: "1.14"]', 1, "elixir is given twice"),
    ('[elixir: ', 1, "syntax error"),
])
def test_errors_name_file_and_line(tmp_path, text, line, message):
    with pytest.raises(config.ConfigError) as err:
        load(tmp_path, text)
    assert (err.value.file, err.value.line) == (".exfix.exs", line)
    assert message in err.value.message


def test_nothing_in_the_file_is_run(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(config.ConfigError):
        load(tmp_path, f'[elixir: File.write!("{marker}", "x")]')
    assert not marker.exists()


def test_found_in_the_project_or_a_folder_above(tmp_path):
    app = tmp_path / "umbrella" / "apps" / "web"
    app.mkdir(parents=True)
    assert config.find(app) is None or not str(config.find(app)).startswith(str(tmp_path))
    (tmp_path / "umbrella" / ".exfix.exs").write_text("[]")
    assert config.find(app) == tmp_path / "umbrella" / ".exfix.exs"
    (app / ".exfix.exs").write_text("[]")
    assert config.find(app) == app / ".exfix.exs"


@pytest.fixture
def example(tmp_path):
    root = copy_example(tmp_path / "example")
    exfix("apply", cwd=root)
    (root / "lib/bookshelf/summary.ex").write_text(NEW_FINDING)
    return root


def rules_found(example, *args):
    res = exfix("suggest", "--format", "json", *args, cwd=example)
    return sorted((s["rule"], s["file"], s["severity"]) for s in json.loads(res.stdout)["suggestions"])


def test_rules_off_severities_and_excluded_paths_apply(example):
    before = rules_found(example)
    assert ("module-concat", "lib/bookshelf/query.ex", "info") in before
    (example / ".exfix.exs").write_text("""[
  exclude: ["lib/bookshelf/cli.ex"],
  rules: %{"module-concat" => false, "import-to-alias" => [severity: :error]}
]
""")
    after = rules_found(example)
    assert after == sorted(
        (r, f, "error" if r == "import-to-alias" else s) for r, f, s in before
        if r != "module-concat" and f != "lib/bookshelf/cli.ex")
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 1 and "1 finding at or above error" in res.stderr
    # the command line wins: --rule runs a rule the config turns off
    assert {r for r, _, _ in rules_found(example, "--rule", "module-concat")} == {"module-concat"}


def test_an_excluded_file_gets_no_fix(example):
    (example / ".exfix.exs").write_text('[exclude: ["lib/bookshelf/summary.*"]]')
    res = exfix("apply", cwd=example)
    assert "wrote 0 files" in res.stderr
    assert (example / "lib/bookshelf/summary.ex").read_text() == NEW_FINDING
    assert exfix("suggest", "--check", cwd=example).exit_code == 0


def spy_on(monkeypatch, probe):
    """Run only a rule that records ``probe(ctx)``; returns what it recorded."""
    import refactor.commands.suggest as cmd
    from refactor.rules import get_rules
    from refactor.rules.base import Rule

    seen = []

    class Spy(Rule):
        id = "spy"

        def check(self, ctx):
            seen.append(probe(ctx))
            return []

    monkeypatch.setattr(cmd, "get_rules", lambda select, skip: get_rules(select, skip, [Spy]))
    return seen


def test_the_elixir_version_is_read_and_the_command_line_wins(tmp_path, monkeypatch):
    import contextlib

    from click.testing import CliRunner

    from refactor.cli import main

    seen = spy_on(monkeypatch, lambda ctx: ctx.analysis.version)
    root = copy_example(tmp_path / "example")
    (root / ".exfix.exs").write_text('[\n  elixir: "1.19"\n]\n')
    with contextlib.chdir(root):
        res = CliRunner().invoke(main, ["suggest", "--jobs", "1"])
        assert "warning" not in res.stderr and res.exit_code == 0  # 1.19 is modelled exactly
        res = CliRunner().invoke(main, ["suggest", "--jobs", "1", "--elixir", "1.20"])
        assert ".exfix.exs" not in res.stderr and res.exit_code == 0
    assert seen == ["1.19", "1.20"]  # the installed elixir is 1.14


def test_hoist_options_reach_the_rule(tmp_path, monkeypatch):
    seen = spy_on(monkeypatch, lambda ctx: (ctx.options.get("strategy"), ctx.options.get("hoist_max_lines")))
    root = copy_example(tmp_path / "example")
    (root / ".exfix.exs").write_text(
        '[rules: %{"hoist-conditional-use" => [strategy: :guard, hoist_max_lines: 7]}]')
    exfix("suggest", cwd=root)
    exfix("suggest", "--strategy", "hoist", cwd=root)
    assert seen == [("guard", 7), ("hoist", 7)]


def test_a_broken_config_is_an_error_and_its_projects_are_not_run(example):
    (example / ".exfix.exs").write_text('[rules: %{\n  "module-concat" => maybe()}]')
    res = exfix("suggest", "--check", cwd=example)
    assert res.exit_code == 2
    assert ".exfix.exs:2: error: not a literal: maybe()" in res.stderr
    assert findings(res) == []


def test_apply_verifies_what_it_wrote_as_the_configured_version(tmp_path, monkeypatch):
    import contextlib

    from click.testing import CliRunner

    import refactor.engine as engine
    from refactor.cli import main

    seen = []
    real = engine.run_project

    def spy(root, opts, *args, **kwargs):
        seen.append((bool(opts.rules), opts.version))
        return real(root, opts, *args, **kwargs)

    monkeypatch.setattr(engine, "run_project", spy)
    root = copy_example(tmp_path / "example")
    (root / ".exfix.exs").write_text('[elixir: "1.20"]')
    with contextlib.chdir(root):
        res = CliRunner().invoke(main, ["apply", "--jobs", "1"])  # the installed elixir is 1.14
    assert res.exit_code == 0 and "wrote 1 file" in res.stderr  # the fix that saves recompiles
    assert seen == [(True, "1.20"), (False, "1.20")]  # the analysis, then the re-verification
