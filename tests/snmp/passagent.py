"""net-snmp ``pass_persist`` agent for tests: serves OIDs from a JSON file the test rewrites.

The file maps numeric OIDs to ``[type, value]`` (types as pass_persist expects: integer,
gauge, counter, counter64, timeticks, string, objectid). It is re-read on every request, so a
test changes what the agent answers (a UPS going on battery, a counter wrapping) by rewriting it.
Run by snmpd as ``pass_persist OID /path/passagent.sh``; speaks the PING/get/getnext protocol.
"""

import json
import sys


def key(oid):
    return tuple(int(x) for x in oid.strip(".").split("."))


def load(path):
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    return sorted((key(oid), oid.strip("."), t, v) for oid, (t, v) in data.items())


def answer(entry):
    _k, oid, typ, value = entry
    sys.stdout.write(f".{oid}\n{typ}\n{value}\n")


def main():
    path = sys.argv[1]
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        cmd = line.strip()
        if cmd == "PING":
            sys.stdout.write("PONG\n")
        elif cmd in ("get", "getnext"):
            want = key(sys.stdin.readline().strip())
            rows = load(path)
            hit = None
            for entry in rows:
                if (cmd == "get" and entry[0] == want) or (cmd == "getnext" and entry[0] > want):
                    hit = entry
                    break
            if hit is None:
                sys.stdout.write("NONE\n")
            else:
                answer(hit)
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            sys.stdout.write("not-writable\n")
        else:
            sys.stdout.write("NONE\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
