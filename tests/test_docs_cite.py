"""Docs that cite a test name a file (and function) that exists."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITE = re.compile(r"tests/(test_\w+\.py)(?:\W+\(?`?(test_\w+)`?)?")


def test_cited_test_files_and_functions_exist():
    cited = [(doc.relative_to(ROOT), m.group(1), m.group(2))
             for doc in [*ROOT.glob("rnnalg/**/*.py"), ROOT / "README.md"]
             for m in CITE.finditer(doc.read_text(encoding="utf-8"))]
    assert cited  # the pattern finds the citations there are
    for doc, name, function in cited:
        test = ROOT / "tests" / name
        assert test.is_file(), f"{doc} cites tests/{name}, which does not exist"
        if function:
            assert f"def {function}(" in test.read_text(encoding="utf-8"), f"{doc} cites {function}"
