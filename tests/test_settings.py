"""Settings: environment, .env, nested sections, and refusing placeholder secrets in prod."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tidings.agent.build import order_api_for
from tidings.config import Settings
from tidings.errors import ConfigError
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.resolvers.rest_api import RestOrderAPI
from tidings.store.db import make_engine, make_session_factory

REAL_KEY = "k" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("TIDINGS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


class TestSettings:
    def test_defaults_are_the_embedded_setup(self) -> None:
        """With nothing configured: SQLite in the working directory, no LLM, dev mode."""
        settings = Settings()
        assert settings.database_url == "sqlite:///tidings.db"
        assert settings.mode == "dev"
        assert not settings.llm.enabled
        assert settings.brands_file.is_file()

    def test_env_prefix_and_nested_sections(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """TIDINGS_ variables set fields; __ reaches into sections; lists are JSON."""
        monkeypatch.setenv("TIDINGS_DATABASE_URL", "postgresql://db/tidings")
        monkeypatch.setenv("TIDINGS_LLM__BASE_URL", "http://127.0.0.1:9999/v1")
        monkeypatch.setenv("TIDINGS_LLM__DAILY_BUDGET_USD", "2.5")
        monkeypatch.setenv(
            "TIDINGS_MAILBOXES",
            '[{"name": "kapas-support", "brand": "kapas", "host": "imap.example.test",'
            ' "username": "u", "password": "p"}]',
        )
        settings = Settings()
        assert settings.database_url == "postgresql://db/tidings"
        assert settings.llm.enabled and settings.llm.daily_budget_usd == 2.5
        assert settings.mailboxes[0].name == "kapas-support"
        assert settings.mailboxes[0].password.get_secret_value() == "p"

    def test_dotenv_file_is_read(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A .env file in the working directory configures Tidings too."""
        monkeypatch.setitem(Settings.model_config, "env_file", ".env")  # conftest turns it off
        (tmp_path / ".env").write_text("TIDINGS_WEB__PORT=8123\n")
        assert Settings().web.port == 8123

    def test_secrets_do_not_show_in_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Printing settings (or logging them) never reveals a secret."""
        monkeypatch.setenv("TIDINGS_SENDGRID__API_KEY", "SG.very-private-value")
        assert "very-private-value" not in repr(Settings())


class TestProdMode:
    def test_placeholder_web_secret_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Prod refuses the dev secret key and names the variable to set."""
        monkeypatch.setenv("TIDINGS_MODE", "prod")
        with pytest.raises(ConfigError, match="TIDINGS_WEB__SECRET_KEY"):
            Settings()

    def test_placeholder_provider_secret_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A configured provider with a placeholder token is refused in prod."""
        monkeypatch.setenv("TIDINGS_MODE", "prod")
        monkeypatch.setenv("TIDINGS_WEB__SECRET_KEY", REAL_KEY)
        monkeypatch.setenv("TIDINGS_TWILIO__ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
        monkeypatch.setenv("TIDINGS_TWILIO__AUTH_TOKEN", "your-auth-token")
        with pytest.raises(ConfigError, match=r"twilio\.auth_token"):
            Settings()

    def test_real_secrets_are_accepted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Prod starts when every configured secret is real."""
        monkeypatch.setenv("TIDINGS_MODE", "prod")
        monkeypatch.setenv("TIDINGS_WEB__SECRET_KEY", REAL_KEY)
        monkeypatch.setenv("TIDINGS_SENDGRID__API_KEY", "SG.4f9a8b7c6d5e")
        assert Settings().mode == "prod"

    def test_dev_mode_accepts_placeholders(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Dev mode keeps the demo working with no secrets at all."""
        monkeypatch.setenv("TIDINGS_TWILIO__ACCOUNT_SID", "AC123")
        monkeypatch.setenv("TIDINGS_TWILIO__AUTH_TOKEN", "change-me")
        assert Settings().twilio.account_sid == "AC123"


class TestOrderAPI:
    def test_rest_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """TIDINGS_ORDERS__* configure the REST client, and the agent is built with it."""
        monkeypatch.setenv("TIDINGS_ORDERS__KIND", "rest")
        monkeypatch.setenv("TIDINGS_ORDERS__BASE_URL", "https://orders.example.com/api")
        monkeypatch.setenv("TIDINGS_ORDERS__AUTH_HEADER", "X-Api-Key")
        monkeypatch.setenv("TIDINGS_ORDERS__AUTH_SCHEME", "")
        monkeypatch.setenv("TIDINGS_ORDERS__TOKEN", "ok_4f9a8b7c6d5e")
        monkeypatch.setenv("TIDINGS_ORDERS__PATHS", '{"get_order": "/v2/orders/{number}"}')
        settings = Settings()
        assert settings.orders.paths == {"get_order": "/v2/orders/{number}"}
        sessions = make_session_factory(make_engine("sqlite://"))
        api = order_api_for(settings, sessions)
        assert isinstance(api, RestOrderAPI)
        api.close()
        monkeypatch.setenv("TIDINGS_ORDERS__KIND", "builtin")
        assert isinstance(order_api_for(Settings(), sessions), BuiltinOrderStore)

    def test_rest_needs_a_base_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """kind=rest without a URL (or with a malformed one) names the variable to set."""
        monkeypatch.setenv("TIDINGS_ORDERS__KIND", "rest")
        with pytest.raises(ValidationError, match="TIDINGS_ORDERS__BASE_URL"):
            Settings()
        monkeypatch.setenv("TIDINGS_ORDERS__BASE_URL", "orders.example.com")
        with pytest.raises(ValidationError, match="http:// or https://"):
            Settings()

    def test_prod_refuses_a_placeholder_orders_token(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """In prod, the REST order API needs a real token."""
        monkeypatch.setenv("TIDINGS_MODE", "prod")
        monkeypatch.setenv("TIDINGS_WEB__SECRET_KEY", REAL_KEY)
        monkeypatch.setenv("TIDINGS_ORDERS__KIND", "rest")
        monkeypatch.setenv("TIDINGS_ORDERS__BASE_URL", "https://orders.example.com/api")
        with pytest.raises(ConfigError, match="TIDINGS_ORDERS__TOKEN"):
            Settings()
        monkeypatch.setenv("TIDINGS_ORDERS__TOKEN", "your-api-token")
        with pytest.raises(ConfigError, match=r"orders\.token"):
            Settings()
        monkeypatch.setenv("TIDINGS_ORDERS__TOKEN", "ok_4f9a8b7c6d5e")
        assert Settings().orders.kind == "rest"
