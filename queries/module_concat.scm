; module-concat: remote calls `Alias.fun(...)` (the candidates for Module.concat), and alias
; statements (removed when the rewrite leaves them unused).
(call
  target: (dot
    left: (alias) @call.receiver
    right: (identifier) @call.function)) @call

(call
  target: (identifier) @_kw
  (#eq? @_kw "alias")
  (arguments . (alias) @alias.module .)) @alias
