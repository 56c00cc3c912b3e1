"""Service configuration from an INI file plus environment overrides."""
