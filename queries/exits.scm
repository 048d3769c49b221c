; exits.scm: the ways out of a function, and the labels gotos jump to.
;
; Consumed by gupaudit/locate.py; gupaudit/flow.py looks for an exit after a partial pin
; that releases nothing (GUP106).
;
; Captures:
;   @exit.return  a return statement
;   @exit.goto    a goto statement
;   @exit.label   the label a goto names
;   @label        a labelled statement
;   @label.name   its label
(return_statement) @exit.return

(goto_statement
  label: (statement_identifier) @exit.label) @exit.goto

(labeled_statement
  label: (statement_identifier) @label.name) @label
