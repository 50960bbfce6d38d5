"""The payout console at /admin/payouts: the month's payouts and totals, running a month, the
bank file, recording a bank's reference and retrying a Stripe transfer. Admins only; each change
is one service call, an audit record, one commit, a message and a redirect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.admin.audit import record, snapshot
from marketplace.admin.blueprint import form_errors, refuse, status_for
from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.payouts import services
from marketplace.payouts.forms import BankReferenceForm, RetryForm, RunForm
from marketplace.payouts.models import Payout
from marketplace.payouts.providers import BANK_TRANSFER

bp = Blueprint("payouts", __name__, url_prefix="/admin/payouts")

#: What the audit trail keeps of a payout before and after a change.
AUDITED = ("status", "amount_minor", "provider", "reference", "provider_ref", "failure_reason",
           "attempts")


@dataclass(frozen=True)
class PayoutRun:
    """A month's run, as the audit trail names it ("payout run 2026-10")."""

    __tablename__: ClassVar[str] = "payout_run"
    id: str


@bp.context_processor
def _helpers() -> dict[str, object]:
    """Let the templates list a form's messages (the console's ``summary`` macro)."""
    return {"form_errors": form_errors}


def _run_message(summary: services.RunSummary) -> str:
    """What a run did, in the page's language (the audit trail and the command line keep
    ``summary.text()``)."""
    currency = summary.currency
    parts = [
        ngettext("%(num)d payout created for %(period)s, %(amount)s in all",
                 "%(num)d payouts created for %(period)s, %(amount)s in all",
                 len(summary.created), period=summary.period,
                 amount=services.money_text(summary.total_minor, currency)),
        _("%(count)s below the minimum of %(minimum)s", count=len(summary.below_minimum),
          minimum=services.money_text(summary.minimum_minor, currency)),
        _("%(count)s already paid for %(period)s", count=len(summary.already_paid),
          period=summary.period),
    ]
    if summary.carried:
        parts.append(_("%(count)s owing money back (carried to the next payout)",
                       count=len(summary.carried)))
    if summary.next_period:
        parts.append(_("%(count)s with newer money for the next month's run",
                       count=len(summary.next_period)))
    if summary.missing_details:
        parts.append(_("%(count)s missing payout details (not in the bank file)",
                       count=len(summary.missing_details)))
    if summary.sent:
        parts.append(_("sent: %(paid)s paid, %(failed)s failed, %(unknown)s without an answer",
                       paid=len(summary.paid), failed=len(summary.failed),
                       unknown=len(summary.unknown)))
    return "; ".join(parts) + "."


def _index(form: RunForm) -> ResponseReturnValue:
    """The payouts page for the month asked for (``?period=``), with ``form`` to run one."""
    periods = services.payout_periods()
    raw = request.args.get("period", "").strip()
    chosen = None
    if raw:
        try:
            chosen = services.parse_period(raw)
        except DomainError as error:
            flash(_("Cannot show that month: %(reason)s", reason=error.message), "error")
    if chosen is None:
        chosen = periods[0] if periods else services.last_month()
    payouts = services.payouts_of(chosen)
    rows, missing = services.bank_rows(chosen)
    return render_template(
        "payouts/index.html",
        form=form,
        period=chosen,
        periods=periods,
        payouts=payouts,
        totals=services.totals(payouts),
        total_minor=sum(p.amount_minor for p in payouts),
        currency=services.payout_currency(),
        bank_rows=rows,
        missing=missing,
        last_month=services.last_month(),
        minimum_minor=services.payout_minimum(),
    ), status_for(form)


@bp.get("")
@role_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """A month's payouts, their totals and the button to run last month."""
    return _index(RunForm(period=services.last_month()))


@bp.post("/run")
@role_required(Role.ADMIN)
def run() -> ResponseReturnValue:
    """Book the month's payouts (audited, committed), then send them one by one."""
    form = RunForm()
    if not form.validate_on_submit():
        return _index(form)
    actor = signed_in_user()
    try:
        summary = services.book_payouts(form.period.data or "", actor=actor.email)
    except DomainError as error:
        refuse(form, error)
        return _index(form)
    record(actor, "payouts_run", PayoutRun(summary.period), after=summary.counts(),
           summary=summary.text())
    db.session.commit()  # booked for good before any provider is asked to pay
    services.send_payouts(summary, actor=actor.email, commit=db.session.commit)
    flash(_run_message(summary), "error" if summary.send_failed else "success")
    for payout in summary.missing_details:
        flash(_("Payout #%(id)s to %(payee)s is not in the bank file: its payout details (bank, "
                "account holder, CCI) are missing.", id=payout.id, payee=payout.payee_name),
              "error")
    return redirect(url_for("payouts.index", period=summary.period))


