"""Account use cases: register, authenticate, reset and change passwords, change email."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.accounts.models import PasswordReset, Role, User
from marketplace.core.errors import DomainError
from marketplace.db import utcnow
from marketplace.extensions import db

MIN_PASSWORD_LENGTH = 10
RESET_LIFETIME = timedelta(hours=1)
_dummy_hash: list[str] = []


def _dummy() -> str:
    """A real scrypt hash to check when the email is unknown, so that costs as much time."""
    if not _dummy_hash:
        _dummy_hash.append(generate_password_hash(secrets.token_hex(16), method="scrypt"))
    return _dummy_hash[0]


def normalise_email(email: str) -> str:
    """Emails compare without case or surrounding spaces."""
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _("Use a password of at least %(count)s characters.", count=MIN_PASSWORD_LENGTH)
        )


def find_user(email: str) -> User | None:
    """The user with this email, if any."""
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str,
    password: str,
    *,
    name: str = "",
    role: Role = Role.SHOPPER,
    jeweller_id: int | None = None,
    cooperative_id: int | None = None,
) -> User:
    """A new account; the email must be free and the password long enough."""
    check_password_strength(password)
    if role is Role.OFFICER and cooperative_id is None:
        raise DomainError(_("A cooperative officer must be tied to a cooperative."))
    if role is Role.JEWELLER and jeweller_id is None:
        raise DomainError(_("A jeweller account must be tied to a workshop."))
    if find_user(email) is not None:
        raise DomainError(_("An account with this email already exists. Sign in instead."))
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        role=role.value,
        jeweller_id=jeweller_id,
        cooperative_id=cooperative_id,
        session_version=0,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user if the email and password match an active account, else None."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy(), password)
        return None
    if not user.active or not user.check_password(password):
        return None
    return user


def _digest(token: str) -> str:
    """What is stored of a reset token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_password_reset(email: str) -> tuple[User, str] | None:
    """Make a single-use reset token for the account, if it exists (the caller mails it)."""
    user = find_user(email)
    if user is None or not user.active:
        return None
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_digest(token),
            expires_at=utcnow() + RESET_LIFETIME,
        )
    )
    db.session.flush()
    return user, token


def reset_for_token(token: str) -> PasswordReset | None:
    """The unused, unexpired reset for ``token``, if any."""
    reset = db.session.scalar(
        sa.select(PasswordReset).where(PasswordReset.token_hash == _digest(token))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    return reset


def complete_password_reset(token: str, new_password: str) -> User:
    """Set a new password with a reset token; the token works once, within its lifetime."""
    check_password_strength(new_password)
    reset = reset_for_token(token)
    if reset is None:
        raise DomainError(_("This reset link has expired or was already used. Ask for a new one."))
    # Mark it used with a conditional update, so two simultaneous uses cannot both succeed.
    used = db.session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise DomainError(_("This reset link has expired or was already used. Ask for a new one."))
    user = reset.user
    user.set_password(new_password)
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change the password, knowing the current one; other sessions end."""
    if not user.check_password(current):
        raise DomainError(_("The current password is not right."))
    check_password_strength(new)
    user.set_password(new)
    db.session.flush()


def change_email(user: User, password: str, new_email: str) -> None:
    """Change the sign-in email, confirming with the password."""
    if not user.check_password(password):
        raise DomainError(_("The password is not right."))
    email = normalise_email(new_email)
    if email == user.email:
        return
    if find_user(email) is not None:
        raise DomainError(_("Another account already uses this email."))
    user.email = email
    db.session.flush()
