"""One module per `rnnalg` subcommand, each with `add_arguments(parser)` and `run(args) -> int`."""
