; attribute-to-function: module attributes set (`@name value`) and read (`@name`).
; Which sets run in a module body, and where each read sits (function body, head, guard,
; module body, another attribute), is decided in refactor/rules/attribute_to_function.py.

(unary_operator
  "@"
  operand: (call
    target: (identifier) @set.name
    (arguments . (_) @set.value .))) @set

(unary_operator
  "@"
  operand: (identifier) @read.name) @read
