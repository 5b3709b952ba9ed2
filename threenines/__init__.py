"""threenines: keeps a public body's IT honest about its promise of 99.9 % availability."""

import sys

# httpx imports its own command-line client (click, pygments' lexers, rich.progress) whenever
# click is installed, as it always is here (Apprise and uvicorn need it): a tenth of a second
# of every `threenines` command's start-up for a tool threenines never runs. Marked absent,
# httpx falls back to a stub `httpx.main` that says how to install the client.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
