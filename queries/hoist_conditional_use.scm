; hoist-conditional-use: the three kinds of call the rule reasons about.
; Which of them sit at body level of a module (and so are expanded while the module body
; compiles) is decided in refactor/rules/hoist_conditional_use.py by walking from @module.

; defmodule NAME do ... end
(call
  target: (identifier) @_defmodule
  (#eq? @_defmodule "defmodule")
  (do_block) @module.body) @module

; if / unless / case / cond, with a do-block or with do:/else: keywords
(call
  target: (identifier) @_conditional
  (#any-of? @_conditional "if" "unless" "case" "cond")) @conditional

; use / import / require: expanded (and their module loaded) wherever they appear in the body
(call
  target: (identifier) @_directive
  (#any-of? @_directive "use" "import" "require")
  (arguments . (_) @directive.module)) @directive
