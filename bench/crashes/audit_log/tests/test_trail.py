import logging

from audit.trail import record_role_change


def test_role_change_is_audited(caplog):
    with caplog.at_level(logging.INFO, logger="audit"):
        record_role_change("root", "ana", "viewer", "admin")
    assert caplog.messages == ["root changed role of ana from viewer to admin"]
