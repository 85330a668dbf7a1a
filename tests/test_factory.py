import logging

import pytest

from devstack_client import create_app
from devstack_client.config import ConfigError, load
from tests.fakes import CREDENTIALS, KEYSTONE, make_fake_flavor


def test_config_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9000")
    assert create_app({"PORT": "9100"}).extensions["settings"].port == 9100
    assert create_app().extensions["settings"].port == 9000


def test_flask_configuration_passes_through_and_stays_apart_from_the_settings():
    app = create_app({"TESTING": True, "PORT": "9100"})

    assert app.config["TESTING"] is True and app.testing
    assert "PORT" not in app.config and app.extensions["settings"].port == 9100


def test_an_unknown_setting_is_refused_by_load():
    with pytest.raises(ConfigError, match="PROT is not a setting"):
        load({"PROT": "9100"}, environ={})


def test_defaults():
    settings = create_app().extensions["settings"]
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert (settings.connect_timeout, settings.read_timeout) == (5.0, 60.0)


def test_secret_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("APP_SECRET_KEY", "from-env")
    assert create_app().secret_key == "from-env"


def test_missing_secret_key_is_random_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        first, second = create_app(), create_app()
    assert first.secret_key != second.secret_key
    assert len(first.secret_key) == 64
    assert "APP_SECRET_KEY is not set" in caplog.text


@pytest.mark.parametrize(("name", "value"), [("PORT", "http"), ("READ_TIMEOUT", "-1"), ("THREADS", "0")])
def test_bad_numbers_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        load({name: value}, environ={})


def test_start_up_logs_where_credentials_come_from(caplog):
    with caplog.at_level(logging.INFO):
        create_app(CREDENTIALS)
    assert "credentials from AUTH_URL, USERNAME, PASSWORD, PROJECT_ID" in caplog.text
    assert "precedence: OS_CLOUD > AUTH_URL, USERNAME, … > OS_*" in caplog.text
    assert CREDENTIALS["PASSWORD"] not in caplog.text


def test_start_up_warns_when_credentials_are_missing(caplog):
    with caplog.at_level(logging.WARNING):
        create_app()
    assert "every API call will answer 403" in caplog.text


def test_auth_url_gets_v3_appended(cloud, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUTH_URL", "http://keystone.test/")
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    assert create_app().test_client().get("/api/v1/flavor").status_code == 200
    assert cloud.history[0].url == f"{KEYSTONE}/auth/tokens"


def test_library_loggers_never_log_bodies(caplog):
    import logging

    logging.getLogger("keystoneauth").setLevel(logging.DEBUG)
    create_app()
    assert logging.getLogger("keystoneauth.session").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("openstack").getEffectiveLevel() >= logging.INFO
