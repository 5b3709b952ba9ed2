"""The composition root: the only list of areas."""
