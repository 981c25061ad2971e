; drop-unused-import: every `import Mod` / `import Mod, opts` statement.
; Whether anything of Mod is used in the statement's lexical scope is decided in
; refactor/rules/_unused.py from the analysis references (and a textual cross-check).
(call
  target: (identifier) @_kw
  (#eq? @_kw "import")
  (arguments . (alias) @directive.module)) @directive
