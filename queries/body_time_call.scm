; body-time-call: remote calls `Mod.fun(...)` (the rule keeps those the analysis records as
; compile-time calls made in a module body, matched by line and function name) and the
; `unquote(...)` fragments that carry a module-body variable into a function. How each call's
; result is used (bound to a variable, a `for` generator, a condition, a macro argument) is
; decided in refactor/rules/body_time_call.py.
(call
  target: (dot
    right: (identifier) @call.function)) @call

(call
  target: (identifier) @_kw
  (#eq? @_kw "unquote")
  (arguments . (_) @unquote.value .)) @unquote
