from notify.digest import build_digest


def test_digest_lists_unmuted_notifications():
    account = {"name": "Acme", "owner_email": "ops@acme.test", "cc": ["cto@acme.test", "ops@acme.test"]}
    notes = [{"title": "Invoice paid"}, {"title": "Noise", "muted": True}, {"title": "New login"}]
    mail = build_digest(account, notes)
    assert mail["to"] == ["ops@acme.test", "cto@acme.test"]
    assert mail["subject"] == "2 updates for Acme"
    assert mail["body"] == "- Invoice paid\n- New login"


def test_empty_day():
    mail = build_digest({"name": "Acme", "owner_email": "a@acme.test", "cc": []}, [])
    assert mail["body"] == "Nothing new today."
