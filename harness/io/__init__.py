"""I/O edges shared by every shell: the record writer, disk-space checks, process lifelines."""
