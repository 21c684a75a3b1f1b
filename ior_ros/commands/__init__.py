"""Sub-commands of the `ior` command line."""
