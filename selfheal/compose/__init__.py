"""Composition roots: functions that build services from ``Settings`` for one mode.

Services never read the environment or import adapters themselves; these functions do. One
module per concern (``store``, ``source``, ``models``, ``services``) keeps each small; ``aws`` is
the AWS composition root (one builder per Lambda), ``workflow`` the local one.
"""
