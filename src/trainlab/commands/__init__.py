"""The CLI: one module per subcommand (`main(argv) -> int`) and the shared options."""
