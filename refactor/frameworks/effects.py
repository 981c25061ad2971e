"""The effects a framework model names (see ``frameworks/__init__.py``), applied in the
expander's walk in place of the source of the macros they stand for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

import posixpath

from ..env import Env, Import, replace
from ..mixconfig import underscore
from ..syntax import (atom_value, call_arguments, do_block, keyword_get, named_children, string_value, text,
                      unwrap_block)

if TYPE_CHECKING:  # the expander imports this module
    from ..expand import Expander
    from . import Macro, Using

PLUGS = "plugs"  # the pseudo @before_compile hook that compiles a module's plug pipeline
PIPELINE = "phoenix_pipeline"  # the attribute a router pipeline's plugs are kept in


def apply_using(exp: "Expander", model: "Using", opts: Node | None, node: Node, env: "Env") -> "Env":
    """``use MODULE, opts``: the imports it makes, and how its plugs are initialised."""
    from ..facts import ModuleDef

    exp.note(f"use {model.module}: expanded from the model in frameworks/{model.source}")
    if opts is not None:
        opts = exp.unquoted_node(opts, env)  # `use Phoenix.LiveView, unquote(opts)` in a quote
    imports = list(env.imports)
    for module, only in model.imports:
        imports = [i for i in imports if i.module != module]
        imports.append(Import(module, only))
    for key in model.option_aliases:
        value = keyword_get([opts], key) if opts is not None else None
        if value is not None:
            exp.expand_literals(value, replace_fn(env))
    for key in model.option_code:
        value = keyword_get([opts], key) if opts is not None else None
        if value is not None:
            exp.walk(value, env)
    if env.module is not None and model.defines_modules:
        flag = keyword_get([opts], model.defines_modules_unless) if opts is not None and model.defines_modules_unless else None
        if flag is None or text(flag) != "false":
            line = env.line if env.line is not None else node.start_point[0] + 1
            for suffix in model.defines_modules:
                exp.facts.modules.append(ModuleDef(f"{env.module}.{suffix}", line, node.start_byte, node.end_byte))
    if model.effect is not None:
        USING_EFFECTS[model.effect](exp, model, opts, env)
    if model.init_mode and env.module is not None:
        exp.plug_init[env.module] = _init_mode(exp, model.init_mode, opts)
        _compile_plugs_at_end(exp, env.module, model.module)
    return replace(env, imports=tuple(imports))


def _init_mode(exp: "Expander", how: str, opts: Node | None) -> str:
    if how == "option":
        value = keyword_get([opts], "init_mode") if opts is not None else None
        return "runtime" if value is not None and atom_value(value) == "runtime" else "compile"
    kind, *key = how.split()
    if kind == "config" and len(key) == 2:
        return "runtime" if exp.build.get(*key) == ":runtime" else "compile"
    return "compile"


def apply_macro(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    EFFECTS[model.effect](exp, model, node, env)


def _module_plug(exp: "Expander", model: "Macro", target: Node, env: "Env") -> None:
    """A module plug: compiled with the module's pipeline at its end (``compile_plugs``)."""
    module = exp.resolve(target, env)
    if module is None:
        return
    exp.plugs.setdefault(env.module, []).append(module)
    _compile_plugs_at_end(exp, env.module, model.module)


def _compile_plugs_at_end(exp: "Expander", module: str, framework: str) -> None:
    hooks = exp.before_compile.setdefault(module, [])
    if not any(hook[0] == PLUGS for hook in hooks):
        hooks.append((PLUGS, framework, ""))


def _take_plug(exp: "Expander", model: "Macro", node: Node, env: "Env") -> tuple[bool, Node | None] | None:
    """Record a ``plug`` call's plug (a module plug, or a function plug's import call) and
    give (whether it is a module plug, its options); None outside a module. A ``when`` guard
    is dropped."""
    args = _args(node)
    if not args or env.module is None:
        return None
    target = unwrap_block(args[0])
    module_plug = target.type in ("alias", "dot")
    if module_plug:
        _module_plug(exp, model, target, env)
    elif atom_value(target) is not None:
        _function_plug(exp, atom_value(target), env)
    return module_plug, (args[1] if len(args) > 1 else None)


