"""Second pass: walk one file the way the compiler expands it and record what it traces.

This mirrors what Elixir's lexical tracker records during expansion:

* an alias that expands to a module (``alias_reference``): ``compile`` in a module body,
  ``runtime`` inside a function; inside a function's patterns and guards ``runtime`` before
  1.18 and nothing since;
* a remote function call: ``compile`` in a module body, ``runtime`` in a function;
* a remote or imported macro: always ``compile``, and its expansion is walked in the caller;
* ``require`` and ``import``: ``export``; a struct ``%M{}``: ``export``;
* module attributes whose value is a literal: aliases in it are ``runtime``;
* typespecs and quoted code: nothing (only ``unquote`` parts are expanded).

Macros defined in the project or in ``deps/`` are expanded when their body ends in a
``quote`` (directly, through a local function, or ``apply(__MODULE__, which, args)`` as in
Phoenix-style ``use MyAppWeb, :controller``); unquoted parameters are replaced by the caller's
arguments. What cannot be followed is recorded in ``FileFacts.notes``.
"""

from __future__ import annotations

from tree_sitter import Node

from . import frameworks
from .env import DEFINITIONS, MACROS, SUMMARY, Binding, Env, Import, replace
from .frameworks import effects
from .facts import FileFacts, ModuleDef, Reference
from .mixconfig import BuildEnv, env_condition
from .index import (
    DEF_KINDS,
    ModuleInfo,
    alias_statement,
    alias_target,
    head_parts,
    impl_module_names,
    is_default,
    module_name,
)
from .quoting import MAX_MACRO_DEPTH, Quoting, _unquotes
from .semantics import Semantics
from .parse import parse
from .templates import eex_code, heex_code
from .syntax import (
    branch_body,
    sigil_content,
    string_content,
    string_value,
    atom_value,
    operand as unary_operand,
    call_arguments,
    call_name,
    do_block,
    do_body,
    keyword_get,
    keyword_pairs,
    named_children,
    text,
    unwrap_block,
)

TYPESPEC_ATTRS = {"type", "typep", "opaque", "spec", "callback", "macrocallback"}
CALLBACK_ATTRS = {"before_compile", "after_compile", "after_verify", "on_definition"}
DOC_ATTRS = {"moduledoc", "doc", "typedoc"}
# sigils that compile a template in place: ~H (HEEx), ~L (LEEx) and ~E (EEx)
TEMPLATE_SIGILS = {"H": heex_code, "L": eex_code, "E": eex_code}


