"""One module per subcommand, each exposing `main(argv: list[str]) -> int`."""
