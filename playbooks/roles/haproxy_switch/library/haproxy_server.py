#!/usr/bin/python
"""Set one HAProxy server's administrative state through the runtime API (UNIX socket).

Reads the state first (``show servers state``), so it only sends a command when the server is
not already in the wanted state: repeated runs report ``changed=false``. Check mode reports what
would change and sends nothing.
"""

from __future__ import annotations

import socket

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: haproxy_server
short_description: Set an HAProxy server to ready, maint or drain via the runtime API
options:
  socket: {description: Path of the HAProxy admin-level stats socket., required: true, type: path}
  backend: {description: Backend name., required: true, type: str}
  server: {description: Server name in the backend., required: true, type: str}
  state: {description: Wanted administrative state., choices: [ready, maint, drain], type: str,
          default: ready}
  shutdown_sessions: {description: After setting maint or drain, close the server's sessions.,
                      type: bool, default: false}
  timeout: {description: Socket timeout in seconds., type: float, default: 5}
"""

RETURN = r"""
before: {description: Admin state before (ready, maint or drain)., type: str, returned: always}
after: {description: Admin state after., type: str, returned: always}
"""

# srv_admin_state bits: forced / inherited maintenance, forced drain. A server disabled in the
# configuration also carries CMAINT (0x04), which stays set after `state ready`: ignore it.
FMAINT, IMAINT, FDRAIN = 0x01, 0x02, 0x08


def command(path: str, line: str, timeout: float) -> str:
    """Send one command; HAProxy answers and closes the connection (non-interactive mode)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def admin_flags(path: str, backend: str, server: str, timeout: float) -> int | None:
    """The server's srv_admin_state bit field, or None when it does not exist."""
    text = command(path, f"show servers state {backend}", timeout)
    columns: list[str] = []
    for line in text.splitlines():
        if line.startswith("# "):
            columns = line[2:].split()
            continue
        fields = line.split()
        if not columns or len(fields) < len(columns) // 2:
            continue
        row = dict(zip(columns, fields))  # noqa: B905 - managed hosts may run Python < 3.10
        if row.get("be_name") == backend and row.get("srv_name") == server:
            return int(row["srv_admin_state"])
    if "No such backend" in text or "Can't find backend" in text:
        raise LookupError(f"no backend {backend!r}: {text.strip()}")
    return None


def name_of(flags: int) -> str:
    if flags & (FMAINT | IMAINT):
        return "maint"
    if flags & FDRAIN:
        return "drain"
    return "ready"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "required": True},
            "backend": {"type": "str", "required": True},
            "server": {"type": "str", "required": True},
            "state": {"type": "str", "default": "ready", "choices": ["ready", "maint", "drain"]},
            "shutdown_sessions": {"type": "bool", "default": False},
            "timeout": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    p = module.params
    target = f"{p['backend']}/{p['server']}"
    try:
        flags = admin_flags(p["socket"], p["backend"], p["server"], p["timeout"])
    except (OSError, LookupError) as exc:
        module.fail_json(msg=f"HAProxy runtime API at {p['socket']}: {exc}")
    if flags is None:
        module.fail_json(msg=f"HAProxy has no server {target}")
    before = name_of(flags)
    result = {"changed": before != p["state"], "before": before, "after": p["state"]}
    if not result["changed"] or module.check_mode:
        result["after"] = p["state"] if module.check_mode else before
        module.exit_json(**result)
    answer = command(p["socket"], f"set server {target} state {p['state']}", p["timeout"])
    if answer.strip():
        module.fail_json(msg=f"HAProxy refused 'set server {target}': {answer.strip()}", **result)
    if p["shutdown_sessions"] and p["state"] != "ready":
        command(p["socket"], f"shutdown sessions server {target}", p["timeout"])
    after = admin_flags(p["socket"], p["backend"], p["server"], p["timeout"])
    result["after"] = name_of(after or 0)
    if result["after"] != p["state"]:
        module.fail_json(msg=f"{target} is {result['after']} after setting {p['state']}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
