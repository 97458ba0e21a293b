"""Where a test run's time goes, in CPU seconds (a loaded machine's wall time lies).

As a pytest plugin (`PYTHONPATH=tools CPU_TIMES_OUT=times.jsonl pytest -p cpu_times …`) it appends
one JSON line per test: its id, the CPU seconds of the pytest process (time.process_time) and of
the child processes that ended during it (RUSAGE_CHILDREN: user + sys), wall seconds, and each
numba compile it ran (numba's "numba:compile" event, outermost only: function, argument types,
CPU seconds; a kernel loaded from numba's cache is not a compile).

As a script (`python tools/cpu_times.py times.jsonl …`) it prints the tables: per file, the
slowest tests, the functions compiled most often.  For a cold run give the suite empty caches:
a fresh XDG_CACHE_HOME (tests/conftest.py keeps its kernels there), as CI has.
"""
from __future__ import annotations

import collections
import json
import os
import resource
import sys
import time

OUT_ENV = "CPU_TIMES_OUT"
_compiles: list = []
_depth = [0]
_listening = [False]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _listen():
    """Record numba's outermost compiles (numba is imported once the suite's conftest set its options)."""
    if _listening[0] or "numba" not in sys.modules:
        return
    import numba.core.event as ev

    class Compiles(ev.Listener):
        def on_start(self, event):
            _depth[0] += 1
            if _depth[0] == 1:
                function = event.data["dispatcher"].py_func
                self.started = (f"{function.__module__}.{function.__qualname__}",
                                str(tuple(event.data["args"])), time.process_time())

        def on_end(self, event):
            if _depth[0] == 1:
                name, args, start = self.started
                _compiles.append([name, args, time.process_time() - start])
            _depth[0] -= 1

    ev.register("numba:compile", Compiles())
    _listening[0] = True


def pytest_collection_finish(session):
    _listen()


def _hookwrapper(function):
    import pytest
    return pytest.hookimpl(hookwrapper=True)(function)


@_hookwrapper
def pytest_runtest_protocol(item, nextitem):
    _listen()
    _compiles.clear()
    cpu, children, wall = time.process_time(), _children_cpu(), time.perf_counter()
    yield
    record = {"id": item.nodeid, "cpu": time.process_time() - cpu, "children": _children_cpu() - children,
              "wall": time.perf_counter() - wall, "compiles": list(_compiles)}
    if os.environ.get(OUT_ENV):
        with open(os.environ[OUT_ENV], "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def tables(records: list, top: int = 25) -> str:
    """Markdown: per file (CPU s of the process and its children, wall s, compiles and their CPU s),
    the `top` tests by CPU s, the functions compiled most often."""
    files = collections.defaultdict(lambda: collections.Counter())
    for r in records:
        f = files[r["id"].split("::")[0]]
        f.update(tests=1, cpu=r["cpu"], children=r["children"], wall=r["wall"], compiles=len(r["compiles"]),
                 compile_cpu=sum(c[2] for c in r["compiles"]))
    total = sum(files.values(), collections.Counter())
    lines = [f"{int(total['tests'])} tests: {total['cpu']:.1f} CPU s, children {total['children']:.1f} s, "
             f"wall {total['wall']:.1f} s, {int(total['compiles'])} compiles ({total['compile_cpu']:.1f} CPU s)", "",
             "| file | tests | CPU s | children CPU s | wall s | compiles | compile CPU s |",
             "|---|---|---|---|---|---|---|"]
    for name, f in sorted(files.items(), key=lambda kv: -(kv[1]["cpu"] + kv[1]["children"])):
        lines.append(f"| {name} | {f['tests']} | {f['cpu']:.1f} | {f['children']:.1f} | {f['wall']:.1f} "
                     f"| {f['compiles']} | {f['compile_cpu']:.1f} |")
    lines += ["", "| test | CPU s | children CPU s | compiles |", "|---|---|---|---|"]
    for r in sorted(records, key=lambda r: -(r["cpu"] + r["children"]))[:top]:
        lines.append(f"| {r['id']} | {r['cpu']:.1f} | {r['children']:.1f} | {len(r['compiles'])} |")
    compiled = collections.Counter(c[0] for r in records for c in r["compiles"])
    lines += ["", "compiled most often: " + ", ".join(f"{name} {n}" for name, n in compiled.most_common(10))]
    return "\n".join(lines)


def main(argv=None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python tools/cpu_times.py TIMES.jsonl [...]  (written by pytest -p cpu_times)",
              file=sys.stderr)
        return 2
    records = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as exc:
            print(f"error: {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError as exc:
                print(f"error: {path}:{number}: not a line pytest -p cpu_times writes ({exc.msg})", file=sys.stderr)
                return 2
            if record is not None:
                records.append(record)
    print(tables(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
