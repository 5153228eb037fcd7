"""Command-line entry points of the vCenter block-storage backend."""
