; Calls that define modules, functions, macros and structs, and the directives that change
; which names are in scope. The indexer reads the matches in document order and places each
; one in its module by walking up from the call.
(call
  target: (identifier) @keyword
  (#any-of? @keyword
    "defmodule" "defprotocol" "defimpl"
    "def" "defp" "defmacro" "defmacrop" "defguard" "defguardp" "defn" "defnp"
    "defdelegate" "defstruct" "defexception"
    "alias" "require" "import")) @definition
