from appconfig.loader import load

INI = """[server]
port = 9000
allowed_hosts = api.example.com, admin.example.com
cors_origins = https://app.example.com
"""


def test_reads_ini():
    cfg = load(INI, {})
    assert cfg.port == 9000 and cfg.debug is False
    assert cfg.allowed_hosts == ["api.example.com", "admin.example.com"]
    assert cfg.cors_origins == ["https://app.example.com"]


def test_environment_overrides_ini():
    cfg = load(INI, {"APP_PORT": "7000", "APP_DEBUG": "yes", "APP_ALLOWED_HOSTS": "localhost"})
    assert cfg.port == 7000 and cfg.debug is True
    assert cfg.allowed_hosts == ["localhost"]
