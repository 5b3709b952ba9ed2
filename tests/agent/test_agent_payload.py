"""The agent's config document, the wire checks and the silent-agent view (pure, no network)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from agent_support import result

from threenines.agents import payload, wire
from threenines.agents.status import agent_rows
from threenines.app.config import Config, load_config
from threenines.availability.status import compose_status, configured_checks, overlay
from threenines.core.scheduler import jobs_for

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    # every ${VAR} the example names gets a dummy value (it grows with each section)
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", EXAMPLE.read_text()):
        monkeypatch.setenv(name, f"json://127.0.0.1/dummy-{name.lower()}")
    monkeypatch.setenv("PORTAL_PROBE_USER", "probe")
    monkeypatch.setenv("PORTAL_PROBE_PASSWORD", "${NOT_AN_ENV_REFERENCE}")
    return load_config(EXAMPLE)


def test_every_example_check_round_trips_with_its_secrets(example) -> None:
    for vantage in ("lib-grays", "hub-tilbury", "depot", "central"):
        doc = payload.build(example, vantage)
        cfg, unusable = payload.load(doc, vantage, Config)
        assert unusable == []
        want = {j.check_id: j.check for j in jobs_for(example, vantage)}
        got = {j.check_id: j.check for j in jobs_for(cfg, vantage)}
        assert got.keys() == want.keys() and got  # the same jobs, from the same scheduler code
        for cid, check in want.items():
            assert payload.dump_check(got[cid]) == payload.dump_check(check), cid
    journey = payload.load(payload.build(example, "lib-grays"), "lib-grays", Config)[0].services[0]
    login = next(c for c in journey.checks if c.name == "login-journey")
    # a secret that looks like a ${reference} is passed as the value, never resolved again
    assert login.variables["password"].get_secret_value() == "${NOT_AN_ENV_REFERENCE}"  # type: ignore[attr-defined]
    assert "NOT_AN_ENV" not in repr(login)


def test_version_changes_with_the_checks(example) -> None:
    a = payload.build(example, "lib-grays")
    assert payload.build(example, "lib-grays")["version"] == a["version"]
    changed = example.model_copy(update={"services": example.services[:1]})
    assert payload.build(changed, "lib-grays")["version"] != a["version"]


def test_a_check_unusable_on_the_agent_is_reported(example, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    doc = payload.build(example, "lib-grays")
    doc["services"][0]["checks"][0]["config"]["ca_file"] = str(tmp_path / "missing.pem")
    cfg, unusable = payload.load(doc, "lib-grays", Config)
    assert [u.check_id for u in unusable] == ["citizen-portal/home"]
    assert "ca_file" in unusable[0].reason and unusable[0].base.interval == 30.0
    assert "citizen-portal/home" not in {j.check_id for j in jobs_for(cfg, "lib-grays")}
    with pytest.raises(ValueError, match="not 'depot'"):
        payload.load(doc, "depot", Config)


def test_wire_check_names_each_refused_result() -> None:
    now = time.time()
    batch = wire.WireBatch.model_validate(
        {"vantage": "v1", "results": [result("web/a"), result("web/x"),
                                      result("web/a", now + 3600)]}, strict=True
    )  # fmt: skip
    rej = wire.check(batch, {"web/a": 60.0}, now)
    assert rej is not None and sorted(rej.results) == [1]
    assert "nothing stored" in rej.message
    # an hour in the future: not refused for good, held back (the agent keeps it)
    later = wire.early(batch, now, 10.0)
    assert later is not None and sorted(later.results) == [2] and "3600s" in later.message
    assert wire.early(batch, now + 3600, 10.0) is None
    ok = wire.WireBatch.model_validate({"vantage": "v1", "results": [result("web/a")]})
    assert wire.check(ok, {"web/a": 60.0}, now) is None
    (rec,) = wire.records(ok, {"web/a": 60.0})
    assert (rec.vantage, rec.max_gap, rec.result.phases["connect"]) == ("v1", 60.0, 0.001)


def test_a_silent_agent_makes_its_checks_unknown_not_down(example) -> None:
    from threenines.availability.status import IntervalRow

    now = 10_000.0
    heard = {"lib-grays": {"last_heard": now - 5, "results": 3}, "depot": {"last_heard": now - 900}}
    agents = agent_rows(["lib-grays", "hub-tilbury", "depot"], heard, example, now)
    assert [(a.vantage, a.silent) for a in agents] == [
        ("lib-grays", False), ("hub-tilbury", True), ("depot", True)
    ]  # fmt: skip
    assert example.agents.silent_after == 180.0
    assert agents[0].threshold == 180.0  # the configured agents.silent_after wins
    rows = [IntervalRow("citizen-portal/home", v, "down", now - 50, None, now - 1, "refused", "r")
            for v in ("lib-grays", "depot")]  # fmt: skip
    checks = overlay(compose_status(configured_checks(example), rows, now), agents, now)
    home = {c.vantage: c for c in checks if (c.service, c.check) == ("citizen-portal", "home")}
    assert home["lib-grays"].state == "down"
    assert home["depot"].state == "unknown" and "agent silent 15m ago" in home["depot"].reason
    assert "last state: down" in home["depot"].reason
    assert home["hub-tilbury"].reason.startswith("agent never heard from")
