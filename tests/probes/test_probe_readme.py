"""The README's probe section states the limits the code uses (STYLE.md §5)."""

from __future__ import annotations

from pathlib import Path

from threenines.probes import _connect, _dial, _httpclient, http, tcp

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_stated_limits_are_the_codes() -> None:
    assert f"after {_connect.HAPPY_EYEBALLS_DELAY * 1000:.0f} ms (Happy Eyeballs)" in README
    assert (
        f"default {_httpclient.MAX_BODY >> 20} MiB, at most\n  {http.MAX_BODY_LIMIT >> 20} MiB"
        in README
    )
    assert f"`max_lines` lines (default {tcp.Config.model_fields['max_lines'].default})" in README
    assert f"a line may be at most {tcp.MAX_LINE >> 10} KiB" in README
    assert f"(at most {_dial.DIAGNOSE_LIMIT:g} s)" in README
