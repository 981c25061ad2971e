"""Generate a realistic synthetic mix project of N source files, deterministic for a seed.

    python bench/generate.py 1000 /tmp/bench/p1000 [--seed 1] [--app bench_app]

What the project holds, in roughly the proportions of a large Phoenix-style application:

- core modules: a util module others ``import`` (only: [...]), a config module read in module
  attributes at compile time, a behaviour every service implements;
- macro modules (``__using__`` that injects an import and functions, plus a ``deffield`` macro);
- domains of ~40 files: schemas (``defstruct``, ``@type t``, some with a struct default from
  another schema, so a compile-time struct expansion), services (``alias``, ``import``,
  ``use`` of a macro module, remote calls to other services and schemas of the domain and of
  a shared one, ``%Schema{}`` patterns), nested modules and files with several modules;
- protocols (``defprotocol``) with ``defimpl`` for schemas, in the schema's file or apart;
- per cluster, a router whose ``get`` macro calls each controller at compile time and
  controllers that call the router's path helper at runtime: the classic compile cycle.

The project compiles warning-free with ``mix compile`` (Elixir 1.14 to 1.20).
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

DOMAIN_SIZE = 40


def camel(s: str) -> str:
    return "".join(p.capitalize() for p in s.split("_"))


class Gen:
    def __init__(self, n: int, seed: int, app: str):
        self.n = max(n, 20)
        self.rng = random.Random(seed)
        self.app = app
        self.root = camel(app)
        self.files: dict[str, str] = {}

    # ------------------------------------------------------------------ plan
    def plan(self) -> None:
        n = self.n
        R = self.root
        self.core = [f"{R}.Core.Util", f"{R}.Core.Config", f"{R}.Core.Service", f"{R}.Web", f"{R}.Web.RouterDSL"]
        fixed = len(self.core)
        self.macros = [f"{R}.Macros.M{i}" for i in range(max(2, n // 50))]
        self.protocols = [f"{R}.Protocols.P{i}" for i in range(max(2, n // 100))]
        nclusters = max(1, n // 250)
        nctrl = max(2, n // 10)
        self.routers = [f"{R}.Web.Router{c}" for c in range(nclusters)]
        self.controllers = [
            (f"{R}.Web.C{c % nclusters}.Page{i}Controller", c % nclusters) for i, c in enumerate(range(nctrl))
        ]
        separate_impls = max(1, n // 40)
        used = fixed + len(self.macros) + len(self.protocols) + nclusters + nctrl + separate_impls
        rest = max(8, n - used)
        ndomains = max(2, (rest + DOMAIN_SIZE - 1) // DOMAIN_SIZE)
        self.domains: list[dict] = []
        left = rest
        for d in range(ndomains):
            size = min(left, (rest + ndomains - 1) // ndomains) if d < ndomains - 1 else left
            size = max(size, 4)
            left -= size
            nschema = max(2, size * 3 // 10)
            name = f"{R}.D{d}"
            self.domains.append({
                "name": name,
                "schemas": [f"{name}.Schema{i}" for i in range(nschema)],
                "services": [f"{name}.Service{i}" for i in range(size - nschema)],
            })
        self.n_separate_impls = separate_impls

    def path_of(self, module: str) -> str:
        parts = module.split(".")
        return "lib/" + "/".join(_snake(p) for p in parts) + ".ex"

    # ------------------------------------------------------------------ files
    def write_all(self) -> None:
        self.plan()
        self.core_files()
        for m in self.macros:
            self.macro_file(m)
        for p in self.protocols:
            self.protocol_file(p)
        self.impls: list[tuple[str, str]] = []  # (protocol, schema) with an impl somewhere
        shared = self.domains[0]
        for d in self.domains:
            for i, s in enumerate(d["schemas"]):
                self.schema_file(d, i, s)
            for i, s in enumerate(d["services"]):
                self.service_file(d, shared, i, s)
        self.separate_impl_files()
        for c, router in enumerate(self.routers):
            self.router_file(c, router)
        for ctrl, c in self.controllers:
            self.controller_file(ctrl, c)

    def add(self, module: str, text: str) -> None:
        self.files[self.path_of(module)] = text

    def core_files(self) -> None:
        R = self.root
        self.add(f"{R}.Core.Util", f"""defmodule {R}.Core.Util do
  @moduledoc "Small helpers imported all over the project."

  def clamp(x) when is_integer(x), do: max(0, min(x, 100))
  def clamp(x), do: x

  def wrap(x), do: {{:ok, x}}

  def unwrap({{:ok, x}}), do: x
  def unwrap(other), do: other
end
""")
        self.add(f"{R}.Core.Config", f"""defmodule {R}.Core.Config do
  @moduledoc "Settings read at compile time by module attributes."

  def default(key \\\\ :limit)
  def default(:limit), do: 10
  def default(key), do: key

  def timeout, do: 5_000
end
""")
        self.add(f"{R}.Core.Service", f"""defmodule {R}.Core.Service do
  @moduledoc "The behaviour every service implements."

  @callback run(term) :: term
  @callback name() :: atom
