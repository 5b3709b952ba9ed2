"""Remote vantage points: the probe agent and what the server needs to talk to it.

- ``config``: the ``agents`` section of the server's configuration;
- ``payload``: the check configs an agent runs, serialised (secrets included) and read back;
- ``queue``: the agent's on-disk result queue (SQLite), bounded by age, delivered in order;
- ``sender``: the agent's HTTP client (config fetch with ETag, batched result posts);
- ``runner``: the agent process (reuses ``threenines.core.scheduler``);
- ``status``: which agents are silent, and what that means for their checks (pure).
"""
