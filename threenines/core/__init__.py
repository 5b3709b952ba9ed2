"""The core: knows no area."""
