import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from meiguard.settings import env_bool, env_int

ROOT = Path(__file__).resolve().parents[3]


def test_env_bool_rejects_non_booleans(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False


def test_env_int_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUM", 1)


def _import_settings(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "AUDIT_KEY", "AUDIT_KEY_FILE")
    }
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", "import meiguard.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_secret_key():
    result = _import_settings({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 60)
    key = tmp_path / "key"
    key.write_text("p4Xr5HqWf6Z2j8a1Yk3Nq0TtVb9sLmCxRz7EwUoIgDc=")
    audit_key = tmp_path / "audit_key"
    audit_key.write_text("a" * 48)
    result = _import_settings(
        {
            "DEBUG": "false",
            "SECRET_KEY_FILE": str(secret),
            "FIELD_ENCRYPTION_KEY_FILE": str(key),
            "AUDIT_KEY_FILE": str(audit_key),
        }
    )
    assert result.returncode == 0, result.stderr


def test_argon2_is_first_outside_tests():
    result = _import_settings({"MEIGUARD_TESTING": "0"})
    assert result.returncode == 0
    check = subprocess.run(
        [sys.executable, "-c", "import meiguard.settings as s; print(s.PASSWORD_HASHERS[0])"],
        cwd=ROOT,
        env={**os.environ, "MEIGUARD_TESTING": "0"},
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_cache_url_selects_the_backend():
    result = subprocess.run(
        [sys.executable, "-c", "import meiguard.settings as s; print(s.CACHES['default']['BACKEND'])"],
        cwd=ROOT,
        env={**os.environ, "CACHE_URL": "redis://127.0.0.1:6379/3"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "django.core.cache.backends.redis.RedisCache"
    bad = _import_settings({"CACHE_URL": "memcached://x"})
    assert bad.returncode != 0 and "CACHE_URL" in bad.stderr


def test_deploy_check_warns_about_a_per_process_cache(settings):
    from meiguard.core.checks import check_shared_cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert [w.id for w in check_shared_cache()] == ["meiguard.W001"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    assert check_shared_cache() == []
