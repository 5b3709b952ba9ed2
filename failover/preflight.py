"""Measure the pre-flight facts: replication lag (command or SQL) and mirror capacity.

Contract: ``measure`` never raises; a failing command, a timeout, a bad number or an unreachable
database becomes an error string in ``PreflightFacts`` (the decision then refuses). Blocking:
call it from a worker thread. Secrets (the SQL URL) never appear in the error text.
"""

from __future__ import annotations

import math
import subprocess

import sqlalchemy as sa

from threenines.failover.config import Capacity, Plan, ReplicationLag
from threenines.failover.decide import PreflightFacts


def measure(plan: Plan) -> PreflightFacts:
    lag, lag_error = (None, None)
    if plan.preflight.replication_lag is not None:
        lag, lag_error = replication_lag(plan.preflight.replication_lag)
    cap, cap_error = (None, None)
    if plan.preflight.capacity is not None:
        cap, cap_error = capacity(plan.preflight.capacity)
    return PreflightFacts(lag, lag_error, cap, cap_error)


def replication_lag(cfg: ReplicationLag) -> tuple[float | None, str | None]:
    if cfg.command is not None:
        return run_number(cfg.command, cfg.timeout)
    assert cfg.sql is not None and cfg.db_url is not None
    engine = sa.create_engine(cfg.db_url.get_secret_value(), pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text(cfg.sql).execution_options(timeout=cfg.timeout)).scalar()
    except Exception as exc:
        return None, f"replication-lag query failed: {type(exc).__name__}"
    finally:
        engine.dispose()
    return _number(value, "replication-lag query")


def capacity(cfg: Capacity) -> tuple[float | None, str | None]:
    if cfg.share is not None:
        return cfg.share, None
    assert cfg.command is not None
    value, error = run_number(cfg.command, cfg.timeout)
    if value is not None and not 0 <= value <= 1:
        return None, f"capacity command printed {value}, expected a share between 0 and 1"
    return value, error


def run_number(argv: list[str], timeout: float) -> tuple[float | None, str | None]:
    """Run ``argv`` (no shell) and parse the first line of stdout as a number."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"{argv[0]} took longer than {timeout:g}s"
    except OSError as exc:
        return None, f"{argv[0]}: {exc.strerror}"
    if out.returncode != 0:
        return None, f"{argv[0]} exited {out.returncode}: {out.stderr.strip()[:200]}"
    first = (out.stdout.strip().splitlines() or [""])[0]
    return _number(first, argv[0])


def _number(value: object, what: str) -> tuple[float | None, str | None]:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, f"{what} returned {str(value)[:60]!r}, not a number"
    if math.isnan(number) or number < 0:
        return None, f"{what} returned {number}, not a non-negative number"
    return number, None
