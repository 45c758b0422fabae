"""One module per subcommand of `python main.py`."""
