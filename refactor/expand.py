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

from dataclasses import dataclass
from dataclasses import replace as dataclass_replace

from tree_sitter import Node

from . import clauses, frameworks
from .frameworks import effects
from .facts import FileFacts, ModuleDef, Reference
from .mixconfig import BuildEnv, env_condition
from .index import (
    DEF_KINDS,
    Definition,
    ModuleInfo,
    alias_statement,
    alias_target,
    head_parts,
    impl_module_names,
    is_default,
    module_name,
)
from .semantics import Semantics
from .parse import parse
from .templates import eex_code, heex_code
from .syntax import (
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
MAX_MACRO_DEPTH = 8
CALLER_MODULE = "__CALLER__.module"  # the binding that holds it while a macro's body runs
# sigils that compile a template in place: ~H (HEEx), ~L (LEEx) and ~E (EEx)
TEMPLATE_SIGILS = {"H": heex_code, "L": eex_code, "E": eex_code}

# How much of a module the expander read: what a cached expansion depends on (analysis.py)
MACROS, SUMMARY, DEFINITIONS = 1, 2, 3


@dataclass(frozen=True)
class Import:
    module: str
    only: frozenset | None = None  # (name, arity) pairs, or None for everything
    except_: frozenset = frozenset()
    kind: str = "all"  # all | functions | macros | sigils


def _is_enum_map(node: Node) -> bool:
    target = node.child_by_field_name("target")
    if target is None or target.type != "dot":
        return False
    left, right = target.child_by_field_name("left"), target.child_by_field_name("right")
    return (left is not None and right is not None and text(left) == "Enum" and text(right) == "map"
            and len(call_arguments(node)) == 2)


def _unquotes(args: list[Node], bind_quoted: Node | None) -> bool:
    """Whether a ``quote`` with these options expands its ``unquote(...)`` calls: not with
    ``unquote: false``, nor with ``bind_quoted`` unless ``unquote: true``."""
    option = keyword_get(args, "unquote")
    return text(option) != "false" if option is not None else bind_quoted is None


@dataclass(frozen=True)
class Binding:
    """A macro parameter bound to the caller's argument (walked in the caller's scope)."""

    node: Node | None
    env: "Env"
    atom: str | None = None  # a literal atom argument, e.g. `use MyAppWeb, :controller`
    # a fragment the macro quoted into a variable (`def_x = quote do ... end`): its body is
    # walked with the macro's hygiene wherever it is unquoted
    quoted: tuple = ()
    # a list of such fragments (`Enum.map(opts, fn {k, v} -> quote ... end)`), each with
    # its own bindings
    items: tuple = ()


class Env:
    """The lexical environment at a point of the walk. Never changed in place: ``replace``
    gives a new one (a plain dict copy, as the walk makes tens of thousands of them)."""

    module: str | None = None
    function: tuple | None = None
    context: str | None = None  # None | "match" | "guard"
    aliases: dict = {}  # never mutated: every change builds a new dict
    imports: tuple = ()
    # set while walking code quoted in a macro: the aliases where the quote was written
    hygiene: dict | None = None
    macro_aliases: dict = {}
    bindings: dict | None = None
    line: int | None = None  # line of the macro call for quoted code (mix reports that line)
    via: str = ""
    depth: int = 0
    attribute: str | None = None
    # inside a def written outside any quote: the module body's environment at the def,
    # where the def's `unquote(...)` fragments are evaluated (at compile time)
    fragment_env: "Env | None" = None
    # in a module body's branch that the environment never takes (`if Mix.env() == :dev`
    # analysed for prod): still expanded, but the modules and functions it defines never exist
    dead: bool = False
    # in a template's code: the file mix names in traces (a template file; "" for this file)
    # and what is added to the template's lines (a template in a string of this file)
    origin: str = ""
    line_offset: int = 0

    def __init__(self, **fields):
        self.__dict__.update(fields)


_new = object.__new__


def replace(obj, **changes):
    if type(obj) is Env:
        new = _new(Env)
        new.__dict__ = {**obj.__dict__, **changes}
        return new
    return dataclass_replace(obj, **changes)


class Expander:
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
        ref = _new(Reference)
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
                # a macro of the module itself (defined above the call) is expanded in place
                self.expand_macro(env.module, name, arity, node, env, extra_arity)
                return True
            return False
        modelled = self.models.by_module
        for imp in env.imports:
            model = self.models.macro(imp.module, name, arity, self.build) if imp.module in modelled else None
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
        model = self.models.macro(module, fname, arity, self.build) if module in self.models.by_module else None
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
            if self.sem.typespec_structs:
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
        """1.18+ expands structs named in typespecs (an export reference)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "struct":
                inner = named_children(n)
                target = self.resolve(inner[0], env) if inner else None
                if target is not None:
                    self.emit(env, inner[0], target, "struct", "export")
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

    def expand_macro(self, module: str, name: str, arity: int, node: Node, env: Env, extra_arity: int):
        """Walk what the macro ``module.name/arity`` quotes, in the caller's environment."""
        if env.depth >= MAX_MACRO_DEPTH:
            self.note(f"{module}.{name}/{arity}: macro expansion too deep; not followed")
            return
        info = self.lookup(module, DEFINITIONS)
        defs = [d for d in (self.definitions(info).get(name, []) if info else []) if arity in d.arities]
        defs = [d for d in defs if d.kind in ("defmacro", "defmacrop", "defguard", "defguardp")]
        if not defs:
            self.args_and_block(node, env)
            return
        if defs[0].kind in ("defguard", "defguardp"):
            self.expand_guard(defs[0], node, env)
            return
        args = self.call_args_with_block(node)
        if extra_arity:
            args = [None] + args  # the piped value: walked by the caller
        definition = self.pick_clause(defs, args)
        bindings = self.bind(definition, args, env)
        via = env.via or f"{module}.{name}/{arity}"
        quoted = self.returned_quote(definition, bindings, info, env)
        if quoted is None:
            # DSL macros keep what they are given as data, stored and escaped into the
            # functions they define, not as code run while the caller compiles: the
            # arguments are taken as function code (runtime), a do-block as written
            self.note(
                f"{module}.{name}/{arity} (in {definition.file}): cannot see what the macro "
                "returns; its arguments are taken as run-time code"
            )
            fenv = env if env.function is not None else replace(env, function=(name, arity))
            self.walk_all(call_arguments(node), fenv)
            block = do_block(node)
            if block is not None:
                self.block(block, env)
            return
        if quoted[0] == "binding":
            self.walk_binding(quoted[1], env)
            return
        body, macro_env = self.injection(quoted, node, env, via)
        self.seq(body, macro_env)

    @staticmethod
    def injection(quoted, node: Node, env: Env, via: str) -> tuple[list[Node], Env]:
        """The code a macro quoted and the environment it is expanded in: the caller's place
        (module, function, line of the call), the quote's own aliases and bindings."""
        _kind, body, qbindings, qdef = quoted
        return body, replace(
            env,
            hygiene=qdef.aliases,
            bindings=qbindings,
            line=env.line if env.line is not None else node.start_point[0] + 1,
            via=via,
            depth=env.depth + 1,
        )

    def expand_guard(self, definition: Definition, node: Node, env: Env) -> None:
        # a guard expands to its body with the arguments in place: walk both
        self.walk_all(call_arguments(node), env)
        bindings = self.bind(definition, self.call_args_with_block(node), env)
        genv = replace(
            env,
            hygiene=definition.aliases,
            bindings=bindings,
            line=env.line if env.line is not None else node.start_point[0] + 1,
            depth=env.depth + 1,
        )
        # a defguard's body is its `when` expression (see Indexer._def)
        self.walk_all(definition.body, genv)

    @staticmethod
    def call_args_with_block(node: Node) -> list[Node]:
        args = list(call_arguments(node))
        block = do_block(node)
        if block is not None:
            args.append(block)
        return args

    @staticmethod
    def pick_clause(defs: list[Definition], args) -> Definition:
        """The clause the compiler runs for these quoted arguments (see clauses.py)."""
        return clauses.pick(defs, args)

    def bind(self, definition: Definition, args: list, env: Env) -> dict:
        """The clause's parameters bound to the caller's arguments (code walked in ``env``)."""
        values = [Binding(a, env, atom_value(a) if a is not None else None) for a in args]
        return self.bind_values(definition, values, env)

    def bind_values(self, definition: Definition, values: list[Binding], env: Env) -> dict:
        bindings: dict[str, Binding] = {}
        defaults = len(definition.params) - len(values)  # how many defaults are used
        given = iter(values)
        for param in definition.params:
            if is_default(param):
                name = param.child_by_field_name("left")
                if defaults > 0:
                    defaults -= 1
                    if name is not None and name.type == "identifier":
                        default = param.child_by_field_name("right")
                        bindings[text(name)] = Binding(
                            default, replace(env, hygiene=definition.aliases, bindings={})
                        )
                    continue
                param = name
            value = next(given, None)
            if value is None:
                break
            if param is not None and param.type == "identifier":
                bindings[text(param)] = value
            else:
                self.bind_pattern(param, value.node, value.env, bindings)
        return bindings

    def bind_pattern(self, param: Node | None, arg: Node | None, env: Env, out: dict) -> None:
        if param is None:
            return
        if param.type == "identifier":
            out[text(param)] = Binding(arg, env, atom_value(arg) if arg is not None else None)
            return
        if param.type == "binary_operator" and text(param.child_by_field_name("operator")) == "=":
            self.bind_pattern(param.child_by_field_name("left"), arg, env, out)
            self.bind_pattern(param.child_by_field_name("right"), arg, env, out)
            return
        if param.type == "tuple" and arg is not None and unwrap_block(arg).type == "tuple":
            # use MyAppWeb, {:live_view, opts} against __using__({which, opts})
            params, values = named_children(param), named_children(unwrap_block(arg))
            if len(params) == len(values):
                for sub, value in zip(params, values):
                    self.bind_pattern(sub, value, env, out)
            return
        if param.type in ("list", "keywords") and arg is not None:
            # [do: block] against a do-block or keyword list
            pairs = keyword_pairs(param) if param.type in ("list", "keywords") else []
            for key, sub in pairs:
                value = None
                if arg.type == "do_block" and key == "do":
                    value = arg
                elif arg.type in ("keywords", "list"):
                    for k, v in keyword_pairs(arg):
                        if k == key:
                            value = v
                self.bind_pattern(sub, value, env, out)

    def returned_quote(self, definition: Definition, bindings: dict, info, env: Env, depth=0):
        """(quoted body nodes, bindings, the definition holding the quote) or None."""
        if depth > 4 or not definition.body:
            return None
        body = definition.body
        if len(body) == 1 and body[0].type == "do_block":
            body = [c for c in named_children(body[0])]
        local_bindings = dict(bindings)
        # `unquote(__MODULE__)` in the quote is evaluated where the macro is defined, and
        # `__CALLER__.module` is the module of the call
        local_bindings.setdefault("__MODULE__", Binding(None, env, atom="Elixir." + definition.module))
        if env.module is not None:
            local_bindings.setdefault(CALLER_MODULE, Binding(None, env, atom="Elixir." + env.module))
        for expr in body[:-1]:
            self.bind_assignment(expr, local_bindings, definition)
            self.macro_time_reads(expr, env)
        last = unwrap_block(body[-1])
        if last.type == "identifier" and text(last) in local_bindings:
            return ("binding", local_bindings[text(last)])
        if last.type == "call" and call_name(last) == "quote":
            quoted = self.quote_body(last, local_bindings, env, definition)
            if quoted is None:
                return None
            return ("quote", quoted[0], quoted[1], definition)
        # apply(__MODULE__, which, args)
        if last.type == "call" and call_name(last) == "apply" and info is not None:
            args = call_arguments(last)
            if len(args) == 3 and text(args[0]) == "__MODULE__":
                fname = atom_value(args[1])
                if fname is None and args[1].type == "identifier":
                    b = local_bindings.get(text(args[1]))
                    fname = b.atom if b is not None else None
                if fname is None:
                    return None
                call_args = named_children(args[2]) if args[2].type == "list" else []
                return self.local_quote(info, fname, call_args, local_bindings, env, depth, definition.aliases)
        if last.type == "call" and call_name(last) and info is not None and call_name(last) in self.definitions(info):
            return self.local_quote(
                info, call_name(last), call_arguments(last), local_bindings, env, depth, definition.aliases
            )
        return None

    def macro_time_reads(self, node: Node, env: Env) -> None:
        """``Module.get_attribute(env.module, :name)`` run by a macro reads the caller's attribute."""
        if env.module is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "call":
                target = n.child_by_field_name("target")
                if target is not None and target.type == "dot":
                    left = target.child_by_field_name("left")
                    right = target.child_by_field_name("right")
                    if left is not None and text(left) == "Module" and right is not None and text(right) == "get_attribute":
                        for arg in call_arguments(n):
                            if atom_value(arg) is not None:
                                self.read_attribute(env.module, atom_value(arg), env, None)
                                break
            stack.extend(named_children(n))

    def local_quote(self, info, fname, call_args, bindings, env, depth, hygiene):
        """What the local helper ``fname(call_args)`` returns when it is a quote; the call is
        made at macro time, in code whose aliases are ``hygiene``."""
        defs = [d for d in self.definitions(info).get(fname, [])
                if d.kind in ("def", "defp") and len(call_args) in d.arities]
        if not defs:
            return None
        macro_env = replace(env, hygiene=hygiene, bindings=bindings)
        # an argument is the caller's code a macro parameter holds, or the helper's own value
        values = []
        for arg in call_args:
            value = bindings.get(text(arg)) if arg.type == "identifier" else None
            values.append(value if value is not None else Binding(arg, macro_env, atom_value(arg)))
        target = self.pick_clause(defs, [v.node for v in values])
        return self.returned_quote(target, self.bind_values(target, values, env), info, env, depth + 1)

    def helper_quote(self, call: Node, env: Env) -> Binding | None:
        """``unquote(html_helpers())`` in a macro's quote: the quote the macro module's local
        helper returns, as a fragment walked where the unquote stands."""
        name = call_name(call)
        module = env.bindings.get("__MODULE__") if env.bindings else None
        if name is None or name in SPECIAL or module is None or module.atom is None:
            return None
        info = self.lookup(module.atom.removeprefix("Elixir."), DEFINITIONS)
        if info is None:
            return None
        quoted = self.local_quote(info, name, call_arguments(call), env.bindings, env, 1, env.hygiene or {})
        if quoted is None:
            return None
        if quoted[0] == "binding":
            return quoted[1]
        _kind, body, qbindings, qdef = quoted
        return Binding(None, Env(hygiene=qdef.aliases, bindings=qbindings), quoted=tuple(body))

    def bind_assignment(self, expr: Node, bindings: dict, definition: Definition) -> None:
        """Follow `x = Keyword.get(opts, :k)`-like assignments before a quote."""
        if expr.type != "binary_operator" or text(expr.child_by_field_name("operator")) != "=":
            return
        left = expr.child_by_field_name("left")
        right = expr.child_by_field_name("right")
        if left is None or left.type != "identifier" or right is None:
            return
        value = self.macro_time_value(right, bindings, definition)
        if value is not None:
            bindings[text(left)] = value
        else:
            bindings.pop(text(left), None)

    def macro_time_value(self, node: Node, bindings: dict, definition: Definition | None = None) -> Binding | None:
        node = unwrap_block(node)
        if node.type == "identifier":
            return bindings.get(text(node))
        if node.type in ("call", "dot") and text(node).replace(" ", "") == CALLER_MODULE:
            return bindings.get(CALLER_MODULE)
        if definition is not None and node.type == "call" and call_name(node) == "quote":
            body = do_body(node)
            if len(body) == 1 and body[0].type == "do_block":
                body = named_children(body[0])
            return Binding(None, Env(hygiene=definition.aliases, bindings=dict(bindings)), quoted=tuple(body))
        if definition is not None and node.type == "call" and call_name(node) == "case":
            return self.macro_time_case(node, bindings, definition)
        if definition is not None and node.type == "call" and _is_enum_map(node):
            return self.macro_time_map(node, bindings, definition)
        if definition is not None and node.type == "call" and call_name(node) in ("if", "unless"):
            # `x = if opts[:k] do quote ... else quote ... end`: follow the branch taken
            args = call_arguments(node)
            truth = self.truthy(args[0], bindings) if args else None
            if truth is None:
                return None
            if call_name(node) == "unless":
                truth = not truth
            branch = self.branch(node, truth)
            return self.macro_time_value(branch, bindings, definition) if branch is not None else None
        if node.type == "call":
            target = node.child_by_field_name("target")
            args = call_arguments(node)
            if target is not None and target.type == "dot" and text(target.child_by_field_name("left")) == "Keyword":
                fname = text(target.child_by_field_name("right"))
                if fname in ("get", "fetch!", "get_lazy") and len(args) >= 2:
                    src = self.macro_time_value(args[0], bindings)
                    key = atom_value(args[1])
                    if src is not None and key is not None:
                        found = self.keyword_lookup(src, key)
                        if found is not None:
                            return found
                        if fname == "get" and len(args) == 3:
                            return Binding(args[2], src.env)
            if target is not None and target.type == "dot":
                return self.evaluate_call(target, args, bindings)
            return None
        if node.type in ("atom", "quoted_atom"):
            return Binding(node, Env(), atom_value(node))
        if node.type == "access_call":
            target = node.child_by_field_name("target")
            key = node.child_by_field_name("key")
            if target is not None and key is not None:
                src = self.macro_time_value(target, bindings)
                kval = atom_value(key)
                if src is not None and kval is not None:
                    found = self.keyword_lookup(src, kval)
                    if found is None and (src.node is None or src.node.type in ("keywords", "list")):
                        return Binding(None, Env())  # an option not given: nil
                    return found
        return None

    def macro_time_case(self, node: Node, bindings: dict, definition: Definition) -> Binding | None:
        """``case x do :a -> ...; _ -> ... end`` on an atom known at macro time: the value of
        the first clause whose pattern is that atom, ``_`` or a variable (bound to it)."""
        args = call_arguments(node)
        subject = self.macro_time_value(args[0], bindings) if len(args) == 1 else None
        block = do_block(node)
        if subject is None or subject.atom is None or block is None:
            return None
        for clause in named_children(block):
            if clause.type != "stab_clause":
                return None
            left, right = clause.child_by_field_name("left"), clause.child_by_field_name("right")
            patterns = named_children(left) if left is not None else []
            if len(patterns) != 1 or right is None:
                return None
            pattern = patterns[0]
            local = bindings
            if pattern.type == "identifier":
                if not text(pattern).startswith("_"):
                    local = {**bindings, text(pattern): subject}
            elif atom_value(pattern) != subject.atom:
                if pattern.type not in ("atom", "quoted_atom"):
                    return None  # a pattern exfix does not match at macro time
                continue
            body = named_children(right)
            return self.macro_time_value(body[-1], local, definition) if body else None
        return None

    def macro_time_map(self, node: Node, bindings: dict, definition: Definition) -> Binding | None:
        """``Enum.map(list, fn {k, v} -> quote ... end)`` over a keyword list the caller
        passed: the quoted fragments, each with ``k`` bound to the key and ``v`` to the
        caller's value."""
        src_node, fun = call_arguments(node)
        src = self.macro_time_value(src_node, bindings)
        if src is None or src.node is None or fun.type != "anonymous_function":
            return None
        clauses = [c for c in named_children(fun) if c.type == "stab_clause"]
        if len(clauses) != 1:
            return None
        left, right = clauses[0].child_by_field_name("left"), clauses[0].child_by_field_name("right")
        params = named_children(left) if left is not None else []
        names = [text(c) for c in named_children(params[0])] if len(params) == 1 and params[0].type == "tuple" else []
        body = named_children(right) if right is not None else []
        if len(names) != 2 or not all(n.isidentifier() for n in names) or not body:
            return None
        items = []
        for key, value in keyword_pairs(src.node):
            local = {**bindings,
                     names[0]: Binding(None, Env(), key),
                     names[1]: Binding(value, src.env, atom_value(value))}
            got = self.macro_time_value(body[-1], local, definition)
            if got is None or got.node is not None:
                return None  # an item exfix cannot follow, or not a quote
            items.append(got)
        return Binding(None, Env(), items=tuple(items))

    def evaluate_call(self, dot: Node, args: list[Node], bindings: dict) -> Binding | None:
        """Macro-time call of a project function whose matching clause returns a literal.

        Covers lookups such as ``handler = Registry.lookup(kind)`` in a macro, where the
        clause for the given atom returns a module; anything else is not evaluated.
        """
        module = alias_target(dot.child_by_field_name("left"), {}, None)
        fname = text(dot.child_by_field_name("right"))
        info = self.lookup(module, DEFINITIONS)
        if info is None:
            return None
        values = []
        for arg in args:
            value = self.macro_time_value(arg, bindings)
            if value is None:
                return None
            values.append(value)
        for d in self.definitions(info).get(fname, []):
            if d.kind not in ("def", "defp") or len(args) not in d.arities or len(d.body) != 1:
                continue
            if all(self.param_accepts(p, v) for p, v in zip(d.params, values)):
                result = unwrap_block(d.body[0])
                if result.type in ("alias", "dot"):
                    return Binding(result, Env(hygiene=d.aliases, bindings={}))
                if result.type in ("atom", "quoted_atom"):
                    return Binding(result, Env(), atom_value(result))
                return None
        return None

    def truthy(self, node: Node, bindings: dict) -> bool | None:
        """Whether a macro-time condition holds, when it only asks for a caller's option."""
        node = unwrap_block(node)
        if node.type in ("boolean", "nil"):
            return text(node) == "true"
        source = None
        key = None
        if node.type == "access_call":
            source = self.macro_time_value(node.child_by_field_name("target"), bindings)
            key = atom_value(node.child_by_field_name("key"))
        if source is None or key is None:
            return None
        if source.node is None:
            return False  # no options given
        if source.node.type not in ("keywords", "list"):
            return None
        found = self.keyword_lookup(source, key)
        if found is None:
            return False
        return text(found.node) not in ("false", "nil")

    @staticmethod
    def branch(node: Node, truth: bool) -> Node | None:
        """The do or else expression of an `if` (a single expression, or None)."""
        block = do_block(node)
        if block is not None:
            if truth:
                body = [c for c in named_children(block) if not c.type.endswith("_block")]
            else:
                other = next((c for c in named_children(block) if c.type == "else_block"), None)
                body = named_children(other) if other is not None else []
            return body[-1] if len(body) == 1 else None
        return keyword_get(call_arguments(node)[1:], "do" if truth else "else")

    @staticmethod
    def param_accepts(param: Node, value: Binding) -> bool:
        if param.type == "identifier":
            return True
        literal = atom_value(param)
        return literal is not None and literal == value.atom

    @staticmethod
    def keyword_lookup(binding: Binding, key: str) -> Binding | None:
        if binding.node is None:
            return None
        if binding.node.type in ("keywords", "list"):
            for k, v in keyword_pairs(binding.node):
                if k == key:
                    return Binding(v, binding.env, atom_value(v))
        return None

    def quote_body(self, quote: Node, bindings: dict, env: Env, definition: Definition):
        """(body nodes, bindings) of a quote a macro returns. With ``bind_quoted`` (unless
        ``unquote: true``) or ``unquote: false`` the body's ``unquote(...)`` calls are left
        in the code: the bindings are then None, so that in a def they are fragments run in
        the caller's module body, as the compiler runs them."""
        args = call_arguments(quote)
        bind_quoted = keyword_get(args, "bind_quoted")
        unquoting = _unquotes(args, bind_quoted)
        if not unquoting and keyword_get(args, "unquote") is not None:
            bindings = {}
        body = do_body(quote)
        if not body:
            return None
        new_bindings = dict(bindings)
        prelude: list[tuple[Node, Env]] = []
        if bind_quoted is not None:
            for key, value in keyword_pairs(bind_quoted):
                b = self.macro_time_value(value, bindings)
                if b is None:
                    b = Binding(value, replace(env, hygiene=definition.aliases, bindings=bindings))
                prelude.append((b.node, b.env))
                new_bindings[key] = b
        if len(body) == 1 and body[0].type == "do_block":
            body = named_children(body[0])
        for node, benv in prelude:
            if node is not None:
                self.walk(node, replace(benv, via=env.via, line=None, function=env.function))
        return body, (new_bindings if unquoting else None)

    def unquoted(self, node: Node, env: Env) -> Binding | None:
        args = call_arguments(node)
        if len(args) != 1 or env.bindings is None:
            return None
        value = self.macro_time_value(args[0], env.bindings)
        if value is None and args[0].type == "call":
            value = self.helper_quote(args[0], env)
        return value

    def unquoted_node(self, node: Node, env: Env) -> Node:
        """The caller's code behind ``unquote(param)``, or the node itself."""
        if node.type == "call" and call_name(node) == "unquote" and env.bindings is not None:
            binding = self.unquoted(node, env)
            if binding is not None and binding.node is not None:
                return binding.node
        return node

    def unquote(self, node: Node, env: Env) -> Env:
        binding = self.unquoted(node, env)
        if binding is None:
            args = call_arguments(node)
            if args and args[0].type != "identifier":
                self.note(f"{self.path}: unquote of a macro-time expression is not followed")
            return env
        return self.walk_binding(binding, env)

    def walk_binding(self, binding: Binding, env: Env) -> Env:
        """Walk the caller's code bound to a macro parameter where the macro placed it. A
        quoted fragment's aliases, imports and requires reach the code after it (a helper's
        `import`s spliced into a `use`), as the quote's own would."""
        for item in binding.items:
            env = self.walk_binding(item, env)
        if binding.quoted:
            after = self.seq(list(binding.quoted),
                             replace(env, hygiene=binding.env.hygiene, bindings=binding.env.bindings))
            return replace(env, aliases=after.aliases, imports=after.imports,
                           macro_aliases={**env.macro_aliases, **after.macro_aliases})
        if binding.node is None:
            return env
        benv = replace(
            binding.env,
            module=env.module,
            function=env.function,
            context=env.context,
            attribute=env.attribute,
            via=env.via,
            # imports and aliases made by the quote before it unquotes the caller's code
            # apply to that code (e.g. `import M, only: [field: 2]; unquote(block)`)
            imports=env.imports,
            aliases={**binding.env.aliases, **env.macro_aliases},
        )
        if binding.node.type == "do_block":
            self.block(binding.node, benv)
        else:
            self.walk(binding.node, benv)
        return env

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
            if model is not None:
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
        if self.sem.derive_compile:
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
        block = do_block(node)
        if block is not None:
            then = [c for c in named_children(block) if not c.type.endswith("_block")]
            other = next((c for c in named_children(block) if c.type == "else_block"), None)
            branches = (then, named_children(other) if other is not None else [])
        else:
            branches = tuple([v] if v is not None else [] for v in
                             (keyword_get(args[1:], "do"), keyword_get(args[1:], "else")))
        self.seq(branches[0], env if truth else replace(env, dead=True))
        self.seq(branches[1], replace(env, dead=True) if truth else env)
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
        except (OSError, ValueError):
            self.note(f"{self.path}: template {path} cannot be read; its references are not followed")
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
