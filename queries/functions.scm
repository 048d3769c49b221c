; functions.scm: function definitions and the names a file defines itself.
;
; Consumed by gupaudit/parse.py (function bounds) and gupaudit/locate.py (local
; definitions: a static function or macro that only shares an API's name is not the API).
; Function bodies that tree-sitter cannot attach to a definition (SYSCALL_DEFINEn, #ifdef'd
; headers) are found by parse.py from the top-level blocks, not here.
;
; Captures:
;   @function        the function_definition
;   @function.body   its compound_statement
;   @macro.name      the name of a #define (object-like or function-like)
(function_definition
  body: (compound_statement) @function.body) @function

(preproc_function_def
  name: (identifier) @macro.name)

(preproc_def
  name: (identifier) @macro.name)
