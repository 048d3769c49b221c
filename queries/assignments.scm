; assignments.scm: value flow between lvalues, for aliases of a page array.
;
; Consumed by gupaudit/locate.py; gupaudit/flow.py decides which right-hand sides alias.
;
; Captures:
;   @assign      the assignment or initialised declarator
;   @assign.lhs  what is written (a name, a field, an element; a declarator with its stars)
;   @assign.rhs  the value
(assignment_expression
  left: (_) @assign.lhs
  right: (_) @assign.rhs) @assign

(init_declarator
  declarator: (_) @assign.lhs
  value: (_) @assign.rhs) @assign
