"""One module per subcommand of `python main.py`, each exposing `main(argv) -> int`."""