def _payout_page(payout: Payout, reference_form: BankReferenceForm,
                 retry_form: RetryForm) -> ResponseReturnValue:
    """One payout: its payee, state, history in the books, and what can be done with it."""
    return render_template(
        "payouts/payout.html",
        payout=payout,
        reference_form=reference_form,
        retry_form=retry_form,
        details=services.payout_details(payout),
        bank_reference=services.bank_reference(payout),
        history=services.payout_history(payout),
        is_bank=payout.provider == BANK_TRANSFER,
    ), status_for(reference_form, retry_form)


@bp.get("/<int:payout_id>")
@role_required(Role.ADMIN)
def payout(payout_id: int) -> ResponseReturnValue:
    """One payout."""
    found = db.get_or_404(Payout, payout_id)
    return _payout_page(found, BankReferenceForm(), RetryForm())


@bp.post("/<int:payout_id>/reference")
@role_required(Role.ADMIN)
def reference(payout_id: int) -> ResponseReturnValue:
    """The bank paid a bank payout: keep its reference; the payout is paid."""
    found = db.get_or_404(Payout, payout_id)
    form = BankReferenceForm()
    if form.validate_on_submit():
        actor = signed_in_user()
        before = snapshot(found, AUDITED)
        try:
            services.record_bank_reference(found, form.reference.data, actor=actor.email)
        except DomainError as error:
            refuse(form, error)
            found = db.get_or_404(Payout, payout_id)
        else:
            record(actor, "payout_paid", found, before=before, after=snapshot(found, AUDITED),
                   summary=f"Bank reference {found.reference} for payout #{found.id}")
            db.session.commit()
            flash(_("Payout #%(id)s to %(payee)s is paid (bank reference %(reference)s).",
                    id=found.id, payee=found.payee_name, reference=found.reference), "success")
            return redirect(url_for("payouts.payout", payout_id=found.id))
    return _payout_page(found, form, RetryForm())


@bp.post("/<int:payout_id>/retry")
@role_required(Role.ADMIN)
def retry(payout_id: int) -> ResponseReturnValue:
    """Send a failed (or unanswered) Stripe payout again."""
    found = db.get_or_404(Payout, payout_id)
    form = RetryForm()
    if not form.validate_on_submit():
        return _payout_page(found, BankReferenceForm(), form)
    actor = signed_in_user()
    before = snapshot(found, AUDITED)
    try:
        outcome = services.retry_payout(found, actor=actor.email)
    except DomainError as error:
        refuse(form, error)
        found = db.get_or_404(Payout, payout_id)
        return _payout_page(found, BankReferenceForm(), form)
    record(actor, "payout_retried", found, before=before, after=snapshot(found, AUDITED),
           summary=f"Retried payout #{found.id}: {outcome}")
    db.session.commit()
    if outcome == "paid":
        flash(_("Payout #%(id)s is paid (%(reference)s).", id=found.id,
                reference=found.provider_ref), "success")
    elif outcome == "failed":
        flash(_("Stripe refused payout #%(id)s again: %(reason)s", id=found.id,
                reason=found.failure_reason), "error")
    else:
        flash(_("No answer from Stripe for payout #%(id)s: %(reason)s", id=found.id,
                reason=found.failure_reason), "error")
    return redirect(url_for("payouts.payout", payout_id=found.id))


@bp.get("/<period>.csv")
@role_required(Role.ADMIN)
def bank_file(period: str) -> ResponseReturnValue:
    """The month's bank file (payouts by bank transfer still to pay, with bank details)."""
    try:
        month = services.parse_period(period)
    except DomainError as error:
        flash(_("No bank file: %(reason)s", reason=error.message), "error")
        return redirect(url_for("payouts.index"))
    return Response(
        services.bank_file(month),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="payouts-{month}.csv"',
            "Cache-Control": "no-store",
        },
    )
