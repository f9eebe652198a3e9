"""Figures: what the book draws with matplotlib (and, in :mod:`.dark`, its copies for a dark page)."""
