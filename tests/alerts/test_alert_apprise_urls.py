"""Receiver URLs are checked by the Apprise plug-in that owns their scheme, imported alone
(Apprise imports all of its plug-ins to find one); the verdict is Apprise's own."""

from __future__ import annotations

import apprise
import pytest
from apprise.manager_plugins import NotificationManager

from threenines.alerts.config import _plugin_modules, check_apprise_url

URLS = [
    "json://127.0.0.1:9/ops",
    "jsons://",
    "mailtos://user:pw@example.org",
    "mailto://x",
    "tgram://123:abc/456",
    "slack://T1/B1/C1",
    "discord://1/2",
    "ntfy://topic",
    "msteams://a/b/c",
    "pover://u@t",
    "gotify://h/t",
    "matrix://u:p@h/#room",
    "mqtt://h/t",
    "xml://h",
    "smtp://",
    "kodi://h",  # a scheme the index does not know: Apprise as a whole decides
    "notascheme://x",
]


def test_the_index_names_the_module_apprise_itself_uses_or_nothing() -> None:
    manager = NotificationManager()
    manager.load_modules()
    index = _plugin_modules()
    for scheme, plugin in manager._schema_map.items():
        assert index.get(scheme) in (None, plugin.__module__), scheme
    assert len([s for s in manager._schema_map if s in index]) > 0.9 * len(manager._schema_map)


@pytest.mark.parametrize("url", URLS)
def test_the_verdict_is_apprises(url: str) -> None:
    expected = bool(apprise.Apprise().add(url))
    try:
        check_apprise_url(url)
        got = True
    except ValueError:
        got = False
    assert got == expected
