# `rnnalg.api`, the public name of the Python spelling of specs; the code is rnnalg/front/api.py.
from .front.api import *  # noqa: F401,F403
from .front.api import __all__, __doc__  # noqa: F401
