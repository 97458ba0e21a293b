"""How `rnnalg check` scales with pathological specs (issue 10, item 11).

    python bench/frontend_scaling.py                 # every case at N = 2,000 … 16,000
    python bench/frontend_scaling.py --sizes 16000   # one size
    python bench/frontend_scaling.py --cases plus_unbound,chain --max-mem-gb 4

Each case is generated text, checked by `rnnalg check` in a fresh child process (so the
peak resident memory is that of one check); the table gives the child's CPU seconds,
its peak RSS and the bytes it printed to stderr.  `--max-mem-gb` caps the child's address
space (a case that exceeds it shows as failed rather than taking the machine down).

Cases (N is the number of operands or equations):
    plus_unbound   h' = tanh(x ⊕ a0 ⊕ … ⊕ aN)   N unbound names: N errors on one long line
    plus_dup       h' = tanh(x ⊕ h ⊕ x ⊕ … ⊕ x)  N duplicate operands on one long line
    plus_ok        N inputs, h' = tanh(x0 ⊕ … ⊕ xN)  a valid spec with one N-operand ⊕
    chain          z1 = tanh(x ⊕ h), z2 = tanh(z1 ⊕ h), …, N equations, valid
    chain_unbound  N equations each reading an unbound name: N errors on N lines
    cycle          z1 reads zN, z2 reads z1, …: one cycle through N equations
    syntax         N lines `h' tanh(x)`, each a syntax error

Run against another checkout (the code before a change) with PYTHONPATH=that/checkout.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = "input x : binary[8]\noutput y : binary[8]\nstate h : 8\n"


def plus_unbound(n: int) -> str:
    return HEAD + "h' = tanh(x ⊕ " + " ⊕ ".join(f"a{i}" for i in range(n)) + ")\ny = ▷ h'\n"


def plus_dup(n: int) -> str:
    return HEAD + "h' = tanh(x ⊕ h ⊕ " + " ⊕ ".join("x" for _ in range(n)) + ")\ny = ▷ h'\n"


def plus_ok(n: int) -> str:
    decls = "".join(f"input x{i} : 2\n" for i in range(n))
    return (decls + "output y : binary[8]\nstate h : 8\n"
            + "h' = tanh(h ⊕ " + " ⊕ ".join(f"x{i}" for i in range(n)) + ")\ny = ▷ h'\n")


def chain(n: int) -> str:
    eqs = ["z1 : 8 = tanh(x ⊕ h)"] + [f"z{i} : 8 = tanh(z{i - 1} ⊕ h)" for i in range(2, n + 1)]
    return HEAD + "\n".join(eqs) + f"\nh' = tanh(z{n} ⊕ h)\ny = ▷ h'\n"


def chain_unbound(n: int) -> str:
    eqs = [f"z{i} : 8 = tanh(q{i} ⊕ h)" for i in range(1, n + 1)]
    return HEAD + "\n".join(eqs) + "\nh' = tanh(x ⊕ h)\ny = ▷ h'\n"


def cycle(n: int) -> str:
    eqs = [f"z1 : 8 = tanh(z{n} ⊕ x)"] + [f"z{i} : 8 = tanh(z{i - 1} ⊕ h)" for i in range(2, n + 1)]
    return HEAD + "\n".join(eqs) + "\nh' = tanh(z1 ⊕ h)\ny = ▷ h'\n"


def syntax(n: int) -> str:
    return HEAD + "h' tanh(x)\n" * n + "y = ▷ h'\n"


CASES = {f.__name__: f for f in (plus_unbound, plus_dup, plus_ok, chain, chain_unbound, cycle, syntax)}

CHILD = """\
import resource, sys, time
from rnnalg.cli import main
t = time.perf_counter()
code = main(["check", sys.argv[1]])
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_SELF)
print(f"{code} {wall:.3f} {r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss}", file=sys.__stdout__)
"""


def run_one(text: str, max_mem_gb: float):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.rnn"
        path.write_text(text, encoding="utf-8")

        def limit():
            cap = int(max_mem_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

        # stderr goes to a file, not into this process: a child's peak RSS counts from its fork
        err_path = Path(tmp) / "stderr.txt"
        with open(err_path, "wb") as err:
            proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                  stderr=err, text=True, preexec_fn=limit,
                                  env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        err_bytes = err_path.stat().st_size
    fields = proc.stdout.split()
    if proc.returncode != 0 or len(fields) != 4:
        return None, err_bytes
    code, wall, cpu, rss_kb = fields
    return (int(code), float(wall), float(cpu), int(rss_kb) / 2**10), err_bytes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--sizes", default="2000,4000,8000,16000")
    p.add_argument("--max-mem-gb", type=float, default=4.0)
    args = p.parse_args(argv)
    print(f"{'case':<14} {'N':>6} {'exit':>4} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'stderr B':>12}")
    for name in args.cases.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            start = time.perf_counter()
            result, err_chars = run_one(CASES[name](n), args.max_mem_gb)
            if result is None:
                print(f"{name:<14} {n:>6}  failed (memory cap or crash) after "
                      f"{time.perf_counter() - start:.1f} s")
                continue
            code, wall, cpu, mb = result
            print(f"{name:<14} {n:>6} {code:>4} {wall:>7.2f} {cpu:>7.2f} {mb:>8.0f} {err_chars:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
