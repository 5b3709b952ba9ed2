"""Every command that lists or shows has ``--json``; who acted is ``--by`` everywhere.

Run in-process against the starter config with its SQLite store in a temporary directory:
each listing, with something in it made by the real commands, parses as JSON and carries what
the table shows. The old spellings (``--who``, ``--author``) still work, hidden, and say they
are deprecated.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threenines.app.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)  # the starter's store is data/threenines.db, relative
    cfg = tmp_path / "threenines.yaml"
    cfg.write_text((ROOT / "config" / "starter.yaml").read_text().replace(
        "project_dir: playbooks", f"project_dir: {ROOT / 'playbooks'}"))  # fmt: skip
    monkeypatch.setenv("THREENINES_CONFIG", str(cfg))
    runner = CliRunner()

    def run(*argv: str, code: int = 0) -> Any:
        res = runner.invoke(app, list(argv))
        assert res.exit_code == code, (argv, res.output, res.exception)
        return res

    return run


def _json(res: Any) -> Any:
    return json.loads(res.stdout)


def test_listings_as_json(cli: Any) -> None:
    cli("token", "create", "--role", "viewer", "--name", "grafana")
    tokens = _json(cli("token", "list", "--json"))
    assert [t["name"] for t in tokens] == ["grafana"] and tokens[0]["role"] == "viewer"
    assert "hash" not in tokens[0]

    assert _json(cli("alerts", "list", "--json")) == []
    cli("alerts", "silence", "-m", "site=dc-*", "--for", "1h", "--comment", "works", "--by", "ann")
    (silence,) = _json(cli("alerts", "silences", "--json"))
    assert silence["author"] == "ann" and silence["matchers"] == {"site": "dc-*"}

    (plan,) = _json(cli("failover", "status", "--json"))
    assert plan["plan"] == "dc-main-to-mirror" and plan["mode"] == "approve"
    assert plan["decision"]["action"] and plan["last_run"] is None
    assert _json(cli("failover", "history", "--json")) == []
    shown = _json(cli("failover", "plan", "dc-main-to-mirror", "--json"))
    assert shown["plan"] == plan["plan"] and shown["decision"] == plan["decision"]
    assert shown["primary"] == "dc-main" and shown["playbook"].endswith(".yml")

    assert _json(cli("report", "deliveries", "--json")) == []
    assert _json(cli("drill", "list", "--json")) == []
    assert _json(cli("lab", "fault", "list", "--json", "--state-dir", "no-lab")) == []

    start = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() + 86400))
    cli("maintenance", "add", "patch", "--start", start, "--duration", "1h", "--by", "bob",
        "--reason", "patching")  # fmt: skip
    (window,) = _json(cli("maintenance", "list", "--json"))
    assert window["created_by"] == "bob" and window["end"] - window["start"] == 3600
    assert window["name"] == "patch" and window["reason"] == "patching"


def test_who_acted_is_by_and_the_old_spellings_still_work(cli: Any) -> None:
    cli("alerts", "silence", "-m", "site=a", "--comment", "c", "--author", "old-style")
    res = cli("alerts", "silence", "-m", "site=b", "--comment", "c", "--by", "new-style")
    authors = {s["author"] for s in _json(cli("alerts", "silences", "--json"))}
    assert authors == {"old-style", "new-style"}
    assert "deprecated" not in res.stderr
    old = cli("alerts", "ack", "no-such-incident", "--who", "x", "--wait", "0")
    assert "warning: --who is deprecated: use --by" in old.stderr
    for path in (("alerts", "ack"), ("alerts", "resolve"), ("alerts", "silence"),
                 ("alerts", "unsilence"), ("failover", "run"), ("drill", "run"),
                 ("security", "accept"), ("maintenance", "add"), ("failover", "cancel"),
                 ("failover", "approve"), ("alerts", "test"), ("drill", "sign")):  # fmt: skip
        shown = cli(*path, "--help").stdout
        assert "--by" in shown, path
        assert "--who" not in shown and "--author" not in shown, path