def plug(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``plug Mod, opts`` / ``plug :fun, opts``, optionally ``when`` guarded: kept in the
    @plugs attribute (its options' aliases are run-time references there, replayed as
    compile ones when the pipeline compiles) and compiled with the module (``compile_plugs``)."""
    found = _take_plug(exp, model, node, env)
    if found is None:
        return
    module_plug, opts = found
    if opts is None or not module_plug and exp.is_quoted_literal(opts, env):
        return  # a function plug's literal options are expanded without a trace
    if model.option("runtime_init_expands_options") and _runtime(exp, env) and exp.is_quoted_literal(opts, env):
        exp.expand_literals(opts, replace_fn(env))
    else:
        exp.literal_value(opts, replace(env, attribute=PLUGS))


def compile_plugs(exp: "Expander", module: str, env: "Env") -> None:
    """What Plug.Builder's @before_compile records at the defmodule line: each module plug
    initialised at compile time (``__info__/1``, compile) and called at run time, or both at
    run time with ``init_mode: :runtime``; then the options in @plugs, read at compile time."""
    runtime = exp.plug_init.get(module) == "runtime"
    for target in exp.plugs.pop(module, []):
        if runtime:
            exp.emit(env, None, target, "call", "runtime", "call/2")
            exp.emit(env, None, target, "call", "runtime", "init/1")
        else:
            exp.emit(env, None, target, "call", "compile", "__info__/1")
            exp.emit(env, None, target, "call", "runtime", "call/2")
    exp.read_attribute(module, PLUGS, env, None)


EFFECTS = {"plug": plug}


def _module_line(exp: "Expander", env: "Env") -> "Env":
    return replace(env, line=exp.module_lines.get(env.module, env.line))


def _imported_function(exp: "Expander", name: str, arity: int, env: "Env") -> str | None:
    """The module an imported function ``name/arity`` comes from, if the imports name one."""
    for imp in env.imports:
        info = exp.lookup(imp.module)
        if info is not None and (name, arity) in info.functions and exp.import_allows(imp, name, arity):
            return imp.module
    return None


def _function_plug(exp: "Expander", name: str, env: "Env") -> None:
    """A function plug runs as ``name(conn, opts)`` in the compiled pipeline: an imported one
    is an import call at the defmodule line."""
    module = _imported_function(exp, name, 2, env)
    if module is not None:
        exp.emit(_module_line(exp, env), None, module, "import", "runtime", f"{name}/2")


def _args(node: Node) -> list[Node]:
    """The call's arguments, a trailing ``when`` guard dropped."""
    args = list(call_arguments(node))
    if args and args[-1].type == "binary_operator" and text(args[-1].child_by_field_name("operator")) == "when":
        args[-1] = args[-1].child_by_field_name("left")
    return args


def _runtime(exp: "Expander", env: "Env") -> bool:
    return exp.plug_init.get(env.module) == "runtime"


def route(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``get "/", PageController, :home`` (and forward, resources): the router keeps the
    controller and initialises it (``init/1``) at run time, whatever the init mode (mix
    labels the edge runtime in dev, test and prod alike), at the route's line."""
    args = call_arguments(node)
    index = 2 if model.name == "match" else 1
    if len(args) > index and unwrap_block(args[index]).type in ("alias", "dot"):
        module = _scoped(exp, args[index], env)
        if module is not None:
            exp.emit(env, args[index], module, "call", "runtime", "init/1")
    block = do_block(node)
    if block is not None:
        exp.block(block, env)


def live_route(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``live "/items", ItemLive.Index, :index`` (LiveView 1.1+): the router asks the live
    view for its options at run time (``__live__/0``), at the route's line."""
    args = call_arguments(node)
    if len(args) > 1 and unwrap_block(args[1]).type in ("alias", "dot"):
        module = _scoped(exp, args[1], env)
        if module is not None:
            exp.emit(env, args[1], module, "call", "runtime", "__live__/0")


def forward(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``forward "/api", MyAppWeb.ApiRouter``: the plug is initialised at compile time, or at
    run time when the router's plugs are."""
    args = call_arguments(node)
    if len(args) > 1 and unwrap_block(args[1]).type in ("alias", "dot"):
        module = _scoped(exp, args[1], env)
        if module is not None:
            exp.emit(env, args[1], module, "call", "runtime" if _runtime(exp, env) else "compile", "init/1")
    for arg in args[2:]:
        exp.expand_literals(arg, replace_fn(env))


def _scoped(exp: "Expander", node: Node, env: "Env") -> str | None:
    module = exp.resolve(node, env)
    prefix = exp.scopes[-1] if exp.scopes else None
    return f"{prefix}.{module}" if module is not None and prefix else module


def scope(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``scope "/", MyAppWeb do ... end`` (or ``alias: MyAppWeb``): the alias is a run-time
    reference, and the prefix of the routes inside."""
    args = call_arguments(node)
    alias = next((a for a in args[1:2] if unwrap_block(a).type in ("alias", "dot")), None)
    if alias is None:
        alias = keyword_get(args, "alias")
        if alias is not None and unwrap_block(alias).type not in ("alias", "dot"):
            alias = None
    prefix = exp.scopes[-1] if exp.scopes else None
    if alias is not None:
        module = _scoped(exp, alias, env)
        exp.alias_ref(env, alias, module)
        prefix = module
    block = do_block(node)
    if block is None:
        return
    exp.scopes.append(prefix)
    try:
        exp.block(block, env)
    finally:
        exp.scopes.pop()


def pipeline(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    args = call_arguments(node)
    name = atom_value(args[0]) if args else None
    if name is not None and env.module is not None:
        exp.pipelines.setdefault(env.module, set()).add(name)
    block = do_block(node)
    if block is not None:
        exp.block(block, env)
    if env.module is not None and not _runtime(exp, env):
        # Plug.Builder.compile reads the pipeline's @phoenix_pipeline at compile time
        exp.read_attribute(env.module, PIPELINE, env, None)


def router_plug(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``plug`` inside a router pipeline: a module plug is compiled with the pipeline (as
    in ``compile_plugs``); a function plug's literal options name modules at run time."""
    found = _take_plug(exp, model, node, env)
    if found is None or found[1] is None:
        return
    opts = found[1]
    if _runtime(exp, env):
        exp.expand_literals(opts, replace_fn(env))  # expanded as if in init/1
    else:
        exp.literal_value(opts, replace(env, attribute=PIPELINE))


def replace_fn(env: "Env") -> "Env":
    """``env`` inside a function: aliases there are run-time references."""
    return replace(env, function=("init", 1))


def pipe_through(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``pipe_through [:browser, :require_user, MyAppWeb.Plugs.Iframe]``: names that are not
    pipelines of the router are imported function plugs; modules are module plugs."""
    args = call_arguments(node)
    if not args or env.module is None:
        return
    value = unwrap_block(args[0])
    own = exp.pipelines.get(env.module, set())
    for item in named_children(value) if value.type == "list" else [value]:
        item = unwrap_block(item)
        name = atom_value(item)
        if name is not None and name not in own:
            _function_plug(exp, name, env)
        elif item.type in ("alias", "dot"):  # a module plug: compiled with the route's pipeline
            _module_plug(exp, model, item, env)


def live_session(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``live_session :name, on_mount: [Mod, {Mod, arg}] do ... end`` (and a live view's
    ``on_mount Mod``): each hook's ``on_mount/4`` is called at run time, traced at the
    defmodule line."""
    args = call_arguments(node)
    hooks = args[0] if model.name == "on_mount" and args else keyword_get(args, "on_mount")
    if hooks is not None:
        hooks = unwrap_block(hooks)
        items = named_children(hooks) if hooks.type == "list" else [hooks]
        for item in items:
            item = unwrap_block(item)
            if item.type == "tuple" and named_children(item):
                item = named_children(item)[0]
            if item.type in ("alias", "dot"):
                module = exp.resolve(item, env)
                if module is not None:
                    exp.emit(_module_line(exp, env), None, module, "call", "runtime", "on_mount/4")
    block = do_block(node)
    if block is not None:
        exp.block(block, env)


def none(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """A macro that keeps its arguments as data: nothing is referenced."""


def embed_templates(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``embed_templates "pages/*"``: each ``NAME.*.heex`` (or ``.eex``) under the module's
    folder becomes ``def NAME(assigns)``, its references reported at the template."""
    from ..templates import eex_code, heex_code

    args = call_arguments(node)
    pattern = string_value(args[0]) if args else None
    if pattern is None or env.module is None:
        return
    folder = posixpath.dirname(exp.path)
    for rel in exp.list_files(posixpath.normpath(posixpath.join(folder, pattern))):
        base = posixpath.basename(rel)
        if not (base.endswith(".heex") or base.endswith(".eex")):
            continue
        data = exp.template_file(rel)
        if data is None:
            continue
        code = heex_code(data) if base.endswith(".heex") else eex_code(data)
        name = base.split(".", 1)[0]
        exp.walk_template(code, replace(env, function=(name, 1), context=None, line=None, origin=rel))


EFFECTS.update(route=route, live_route=live_route, forward=forward, scope=scope, pipeline=pipeline, router_plug=router_plug,
               pipe_through=pipe_through, live_session=live_session, none=none,
               embed_templates=embed_templates)


def function_body(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``setup context do ... end``, ``test "name", ctx do ... end``: the block and the
    arguments are the body of a function the macro defines."""
    fenv = replace(env, function=(model.name, model.arity), context=None)
    exp.args_and_block(node, fenv)


def body_block(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``schema "users" do ... end``, ``describe "x" do ... end``: the block is module body."""
    block = do_block(node)
    if block is not None:
        exp.block(block, env)


def runtime_module(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``belongs_to :user, MyApp.User``, ``socket "/s", MyAppWeb.UserSocket``: the module
    (second argument) is a run-time reference at the call's line; the options are code run
    in the module body (``where: [status: {:in, Membership.active()}]``); a do-block (an
    inline embedded schema) is module body."""
    args = call_arguments(node)
    if len(args) > 1 and unwrap_block(args[1]).type in ("alias", "dot"):
        exp.expand_literals(args[1], replace_fn(env))
    for arg in args[2:]:
        exp.walk(arg, env)
    body_block(exp, model, node, env)


EFFECTS.update(function_body=function_body, body_block=body_block, runtime_module=runtime_module)


def runtime_arguments(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """A macro that keeps its arguments for run time: the modules they name are run-time
    references at the call's line."""
    for arg in call_arguments(node):
        exp.expand_literals(arg, replace_fn(env))


EFFECTS["runtime_arguments"] = runtime_arguments


def phoenix_view(exp: "Expander", model: "Using", opts: Node | None, env: "Env") -> None:
    """``use Phoenix.View, root: ..., namespace: ..., path: ..., pattern: ...``: every
    template under the view's folder is a ``render/2`` clause of the view."""
    from ..templates import eex_code, heex_code

    if env.module is None or opts is None:
        return
    root = _string_option(opts, "root")
    if root is None:
        return
    namespace = keyword_get([opts], "namespace")
    base = exp.resolve(namespace, env) if namespace is not None else None
    base = base or env.module.split(".")[0]
    path = _string_option(opts, "path")
    if path is None:
        name = env.module.removesuffix("View")
        parts = name.split(".")[len(base.split(".")):] if name.startswith(base + ".") else name.split(".")[1:]
        path = "/".join(underscore(p) for p in parts)
    pattern = _string_option(opts, "pattern") or "*"
    folder = posixpath.normpath(posixpath.join(root, path)) if path else posixpath.normpath(root)

    def compile_templates(end: "Env") -> None:
        # compiled by a @before_compile: in the scope of the module's whole body
        for rel in exp.list_files(posixpath.join(folder, pattern)):
            engine = {"heex": heex_code, "eex": eex_code, "leex": eex_code}.get(rel.rsplit(".", 1)[-1])
            data = exp.template_file(rel) if engine is not None else None
            if data is not None:
                exp.walk_template(engine(data), replace(end, function=("render", 2), context=None, line=None,
                                                        origin=rel))

    exp.at_end.setdefault(env.module, []).append(compile_templates)


def _string_option(opts: Node, key: str) -> str | None:
    value = keyword_get([opts], key)
    return string_value(value) if value is not None else None


def colocated_template(exp: "Expander", model: "Using", opts: Node | None, env: "Env") -> None:
    """A live view or live component that defines no ``render/1`` renders the ``.html.heex``
    template beside its file (``index.ex``, ``index.html.heex``), compiled at the end of
    the module."""
    from ..templates import heex_code

    module = env.module
    if module is None or not exp.path.endswith(".ex"):
        return
    template = exp.path[:-3] + ".html.heex"

    def compile_template(end: "Env") -> None:
        info = exp.lookup(module)
        if info is not None and ("render", 1) in info.defined:
            return
        if template not in exp.list_files(template):
            return
        data = exp.template_file(template)
        if data is not None:
            exp.walk_template(heex_code(data), replace(end, function=("render", 1), context=None, line=None,
                                                       origin=template))

    exp.at_end.setdefault(module, []).append(compile_template)


USING_EFFECTS = {"phoenix_view": phoenix_view, "colocated_template": colocated_template}


def runtime_code(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """A macro whose arguments are code it escapes or keeps for run time: walked as the body
    of a function (in a module body, as one the macro defines)."""
    fenv = env if env.function is not None else replace(env, function=(model.name, model.arity))
    exp.walk_all(call_arguments(node), fenv)
    block = do_block(node)
    if block is not None:
        exp.block(block, env)


EFFECTS["runtime_code"] = runtime_code


def attr_struct(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``attr :item, Item``: as ``runtime_module``; with ``required: true`` the struct is a
    pattern in the component's head, so it is expanded (an export reference)."""
    runtime_module(exp, model, node, env)
    args = call_arguments(node)
    required = keyword_get(args[2:], "required")
    if len(args) > 1 and unwrap_block(args[1]).type in ("alias", "dot") and required is not None \
            and text(required) == "true":
        module = exp.resolve(args[1], env)
        if module is not None:
            exp.emit(env, args[1], module, "struct", "export")


EFFECTS["attr_struct"] = attr_struct
