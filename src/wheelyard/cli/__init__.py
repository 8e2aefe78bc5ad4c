"""The ``wheelyard`` command line: one module per command group."""
