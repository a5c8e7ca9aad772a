"""I/O edges shared by every shell: the health probe and the ready/stats lines on stdout."""
