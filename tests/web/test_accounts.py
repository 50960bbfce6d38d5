"""Accounts: register, sign in and out, reset and change the password, change the email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import PasswordReset, User
from marketplace.accounts.services import create_user
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.mail import outbox
from tests.conftest import csrf_token, login


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def test_sign_in_with_csrf_on_lands_each_role_in_its_workspace(client, csrf_on):
    for email, home in [
        ("admin@demo.test", "/admin/"),
        ("jeweller@demo.test", "/jeweller/"),
        ("coop@demo.test", "/cooperative/"),
        ("buyer@demo.test", "/"),
    ]:
        token = csrf_token(client, "/account/login")
        response = client.post(
            "/account/login",
            data={"email": email, "password": "demo-password", "csrf_token": token},
        )
        assert response.status_code == 302 and response.headers["Location"] == home, email
        client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account/")})


def test_sign_in_without_a_csrf_token_is_refused(client, csrf_on):
    response = client.post(
        "/account/login", data={"email": "buyer@demo.test", "password": "demo-password"}
    )
    assert response.status_code == 400
    assert client.get("/account/").status_code == 302  # still signed out


def test_a_wrong_password_says_so_without_saying_which_part_was_wrong(client):
    response = login(client, "buyer@demo.test", "wrong-password")
    assert response.status_code == 422
    assert "That email and password do not match an account." in response.get_data(as_text=True)
    unknown = login(client, "nobody@demo.test", "wrong-password")
    assert "That email and password do not match an account." in unknown.get_data(as_text=True)


def test_passwords_are_stored_as_scrypt_hashes(app):
    user = _user("buyer@demo.test")
    assert user.password_hash.startswith("scrypt:") and "demo-password" not in user.password_hash


def test_register_opens_a_shopper_account_and_signs_in(client, csrf_on):
    token = csrf_token(client, "/account/register")
    response = client.post(
        "/account/register",
        data={
            "name": "Ana",
            "email": "Ana@Example.org ",
            "password": "a-long-password",
            "confirm": "a-long-password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert _user("ana@example.org").role == "shopper"
    assert "ana@example.org" in client.get("/account/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "password": "a-long-password"}, "Enter a valid email."),
        ({"email": "x@example.org", "password": "short"}, "Use at least 10 characters."),
        ({"email": "Taken@example.org", "password": "a-long-password"}, "already exists"),
    ],
)
def test_register_refuses_bad_input_and_creates_nothing(client, data, message):
    create_user("taken@example.org", "a-long-password")
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post("/account/register", data={**data, "confirm": data["password"]})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_protected_pages_send_anonymous_users_to_sign_in(client):
    for url in ["/account/", "/account/settings", "/jeweller/", "/cooperative/", "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/account/login?next=")


def test_sign_in_follows_only_same_site_next_addresses(client):
    ok = client.post(
        "/account/login?next=/account/settings",
        data={"email": "buyer@demo.test", "password": "demo-password"},
    )
    assert ok.headers["Location"] == "/account/settings"
    client.post("/account/logout")
    evil = client.post(
        "/account/login?next=https://evil.example/",
        data={"email": "buyer@demo.test", "password": "demo-password"},
    )
    assert evil.headers["Location"] == "/"


def _reset_link() -> str:
    mail = outbox()[-1]
    return re.search(r"http://localhost(/account/reset/\S+)", mail.text).group(1)


def test_password_reset_by_email_link_works_once(client):
    outbox().clear()
    response = client.post("/account/reset", data={"email": "buyer@demo.test"})
    assert response.status_code == 302
    assert outbox()[-1].to == "buyer@demo.test"
    link = _reset_link()
    done = client.post(
        link, data={"password": "brand-new-password", "confirm": "brand-new-password"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/account/login"
    assert login(client, "buyer@demo.test", "brand-new-password").status_code == 302
    client.post("/account/logout")
    again = client.post(
        link, data={"password": "another-password1", "confirm": "another-password1"}
    )
    assert again.headers["Location"] == "/account/reset"
    assert login(client, "buyer@demo.test", "another-password1").status_code == 422


def test_an_expired_reset_link_is_refused(client):
    outbox().clear()
    client.post("/account/reset", data={"email": "buyer@demo.test"})
    link = _reset_link()
    db.session.execute(sa.update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.post(
        link, data={"password": "brand-new-password", "confirm": "brand-new-password"}
    )
    assert response.headers["Location"] == "/account/reset"
    assert _user("buyer@demo.test").check_password("demo-password")


def test_asking_a_reset_for_an_unknown_email_says_the_same_and_mails_nobody(client):
    outbox().clear()
    response = client.post(
        "/account/reset", data={"email": "nobody@demo.test"}, follow_redirects=True
    )
    assert "If an account uses that email" in response.get_data(as_text=True)
    assert outbox() == []


def test_changing_the_password_signs_out_other_sessions(app, client):
    other = app.test_client()
    login(client, "buyer@demo.test")
    login(other, "buyer@demo.test")
    response = client.post(
        "/account/settings",
        data={
            "pw-current": "demo-password",
            "pw-password": "fresh-password1",
            "pw-confirm": "fresh-password1",
        },
    )
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302  # signed out
    assert _user("buyer@demo.test").check_password("fresh-password1")


def test_changing_the_password_needs_the_current_one(client, as_user):
    as_user("buyer@demo.test")
    response = client.post(
        "/account/settings",
        data={
            "pw-current": "wrong",
            "pw-password": "fresh-password1",
            "pw-confirm": "fresh-password1",
        },
    )
    assert response.status_code == 422
    assert "The current password is not right." in response.get_data(as_text=True)


def test_changing_the_email_needs_the_password_and_a_free_address(client, as_user):
    create_user("taken@example.org", "a-long-password")
    as_user("buyer@demo.test")
    taken = client.post(
        "/account/settings", data={"em-email": "taken@example.org", "em-password": "demo-password"}
    )
    assert "Another account already uses this email." in taken.get_data(as_text=True)
    moved = client.post(
        "/account/settings", data={"em-email": "buyer2@example.org", "em-password": "demo-password"}
    )
    assert moved.status_code == 302
    assert login(client, "buyer2@example.org").status_code == 302


def test_sign_in_attempts_are_rate_limited_with_a_clear_message(client):
    statuses = [login(client, "buyer@demo.test", "wrong-password").status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    page = login(client, "buyer@demo.test", "demo-password")
    assert page.status_code == 429
    assert "Too many attempts" in page.get_data(as_text=True)
    assert 0 < int(page.headers["Retry-After"]) <= 60


def test_session_cookie_is_http_only_and_same_site_lax(client):
    response = login(client, "buyer@demo.test")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_without_smtp_a_process_keeps_only_the_latest_mails(app):
    from marketplace.mail import OUTBOX_SIZE, Mail, send

    outbox().clear()
    for n in range(OUTBOX_SIZE + 5):
        send(Mail(to="a@example.org", subject=f"mail {n}", text="hello"))
    assert len(outbox()) == OUTBOX_SIZE
    assert outbox()[-1].subject == f"mail {OUTBOX_SIZE + 4}"
    assert outbox()[0].subject == "mail 5"
