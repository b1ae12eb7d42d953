"""Audit rows no longer carry login session ids: scrub them from the rows written so far.

Logins, token refreshes and logouts used to record the session id in ``detail``
(``session``, and ``replaces`` on a refresh). With the signing secret a session id is all
a token is made of, and admins read these rows. The ids are replaced by ``sessionTag`` /
``replacesTag``: 12 hex digits of HMAC-SHA256 under a random key made for this migration
and then forgotten, so the old rows of one login still link to each other but nothing
leads back to a session. (Rows written from now on carry ``sessionHmac``, keyed with the
server's secret: ``resolvers/accounts/auth.py``.)

The audit trail refuses UPDATE at the database; the scrub lifts that for its own
statements only, inside the migration's transaction. There is no way back: downgrading
leaves the rows as they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 18:30:00
"""
import hashlib
import hmac
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

#: The actions that recorded a session id, and under which keys (renamed with "Tag").
AUTH_ACTIONS = ("login", "token.refresh", "token.refresh.failed", "logout")
ID_KEYS = ("session", "replaces")
BATCH = 1000

audit = sa.table("audit_event", sa.column("id", sa.Integer), sa.column("action", sa.String),
                 sa.column("detail", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    key = secrets.token_bytes(32)  # never stored: the tags cannot be recomputed from a session id

    def tag(session_id) -> str:
        return hmac.new(key, str(session_id).encode("utf-8"), hashlib.sha256).hexdigest()[:12]

    update = (audit.update().where(audit.c.id == sa.bindparam("row_id"))
              .values(detail=sa.bindparam("new_detail", type_=sa.JSON)))
    last = 0
    with _append_only_lifted(bind):
        while True:  # in pages by id, so a long trail is never held in memory at once
            rows = bind.execute(sa.select(audit.c.id, audit.c.detail)
                                .where(audit.c.action.in_(AUTH_ACTIONS), audit.c.id > last)
                                .order_by(audit.c.id).limit(BATCH)).all()
            if not rows:
                break
            last = rows[-1].id
            changes = []
            for row in rows:
                detail = row.detail
                if not isinstance(detail, dict) or not any(k in detail for k in ID_KEYS):
                    continue
                scrubbed = {k: v for k, v in detail.items() if k not in ID_KEYS}
                for k in ID_KEYS:
                    if detail.get(k) is not None:
                        scrubbed[f"{k}Tag"] = tag(detail[k])
                changes.append({"row_id": row.id, "new_detail": scrubbed})
            if changes:
                bind.execute(update, changes)


class _append_only_lifted:
    """Drop the audit trail's refusal of UPDATE for the statements inside, then restore it.

    PostgreSQL disables its trigger (the ALTER TABLE lock holds off every other writer until
    the migration commits); SQLite drops and recreates its triggers, in the same transaction.
    """

    def __init__(self, bind) -> None:
        self.bind = bind
        self.postgresql = bind.dialect.name == "postgresql"

    def __enter__(self):
        if self.postgresql:
            op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change")
        else:
            op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            return  # the transaction is rolled back, triggers and all
        if self.postgresql:
            op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_change")
        else:
            op.execute("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
                       "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END")


def downgrade() -> None:
    pass  # the session ids are gone on purpose; the tagged rows stay valid for revision 0001
