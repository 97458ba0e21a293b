"""The example specs; installed as `rnnalg.examples` (package data), so that tools reading the
paper's variants (rnnalg/sweep/variants.py) find them outside a source checkout too."""