class Expander(Quoting):
    def __init__(
        self,
        path: str,
        modules: dict[str, ModuleInfo],
        semantics: Semantics,
        facts: FileFacts | None = None,
        consulted: dict[str, int] | None = None,
        build: BuildEnv | None = None,
        read_file=None,
        list_files=None,
    ):
        self.path = path
        self.build = build or BuildEnv()
        self.models = frameworks.registry()
        # reads a project file (a template) by its path relative to the project root
        self.read_file = read_file
        # the project files a glob (relative to the project root) matches, sorted
        self._list_files = list_files
        self.modules = modules
        # module -> the most the expansion read of it (MACROS, SUMMARY or DEFINITIONS);
        # a module looked up and not found is recorded too
        self.consulted = consulted
        self.sem = semantics
        self.facts = facts or FileFacts(path)
        # module -> [(callback module, function)] registered with @before_compile
        self.before_compile: dict[str, list[tuple[str, str]]] = {}
        self.module_lines: dict[str, int] = {}
        # (module, attribute) -> module named by the attribute's value
        self.attr_modules: dict[tuple[str, str], str] = {}
        # (module, attribute) -> [(module, line)]: aliases of literal attribute values, traced
        # again as compile when the attribute is read at compile time
        self.attr_traces: dict[tuple[str, str], list[tuple[str, int]]] = {}
        # module -> protocols given to @derive, derived when defstruct runs
        self.derives: dict[str, list[str]] = {}
        # frameworks/: module -> its module plugs, in order, and how they are initialised
        self.plugs: dict[str, list[str]] = {}
        self.plug_init: dict[str, str] = {}
        self.pipelines: dict[str, set[str]] = {}  # a router's pipeline names
        # module -> what runs with the environment at the end of its body (a @before_compile
        # that compiles code in the module's own scope: Phoenix.View's templates)
        self.at_end: dict[str, list] = {}
        self.scopes: list[str | None] = []  # the alias prefixes of the router scopes around

    # ------------------------------------------------------------------ entry points

    def run(self, root: Node) -> FileFacts:
        self.seq(named_children(root), Env())
        return self.facts

    def note(self, message: str) -> None:
        if message not in self.facts.notes:
            self.facts.notes.append(message)

    # ------------------------------------------------------------------ recording

    def emit(self, env: Env, node: Node | None, target: str, kind: str, mode: str, function="",
             origin: str = ""):
        if target is None:
            return
        line = env.line if env.line is not None else (node.start_point[0] + 1 + env.line_offset if node else 0)
        # Reference(...) without the frozen dataclass's __init__ (one setattr per field):
        # the walk makes tens of thousands
        ref = object.__new__(Reference)
        ref.__dict__.update(
            line=line,
            target=target,
            kind=kind,
            mode=mode,
            function=function,
            module=env.module or "",
            context=self.context_name(env),
            via=env.via,
            origin=origin or env.origin,
        )
        self.facts.references.append(ref)

    @staticmethod
    def context_name(env: Env) -> str:
        if env.attribute:
            return "attribute"
        if env.function is None:
            return "body"
        return env.context or "def"

    @staticmethod
    def mode(env: Env) -> str:
        return "compile" if env.function is None else "runtime"

    def alias_ref(self, env: Env, node: Node, target: str | None) -> None:
        if target is None or target == env.module:
            return
        if env.function is None:
            self.emit(env, node, target, "alias", "compile")
        elif env.context is None or not self.sem.skip_aliases_in_patterns:
            self.emit(env, node, target, "alias", "runtime")

    # ------------------------------------------------------------------ aliases

    def resolve(self, node: Node, env: Env) -> str | None:
        """Module named by an alias expression under env's lexical and hygienic scope."""
        if env.hygiene is not None and node.type == "alias":
            parts = text(node).replace(" ", "").split(".")
            if parts[0] in env.hygiene:
                return ".".join([env.hygiene[parts[0]], *parts[1:]])
            if parts[0] in env.macro_aliases:
                return ".".join([env.macro_aliases[parts[0]], *parts[1:]])
            return ".".join(parts[1:]) if parts[0] == "Elixir" else ".".join(parts)
        if node.type == "call" and call_name(node) in ("unquote",) and env.bindings is not None:
            binding = self.unquoted(node, env)
            if binding is not None and binding.node is not None:
                return self.resolve(binding.node, binding.env)
            if binding is not None and binding.atom and binding.atom.startswith("Elixir."):
                return binding.atom[len("Elixir.") :]
            return None
        scope = env.hygiene if env.hygiene is not None else env.aliases
        return alias_target(node, scope, env.module)

    def add_aliases(self, env: Env, new: dict[str, str]) -> Env:
        if not new:
            return env
        if env.hygiene is not None:
            return replace(
                env,
                aliases={**env.aliases, **new},
                macro_aliases={**env.macro_aliases, **new},
            )
        return replace(env, aliases={**env.aliases, **new})

    # ------------------------------------------------------------------ walking

    def seq(self, nodes: list[Node], env: Env) -> Env:
        for node in nodes:
            env = self.walk(node, env)
        return env

    def walk_all(self, nodes, env: Env) -> None:
        for node in nodes:
            if node is not None:
                self.walk(node, env)

    def walk(self, node: Node, env: Env) -> Env:
        t = node.type
        if t == "call":
            return self.call(node, env)
        if t == "alias":
            self.alias_ref(env, node, self.resolve(node, env))
            return env
        if t == "dot":
            target = self.resolve(node, env)
            if target is not None:
                self.alias_ref(env, node, target)
            else:
                self.walk_all(named_children(node), env)
            return env
        if t == "unary_operator":
            return self.unary(node, env)
        if t == "binary_operator":
            return self.binary(node, env)
        if t == "map":
            self.map(node, env)
            return env
        if t == "anonymous_function":
            self.clauses(named_children(node), env, match=True)
            return env
        if t == "block":
            self.seq(named_children(node), env)
            return env
        if t in ("identifier", "integer", "float", "atom", "boolean", "nil", "char", "comment"):
            return env
        if t == "quoted_atom":
            # :"name_#{expr}" evaluates its interpolations
            self.walk_all([c for c in named_children(node) if c.type == "interpolation"], env)
            return env
        if t == "sigil":
            self.sigil(node, env)
            return env
        self.walk_all(named_children(node), env)
        return env

    def sigil(self, node: Node, env: Env) -> None:
        """``~x(...)`` calls ``sigil_x/2``: a local, imported or Kernel function or macro."""
        name_node = next((c for c in node.named_children if c.type == "sigil_name"), None)
        if name_node is not None:
            self.resolve_local(f"sigil_{text(name_node)}", 2, node, env, expand=False)
            engine = TEMPLATE_SIGILS.get(text(name_node))
            content = sigil_content(node) if engine is not None else None
            if content is not None:
                # ~H"..." compiles its template where it stands, numbered from its first line
                self.walk_template(engine(content[0]), replace(env, line=None, line_offset=content[1] - 1))
                return
        self.walk_all([c for c in named_children(node) if c.type == "interpolation"], env)

    def unary(self, node: Node, env: Env) -> Env:
        op = text(node.child_by_field_name("operator") or node)
        operand = unary_operand(node)
        if operand is None:
            return env
        if op == "@":
            return self.attribute(operand, env)
        if op == "&":
            return self.capture(operand, env)
        if op == "^":
            self.walk(operand, replace(env, context=None))
            return env
        self.walk(operand, env)
        return env

    def capture(self, operand: Node, env: Env) -> Env:
        # &Mod.fun/arity
        if operand.type == "binary_operator" and text(operand.child_by_field_name("operator")) == "/":
            left = operand.child_by_field_name("left")
            right = operand.child_by_field_name("right")
            if left is not None and left.type == "call" and right is not None and right.type == "integer":
                target = left.child_by_field_name("target")
                if target is not None and target.type == "dot" and not call_arguments(left):
                    receiver = target.child_by_field_name("left")
                    fname = target.child_by_field_name("right")
                    module = self.receiver(receiver, env)
                    if module is not None and fname is not None:
                        if receiver.type != "identifier":
                            self.alias_ref(env, receiver, module)
                        arity = int(text(right))
                        if (text(fname), arity) in self.macros_of(module):
                            self.emit(env, left, module, "call", "compile", f"{text(fname)}/{arity}")
                        else:
                            self.emit(env, left, module, "call", self.mode(env), f"{text(fname)}/{arity}")
                        return env
                    if receiver is not None:
                        self.walk(receiver, env)
                    return env
                if target is not None and target.type == "identifier":
                    self.local_call(text(target), int(text(right)), left, env, capture=True)
                    return env
        self.walk(operand, env)
        return env

    def binary(self, node: Node, env: Env) -> Env:
        op = text(node.child_by_field_name("operator"))
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if op == "=":
            if env.context == "match":
                self.walk_all([left, right], env)
            else:
                self.walk(left, replace(env, context="match"))
                self.walk(right, env)
            return env
        if op == "when" and env.context == "match":
            self.walk(left, env)
            self.walk(right, replace(env, context="guard"))
            return env
        if op == "<-" and env.context is None:
            self.walk(left, replace(env, context="match"))
            self.walk(right, env)
            return env
        if op == "|>" and right is not None and right.type == "call":
            self.walk(left, env)
            self.call(right, env, extra_arity=1)
            return env
        if op == "::" and env.attribute in TYPESPEC_ATTRS:
            return env
        self.walk_all([left, right], env)
        return env

    def map(self, node: Node, env: Env) -> None:
        for child in named_children(node):
            if child.type == "struct":
                inner = named_children(child)
                if inner:
                    name_node = inner[0]
                    target = self.resolve(name_node, env)
                    if target is not None:
                        if target != env.module and name_node.type != "identifier":
                            self.alias_ref(env, name_node, target)
                        self.emit(env, name_node, target, "struct", "export")
                    else:
                        self.walk(name_node, env)
            else:
                self.walk(child, env)

    def clauses(self, nodes: list[Node], env: Env, match: bool) -> None:
        for clause in nodes:
            if clause.type != "stab_clause":
                self.walk(clause, env)
                continue
            left = clause.child_by_field_name("left")
            right = clause.child_by_field_name("right")
            if left is not None:
                if match:
                    self.walk_all(named_children(left), replace(env, context="match"))
                else:
                    self.walk_all(named_children(left), env)
            if right is not None:
                self.seq(named_children(right), env)

    # ------------------------------------------------------------------ calls

    def call(self, node: Node, env: Env, extra_arity: int = 0) -> Env:
        target = node.child_by_field_name("target")
        if target is None:
            self.walk_all(named_children(node), env)
            return env
        if target.type == "identifier":
            return self.local_call(text(target), None, node, env, extra_arity=extra_arity)
        if target.type == "dot":
            self.remote_call(node, target, env, extra_arity)
            return env
        self.walk_all(named_children(node), env)
        return env

    def args_and_block(self, node: Node, env: Env) -> None:
        self.walk_all(call_arguments(node), env)
        block = do_block(node)
        if block is not None:
            self.block(block, env)

    def block(self, block: Node, env: Env, match_clauses: bool = True) -> None:
        for child in named_children(block):
            if child.type == "stab_clause":
                self.clauses([child], env, match=match_clauses)
            elif child.type in ("else_block", "after_block", "rescue_block", "catch_block"):
                kids = named_children(child)
                if kids and kids[0].type == "stab_clause":
                    self.clauses(kids, env, match=child.type != "after_block")
                else:
                    self.seq(kids, env)
            else:
                env = self.walk(child, env)

    def local_call(self, name, capture_arity, node, env: Env, extra_arity=0, capture=False) -> Env:
        handler = SPECIAL.get(name)
        if handler is not None and not capture:
            result = handler(self, node, env)
            return env if result is None else result
        if capture:
            args, block, arity = [], None, capture_arity
        else:
            args, block = call_arguments(node), do_block(node)
            arity = len(args) + extra_arity + (1 if block else 0)
        if name in ("unquote", "unquote_splicing") and not capture:
            if env.bindings is not None:
                return self.unquote(node, env)
            if env.fragment_env is not None:
                # an unquote fragment of a def: evaluated in the module body when the def is
                # defined, with the module body's aliases, imports and variables
                self.walk_all(args, env.fragment_env)
                return env
        if self.resolve_local(name, arity, node, env, expand=not capture, extra_arity=extra_arity):
            return env
        if name in ("raise", "reraise") and args and args[0].type in ("alias", "dot") and not capture:
            # Kernel.raise(Mod, msg) expands to Mod.exception(msg)
            module = self.resolve(args[0], env)
            if module is not None:
                self.emit(env, node, module, "call", self.mode(env), "exception/1")
                self.walk_all(args[1:], env)
                return env
        if not capture:
            # what args_and_block does, with the arguments and block found above
            self.walk_all(args, env)
            if block is not None:
                self.block(block, env)
        return env

    def resolve_local(self, name, arity, node, env: Env, expand: bool, extra_arity=0) -> bool:
        """Dispatch a local call: the module's own macro, or an import. True when expanded."""
        local = self.lookup(env.module)
        if local is not None and (name, arity) in local.defined:
            if (name, arity) in local.macros and expand:
                # a macro of the module itself (defined above the call) is run and expanded in place
                self.local_macro_requires(local, name, node, env)
                self.expand_macro(env.module, name, arity, node, env, extra_arity)
                return True
            return False
        modelled = self.models.by_module
        for imp in env.imports:
            model = (self.models.macro(imp.module, name, arity, self.build)
                     if imp.module in modelled and self.modelled(imp.module) else None)
            if model is not None and self.import_allows(imp, name, arity):
                self.emit(env, node, imp.module, "import", "compile", f"{name}/{arity}")
                if expand:
                    effects.apply_macro(self, model, node, env)
                return expand
            info = self.lookup(imp.module)
            if info is None or not self.import_allows(imp, name, arity):
                continue
            if (name, arity) in info.macros:
                self.emit(env, node, imp.module, "import", "compile", f"{name}/{arity}")
                if expand:
                    self.expand_macro(imp.module, name, arity, node, env, extra_arity)
                    return True
                return False
            if (name, arity) in info.functions:
                self.emit(env, node, imp.module, "import", self.mode(env), f"{name}/{arity}")
                if self.sem.imported_call_also_remote:
                    self.emit(env, node, imp.module, "call", self.mode(env), f"{name}/{arity}")
                return False
        return False

    @staticmethod
    def import_allows(imp: Import, name: str, arity: int) -> bool:
        if imp.only is not None and (name, arity) not in imp.only:
            return False
        if (name, arity) in imp.except_:
            return False
        return True

    def receiver(self, left: Node | None, env: Env) -> str | None:
        if left is None:
            return None
        if left.type in ("alias", "dot"):
            return self.resolve(left, env)
        if left.type == "identifier" and text(left) == "__MODULE__":
            return env.module
        if left.type == "quoted_atom":
            value = atom_value(left)
            if value and value.startswith("Elixir."):
                return value[len("Elixir.") :]
        if left.type == "call" and call_name(left) == "unquote" and env.bindings is not None:
            return self.resolve(left, env)
        if left.type == "call" and call_name(left) == "__MODULE__":
            return env.module
        if left.type == "unary_operator" and env.module is not None:
            operand = left.child_by_field_name("operand")
            op = left.child_by_field_name("operator")
            if op is not None and text(op) == "@" and operand is not None and operand.type == "identifier":
                # @attr.fun(): the attribute holds a module atom (no alias is traced)
                return self.attr_modules.get((env.module, text(operand)))
        return None

    def remote_call(self, node: Node, dot: Node, env: Env, extra_arity: int) -> None:
        left = dot.child_by_field_name("left")
        right = dot.child_by_field_name("right")
        args = call_arguments(node)
        if right is None or right.type not in ("identifier", "operator_identifier"):
            # anonymous function call f.(x), or Foo.{A, B}
            target = self.resolve(dot, env) if right is not None else None
            if target is not None:
                self.alias_ref(env, dot, target)
            elif left is not None:
                self.walk(left, env)
            self.args_and_block(node, env)
            return
        module = self.receiver(left, env)
        fname = text(right)
        if module is None:
            if left is not None:
                self.walk(left, env)
            self.args_and_block(node, env)
            return
        if left.type != "identifier" and not (left.type == "call" and call_name(left) == "__MODULE__"):
            if left.type != "call":
                self.alias_ref(env, left, module)
        block = do_block(node)
        arity = len(args) + extra_arity + (1 if block else 0)
        special = self.sem.remote_special(module, fname)
        if special == "compile_env" and env.function is None:
            self.emit(env, node, module, "call", "compile", f"{fname}/{arity}")
            if self.sem.compile_env_default_runtime:
                self.walk_all(args[:2], env)
                self.walk_all(args[2:], replace(env, function=("__info__", 1)))
            else:
                self.walk_all(args, env)
            return
        if module == "EEx" and fname in ("function_from_file", "function_from_string") and env.function is None:
            self.emit(env, node, module, "call", "compile", f"{fname}/{arity}")
            self.eex_function(fname, args, node, env)
            return
        if module == "Module" and fname == "get_attribute" and env.function is None and env.module:
            name_node = args[-1] if extra_arity else (args[1] if len(args) > 1 else None)
            if name_node is not None and atom_value(name_node) is not None:
                self.read_attribute(env.module, atom_value(name_node), env, None)
        model = (self.models.macro(module, fname, arity, self.build)
                 if module in self.models.by_module and self.modelled(module) else None)
        if model is not None:
            self.emit(env, node, module, "call", "compile", f"{fname}/{arity}")
            effects.apply_macro(self, model, node, env)
            return
        if (fname, arity) in self.macros_of(module):
            self.emit(env, node, module, "call", "compile", f"{fname}/{arity}")
            self.expand_macro(module, fname, arity, node, env, extra_arity)
            return
        self.emit(env, node, module, "call", self.mode(env), f"{fname}/{arity}")
        self.walk_all(args, env)
        if block is not None:
            self.block(block, env)

    def macros_of(self, module: str | None) -> set:
        info = self.lookup(module, MACROS)
        return info.macros if info is not None else set()

    def lookup(self, module: str | None, level: int = SUMMARY) -> ModuleInfo | None:
        """The index's entry for module (recording what is read of it), or None."""
        if not module:
            return None
        consulted = self.consulted
        if consulted is not None and consulted.get(module, 0) < level:
            consulted[module] = level
        return self.modules.get(module)

    def modelled(self, module: str) -> bool:
        """Whether a framework model stands for ``module``'s macros: not when the project
        defines the module itself (the framework's own repository), whose source is
        expanded as written."""
        info = self.lookup(module)
        return info is None or not info.in_project

    def definitions(self, info: ModuleInfo) -> dict:
        """The clauses of a module's definitions (recorded: the expansion depends on them)."""
        consulted = self.consulted
        if consulted is not None and consulted.get(info.name, 0) < DEFINITIONS:
            consulted[info.name] = DEFINITIONS
        return info.definitions

    # ------------------------------------------------------------------ attributes

    def attribute(self, operand: Node, env: Env) -> Env:
        name = call_name(operand)
        if name is None:
            if operand.type == "identifier":
                # reading @attr in the module body replays its alias traces as compile
                if env.function is None and env.module is not None and env.attribute not in TYPESPEC_ATTRS:
                    self.read_attribute(env.module, text(operand), env, operand.start_point[0] + 1)
            else:
                self.walk(operand, env)
            return env
        if env.function is not None:
            return env
        args = call_arguments(operand)
        if not args:
            return env
        if name in TYPESPEC_ATTRS:
            self.typespec_structs(args[0], env)
            return env
        inner = replace(env, attribute=name)
        value = args[0]
        if name in CALLBACK_ATTRS or name in DOC_ATTRS:
            self.walk(value, inner)
            if name in ("before_compile", "after_compile") and env.module is not None:
                callback = self.callback_target(value, env, f"__{name}__")
                if callback is not None:
                    self.before_compile.setdefault(env.module, []).append((name, *callback))
            return env
        if name == "behaviour" and self.sem.behaviour_compile:
            # 1.14 requires the behaviour when the module is defined: mix reports a
            # `require` at the defmodule line
            target = self.resolve(value, env) if value.type in ("alias", "dot") else None
            if target is not None and env.module is not None:
                line = env.line if env.line is not None else self.module_lines.get(env.module, 0)
                self.emit(replace(inner, line=line), value, target, "require", "compile")
        elif name == "behaviour" and env.module is not None:
            # 1.18+ checks callbacks after compiling: a runtime call at the defmodule line
            target = self.resolve(value, env) if value.type in ("alias", "dot") else None
            if target is not None:
                line = env.line if env.line is not None else self.module_lines.get(env.module, 0)
                self.emit(replace(inner, line=line, function=("__info__", 1)), value, target,
                          "call", "runtime", "behaviour_info/1")
        if name == "derive" and env.module is not None:
            self.derives.setdefault(env.module, []).extend(self.literal_modules(value, env))
        if env.module is not None:
            held = self.value_module(value, env)
            if held is not None:
                self.attr_modules[(env.module, name)] = held
        self.literal_value(value, inner)
        return env

    def value_module(self, node: Node, env: Env) -> str | None:
        """The module an expression names, following unquoted macro arguments."""
        if node.type == "call" and call_name(node) == "unquote" and env.bindings is not None:
            binding = self.unquoted(node, env)
            if binding is not None and binding.node is not None:
                return self.value_module(binding.node, binding.env)
            return None
        if node.type in ("alias", "dot", "quoted_atom"):
            return self.receiver(node, env)
        return None

    def typespec_structs(self, node: Node, env: Env) -> None:
        """A struct named in a typespec is expanded: an export reference to its module, and
        its alias a runtime one (every version); the module's own struct is traced since
        1.18 only."""
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "struct":
                inner = named_children(n)
                target = self.resolve(inner[0], env) if inner else None
                if target is not None and (target != env.module or self.sem.typespec_own_struct):
                    self.emit(env, inner[0], target, "struct", "export")
                    if target != env.module:
                        self.emit(env, inner[0], target, "alias", "runtime")
            stack.extend(reversed(named_children(n)))

    def callback_target(self, node: Node, env: Env, default: str) -> tuple[str, str] | None:
        """``@before_compile Mod`` or ``@before_compile {Mod, :fun}``."""
        if node.type == "tuple":
            kids = named_children(node)
            if len(kids) == 2 and atom_value(kids[1]) is not None:
                module = self.resolve(kids[0], env)
                return (module, atom_value(kids[1])) if module else None
            return None
        module = self.resolve(node, env)
        return (module, default) if module else None

    def run_before_compile(self, module: str, line: int, env: Env) -> None:
        """At the end of a module body mix invokes each @before_compile macro, at the defmodule line."""
        for hook, target, fname in self.before_compile.pop(module, []):
            cb_env = replace(env, line=line)
            if hook == effects.PLUGS:
                effects.compile_plugs(self, module, cb_env)
                continue
            if hook == "after_compile":
                # called with (env, bytecode) once the module is compiled (traced on 1.18+)
                if self.sem.after_compile_traced:
                    self.emit(cb_env, None, target, "call", "compile", f"{fname}/2")
                continue
            self.emit(cb_env, None, target, "call", "compile", f"{fname}/1")
            info = self.lookup(target, DEFINITIONS)
            defs = [d for d in (self.definitions(info).get(fname, []) if info else []) if d.kind == "defmacro"]
            if not defs or env.depth >= MAX_MACRO_DEPTH:
                continue
            quoted = self.returned_quote(defs[0], {}, info, cb_env)
            if quoted is None or quoted[0] == "binding":
                self.note(f"{target}.{fname}/1 (in {defs[0].file}): cannot see what it quotes")
                continue
            _kind, body, qbindings, qdef = quoted
            self.seq(body, replace(cb_env, hygiene=qdef.aliases, bindings=qbindings,
                                   via=env.via or f"@before_compile {target}", depth=env.depth + 1))

    def literal_modules(self, node: Node, env: Env) -> list[str]:
        out = []
        if node.type in ("alias", "dot"):
            target = self.resolve(node, env)
            if target:
                out.append(target)
        elif node.type in ("list", "tuple"):
            kids = named_children(node)
            if node.type == "tuple" and kids:
                kids = kids[:1]
            for kid in kids:
                out.extend(self.literal_modules(kid, env))
        return out

    def literal_value(self, node: Node, env: Env) -> None:
        """Attribute values: aliases in literal parts are runtime references."""
        if node.type == "call" and call_name(node) == "unquote" and env.bindings is not None:
            binding = self.unquoted(node, env)
            if binding is not None and binding.node is not None:
                self.literal_value(binding.node, replace(binding.env, module=env.module,
                                                         function=env.function, attribute=env.attribute,
                                                         via=env.via))
            return
        if self.sem.attribute_literals_partial:
            self.expand_literals(node, env)
        elif self.is_quoted_literal(node, env):
            self.expand_literals(node, env)
        else:
            self.walk(node, env)

    def read_attribute(self, module: str, name: str, env: Env, line: int | None) -> None:
        """A compile-time read of @name: the aliases its value held become compile references.

        The compiler replays them outside the file (mix xref trace prints ``@name:LINE``,
        ``nofile:LINE`` on 1.14, where the put line is always used)."""
        origin = f"@{name}" if self.sem.attribute_trace_origin else "nofile"
        for target, put_line in self.attr_traces.pop((module, name), []):
            at = line if line is not None and self.sem.attribute_trace_origin else put_line
            self.emit(replace(env, module=module, function=None, context=None, line=at),
                      None, target, "alias", "compile", origin=origin)

    def is_quoted_literal(self, node: Node, env: Env) -> bool:
        """Macro.quoted_literal?/1 on the code after unquoted macro arguments are put in."""
        t = node.type
        if t == "call" and call_name(node) == "unquote" and env.bindings is not None:
            binding = self.unquoted(node, env)
            if binding is None or binding.node is None:
                return binding is not None and binding.atom is not None
            return self.is_quoted_literal(binding.node, binding.env)
        if t in ("alias", "atom", "quoted_atom", "integer", "float", "boolean", "nil", "char", "keyword"):
            return True
        if t in ("string", "charlist"):
            return not any(c.type == "interpolation" for c in node.named_children)
        if t in ("list", "tuple", "keywords", "map_content", "pair"):
            return all(self.is_quoted_literal(c, env) for c in named_children(node))
        if t == "binary_operator" and text(node.child_by_field_name("operator")) == "=>":
            return all(self.is_quoted_literal(c, env) for c in named_children(node))
        if t == "map":
            for c in named_children(node):
                if c.type == "struct":
                    inner = named_children(c)
                    if not inner or inner[0].type != "alias":
                        return False
                elif not self.is_quoted_literal(c, env):
                    return False
            return True
        if t == "dot":
            return all(c.type == "alias" for c in named_children(node))
        return False

    def expand_literals(self, node: Node, env: Env) -> None:
        runtime = replace(env, function=("__info__", 1))
        t = node.type
        if t in ("alias", "dot") and self.resolve(node, env) is not None:
            target = self.resolve(node, env)
            self.alias_ref(runtime, node, target)
            if env.attribute and env.module is not None and target != env.module:
                line = env.line if env.line is not None else node.start_point[0] + 1
                self.attr_traces.setdefault((env.module, env.attribute), []).append((target, line))
            return
        if t == "map":
            for child in named_children(node):
                if child.type == "struct":
                    inner = named_children(child)
                    if inner:
                        target = self.resolve(inner[0], env)
                        if target is not None:
                            if inner[0].type != "identifier":
                                self.alias_ref(runtime, inner[0], target)
                            self.emit(env, inner[0], target, "struct", "export")
                else:
                    self.expand_literals(child, env)
            return
        if t in ("list", "tuple", "keywords", "map_content", "pair", "block") or (
            t == "binary_operator" and text(node.child_by_field_name("operator")) == "=>"
        ):
            for child in named_children(node):
                self.expand_literals(child, env)
            return
        if t in ("identifier",) and text(node) == "__MODULE__":
            return
        if t == "call" and call_name(node) == "unquote" and env.bindings is not None:
            self.literal_value(node, env)
            return
        if t in ("string", "charlist", "sigil") and not any(
            c.type == "interpolation" for c in node.named_children
        ):
            return
        self.walk(node, env)

    # ------------------------------------------------------------------ macros
    # ------------------------------------------------------------------ special forms

    def sf_defmodule(self, node: Node, env: Env) -> Env:
        if env.dead:
            return env
        args = call_arguments(node)
        if not args:
            return env
        name_node = args[0]
        scope = env.hygiene if env.hygiene is not None else env.aliases
        if name_node.type == "call" and call_name(name_node) == "unquote":
            full = self.resolve(name_node, env)
            auto = None
        elif name_node.type == "call" and text(name_node.child_by_field_name("target") or name_node) == "Module.concat":
            full, auto = self.concat_name(call_arguments(name_node), env), None
        else:
            full, auto = module_name(name_node, scope, env.module)
        if full is None:
            self.note(f"{self.path}:{name_node.start_point[0] + 1}: module with a dynamic name skipped")
            return env
        line = env.line if env.line is not None else node.start_point[0] + 1
        self.module_lines[full] = line
        self.facts.modules.append(ModuleDef(full, line, node.start_byte, node.end_byte))
        outer = env
        inner = replace(env, module=full, function=None, context=None, fragment_env=None)
        if auto is not None:
            outer = self.add_aliases(env, {auto[0]: auto[1]})
            inner = self.add_aliases(inner, {auto[0]: auto[1]})
        end = self.module_body(node, inner)
        for hook in self.at_end.pop(full, []):
            hook(end)
        self.run_before_compile(full, env.line if env.line is not None else node.start_point[0] + 1, inner)
        return outer

    def concat_name(self, args: list[Node], env: Env) -> str | None:
        """``Module.concat(unquote(mod), "Type")`` (or a list): the name, when each part is an
        alias, a string, ``__MODULE__`` or a macro argument naming a module."""
        if len(args) == 1 and args[0].type == "list":
            args = named_children(args[0])
        parts = []
        for arg in args:
            if arg.type == "string" and string_value(arg) is not None:
                parts.append(string_value(arg))
                continue
            if arg.type == "call" and call_name(arg) == "__MODULE__" and env.module:
                parts.append(env.module)
                continue
            binding = self.unquoted(arg, env) if arg.type == "call" and call_name(arg) == "unquote" else None
            if binding is not None and binding.atom:
                parts.append(binding.atom)
                continue
            module = self.resolve(binding.node if binding is not None and binding.node is not None else arg,
                                  binding.env if binding is not None and binding.node is not None else env)
            if module is None:
                return None
            parts.append(module)
        names = [p.removeprefix("Elixir.") for p in parts]
        return ".".join(names) if names and all(names) else None

    def module_body(self, node: Node, env: Env) -> Env:
        """Walk a module's body; the environment at its end."""
        block = do_block(node)
        if block is not None:
            return self.seq(named_children(block), env)
        value = keyword_get(call_arguments(node), "do")
        return self.walk(value, env) if value is not None else env

    def sf_defprotocol(self, node, env):
        if env.dead:
            return env
        first = len(self.facts.modules)
        out = self.sf_defmodule(node, env)
        if len(self.facts.modules) == first:
            return out
        protocol = self.facts.modules[first].name
        penv = replace(env, module=protocol, line=self.module_lines.get(protocol))
        if self.sem.protocol_any_compile:
            # the protocol checks for its Any implementation while it is compiled
            self.emit(penv, None, protocol + ".Any", "alias", "compile")
        if self.sem.protocol_builtins_runtime:
            fenv = replace(penv, function=("impl_for", 1))
            builtins = (*BUILTIN_TYPES, "Any") if self.falls_back_to_any(node) else BUILTIN_TYPES
            for builtin in builtins:
                self.emit(fenv, None, f"{protocol}.{builtin}", "call", "runtime", "__impl__/1")
        return out

    @staticmethod
    def falls_back_to_any(node: Node) -> bool:
        for expr in do_body(node):
            if expr.type == "unary_operator":
                operand = expr.child_by_field_name("operand")
                if operand is not None and call_name(operand) == "fallback_to_any":
                    args = call_arguments(operand)
                    return bool(args) and text(args[0]) == "true"
        return False

    def sf_defimpl(self, node: Node, env: Env) -> Env:
        if env.dead:
            return env
        args = call_arguments(node)
        if not args:
            return env
        scope = env.hygiene if env.hygiene is not None else env.aliases
        protocol = self.resolve(args[0], env)
        if protocol is not None:
            # defimpl requires the protocol and declares it as the impl's behaviour
            self.emit(env, args[0], protocol, self.sem.defimpl_kind, self.sem.defimpl_mode)
            if not self.sem.behaviour_compile:
                self.emit(replace(env, function=("__info__", 1)), args[0], protocol, "call", "runtime",
                          "behaviour_info/1")
        for_node = keyword_get(args[1:], "for")
        if for_node is not None:
            self.expand_literals(for_node, env)
        for name in impl_module_names(node, scope, env.module):
            self.facts.modules.append(ModuleDef(name, node.start_point[0] + 1, node.start_byte, node.end_byte))
            self.module_body(node, replace(env, module=name, function=None, context=None))
        return env

    def sf_def(self, node: Node, env: Env) -> Env:
        if env.dead:
            return env
        kind = call_name(node)
        args = call_arguments(node)
        if not args or env.module is None:
            self.args_and_block(node, env)
            return env
        name, params, guard = head_parts(args[0])
        # code quoted by a macro has its unquotes bound to the macro's arguments (bindings);
        # elsewhere `unquote(...)` in the head or body is a fragment run in the module body
        fragments = env if env.bindings is None and env.function is None else None
        fenv = replace(env, function=(name or "?", len(params)), context=None, fragment_env=fragments)
        menv = replace(fenv, context="match") if params else fenv
        for param in params:
            if is_default(param):
                self.walk(param.child_by_field_name("left"), menv)
                self.walk(param.child_by_field_name("right"), fenv)
            else:
                self.walk(param, menv)
                if param.type == "map" and self.sem.skip_aliases_in_patterns:
                    # 1.18+ still traces the name of a struct that is a whole parameter
                    struct = next((c for c in named_children(param) if c.type == "struct"), None)
                    name_node = named_children(struct)[0] if struct is not None and named_children(struct) else None
                    if name_node is not None and name_node.type in ("alias", "dot"):
                        self.alias_ref(fenv, name_node, self.resolve(name_node, fenv))
        if guard is not None:
            self.walk(guard, replace(fenv, context="guard"))
        head = args[0]
        if head.type == "call" and call_name(head) is None:
            # def unquote(name)(args)
            self.walk(head.child_by_field_name("target"), fenv if fragments is not None else env)
        block = do_block(node)
        if block is not None:
            self.block(block, fenv)
        else:
            if kind in ("defguard", "defguardp"):
                return env  # a guard's keyword body is its `when` (walked as the guard)
            for extra in args[1:]:
                if extra.type == "keywords":
                    for _key, value in keyword_pairs(extra):
                        self.walk(value, fenv)
        return env

    def sf_defdelegate(self, node: Node, env: Env) -> Env:
        args = call_arguments(node)
        if not args:
            return env
        name, params, _ = head_parts(args[0])
        to = keyword_get(args[1:], "to")
        as_node = keyword_get(args[1:], "as")
        fname = atom_value(as_node) if as_node is not None else name
        fenv = replace(env, function=(name or "?", len(params)))
        if to is not None and to.type == "unary_operator" and env.module is not None:
            # `to: @attr`: the attribute is read in the module body (its aliases become
            # compile references) and the calls go to the module it holds
            held = unary_operand(to)
            if held is not None and held.type == "identifier":
                self.read_attribute(env.module, text(held), env, to.start_point[0] + 1)
                module = self.attr_modules.get((env.module, text(held)))
                if module is not None:
                    self.emit(fenv, to, module, "call", "runtime", f"{fname}/{len(params)}")
        elif to is not None:
            module = self.resolve(to, env)
            if module is not None:
                self.alias_ref(fenv, to, module)
                self.emit(fenv, to, module, "call", "runtime", f"{fname}/{len(params)}")
        return env

    def sf_alias(self, node: Node, env: Env) -> Env:
        scope = env.hygiene if env.hygiene is not None else env.aliases
        return self.add_aliases(env, alias_statement(node, scope, env.module))

    def sf_require(self, node: Node, env: Env) -> Env:
        args = call_arguments(node)
        scope = env.hygiene if env.hygiene is not None else env.aliases
        for module in self.statement_modules(node, env):
            self.emit(env, node, module, "require", "export")
        if args:
            return self.add_aliases(env, alias_statement(node, scope, env.module))
        return env

    def statement_modules(self, node: Node, env: Env) -> list[str]:
        args = call_arguments(node)
        if not args:
            return []
        first = args[0]
        if first.type == "dot" and first.child_by_field_name("right") is not None and (
            first.child_by_field_name("right").type == "tuple"
        ):
            base = self.resolve(first.child_by_field_name("left"), env)
            if base is None:
                return []
            return [
                base + "." + text(ref).replace(" ", "")
                for ref in named_children(first.child_by_field_name("right"))
                if ref.type == "alias"
            ]
        target = self.resolve(first, env)
        return [target] if target else []

    def sf_import(self, node: Node, env: Env) -> Env:
        args = call_arguments(node)
        modules = self.statement_modules(node, env)
        new_imports = list(env.imports)
        opts = [self.unquoted_node(a, env) for a in args[1:]]
        for module in modules:
            self.emit(env, node, module, "require", "export")
            only = keyword_get(opts, "only")
            except_ = keyword_get(opts, "except")
            imp = Import(module)
            if only is not None:
                kind = atom_value(only)
                if kind in ("functions", "macros", "sigils"):
                    info = self.lookup(module)
                    if info is not None:
                        pool = info.macros if kind == "macros" else (info.functions - info.macros)
                        if kind == "sigils":
                            pool = {fa for fa in info.functions if fa[0].startswith("sigil_")}
                        imp = Import(module, frozenset(pool))
                else:
                    imp = Import(module, frozenset(name_arities(only)))
            if except_ is not None:
                imp = replace(imp, except_=frozenset(name_arities(except_)))
            new_imports = [i for i in new_imports if i.module != module] + [imp]
        return replace(env, imports=tuple(new_imports))

    def sf_use(self, node: Node, env: Env) -> Env:
        args = call_arguments(node)
        modules = self.statement_modules(node, env)
        for module in modules:
            self.emit(env, node, module, "require", "export")
            self.emit(env, node, module, "call", "compile", "__using__/1")
            model = self.models.using.get(module)
            if model is not None and self.modelled(module):
                env = effects.apply_using(self, model, args[1] if len(args) > 1 else None, node, env)
                continue
            info = self.lookup(module, MACROS)
            if info is None:
                continue
            if ("__using__", 1) not in info.macros:
                continue
            opts = args[1] if len(args) > 1 else None
            defs = [d for d in self.definitions(info).get("__using__", []) if d.kind == "defmacro"]
            if not defs:
                continue
            definition = self.pick_clause(defs, [opts])
            bindings: dict[str, Binding] = {}
            if definition.params:
                param = definition.params[0]
                if is_default(param):
                    param = param.child_by_field_name("left")
                if opts is None:
                    if param is not None and param.type == "identifier":
                        bindings[text(param)] = Binding(None, env, None)
                else:
                    self.bind_pattern(param, opts, env, bindings)
            quoted = self.returned_quote(definition, bindings, info, env)
            if quoted is None:
                self.note(
                    f"{module}.__using__/1 (in {definition.file}): cannot see what it quotes; "
                    "its injected code is not followed"
                )
                continue
            if quoted[0] == "binding":
                self.walk_binding(quoted[1], env)
                continue
            body, uenv = self.injection(quoted, node, env, env.via or f"use {module}")
            if uenv.depth > MAX_MACRO_DEPTH:
                continue
            after = self.seq(body, uenv)
            # aliases, imports and requires made by the injected code reach the caller
            env = replace(
                env,
                aliases={**env.aliases, **after.aliases},
                imports=after.imports,
                macro_aliases={**env.macro_aliases, **after.macro_aliases},
            )
        return env

    def sf_quote(self, node: Node, env: Env) -> Env:
        args = call_arguments(node)
        bind_quoted = keyword_get(args, "bind_quoted")
        if bind_quoted is not None:
            for _key, value in keyword_pairs(bind_quoted):
                self.walk(value, env)
        if not _unquotes(args, bind_quoted):
            return env  # its unquote(...) calls are code it quotes, run where it lands
        for body in do_body(node):
            self.find_unquotes(body, env)
        return env

    def find_unquotes(self, node: Node, env: Env) -> None:
        if node.type == "call" and call_name(node) in ("unquote", "unquote_splicing"):
            self.walk_all(call_arguments(node), env)
            return
        if node.type == "call" and call_name(node) == "quote":
            return
        for child in named_children(node):
            self.find_unquotes(child, env)

    def sf_defstruct(self, node: Node, env: Env) -> Env:
        self.walk_all(call_arguments(node), env)
        if env.module is not None:
            self.derive(env.module, node, env)
        return env

    def derive(self, module: str, node: Node, env: Env) -> None:
        """defstruct derives the protocols listed in @derive, at the defstruct line."""
        protocols = self.derives.pop(module, [])
        if not protocols:
            return
        if self.sem.derive_struct_traced:
            self.emit(env, node, module, "struct", "export")
        for protocol in protocols:
            if protocol == "Inspect":
                # Inspect's deriving reads the struct's fields through __info__/1
                self.emit(replace(env, function=("__info__", 1)), node, module, "call", "runtime", "__info__/1")
            elif self.sem.derive_compile:
                # the protocol's Any implementation is asked to derive at compile time
                self.emit(env, node, protocol + ".Any", "call", "compile", "__deriving__/3")

    def sf_clauses(self, node: Node, env: Env) -> Env:
        """case/receive/try/for/with: arguments (``<-`` heads are patterns), then clauses."""
        self.walk_all(call_arguments(node), env)
        block = do_block(node)
        if block is not None:
            self.block(block, env, match_clauses=True)
        return env

    def sf_cond(self, node: Node, env: Env) -> Env:
        block = do_block(node)
        if block is not None:
            self.block(block, env, match_clauses=False)
        return env

    def sf_if(self, node: Node, env: Env) -> Env:
        """``if Mix.env() == :dev do ... end`` outside a function, where the environment
        analysed decides the condition. Both branches are expanded, as the compiler expands
        them before the module body runs; what the branch not taken defines never exists."""
        args = call_arguments(node)
        truth = self.build_condition(args[0], env) if args and env.function is None else None
        if truth is None:
            self.args_and_block(node, env)
            return env
        if call_name(node) == "unless":
            truth = not truth
        self.walk(args[0], env)
        dead = replace(env, dead=True)
        self.seq(branch_body(node, True), env if truth else dead)
        self.seq(branch_body(node, False), dead if truth else env)
        return env

    def build_condition(self, node: Node, env: Env) -> bool | None:
        """A condition the build decides: the environment (``Mix.env() == :dev``), or
        ``Code.ensure_loaded?(Mod)`` of a module the project or its fetched deps define (true)
        or that none of them nor Elixir defines (false: an optional dependency not fetched)."""
        node = unwrap_block(node)
        if node.type == "call" and text(node.child_by_field_name("target") or node).replace(" ", "") == "Code.ensure_loaded?":
            args = call_arguments(node)
            module = self.resolve(args[0], env) if len(args) == 1 and args[0].type in ("alias", "dot") else None
            if module is None:
                return None
            if self.lookup(module) is not None:
                return True
            return False if self.build.absent(module) else None
        return env_condition(node, self.build.env)

    # ------------------------------------------------------------------ templates

    def template_file(self, path: str) -> bytes | None:
        """A template's bytes, read relative to the project root; the expansion depends on
        them (recorded as consulted, ``file:PATH``, so that the cache sees an edit)."""
        if self.consulted is not None:
            self.consulted["file:" + path] = DEFINITIONS
        if self.read_file is None:
            return None
        try:
            return self.read_file(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.note(f"{self.path}: template {path} cannot be read ({reason}); its references are not followed")
            return None

    def list_files(self, pattern: str) -> list[str]:
        """The files a glob matches (recorded as consulted, ``glob:PATTERN``: a template
        added or removed changes what the module defines)."""
        if self.consulted is not None:
            self.consulted["glob:" + pattern] = DEFINITIONS
        return self._list_files(pattern) if self._list_files is not None else []

    def walk_template(self, code: bytes, env: Env) -> None:
        """The masked code of a template (templates.py), walked where it is compiled."""
        self.seq(named_children(parse(code).root_node), env)

    def eex_function(self, fname: str, args: list[Node], node: Node, env: Env) -> None:
        """``EEx.function_from_file(:def, :name, "path", [args])`` and ``function_from_string``:
        the template's code is the body of the function it defines."""
        if len(args) < 3:
            return
        name = atom_value(args[1]) or "?"
        params = named_children(args[3]) if len(args) > 3 and args[3].type == "list" else []
        fenv = replace(env, function=(name, len(params)), context=None, line=None)
        if fname == "function_from_file":
            path = string_value(args[2])
            data = self.template_file(path) if path is not None else None
            if data is not None:
                self.walk_template(eex_code(data), replace(fenv, origin=path))
            return
        content = string_content(args[2])
        if content is None:
            self.walk(args[2], env)
            return
        # EEx numbers the string's lines from the line of the call
        self.walk_template(eex_code(content[0]), replace(fenv, line_offset=(env.line or node.start_point[0] + 1) - 1))

    def sf_ignore(self, node: Node, env: Env) -> Env:
        return env


BUILTIN_TYPES = (
    "Atom", "BitString", "Float", "Function", "Integer", "List", "Map", "PID", "Port",
    "Reference", "Tuple",
)


def name_arities(node: Node) -> list[tuple[str, int]]:
    out = []
    for key, value in keyword_pairs(node):
        if value.type == "integer":
            out.append((key, int(text(value))))
    return out


SPECIAL = {
    "defmodule": Expander.sf_defmodule,
    "defprotocol": Expander.sf_defprotocol,
    "defimpl": Expander.sf_defimpl,
    "defdelegate": Expander.sf_defdelegate,
    "alias": Expander.sf_alias,
    "require": Expander.sf_require,
    "import": Expander.sf_import,
    "use": Expander.sf_use,
    "quote": Expander.sf_quote,
    "defstruct": Expander.sf_defstruct,
    "defexception": Expander.sf_defstruct,
    "case": Expander.sf_clauses,
    "receive": Expander.sf_clauses,
    "try": Expander.sf_clauses,
    "cond": Expander.sf_cond,
    "for": Expander.sf_clauses,
    "with": Expander.sf_clauses,
    "defoverridable": Expander.sf_ignore,
    "if": Expander.sf_if,
    "unless": Expander.sf_if,
}
for _kind in DEF_KINDS:
    SPECIAL[_kind] = Expander.sf_def
Expander.special_forms = SPECIAL
