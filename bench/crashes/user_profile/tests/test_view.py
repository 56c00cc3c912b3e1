from datetime import UTC, datetime

from profiles.view import profile_view

NOW = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)


def test_profile_with_timezone():
    user = {"id": "u1", "email": "li@example.com", "display_name": "Li", "created": "2021-02-03",
            "preferences": {"timezone": "Asia/Tokyo", "theme": "dark"}}
    assert profile_view(user, NOW) == {"id": "u1", "display_name": "Li", "local_time": "21:30",
                                       "member_since": "2021"}


def test_display_name_falls_back_to_email():
    user = {"id": "u2", "email": "sam@example.com", "created": "2022-01-01",
            "preferences": {"timezone": None}}
    view = profile_view(user, NOW)
    assert view["display_name"] == "sam" and view["local_time"] == "12:30"
