; returns.scm: returned values, for pages handed back to a caller.
;
; Consumed by gupaudit/locate.py.
;
; Captures:
;   @return        the return_statement
;   @return.value  the returned expression
(return_statement
  (_) @return.value) @return
