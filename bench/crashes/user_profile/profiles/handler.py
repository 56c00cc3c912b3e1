"""Lambda entry point: GET /users/{id}/profile."""

from profiles.view import profile_view


def handler(event, context):
    return profile_view(event)
