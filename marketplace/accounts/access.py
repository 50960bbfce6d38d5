"""Who may open what: role checks for workspaces, and the signed-in user's own workshop."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user

from marketplace.accounts.models import Role, User
from marketplace.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role) -> Callable[[F], F]:
    """Only signed-in users with one of ``roles``: others are sent to sign in, or get 403."""
    allowed = {r.value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def signed_in_user() -> User:
    """The signed-in user (views behind ``role_required`` or ``login_required`` only)."""
    user = current_user._get_current_object()  # noqa: SLF001 - the real object, not the proxy
    if not isinstance(user, User):
        abort(401)
    return user
