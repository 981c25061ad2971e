"""Macros, the part of the expander that reads their bodies (the compiler's elixir_dispatch
and elixir_quote): which clause runs for the quoted arguments (clauses.py), what its
parameters bind, the quote it returns, and the macro-time values exfix can evaluate before
that quote (keyword lookups, ``if`` and ``case`` on the caller's options, ``Enum.map`` over
them, ``__CALLER__.module``, local helpers that return quotes, ``unquote(helper())``). What a
quote injects is walked by the expander (expand.py), whose class this one is part of.
"""

from __future__ import annotations

from tree_sitter import Node

from . import clauses
from .env import DEFINITIONS, Binding, Env, replace
from .index import Definition, alias_target, is_default
from .syntax import (
    atom_value,
    branch_body,
    call_arguments,
    call_name,
    do_block,
    do_body,
    keyword_get,
    keyword_pairs,
    named_children,
    remote_parts,
    text,
    unwrap_block,
)

MAX_MACRO_DEPTH = 8
CALLER_MODULE = "__CALLER__.module"  # the binding that holds it while a macro's body runs


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


class Quoting:
    """Macro expansion for ``Expander`` (which provides the walk: ``walk``, ``seq``,
    ``lookup``, ``emit``, ``note`` and the special forms)."""

    special_forms: dict = {}  # the expander's special forms: never local helpers

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
        return self.value_returned(unwrap_block(body[-1]), local_bindings, info, env, depth, definition)

    def value_returned(self, last: Node, local_bindings: dict, info, env: Env, depth: int, definition: Definition):
        """What the last expression of a macro (or of a helper it calls) returns, as for
        ``returned_quote``."""
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
        # Builder.Distinct.build(query, binding, expr, __CALLER__): a public function of
        # another module of the project, called at macro time, whose result is the expansion
        remote = self.remote_helper(last, definition)
        if remote is not None:
            rinfo, fname = remote
            return self.local_quote(
                rinfo, fname, call_arguments(last), local_bindings, env, depth, definition.aliases
            )
        # case Macro.expand(query, env) do %Query{} -> ...; runtime -> quote do ... end end:
        # the quote of the first clause that returns one (the run-time path; a clause that
        # computes the result at macro time returns data, not code)
        if last.type == "call" and call_name(last) == "case" and do_block(last) is not None:
            for clause in named_children(do_block(last)):
                right = clause.child_by_field_name("right") if clause.type == "stab_clause" else None
                kids = named_children(right) if right is not None else []
                if not kids:
                    continue
                for expr in kids[:-1]:
                    self.bind_assignment(expr, local_bindings, definition)
                quoted = self.value_returned(unwrap_block(kids[-1]), local_bindings, info, env, depth, definition)
                if quoted is not None:
                    return quoted
        return None

    def local_macro_requires(self, info, name: str, node: Node, env: Env) -> None:
        """Running a macro of the module being compiled runs its body, and the local
        functions that body calls, while the module compiles: mix traces a require
        (compile) of each module they call, at the line of each use of the macro (measured
        on 1.14 and 1.18). Code inside a quote is not run, and an unquote fragment of the
        body ran when the macro was defined, so neither is counted."""
        defs = self.definitions(info)
        seen: set[str] = set()
        todo = [name]
        modules: list[str] = []
        while todo:
            fname = todo.pop()
            if fname in seen:
                continue
            seen.add(fname)
            for d in defs.get(fname, []):
                stack = list(d.body or [])
                while stack:
                    n = stack.pop()
                    if n.type == "call":
                        local = call_name(n)
                        if local in ("quote", "unquote", "unquote_splicing"):
                            continue  # quoted code is not run; an unquote fragment ran at definition
                        parts = remote_parts(n)
                        if parts is not None and parts[0].type == "alias":
                            module = alias_target(parts[0], d.aliases, d.module)
                            if module and module != info.name and module not in modules:
                                modules.append(module)
                        elif local is not None and local in defs:
                            todo.append(local)
                    stack.extend(named_children(n))
        for module in modules:
            self.emit(env, node, module, "require", "compile")

    def remote_helper(self, call: Node, definition: Definition):
        """(definitions of the module, function name) for ``Mod.fun(...)`` where ``Mod``
        (an alias as the macro's module sees it) is a module exfix can read; else None."""
        parts = remote_parts(call)
        if parts is None or parts[0].type != "alias" or parts[1].type != "identifier":
            return None
        left, right = parts
        module = alias_target(left, definition.aliases, definition.module)
        if module is None or module == definition.module:
            return None
        rinfo = self.lookup(module, DEFINITIONS)
        if rinfo is None or text(right) not in self.definitions(rinfo):
            return None
        return rinfo, text(right)

    def macro_time_reads(self, node: Node, env: Env) -> None:
        """``Module.get_attribute(env.module, :name)`` run by a macro reads the caller's attribute."""
        if env.module is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            parts = remote_parts(n)
            if parts is not None and text(parts[0]) == "Module" and text(parts[1]) == "get_attribute":
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
        if name is None or name in self.special_forms or module is None or module.atom is None:
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
        body = branch_body(node, truth)
        return body[0] if len(body) == 1 else None

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
            # a variable the macro computed before its quote (not one of its parameters) is
            # as unknown as any other macro-time expression
            if args and (args[0].type != "identifier" or env.bindings is not None):
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

