"""The demos: ``python -m threenines.demo`` (loopback, or the lab story as root)."""
