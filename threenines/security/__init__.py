"""Security monitoring: rogue devices, ARP spoofing, exposure drift, TLS/HTTP/SNMP/DNS posture.

Data flow: observations (ARP packets, port states, posture facts) come from small I/O adapters
(``arpnet`` for scapy, ``exposure`` scanners, ``posture_*``), pure detectors turn them into
``Finding`` objects (``findings``, ``arp``, ``exposure.compare``), and the store
(``threenines.security.store``) keeps each finding's lifecycle and writes an ``events`` row
(source ``security``, category ``security``) whenever one opens, changes or resolves, which is
what the alerts engine routes.

This package is imported by the config schema, so it must stay light: scapy, pysnmp and httpx
are imported only inside the modules that use them.
"""
