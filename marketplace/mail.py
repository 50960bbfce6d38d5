"""Outgoing mail behind one small interface.

With ``MAIL_SERVER`` set, mail goes out by SMTP; otherwise (development, tests) it is written to
the log and kept in ``app.extensions["outbox"]`` so a developer or a test can read it. Views
send after their commit, so a rolled-back change never mails anyone.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

from flask import current_app, render_template
from jinja2 import TemplateNotFound


@dataclass
class Mail:
    """One message, text and optional HTML."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


#: How many unsent messages a process keeps (the newest): enough to read, never a memory leak.
OUTBOX_SIZE = 100


def outbox() -> list[Mail]:
    """The latest messages sent by this process when no SMTP server is configured."""
    box: list[Mail] = current_app.extensions.setdefault("outbox", [])
    return box


def send(mail: Mail) -> None:
    """Deliver ``mail`` by SMTP, or log it when no server is configured."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        box = outbox()
        box.append(mail)
        del box[:-OUTBOX_SIZE]
        current_app.logger.info(
            "Mail to %s: %s\n%s", mail.to, mail.subject, mail.text
        )
        return
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = mail.to
    message["Subject"] = mail.subject
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    with smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 587)) as smtp:
        smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
        smtp.send_message(message)


def render_mail(to: str, subject: str, template: str, **context: object) -> Mail:
    """A message from ``emails/<template>.txt`` (and ``.html`` if present), not yet sent."""
    text = render_template(f"emails/{template}.txt", **context)
    try:
        html: str | None = render_template(f"emails/{template}.html", **context)
    except TemplateNotFound:  # the HTML part is optional
        html = None
    return Mail(to=to, subject=subject, text=text, html=html)


def send_template(to: str, subject: str, template: str, **context: object) -> None:
    """Render ``emails/<template>.txt`` (and ``.html`` if present) and send it."""
    send(render_mail(to, subject, template, **context))
