"""A verified token is kept, but never past its expiry, and a bad one is never kept."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from authz import tokens
from db.errors import Unauthenticated

SECRET = "s" * 48


def test_a_kept_token_still_expires(monkeypatch):
    token = tokens.issue_access_token(7, SECRET, ttl=timedelta(seconds=60), session_id="sid-1")
    assert tokens.decode_token(token, SECRET, tokens.ACCESS)["sub"] == "7"
    assert tokens.decode_token(token, SECRET, tokens.ACCESS)["sub"] == "7"  # from the cache
    later = time.time() + 61
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(Unauthenticated):
        tokens.decode_token(token, SECRET, tokens.ACCESS)


def test_a_token_is_kept_per_secret_and_kind():
    token = tokens.issue_access_token(7, SECRET, ttl=timedelta(seconds=60), session_id="sid-2")
    tokens.decode_token(token, SECRET, tokens.ACCESS)
    with pytest.raises(Unauthenticated):
        tokens.decode_token(token, "t" * 48, tokens.ACCESS)  # another secret: verified afresh, fails
    with pytest.raises(Unauthenticated):
        tokens.decode_token(token, SECRET, tokens.REFRESH)  # another kind


def test_a_refused_token_is_not_kept():
    before = tokens._verified.cache_info().currsize
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            tokens.decode_token("not.a.token", SECRET, tokens.ACCESS)
    assert tokens._verified.cache_info().currsize == before
