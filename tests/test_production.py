"""Production mode's safety catches: no start without a secret, no internals shown."""

from __future__ import annotations

import pytest


def test_production_refuses_to_start_without_a_secret(monkeypatch):
    from server.settings import Settings

    monkeypatch.setenv("WANGGE_ENV", "production")
    monkeypatch.delenv("WANGGE_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="WANGGE_SECRET is not set"):
        Settings.from_env("sqlite:///unused.db")
    monkeypatch.setenv("WANGGE_SECRET", "short")
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        Settings.from_env("sqlite:///unused.db")
    monkeypatch.setenv("WANGGE_SECRET", "s" * 40)
    assert Settings.from_env("sqlite:///unused.db").production is True


def test_production_ignores_a_generated_secret_and_touches_nothing(tmp_path, monkeypatch, capsys):
    """A development secret file beside the database is no production secret; nothing is migrated."""
    from server.cli import main
    from server.settings import Settings

    monkeypatch.setenv("WANGGE_ENV", "production")
    monkeypatch.delenv("WANGGE_SECRET", raising=False)
    fresh = tmp_path / "fresh.db"
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--database-url", f"sqlite:///{fresh}"])
    assert exit_.value.code == 2
    assert "error: WANGGE_SECRET: is not set; refusing to sign tokens in production" in capsys.readouterr().err
    assert not fresh.exists() and not (tmp_path / "fresh.db.secret").exists()

    kept = tmp_path / "kept.db"
    (tmp_path / "kept.db.secret").write_text("g" * 64 + "\n")  # left by a development run
    with pytest.raises(RuntimeError, match="WANGGE_SECRET is not set"):
        Settings.from_env(f"sqlite:///{kept}")


@pytest.mark.parametrize("production, shown", [(True, False), (False, True)])
def test_internal_errors_are_masked_over_http_in_production(db_url, monkeypatch, production, shown):
    from starlette.testclient import TestClient

    from conftest import TEST_SECRET, Api
    from resolvers.loaders import Loaders
    from server.app import create_app
    from server.settings import Settings

    async def broken(self, codes):
        raise RuntimeError("connection to db-internal-7 failed: password=hunter2")

    monkeypatch.setattr(Loaders, "_load_areas", broken)
    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET, production=production))
    with TestClient(app) as client:
        body = Api(client, db_url, TEST_SECRET).query('{ area(code: "23") { name } }', user="province_admin")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert ("hunter2" in str(body)) is shown
    if production:
        assert error["message"] == "Internal server error"
