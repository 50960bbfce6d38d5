"""The jeweller's workspace at /jeweller/: the application, gold held per lot, pieces, their
gold backing, stock and photos.

Views parse the form, call one service, commit once, flash and redirect; a refusal re-renders
the form with its message and status 422. A piece of another workshop is a 404 on every route.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BuildError

from marketplace.accounts.access import role_required, signed_in_user
from marketplace.accounts.models import Role
from marketplace.catalog.models import Jeweller, Piece
from marketplace.catalog.services import MAX_PHOTOS_PER_PIECE
from marketplace.core.errors import DomainError, NoRateInForce
from marketplace.core.gold import format_grams
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.i18n import format_locale
from marketplace.jeweller import services
from marketplace.jeweller.forms import (
    ApplicationForm,
    DeletePhotoForm,
    EditPieceForm,
    PayoutDetailsForm,
    PhotoForm,
    PieceForm,
    StockForm,
    allocation_from,
    backing_form,
    lot_field_name,
)
from marketplace.ledger.services import jeweller_gold
from marketplace.media.services import MAX_PIXELS, MAX_UPLOAD_BYTES
from marketplace.premium.services import piece_premium, premium_by_cooperative, rates_on

bp = Blueprint("jeweller", __name__, url_prefix="/jeweller")


# --- helpers ------------------------------------------------------------------------------


def _workshop() -> Jeweller:
    """The signed-in jeweller's workshop."""
    jeweller = signed_in_user().jeweller
    if jeweller is None:
        abort(403)
    return jeweller


def _own_piece(jeweller: Jeweller, piece_id: int) -> Piece:
    """The workshop's piece, or 404 (another workshop's piece does not exist for it)."""
    piece = services.find_piece(jeweller.id, piece_id)
    if piece is None:
        abort(404)
    return piece


def _not_approved(jeweller: Jeweller) -> ResponseReturnValue:
    """The page that says pieces wait for the Central's approval."""
    return render_template("jeweller/not_approved.html", jeweller=jeweller), 403


def _refusal(form: FlaskForm, error: DomainError, default_field: str | None = None) -> str | None:
    """Put a service's refusal on its field; return it when it belongs to the whole form."""
    name = getattr(error, "field", None) or default_field
    if name and name in form:
        form[name].errors = [*form[name].errors, error.message]
        return None
    return error.message


def _status(form: FlaskForm, error: str | None) -> int:
    """422 when something was refused, 200 otherwise."""
    return 422 if (form.errors or error) else 200


def _status_word(piece: Piece) -> str:
    """Where a piece stands, in words ("draft", "active", "archived")."""
    words = {"draft": _("draft"), "active": _("active"), "archived": _("archived")}
    return words.get(piece.status, piece.status)


