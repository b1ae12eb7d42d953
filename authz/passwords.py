"""Password hashing with Argon2id (argon2-cffi), behind three calls that cannot leak.

Login code must not decide by exception type whether a password was wrong or the
stored hash was broken: both are "no". ``verify_password`` therefore answers a plain
bool, and ``needs_rehash`` lets a successful login upgrade hashes made with older
parameters without a migration.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An Argon2id hash (salt and parameters included) to store for ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True iff ``password`` matches ``password_hash``; False for a mismatch or a broken hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, TypeError, ValueError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with other parameters than today's (or is unreadable)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, TypeError, ValueError):
        return True
