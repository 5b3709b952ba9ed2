def test_service_state_now_uses_quorum_and_ignores_silent_vantages() -> None:
    from threenines.availability.timeline import service_state_now

    one_site_down = {"home": {"central": ("up", ""), "lib": ("down", "refused"), "hub": ("up", "")}}
    assert service_state_now(one_site_down)[0] == "up"
    two_down = {"home": {"central": ("down", "x"), "lib": ("down", "x"), "hub": ("up", "")}}
    assert service_state_now(two_down)[0] == "down"
    silent = {"home": {"central": ("up", ""), "lib": ("unknown", "silent")}}
    assert service_state_now(silent)[0] == "up"
    assert service_state_now({"home": {"central": ("unknown", "")}})[0] == "unknown"
    # a check with no data makes an "all" service unknown, an "any" service follows the other
    mixed = {"home": {"central": ("up", "")}, "cert": {"central": ("unknown", "")}}
    assert service_state_now(mixed, mode="any")[0] == "up"
    assert service_state_now({}, mode="all")[0] == "unknown"
