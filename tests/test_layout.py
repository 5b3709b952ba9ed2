"""The house: a core that knows no area, each area a room of its own, one composition root.

import-linter (``make test`` runs ``lint-imports``) checks the import directions; these tests
check what it cannot: that its contracts are the areas' own declarations, that nothing imports
the design card's folders under a generic top-level name, that each table lives in its area
with its migration, that revision ids did not change (the wheel: tests/test_install.py).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from threenines.app import contracts
from threenines.app.areas import AREAS, COMPOSITION

ROOT = Path(__file__).resolve().parents[1]
GENERIC = {"probes", "collectors", "failover", "alerts", "lab"}
# The revision ids every existing database carries: they must never change.
REVISIONS = {
    "0001", "alerts_0001", "availability_0001", "failover_0001", "reports_0001",
    "security_0001", "snmp_0001", "tokens_0001",
}  # fmt: skip
# Revisions added since, each on its area's branch (the newest is that branch's head).
ADDED = {
    "availability_0002": "availability_0001", "quarantine_0001": "0001", "ingest_0001": "0001",
    "tokens_0002": "tokens_0001", "ha_0001": "0001", "audit_0001": "0001",
    "availability_0003": "availability_0002", "reports_0002": "reports_0001",
    "console_0001": "0001", "audit_0002": "audit_0001", "failover_0002": "failover_0001",
    "console_0002": "console_0001", "alerts_0002": "alerts_0001",
}  # fmt: skip
HEADS = (REVISIONS | set(ADDED)) - {"0001"} - set(ADDED.values())


def sources() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return [ROOT / f for f in out if (ROOT / f).is_file() and not (ROOT / f).is_symlink()]


def area_of(path: Path) -> str:
    rel = path.resolve().relative_to(ROOT).parts
    head = rel[1] if rel[0] == "threenines" else rel[0]
    return head


def test_the_contracts_are_rendered_from_the_areas_declarations() -> None:
    assert contracts.FILE.read_text() == contracts.render(), (
        "regenerate with `python -m threenines.app.contracts`"
    )


def test_every_package_is_the_core_the_root_or_a_declared_area() -> None:
    packages = {p.name for p in (ROOT / "threenines").iterdir() if (p / "__init__.py").exists()}
    assert packages == {a.name for a in AREAS} | {"core", "app", "demo"}
    for area in AREAS:
        assert area.package == f"threenines.{area.name}"
        assert set(area.requires) <= {a.name for a in AREAS} - {area.name}


def test_nothing_imports_a_generic_top_level_name() -> None:
    bad = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                    if n.split(".")[0] in GENERIC]  # fmt: skip
    assert bad == []


def test_each_table_lives_in_its_area_with_its_migration() -> None:
    defined: dict[str, str] = {}
    created: dict[str, str] = {}
    for path in sources():
        if "tests" in path.relative_to(ROOT).parts or "bench" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text()
        area = area_of(path)
        for name in re.findall(r"\bTable\(\s*\"([a-z_]+)\",\s*metadata", text):
            defined[name] = area
        if "migrations" in path.parts:
            for name in re.findall(r"create_table\(\s*\"([a-z_]+)\"", text):
                created[name] = area
            for name in re.findall(r"^    _\w+\(\"([a-z_]+)\"\)$", text, re.M):  # by a helper
                created[name] = area
    assert defined and set(defined) == set(created), set(defined) ^ set(created)
    assert {t: defined[t] for t in defined} == {t: created[t] for t in defined}
    core = {t for t, a in defined.items() if a == "core"}
    assert core == {
        "results",
        "state_intervals",
        "events",
        "quarantine",
        "ha_nodes",
        "ha_lease",
        "audit_log",
        "audit_head",
    }


def test_revision_ids_are_unchanged_and_each_area_has_its_branch() -> None:
    from alembic.script import ScriptDirectory

    from threenines.core.db import alembic_config, make_engine

    engine = make_engine("sqlite://")
    script = ScriptDirectory.from_config(alembic_config(engine, COMPOSITION.migration_locations))
    assert {r.revision for r in script.walk_revisions()} == REVISIONS | set(ADDED)
    assert set(script.get_heads()) == HEADS
    assert {r: script.get_revision(r).down_revision for r in ADDED} == ADDED
    for location in COMPOSITION.migration_locations[1:]:
        assert area_of(location) in {a.name for a in AREAS} | {"collectors", "agents"}


def test_an_existing_database_upgrades_with_no_change(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from threenines.app.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    migrate(engine)
    with engine.connect() as conn:
        versions = {r[0] for r in conn.execute(sa.text("select version_num from alembic_version"))}
        before = sa.inspect(conn).get_table_names()
    assert versions == HEADS
    migrate(engine)  # as the next start-up does
    with engine.connect() as conn:
        again = {r[0] for r in conn.execute(sa.text("select version_num from alembic_version"))}
        assert again == versions and sa.inspect(conn).get_table_names() == before
    engine.dispose()
