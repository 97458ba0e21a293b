"""The front end: spec text <-> syntax records <-> Python.

* syntax        — the syntax records (`Spec`, `Equation`, `Plus`, …), each with its `Span`;
* parser_errors — friendly, located messages for lark's syntax errors (tables);
* parser        — text -> syntax records: `parse`, `load` (every problem a `SpecError`);
* unparse       — syntax records -> text that parses back to the same records;
* api           — the Python spelling of specs (public as `rnnalg.api`).
"""
