"""`python -m rnnalg …` is the `rnnalg` command."""
import sys

from .cli import main

sys.exit(main())
