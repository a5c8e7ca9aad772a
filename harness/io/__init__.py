"""I/O edges shared by every shell: process lifelines (more move here with the layout)."""
