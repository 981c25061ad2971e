"""Shared logic of drop-unused-import and drop-unused-require (not a rule module itself)."""

from __future__ import annotations

import re

from tree_sitter import Node

from refactor.parse import captures, load_query
from refactor.rules._common import (
    clean_sources,
    compile_count,
    directive_target,
    enclosing_module,
    line_span,
    references,
    removal,
)
from refactor import frameworks
from refactor.rules._sight import Blind, atoms, opaque, unfollowed
from refactor.rules.base import Diagnostic, Edit, Fix, RuleContext
from refactor.syntax import call_arguments, call_name, keyword_get, line, text

IDENT = re.compile(rb"(?<![\w.:@?!])([a-z_][A-Za-z0-9_]*[?!]?)")


def _in_quote(node: Node) -> bool:
    cur = node.parent
    while cur is not None:
        if cur.type == "call" and call_name(cur) == "quote":
            return True
        cur = cur.parent
    return False


def _names(node: Node | None) -> set[str] | None:
    """``[f: 1, g: 2]`` -> {"f", "g"}; None when it is not a literal keyword list."""
    if node is None:
        return None
    if node.type == "list" and not node.named_children:
        return set()
    out = set()
    kws = [c for c in node.named_children if c.type == "keywords"] if node.type == "list" else []
    if node.type != "list" or not kws:
        return None
    for pair in kws[0].named_children:
        key = pair.child_by_field_name("key")
        if key is None:
            return None
        out.add(text(key).strip().rstrip(":").strip())
    return out


class UnusedDirective:
    """Finds ``import``/``require`` statements of a project module that nothing uses."""

    id = ""
    kind = ""  # "import" | "require"

    def check(self, ctx: RuleContext) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        for path, facts, source in clean_sources(ctx, self.kind.encode()):
            tree = ctx.tree(path)
            for node in captures(load_query("drop_unused"), tree.root_node).get("directive", []):
                if call_name(node) != self.kind:
                    continue
                diag = self.consider(ctx, path, source, node, facts)
                if diag is not None:
                    out.append(diag)
        return out

    def consider(self, ctx, path, source, node, facts) -> Diagnostic | None:
        if _in_quote(node):
            return None
        module = enclosing_module(node)
        if module is None:
            return None
        target = directive_target(ctx, facts, node)
        if target is None or ctx.analysis.module_file.get(target) == path:
            return None
        info = ctx.analysis.modules.get(target)
        if info is None:
            return None
        args = call_arguments(node)
        scope = node.parent
        start_line, end_line = line(node), scope.end_point[0] + 1
        in_scope = [
            r for r in references(facts).between(start_line, end_line)
            if r.target == target
            and not (r.line == start_line and r.kind == "require" and not r.via)
        ]
        # what the module compiles when its body ends (a plug pipeline calling an imported
        # function plug, `plug :fetch_current_user`) is traced at the defmodule line, before
        # the directive: such an import is used
        in_scope += [r for r in references(facts).between(1, start_line - 1)
                     if r.target == target and r.kind == "import"]
        if not self.unused(node, info, args, in_scope, source, scope):
            return None  # used: nothing to say
        written = text(args[0])
        head = f"{self.kind} {written}" + (f" ({target})" if written != target else "")
        if template_reason(ctx, path, source):
            return None  # templates exfix does not read probably use it: nothing to say
        if dynamic_definitions(ctx, target):
            return None  # names generated at compile time may be used: nothing to say
        refusal = self.refusal(ctx, args, scope)
        if refusal:
            return Diagnostic(self.id, path, line(node), "warning",
                              f"{head}: nothing of it is used here, but it is kept: {refusal}")
        try:
            self.blind_spots(ctx, path, source, node, module, scope, info, args)
        except Blind as why:
            return Diagnostic(self.id, path, line(node), "warning",
                              f"{head}: nothing of it is used here, but it is kept: {why}", refused=why.kind)
        span = line_span(source, node)
        if span is None:
            return Diagnostic(self.id, path, line(node), "warning",
                              f"{head}: nothing of it is used here; not removed: it shares its line with other code")
        sink = ctx.analysis.module_file[target]
        message = (
            f"{head} is unused in its scope and only adds an export dependency on {sink}, "
            f"so this file recompiles whenever {target}'s public functions or macros change"
        )
        return Diagnostic(self.id, path, line(node), "warning", message, Fix([removal(source, span)]))

    def unused(self, node, info, args, refs, source, scope) -> bool:
        """True when nothing of the module is used in the statement's scope (``refs``: the
        analysis references to it there)."""
        raise NotImplementedError

    def refusal(self, ctx, args, scope) -> str | None:
        return None

    def names(self, info, args) -> set[str]:
        """The names the directive makes callable without a module (an import's functions
        and macros) or as macros (a require's)."""
        raise NotImplementedError

    def blind_spots(self, ctx, path, source, node, module, scope, info, args) -> None:
        """Raise Blind when no expansion in the directive's scope can be proved not to need
        it: a macro exfix did not expand in the file, a `use` or compile hook exfix cannot
        read, or one of its names written as an atom anywhere in the module (a plug
        pipeline compiles at the module's end, so `plug :f` above the import counts)."""
        unfollowed(ctx, path)
        opaque(ctx, scope)
        what = (f"the function {{name}} imported from {text(args[0])}" if self.kind == "import"
                else f"the macro {{name}} of {text(args[0])}")
        atoms(source, module.start_byte, module.end_byte, self.names(info, args), what)

    def scope_text(self, source: bytes, node: Node, scope: Node) -> bytes:
        return source[node.end_byte : scope.end_byte]

    def verify(self, ctx, diagnostic, patched) -> list[str]:
        facts = ctx.analysis.files[diagnostic.file]
        here = references(facts).between(diagnostic.line, diagnostic.line)
        targets = {r.target for r in here if not r.via}
        before = sum(references(facts).by_target[t] for t in targets)
        pf = patched.analysis.files.get(diagnostic.file)
        after = sum(references(pf).by_target[t] for t in targets) if pf else 0
        if after >= before:
            return [f"the references to {', '.join(sorted(targets))} did not decrease"]
        if compile_count(patched.analysis, diagnostic.file, targets) > compile_count(
            ctx.analysis, diagnostic.file, targets
        ):
            return ["it would add a compile reference"]
        return []