end
""")
        self.add(f"{R}.Web.RouterDSL", f"""defmodule {R}.Web.RouterDSL do
  @moduledoc "The router's get macro."

  defmacro get(path, controller, action) do
    quote do
      @routes {{unquote(path), unquote(controller), unquote(action),
                unquote(controller).__actions__()}}
    end
  end
end
""")
        self.add(f"{R}.Web", f"""defmodule {R}.Web do
  @moduledoc "use {R}.Web, :controller"

  def controller do
    quote do
      import {R}.Core.Util, only: [wrap: 1]
      def __actions__, do: [:index, :show]
      def init(opts), do: opts
    end
  end

  defmacro __using__(which) when is_atom(which) do
    apply(__MODULE__, which, [])
  end
end
""")

    def macro_file(self, m: str) -> None:
        R = self.root
        self.add(m, f"""defmodule {m} do
  @moduledoc "Macros: use {m}, kind: ... and deffield."

  defmacro __using__(opts) do
    kind = Keyword.get(opts, :kind, :plain)

    quote do
      import {m}, only: [deffield: 2]
      @behaviour {R}.Core.Service
      def __kind__, do: unquote(kind)
    end
  end

  defmacro deffield(name, default) do
    quote do
      def unquote(name)(), do: unquote(default)
    end
  end
end
""")

    def protocol_file(self, p: str) -> None:
        self.add(p, f"""defprotocol {p} do
  @moduledoc "A protocol implemented by some schemas."
  @fallback_to_any true

  @spec describe(t) :: term
  def describe(value)
end

defimpl {p}, for: Any do
  def describe(_value), do: nil
end
""")

    def schema_file(self, d: dict, i: int, s: str) -> None:
        rng = self.rng
        fields = [f"f{k}" for k in range(rng.randint(2, 6))]
        body = []
        default_from = None
        if i > 0 and rng.random() < 0.25:
            # a struct default built from another schema: compile-time struct expansion
            default_from = d["schemas"][rng.randrange(i)]
        flist = ", ".join(f"{f}: nil" for f in fields)
        if default_from:
            flist += f", parent: %{default_from}{{}}"
        body.append(f"  @moduledoc \"Schema {s}.\"\n")
        body.append(f"  defstruct [{flist}]\n")
        body.append(f"  @type t :: %__MODULE__{{}}\n")
        body.append(f"""
  @spec new(map) :: t
  def new(attrs) when is_map(attrs), do: struct(__MODULE__, attrs)
  def new(_), do: %__MODULE__{{}}

  def id(%__MODULE__{{{fields[0]}: v}}), do: v
""")
        extra = ""
        if rng.random() < 0.3:
            proto = rng.choice(self.protocols)
            self.impls.append((proto, s))
            extra = f"""
defimpl {proto}, for: {s} do
  def describe(value), do: value.{fields[0]}
end
"""
        self.add(s, f"defmodule {s} do\n{''.join(body)}end\n{extra}")

    def service_file(self, d: dict, shared: dict, i: int, s: str) -> None:
        rng = self.rng
        R = self.root
        lines: list[str] = []
        header: list[str] = [f"  @moduledoc \"Service {s}.\"\n"]
        uses_macro = rng.random() < 0.35
        if uses_macro:
            m = rng.choice(self.macros)
            header.append(f"  use {m}, kind: :k{rng.randrange(5)}\n")
        else:
            header.append(f"  @behaviour {R}.Core.Service\n")
        imports_util = rng.random() < 0.5
        if imports_util:
            header.append(f"  import {R}.Core.Util, only: [clamp: 1]\n")
        if rng.random() < 0.15:
            header.append(f"  @limit {R}.Core.Config.default(:limit)\n")
            limit = "@limit"
        else:
            limit = "10"
        # aliases to schemas of this domain, calls to earlier services (a DAG, with some
        # back edges that make runtime cycles)
        schema = rng.choice(d["schemas"])
        sh = schema.rsplit(".", 1)[1]
        header.append(f"  alias {schema}\n")
        calls = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.6 and i > 0:
                calls.append(d["services"][rng.randrange(i)])
            elif r < 0.7 and d["services"]:
                calls.append(rng.choice(d["services"]))  # runtime cycles
            elif shared["services"]:
                calls.append(rng.choice(shared["services"]))
        calls = [c for c in dict.fromkeys(calls) if c != s]
        other_schema = None
        if rng.random() < 0.3:
            other_schema = rng.choice(shared["schemas"])
            if other_schema == schema:
                other_schema = None
        pattern_struct = rng.random() < 0.4
        nested = rng.random() < 0.15
        multi = rng.random() < 0.1
        body: list[str] = []
        body.append("  @impl true\n  def name, do: __MODULE__\n")
        if uses_macro:
            body.append(f"  deffield :default_{i}, {i}\n")
        body.append("\n  @impl true\n")
        if pattern_struct:
            body.append(f"  def run(%{sh}{{}} = s), do: s |> {sh}.id() |> step()\n")
        body.append("  def run(x) do\n    x\n")
        if imports_util:
            body.append("    |> clamp()\n")
        body.append("    |> step()\n")
        for c in calls:
            body.append(f"    |> {c}.run()\n")
        body.append("  end\n")
        body.append(f"\n  defp step(x) when is_integer(x), do: x + {limit}\n  defp step(x), do: x\n")
        body.append(f"\n  def build(attrs), do: {sh}.new(attrs)\n")
        if other_schema:
            body.append(f"\n  def shared(%{other_schema}{{}} = v), do: v\n  def shared(_), do: nil\n")
        if self.impls and rng.random() < 0.2:
            proto, _ = rng.choice(self.impls)
            body.append(f"\n  def describe(v), do: {proto}.describe(v)\n")
        if nested:
            body.append("""
  defmodule Helper do
    @moduledoc false
    def twice(x), do: {x, x}
  end

  def pair(x), do: Helper.twice(x)
