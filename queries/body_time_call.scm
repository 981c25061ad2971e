; body-time-call: remote calls `Mod.fun(...)` (the rule keeps those the analysis records as
; compile-time calls made in a module body, matched by line and function name). How each
; call's result is used (bound to a variable, a `for` generator, a condition, a macro
; argument), and which `unquote(...)` fragments carry it into a function, is decided in
; refactor/rules/body_time_call.py.
(call
  target: (dot
    right: (identifier) @call.function)) @call
