; initializers.scm: designated initialisers, ``{ .field = value }``.
;
; Consumed by gupaudit/locate.py: a value that names a function of the file makes that
; function a handler of the field (``.release = foo_release``: ``ops->release(x)`` may
; call it); any value is a store into the field (for fields that hold only a site's pages).
;
; Captures:
;   @init        the initializer_pair
;   @init.field  the field designated (the last one of ``.a.b = v``)
;   @init.value  the value
(initializer_pair
  designator: (field_designator (field_identifier) @init.field)
  value: (_) @init.value) @init

; A function named in a plain initializer list (``{ foo_read, foo_write }``, ``{ &foo }``):
; its address is kept, so it has callers nobody can list.
;   @fnref       the name
(initializer_list (identifier) @fnref)
(initializer_list (pointer_expression argument: (identifier) @fnref))