""")
        text = f"defmodule {s} do\n{''.join(header)}\n{''.join(body)}end\n"
        if multi:
            text += f"""
defmodule {s}.Worker do
  @moduledoc false
  alias {s}

  def perform(x), do: {s.rsplit('.', 1)[1]}.run(x)
end
"""
        self.add(s, text)

    def separate_impl_files(self) -> None:
        rng = self.rng
        all_schemas = [s for d in self.domains for s in d["schemas"]]
        have = set(self.impls)
        made = 0
        tries = 0
        while made < self.n_separate_impls and tries < self.n_separate_impls * 20:
            tries += 1
            proto = rng.choice(self.protocols)
            schema = rng.choice(all_schemas)
            if (proto, schema) in have:
                continue
            have.add((proto, schema))
            self.impls.append((proto, schema))
            mod = f"{self.root}.Impls.{proto.rsplit('.', 1)[1]}{schema.replace(self.root + '.', '').replace('.', '')}"
            self.files[self.path_of(mod)] = f"""defimpl {proto}, for: {schema} do
  alias {schema}

  def describe(%{schema.rsplit('.', 1)[1]}{{}} = value), do: {schema.rsplit('.', 1)[1]}.id(value)
end
"""
            made += 1

    def router_file(self, c: int, router: str) -> None:
        R = self.root
        ctrls = [ctrl for ctrl, cc in self.controllers if cc == c]
        routes = "\n".join(
            f"  get \"/p{k}\", {ctrl.rsplit('.', 1)[1]}, :index" for k, ctrl in enumerate(ctrls)
        )
        self.add(router, f"""defmodule {router} do
  @moduledoc "Routes of cluster {c}: get asks each controller for its actions at compile time."
  import {R}.Web.RouterDSL, only: [get: 3]

  alias {R}.Web.C{c}.{{{', '.join(ctrl.rsplit('.', 1)[1] for ctrl in ctrls)}}}

  Module.register_attribute(__MODULE__, :routes, accumulate: true)

{routes}

  def routes, do: @routes

  def path(controller, action) do
    Enum.find_value(routes(), "/", fn
      {{p, ^controller, ^action, _}} -> p
      _ -> nil
    end)
  end
end
""")

    def controller_file(self, ctrl: str, c: int) -> None:
        R = self.root
        rng = self.rng
        svc_domain = rng.choice(self.domains)
        svc = rng.choice(svc_domain["services"]) if svc_domain["services"] else None
        call = f"    _ = {svc}.run(params)\n" if svc else ""
        self.add(ctrl, f"""defmodule {ctrl} do
  @moduledoc "A controller of cluster {c}."
  use {R}.Web, :controller

  def index(params) do
{call}    wrap({R}.Web.Router{c}.path(__MODULE__, :index))
  end

  def show(params), do: wrap(params)
end
""")

    # ------------------------------------------------------------------ output
    def mix_exs(self) -> str:
        return f"""defmodule {self.root}.MixProject do
  use Mix.Project

  def project do
    [app: :{self.app}, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application, do: []
end
"""

    def write(self, out: Path) -> int:
        self.write_all()
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / "mix.exs").write_text(self.mix_exs())
        (out / ".formatter.exs").write_text('[inputs: ["{mix,.formatter}.exs", "lib/**/*.ex"]]\n')
        for rel, text in self.files.items():
            p = out / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return len(self.files)


def _snake(part: str) -> str:
    out = []
    for i, ch in enumerate(part):
        if ch.isupper() and i and (not part[i - 1].isupper()):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def generate(n: int, out: str | Path, seed: int = 1, app: str = "bench_app") -> int:
    """Write a project of about ``n`` .ex files to ``out`` (replaced); return the file count."""
    return Gen(n, seed, app).write(Path(out))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", type=int, help="number of .ex files (about)")
    ap.add_argument("out", help="directory to write (replaced if it exists)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--app", default="bench_app")
    a = ap.parse_args(argv)
    count = generate(a.files, a.out, a.seed, a.app)
    print(f"{count} files in {a.out}")


if __name__ == "__main__":
    main()
