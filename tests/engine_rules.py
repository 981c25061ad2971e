"""Small rules used by the engine, writer and batch tests until the real rules land.

They are plain module-level classes so worker processes can unpickle them.
"""

from __future__ import annotations

import re

from refactor.rules.base import Diagnostic, Edit, Fix, Rule, RuleContext

REQUIRE = re.compile(rb"^[ \t]*require[ \t]+([A-Z][\w.]*)[ \t]*\r?\n", re.M)


class DropUnusedRequire(Rule):
    """Removes `require X` when nothing else in the file mentions X."""

    id = "drop-unused-require"
    summary = "require of a module the file never uses"

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        out = []
        for path, data in sorted(ctx.sources.items()):
            for m in REQUIRE.finditer(data):
                target = m.group(1)
                rest = data[: m.start()] + data[m.end() :]
                if re.search(re.escape(target) + rb"\b", rest):
                    continue
                line = data.count(b"\n", 0, m.start()) + 1
                out.append(
                    Diagnostic(
                        self.id, path, line, "warning",
                        f"require {target.decode()} is never used: it only adds a dependency",
                        Fix([Edit(m.start(), m.end(), b"")]),
                    )
                )
        return out


class BreakSyntax(Rule):
    """A fix that leaves an unclosed `do`."""

    id = "break-syntax"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            i = data.find(b"defmodule")
            if i >= 0:
                out.append(Diagnostic(self.id, path, 1, "error", "breaks syntax",
                                      Fix([Edit(i, i, b"def x do\n")])))
        return out


class RenameModule(Rule):
    """A fix that renames the first module of each file."""

    id = "rename-module"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            m = re.search(rb"defmodule ([A-Z][\w.]*)", data)
            if m:
                out.append(Diagnostic(self.id, path, 1, "error", "renames a module",
                                      Fix([Edit(m.start(1), m.end(1), m.group(1) + b"Renamed")])))
        return out


class AddCompileEdge(Rule):
    """A fix that adds `@x Other.f()` to a module body: a new compile edge."""

    id = "add-compile-edge"

    def check(self, ctx):
        files = sorted(ctx.sources)
        out = []
        for path in files:
            others = [m.name for f, facts in ctx.analysis.files.items() if f != path for m in facts.modules]
            data = ctx.sources[path]
            m = re.search(rb"defmodule [A-Z][\w.]* do\n", data)
            if m and others:
                text = f"  @x {others[0]}.__info__(:module)\n".encode()
                out.append(Diagnostic(self.id, path, 1, "warning", "adds an edge",
                                      Fix([Edit(m.end(), m.end(), text)])))
        return out


class Vetoed(DropUnusedRequire):
    """Same fixes as drop-unused-require, refused by its own verify."""

    id = "vetoed"

    def verify(self, ctx, diagnostic, patched):
        return ["the rule's own check says no"]


class NoFix(Rule):
    """A diagnostic without a fix."""

    id = "no-fix"

    def check(self, ctx):
        return [Diagnostic(self.id, sorted(ctx.sources)[0], 1, "info", "just so you know")] if ctx.sources else []


class Unsafe(DropUnusedRequire):
    """Same fixes as drop-unused-require, marked unsafe (gated by --allow-concat)."""

    id = "unsafe-drop"
    safe = False


class TwoInOneFile(Rule):
    """Two independent fixes in each file: comment lines after line 1 and at the end."""

    id = "two-in-one"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            if b"# one\n" in data:  # fixed already
                continue
            nl = data.find(b"\n") + 1
            out.append(Diagnostic(self.id, path, 1, "info", "first", Fix([Edit(nl, nl, b"# one\n")])))
            out.append(Diagnostic(self.id, path, 2, "info", "second",
                                  Fix([Edit(len(data), len(data), b"# two\n")])))
        return out


class Overlapping(Rule):
    """Two fixes replacing the same first line: only one fits in a pass, the other in the next."""

    id = "overlapping"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            nl = data.find(b"\n")
            first = data[:nl]
            if not first.startswith(b"defmodule"):
                continue
            for mark in (b" # a", b" # b"):
                if mark not in first:
                    out.append(Diagnostic(self.id, path, 1, "info", mark[3:].decode(),
                                          Fix([Edit(0, nl, first + mark)])))
        return out


class Restless(Rule):
    """A fix whose result always asks for the same fix again."""

    id = "restless"

    def check(self, ctx):
        return [Diagnostic(self.id, path, 1, "info", "again", Fix([Edit(0, 0, b"# again\n")]))
                for path in sorted(ctx.sources)]


class NewFile(Rule):
    """A fix that adds a helper module in a new file and uses it at runtime."""

    id = "new-file"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            if not path.endswith("invoice.ex") or b"Billing.Helper" in data:
                continue
            helper = b"defmodule Billing.Helper do\n  def one, do: 1\nend\n"
            i = data.rfind(b"end")
            out.append(Diagnostic(self.id, path, 1, "info", "adds a helper",
                                  Fix([Edit(i, i, b"  def one, do: Billing.Helper.one()\n")],
                                      new_files={"lib/billing/helper.ex": helper})))
        return out


class GuardHelper(Rule):
    """Adds a macro helper module in a new file and a compile-time use of it (like a guard)."""

    id = "guard-helper"
    helper_body = b"  defmacro m, do: :ok\n"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            if not path.endswith("invoice.ex") or b"Billing.Guard" in data:
                continue
            helper = b"defmodule Billing.Guard do\n" + self.helper_body + b"end\n"
            i = data.rfind(b"end")
            use = b"  require Billing.Guard\n  Billing.Guard.m()\n"
            out.append(Diagnostic(self.id, path, 1, "info", "guards",
                                  Fix([Edit(i, i, use)], new_files={"lib/billing/guard.ex": helper})))
        return out


class GuardHelperWithDeps(GuardHelper):
    """The same, but the helper itself depends on another file."""

    id = "guard-helper-deps"
    helper_body = b"  defmacro m, do: :ok\n  def money, do: Billing.Money.new(1)\n"


class Crashing(Rule):
    id = "crashing"

    def check(self, ctx):
        raise RuntimeError("boom")


ALL_TEST_RULES = [DropUnusedRequire, BreakSyntax, RenameModule, AddCompileEdge, Vetoed, NoFix,
                  Unsafe, TwoInOneFile, Overlapping, NewFile, Crashing]


class FirstDefLine(Rule):
    """Advice without a fix naming the line of each file's first def in its words."""

    id = "first-def-line"

    def check(self, ctx):
        out = []
        for path, data in sorted(ctx.sources.items()):
            i = data.find(b"  def ")
            if i >= 0:
                line = data.count(b"\n", 0, i) + 1
                out.append(Diagnostic(self.id, path, line, "info", f"the first def is on line {line}",
                                      detail=f"see line {line}; line 1 opens the module"))
        return out
