"""The front end: spec text <-> syntax records <-> Python.

* syntax        — the syntax records (`Spec`, `Equation`, `Plus`, …), each with its `Span`;
* lalr          — the LALR parser of `grammar/rnnalg.lark` (lark trees, lark exceptions);
* parser_errors — friendly, located messages for lark's syntax errors (tables);
* parser        — text -> syntax records: `parse`, `load` (every problem a `SpecError`);
* unparse       — syntax records -> text that parses back to the same records;
* api           — the Python spelling of specs (public as `rnnalg.api`).

Each module imports only modules above it in this list (tests/test_imports.py: no cycle).
"""
