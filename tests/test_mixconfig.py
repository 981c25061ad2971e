"""config/*.exs read without evaluating it (refactor/mixconfig.py)."""

from __future__ import annotations

from refactor.mixconfig import read_config


def write(root, files):
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


PHX = {
    "config/config.exs": (
        "import Config\n"
        "config :my_app, ecto_repos: [MyApp.Repo]\n"
        "config :my_app, MyAppWeb.Endpoint, url: [host: \"localhost\"]\n"
        "config :phoenix, :json_library, Jason\n"
        "import_config \"#{config_env()}.exs\"\n"),
    "config/dev.exs": "import Config\nconfig :phoenix, :plug_init_mode, :runtime\n",
    "config/test.exs": "import Config\nconfig :phoenix, :plug_init_mode, :runtime\n",
    "config/prod.exs": (
        "import Config\n"
        "if config_env() == :prod do\n  config :my_app, :cache, true\nelse\n  config :my_app, :cache, false\nend\n"),
}


def test_settings_of_each_env(tmp_path):
    root = write(tmp_path, PHX)
    dev, prod = read_config(root, "dev"), read_config(root, "prod")
    assert dev.get("phoenix", "plug_init_mode") == ":runtime"
    assert prod.get("phoenix", "plug_init_mode") is None
    assert prod.get("my_app", "cache") == "true" and dev.get("my_app", "cache") is None
    assert dev.get("phoenix", "json_library") == "Jason"
    assert dev.get("my_app", "ecto_repos") == "[MyApp.Repo]"
    assert dev.get("my_app", "MyAppWeb.Endpoint") == '[host: "localhost"]' or dev.get("my_app", "MyAppWeb.Endpoint")
    assert dev.key != prod.key and not dev.notes and not prod.notes


def test_what_cannot_be_evaluated_is_reported(tmp_path):
    root = write(tmp_path, {
        "config/config.exs": (
            "import Config\n"
            "if System.get_env(\"X\") do\n  config :phoenix, :plug_init_mode, :runtime\nend\n"
            "import_config some_file()\n"
            "import_config \"missing.exs\"\n")})
    build = read_config(root, "dev")
    assert build.get("phoenix", "plug_init_mode") is None
    assert [n.split(":")[0:2] for n in build.notes] == [["config/config.exs", "2"], ["config/config.exs", "5"],
                                                         ["config/config.exs", "6"]]


def test_no_config_folder(tmp_path):
    build = read_config(tmp_path, "test")
    assert build.env == "test" and build.settings == {} and build.notes == ()


def test_import_loops_stop(tmp_path):
    root = write(tmp_path, {"config/config.exs": "import Config\nimport_config \"config.exs\"\n"})
    build = read_config(root, "dev")
    assert any("more than" in n for n in build.notes)