def _details(form: PieceForm) -> services.PieceDetails:
    """The piece details a valid form holds."""
    return services.PieceDetails(
        title=" ".join((form.title.data or "").split()),
        description=(form.description.data or "").strip(),
        category=str(form.category.data),
        karat=int(form.karat.data or 0),
        gross_mg=int(form.gross_weight.data or 0),
        price_minor=int(form.price.data or 0),
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """A body over MAX_CONTENT_LENGTH: say what the limit is, instead of a bare 413."""
    return render_template(
        "jeweller/too_large.html",
        back=request.path,
        limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), 413


# --- applying -----------------------------------------------------------------------------


@bp.route("/apply", methods=["GET", "POST"])
@login_required
def apply() -> ResponseReturnValue:
    """Apply to sell: the workshop waits, pending, for the Central's approval."""
    user = signed_in_user()
    if user.jeweller_id is not None:
        return redirect(url_for("jeweller.index"))
    if user.role != Role.SHOPPER.value:
        return render_template("jeweller/apply.html", form=None, other_role=True), 403
    form = ApplicationForm()
    error = None
    if form.validate_on_submit():
        try:
            jeweller = services.apply_to_sell(
                user,
                services.Application(
                    business_name=form.business_name.data or "",
                    ruc=form.ruc.data or "",
                    city=form.city.data or "",
                    region=str(form.region.data or ""),
                    story=form.story.data or "",
                    fairtrade_status=str(form.fairtrade_status.data),
                    fairtrade_number=form.fairtrade_number.data,
                ),
            )
        except DomainError as refused:
            error = _refusal(form, refused)
        else:
            db.session.commit()
            flash(
                _(
                    "Thank you. %(name)s has applied; the Central will review it. "
                    "You can list pieces once it is approved.",
                    name=jeweller.business_name,
                ),
                "success",
            )
            return redirect(url_for("jeweller.index"))
    return render_template("jeweller/apply.html", form=form, error=error), _status(form, error)


# --- home ---------------------------------------------------------------------------------


@bp.get("/")
@role_required(Role.JEWELLER)
def index() -> ResponseReturnValue:
    """The workspace home: the application's status, gold held per lot and every piece."""
    jeweller = _workshop()
    holdings = services.gold_by_lot(jeweller.id)
    pieces = services.workshop_pieces(jeweller.id)
    try:
        orders_url: str | None = url_for("fulfilment.jeweller_orders")
    except BuildError:  # the orders feature is not mounted
        orders_url = None
    return render_template(
        "jeweller/index.html",
        jeweller=jeweller,
        holdings=holdings,
        pieces=pieces,
        orders_url=orders_url,
    )


# --- pieces -------------------------------------------------------------------------------


@bp.route("/pieces/new", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def new_piece() -> ResponseReturnValue:
    """List a new piece, as a draft."""
    jeweller = _workshop()
    if not jeweller.approved:
        return _not_approved(jeweller)
    form = PieceForm()
    error = None
    if form.validate_on_submit():
        try:
            piece = services.add_piece(jeweller, _details(form))
        except DomainError as refused:
            error = _refusal(form, refused)
        else:
            db.session.commit()
            flash(
                _(
                    "Draft saved: %(title)s. Next, back it with gold from your lots: each unit "
                    "needs %(weight)s of fine gold.",
                    title=piece.title,
                    weight=format_grams(piece.fine_mg, format_locale()),
                ),
                "success",
            )
            return redirect(url_for("jeweller.gold", piece_id=piece.id))
    return render_template("jeweller/piece_form.html", form=form, piece=None, error=error), _status(
        form, error
    )


@bp.route("/pieces/<int:piece_id>/edit", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def edit_piece(piece_id: int) -> ResponseReturnValue:
    """Change a piece's details and status (draft, active, archived)."""
    jeweller = _workshop()
    piece = _own_piece(jeweller, piece_id)
    if not jeweller.approved:
        return _not_approved(jeweller)
    form = EditPieceForm(
        data={
            "title": piece.title,
            "description": piece.description,
            "category": piece.category,
            "karat": piece.karat,
            "gross_weight": piece.gross_mg,
            "price": piece.price_minor,
            "status": piece.status,
        }
    )
    error = None
    if form.validate_on_submit():
        try:
            services.edit_piece(
                piece, _details(form), str(form.status.data), actor=jeweller.business_name
            )
        except DomainError as refused:
            error = _refusal(form, refused)
        else:
            db.session.commit()
            flash(
                _("Saved: %(title)s is %(status)s.", title=piece.title, status=_status_word(piece)),
                "success",
            )
            return redirect(url_for("jeweller.edit_piece", piece_id=piece.id))
    return render_template(
        "jeweller/piece_form.html", form=form, piece=piece, error=error
    ), _status(form, error)


@bp.route("/pieces/<int:piece_id>/stock", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def stock(piece_id: int) -> ResponseReturnValue:
    """Set how many units are on the shelf: raising commits gold, lowering returns it."""
    jeweller = _workshop()
    piece = _own_piece(jeweller, piece_id)
    if not jeweller.approved:
        return _not_approved(jeweller)
    form = StockForm(data={"stock": piece.stock})
    error = None
    if form.validate_on_submit():
        before = piece.stock
        wanted = int(form.stock.data or 0)
        try:
            services.change_stock(piece, wanted, actor=jeweller.business_name)
        except DomainError as refused:
            error = _refusal(form, refused, "stock")
        else:
            db.session.commit()
            moved = format_grams(abs(wanted - before) * piece.fine_mg, format_locale())
            message = _("Stock of %(title)s is now %(count)s.", title=piece.title, count=wanted)
            if wanted > before:
                message += " " + _(
                    "%(weight)s of fine gold committed from your lots.", weight=moved
                )
            elif wanted < before:
                message += " " + _("%(weight)s of fine gold returned to your lots.", weight=moved)
            flash(message, "success")
            return redirect(url_for("jeweller.stock", piece_id=piece.id))
    free = jeweller_gold(jeweller.id)
    return render_template(
        "jeweller/stock.html",
        form=form,
        piece=piece,
        error=error,
        free=free,
        more=services.units_coverable(piece, free),
    ), _status(form, error)


@bp.route("/pieces/<int:piece_id>/gold", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def gold(piece_id: int) -> ResponseReturnValue:
    """Back a piece with fine gold per unit from the lots the workshop holds."""
    jeweller = _workshop()
    piece = _own_piece(jeweller, piece_id)
    if not jeweller.approved:
        return _not_approved(jeweller)
    free = jeweller_gold(jeweller.id)
    current = {g.lot_id: g.fine_mg_per_unit for g in piece.gold}
    lots = services.lots_to_back_from(piece, free)
    form = backing_form(
        [
            (
                lot.id,
                _(
                    "Lot %(code)s (%(cooperative)s)",
                    code=lot.code,
                    cooperative=lot.cooperative.short_name,
                ),
            )
            for lot in lots
        ],
        current,
    )
    error = None
    if form.validate_on_submit():
        try:
            services.back_with_held_gold(
                piece,
                allocation_from(form, [lot.id for lot in lots]),
                actor=jeweller.business_name,
            )
        except DomainError as refused:
            error = _refusal(form, refused)
        else:
            db.session.commit()
            flash(
                _("%(title)s is backed with certified gold, lot by lot.", title=piece.title),
                "success",
            )
            return redirect(url_for("jeweller.gold", piece_id=piece.id))
    quote, by_coop, rate_missing = None, [], False
    if piece.gold:
        try:
            quote = piece_premium(piece, rates_on(utcnow().date(), piece.currency))
            by_coop = premium_by_cooperative(piece, quote)
        except NoRateInForce:
            rate_missing = True
    return render_template(
        "jeweller/gold.html",
        form=form,
        piece=piece,
        lots=lots,
        free=free,
        current=current,
        field_name=lot_field_name,
        quote=quote,
        by_coop=by_coop,
        rate_missing=rate_missing,
        error=error,
    ), _status(form, error)


@bp.route("/pieces/<int:piece_id>/photos", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def photos(piece_id: int) -> ResponseReturnValue:
    """Upload photos of a piece (checked and re-encoded) and delete them."""
    jeweller = _workshop()
    piece = _own_piece(jeweller, piece_id)
    if not jeweller.approved:
        return _not_approved(jeweller)
    form = PhotoForm()
    error = None
    if form.validate_on_submit():
        upload = form.photo.data
        # Read one byte past the limit: enough to know it is too big, never the whole body.
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        try:
            services.add_photo(piece, data, alt=form.alt.data or "", filename=upload.filename)
        except DomainError as refused:
            error = _refusal(form, refused, "photo")
        else:
            db.session.commit()
            flash(_("Photo added."), "success")
            return redirect(url_for("jeweller.photos", piece_id=piece.id))
    return render_template(
        "jeweller/photos.html",
        form=form,
        delete_form=DeletePhotoForm(formdata=None),
        piece=piece,
        error=error,
        limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        max_megapixels=MAX_PIXELS // 1_000_000,
        max_photos=MAX_PHOTOS_PER_PIECE,
    ), _status(form, error)


@bp.post("/pieces/<int:piece_id>/photos/<int:photo_id>/delete")
@role_required(Role.JEWELLER)
def delete_photo(piece_id: int, photo_id: int) -> ResponseReturnValue:
    """Delete one photo of a piece."""
    jeweller = _workshop()
    piece = _own_piece(jeweller, piece_id)
    if not jeweller.approved:
        return _not_approved(jeweller)
    if not any(p.id == photo_id for p in piece.photos):
        abort(404)
    if not DeletePhotoForm().validate_on_submit():
        abort(400)
    try:
        services.delete_photo(piece, photo_id)
    except DomainError:
        abort(404)
    db.session.commit()
    flash(_("Photo deleted."), "success")
    return redirect(url_for("jeweller.photos", piece_id=piece.id))


@bp.route("/payout-details", methods=["GET", "POST"])
@role_required(Role.JEWELLER)
def payout_details() -> ResponseReturnValue:
    """Where the workshop's earnings are paid (the Central's bank transfer file uses it)."""
    jeweller = _workshop()
    form = PayoutDetailsForm(obj=jeweller)
    if form.validate_on_submit():
        jeweller.payout_bank = (form.payout_bank.data or "").strip()
        jeweller.payout_account_holder = (form.payout_account_holder.data or "").strip()
        jeweller.payout_cci = form.payout_cci.data
        db.session.commit()
        flash(_("Your payout details are saved."), "success")
        return redirect(url_for("jeweller.payout_details"))
    return render_template("jeweller/payout_details.html", form=form, jeweller=jeweller), (
        422 if form.errors else 200
    )
