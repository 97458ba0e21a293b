"""conftest.py's order of the files for pytest-xdist's `--dist loadfile` (CI's two workers): the
long files of few tests first, then the others, most tests first (xdist's own order)."""
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import conftest  # noqa: E402


def items_of(counts: dict) -> list:
    return [SimpleNamespace(path=HERE / name, name=f"{name}::{i}") for name, n in counts.items() for i in range(n)]


def test_on_a_worker_the_long_files_go_first_then_the_most_tests(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first, second = conftest.LONG_FEW_TEST_FILES[:2]
    items = items_of({"test_a.py": 2, first: 1, "test_b.py": 5, second: 3, "test_c.py": 2})
    conftest.pytest_collection_modifyitems(None, items)
    files = [item.path.name for item in items]
    assert files == [first] + [second] * 3 + ["test_b.py"] * 5 + ["test_a.py"] * 2 + ["test_c.py"] * 2


def test_a_plain_run_keeps_pytests_order(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    items = items_of({"test_a.py": 1, conftest.LONG_FEW_TEST_FILES[0]: 1})
    before = list(items)
    conftest.pytest_collection_modifyitems(None, items)
    assert items == before


@pytest.mark.parametrize("name", conftest.LONG_FEW_TEST_FILES)
def test_every_long_file_named_is_a_test_file(name):
    assert (HERE / name).is_file()


def test_xdists_controller_keeps_the_workers_order():
    config = SimpleNamespace(option=SimpleNamespace(loadscopereorder=True))
    conftest.pytest_configure(config)
    assert config.option.loadscopereorder is False
