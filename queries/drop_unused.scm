; drop-unused-import and drop-unused-require: every `import Mod` / `require Mod` statement,
; with or without options (each rule keeps its own keyword). Whether anything of Mod is used
; in the statement's lexical scope is decided in refactor/rules/_unused.py from the analysis
; references (and a textual cross-check).
(call
  target: (identifier) @_kw
  (#any-of? @_kw "import" "require")
  (arguments . (alias) @directive.module)) @directive
