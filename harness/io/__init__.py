"""I/O edges shared by every shell: record writer, disk space, lifelines, ready lines, health probe."""
