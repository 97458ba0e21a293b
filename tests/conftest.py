"""The suite runs the numpy backend unless RNNALG_BACKEND says otherwise (`RNNALG_BACKEND=fast
pytest` runs it all on the numba kernels); tests/test_fast_backend.py checks the fast backend
against the numpy one and the autograd reference.

Hypothesis runs one of two settings profiles, chosen here before any test module is imported (a
test's own `@settings(...)` keeps its max_examples etc. and inherits the rest):
  default  (developers) random examples, the example database in .hypothesis/, full shrinking:
           each run tries new inputs and a failure is shrunk to a small one.
  ci       (loaded when the environment has CI set, as `.ci/run` does) derandomize=True: the
           examples are a function of the test alone, so a CI run is reproducible and cannot
           pass or fail by the luck of the draw; no database; no deadline (a loaded 2-core
           machine must not fail a test for being slow); no shrink or explain phase, so a
           failure reports in seconds with the first failing example (Hypothesis's own cap on
           shrinking is 5 minutes, whatever max_examples says); print_blob=True prints the
           `@reproduce_failure(...)` line that replays it.
HYPOTHESIS_PROFILE=ci (or =default) picks one explicitly.
"""
import os

from hypothesis import Phase, settings

os.environ.setdefault("RNNALG_BACKEND", "numpy")

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))
