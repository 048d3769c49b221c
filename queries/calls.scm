; calls.scm: every call expression, with its callee name and arguments.
;
; Consumed by gupaudit/locate.py, which keeps the calls whose name is in apis.toml
; (acquisitions, releases, use evidence) or names a function of the same file. The names live
; in the catalogue, not here, so this file stays structural.
;
; Captures:
;   @call       the call_expression; a site's line is this node's start line
;   @call.name  the callee identifier
;   @call.args  the argument_list; apis.toml says which index holds the pages
(call_expression
  function: (identifier) @call.name
  arguments: (argument_list) @call.args) @call