TEMPLATE_SIGILS = re.compile(rb"~[HELFM](\"|'|\(|\[|\{|<|/|\|)")
TEMPLATE_CALLS = re.compile(rb"\b(embed_templates|function_from_file|function_from_string|compile_file|EEx\.)")
TEMPLATE_USES = re.compile(
    rb"\buse\s+[A-Z][\w.]*\s*,\s*:(view|live_view|live_component|html|component|controller_html)\b"
)
TEMPLATE_EXTS = (".eex", ".heex", ".leex", ".sface", ".neex")


def template_reason(ctx, path: str, source: bytes) -> str | None:
    """Why the file's code may call imported names exfix does not see, or None: templates
    (sigils such as ~H, embedded or colocated template files, Phoenix views). Found once
    per file and context, not once per directive of the file."""
    memo = ctx.__dict__.setdefault("_template_reasons", {})
    key = (path, len(source), hash(source))
    if key not in memo:
        memo[key] = _template_reason(ctx, path, source)
    return memo[key]


def _template_reason(ctx, path: str, source: bytes) -> str | None:
    if TEMPLATE_SIGILS.search(source):
        return "the module holds template sigils (~H, ~E, ...) whose calls exfix does not read"
    if TEMPLATE_CALLS.search(source):
        return "the module embeds template files whose calls exfix does not read"
    if TEMPLATE_USES.search(source):
        return "the module is a view or component; its templates may use the import"
    root = getattr(ctx.project, "root", None)
    if root is not None:
        from pathlib import Path

        file = Path(root) / path
        stem = file.name[: -len(file.suffix)] if file.suffix else file.name
        try:
            siblings = [p.name for p in file.parent.iterdir()]
        except OSError:
            siblings = []
        for name in siblings:
            if name.startswith(stem + ".") and name.endswith(TEMPLATE_EXTS):
                return f"a template next to it ({name}) may use the import"
    return None


DYNAMIC_DEFS = re.compile(
    rb"\bdef(?:p|macro|macrop|guard|guardp)?\s+unquote\b|\bdefrecordp?\b|Module\.(?:eval_quoted|create)\b"
    rb"|\b__before_compile__\b|\bdefdelegate\s+unquote\b"
)


USE = re.compile(rb"^[ \t]*use[ \t(]+([A-Z][\w.]*)", re.M)


def dynamic_definitions(ctx, target: str) -> bool:
    """True when the module's file defines functions or macros whose names exfix cannot read
    (``def unquote(name)``, ``defrecord``, ``Module.eval_quoted``, ``__before_compile__``),
    or may have them injected by a ``use`` whose definitions no framework model lists
    (``use HTTPoison.Base`` defines ``get/1``: an unqualified ``get()`` in a file that imports
    the module is one of them)."""
    path = ctx.analysis.module_file.get(target)
    source = ctx.sources.get(path) if path else None
    if source is None or DYNAMIC_DEFS.search(source) is not None:
        return True
    using = frameworks.registry().using
    for m in USE.finditer(source):
        model = using.get(m.group(1).decode())
        if model is None or not model.defines:
            return True
    return False


def local_uses(text_: bytes, names: set[str]) -> set[str]:
    """Names of ``names`` that appear as bare identifiers (not after a dot) in ``text_``."""
    return {m.group(1).decode() for m in IDENT.finditer(text_) if m.group(1).decode() in names}


def imported_names(info, args) -> set[str] | None:
    """Names an ``import`` brings in, from the module's public functions and macros and the
    ``only:``/``except:`` options; None when the options are not literal."""
    names = {n for n, _ in info.functions} | {n for n, _ in info.macros}
    only = keyword_get(args[1:], "only")
    if only is not None:
        if only.type == "atom":  # only: :functions / :macros / :sigils
            kind = text(only)[1:]
            if kind == "functions":
                return {n for n, _ in info.functions if (n, _) not in info.macros}
            if kind == "macros":
                return {n for n, _ in info.macros}
            if kind == "sigils":
                return {n for n in names if n.startswith("sigil_")}
            return None
        listed = _names(only)
        if listed is None:
            return None
        return names & listed
    except_ = keyword_get(args[1:], "except")
    if except_ is not None and _names(except_) is None:
        return None
    return names
