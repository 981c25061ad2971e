"""The effects a framework model names (see ``frameworks/__init__.py``), applied in the
expander's walk in place of the source of the macros they stand for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from ..syntax import atom_value, call_arguments, keyword_get, text, unwrap_block

if TYPE_CHECKING:  # the expander imports this module
    from ..expand import Env, Expander
    from . import Macro, Using

PLUGS = "plugs"  # the pseudo @before_compile hook that compiles a module's plug pipeline


def apply_using(exp: "Expander", model: "Using", opts: Node | None, env: "Env") -> "Env":
    """``use MODULE, opts``: the imports it makes, and how its plugs are initialised."""
    from ..expand import Import, replace

    exp.note(f"use {model.module}: expanded from the model in frameworks/{model.source}")
    imports = list(env.imports)
    for module, only in model.imports:
        imports = [i for i in imports if i.module != module]
        imports.append(Import(module, only))
    if model.init_mode and env.module is not None:
        exp.plug_init[env.module] = _init_mode(exp, model.init_mode, opts)
        hooks = exp.before_compile.setdefault(env.module, [])
        if (PLUGS, model.module, "") not in hooks:
            hooks.append((PLUGS, model.module, ""))
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


def plug(exp: "Expander", model: "Macro", node: Node, env: "Env") -> None:
    """``plug Mod, opts`` / ``plug :fun, opts``, optionally ``when`` guarded: kept in the
    @plugs attribute (its options' aliases are run-time references there, replayed as
    compile ones when the pipeline compiles) and compiled with the module (``compile_plugs``)."""
    from ..expand import replace

    args = list(call_arguments(node))
    if args and args[-1].type == "binary_operator" and text(args[-1].child_by_field_name("operator")) == "when":
        args[-1] = args[-1].child_by_field_name("left")
    if not args or env.module is None:
        return
    target = unwrap_block(args[0])
    opts = args[1] if len(args) > 1 else None
    if target.type in ("alias", "dot"):
        module = exp.resolve(target, env)
        if module is not None:
            exp.plugs.setdefault(env.module, []).append(module)
    elif opts is None or exp.is_quoted_literal(opts, env):
        return  # a function plug's literal options are expanded without a trace
    if opts is not None:
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
