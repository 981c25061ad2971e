; plug-compile-dependency: `plug Mod` / `plug Mod, opts` with a module (not a function plug).
(call
  target: (identifier) @_kw
  (#eq? @_kw "plug")
  (arguments . (alias) @plug.module)) @plug
