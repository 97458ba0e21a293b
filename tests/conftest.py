"""The suite runs the numpy backend unless RNNALG_BACKEND says otherwise (`RNNALG_BACKEND=fast
pytest` runs it all on the numba kernels); tests/test_fast_backend.py checks the fast backend
against the numpy one and the autograd reference."""
import os

os.environ.setdefault("RNNALG_BACKEND", "numpy")
