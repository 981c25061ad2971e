; import-to-alias: every `import Mod` / `import Mod, opts` statement, and the local calls and
; captures in a file (the candidates for `Mod.f(...)`). Which calls resolve to the import is
; decided in refactor/rules/import_to_alias.py from the analysis references.
(call
  target: (identifier) @_kw
  (#eq? @_kw "import")
  (arguments . (alias) @directive.module)) @directive

(call
  target: (identifier) @local.name) @local
