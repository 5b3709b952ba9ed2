"""Pure ARP detectors: inventory comparison and spoofing, over hand-made packet lists."""

from __future__ import annotations

from threenines.security.arp import ArpPacket, Known, inventory_findings, learn, spoof_findings

GW, GW_MAC, ROGUE = "198.18.1.1", "02:00:00:00:00:01", "02:00:00:00:00:66"
SUBNETS = ["198.18.1.0/24"]


def reply(ts: float, ip: str, mac: str, to: str = "198.18.1.5") -> ArpPacket:
    return ArpPacket(ts, 2, ip, mac, to, "02:00:00:00:00:05")


def garp(ts: float, ip: str, mac: str) -> ArpPacket:
    return ArpPacket(ts, 1, ip, mac, ip, "00:00:00:00:00:00")


def no_vendor(_mac: str) -> str | None:
    return None


def kinds(findings: list) -> list[tuple[str, str]]:
    return [(f.kind, f.severity) for f in findings]


def test_unknown_device_and_known_not_seen() -> None:
    inv = [Known("gw", GW, GW_MAC, "s1"), Known("printer", "198.18.1.9", None, "s1")]
    pkts = [reply(1, GW, GW_MAC), reply(1, "198.18.1.77", "02:00:00:00:00:77")]
    out = inventory_findings("s1", SUBNETS, pkts, inv, lambda m: "Acme", "arp:s1")
    assert kinds(out) == [("unknown_device", "major"), ("device_missing", "minor")]
    assert out[0].key == "unknown_device/s1/02:00:00:00:00:77/198.18.1.77"
    assert out[0].evidence["vendor"] == "Acme" and out[0].subject == "198.18.1.77"
    assert out[1].key == "device_missing/s1/printer"


def test_passive_window_does_not_report_missing_devices() -> None:
    inv = [Known("printer", "198.18.1.9")]
    assert inventory_findings("s1", SUBNETS, [], inv, no_vendor, "arp:s1", complete=False) == []


def test_known_ip_answering_from_other_mac_is_unknown_device() -> None:
    inv = [Known("gw", GW, GW_MAC)]
    out = inventory_findings("s1", SUBNETS, [reply(1, GW, ROGUE)], inv, no_vendor, "c")
    assert ("unknown_device", "major") in kinds(out)


def test_ip_only_inventory_matches_any_mac_and_outside_subnet_ignored() -> None:
    inv = [Known("nas", "198.18.1.20")]
    pkts = [reply(1, "198.18.1.20", "02:aa:00:00:00:01"), reply(1, "198.18.9.9", ROGUE)]
    assert inventory_findings("s1", SUBNETS, pkts, inv, no_vendor, "c") == []


def test_protected_ip_from_new_mac_is_critical_and_sticky() -> None:
    out = spoof_findings([reply(1, GW, GW_MAC), reply(2, GW, ROGUE)], {GW: GW_MAC}, "s1", "c")
    assert kinds(out) == [("arp_spoof", "critical")]
    assert out[0].sticky and out[0].evidence["mac"] == ROGUE
    assert out[0].key == f"arp_spoof/{GW}/{ROGUE}"


def test_two_macs_for_one_ip_is_critical() -> None:
    ip = "198.18.1.30"
    out = spoof_findings([reply(1, ip, GW_MAC), reply(2, ip, ROGUE)], {}, "s1", "c")
    assert kinds(out) == [("arp_conflict", "critical")]
    assert out[0].evidence["macs"] == sorted([GW_MAC, ROGUE])


def test_gratuitous_burst_counts_inside_window_only() -> None:
    slow = [garp(t * 5.0, "198.18.1.40", ROGUE) for t in range(10)]  # one per 5 s
    assert spoof_findings(slow, {}, "s1", "c", burst=5, window=10) == []
    fast = [garp(100 + t * 0.5, "198.18.1.40", ROGUE) for t in range(7)]
    out = spoof_findings(slow + fast, {}, "s1", "c", burst=5, window=10)
    assert kinds(out) == [("arp_gratuitous_burst", "critical")]
    assert out[0].evidence["count"] == 7


def test_quiet_network_has_no_findings() -> None:
    pkts = [reply(t, GW, GW_MAC) for t in range(20)]
    assert spoof_findings(pkts, {GW: GW_MAC}, "s1", "c") == []


def test_probe_from_zero_address_claims_nothing() -> None:
    probe = ArpPacket(1, 1, "0.0.0.0", ROGUE, GW, "00:00:00:00:00:00")
    assert spoof_findings([probe], {GW: GW_MAC}, "s1", "c") == []


def test_learn_only_uncontested() -> None:
    pkts = [reply(1, GW, GW_MAC), reply(1, "198.18.1.2", GW_MAC), reply(2, "198.18.1.2", ROGUE)]
    assert learn({GW: None, "198.18.1.2": None, "198.18.1.3": None}, pkts) == {GW: GW_MAC}
    assert learn({GW: GW_MAC}, pkts) == {}
