"""Locust users for the benchmarks: one class per page measured, the floor, a shopper who buys
with the sandbox card, and (past one machine) a mixed crowd spread over several app processes.

Each user waits for nothing between requests: a run measures how much the server can answer,
not how a human paces. What the users ask for (piece slugs, lot codes, the search word, who
signs in) comes from the JSON file named by ``BENCH_TARGETS``, written by ``bench/http``.

    BENCH_TARGETS=/tmp/oro-bench/targets.json locust --headless -f bench/locustfile.py \\
        --host http://127.0.0.1:8100 -u 16 -r 16 -t 30s --csv /tmp/oro-bench/piece PieceUser
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from locust import FastHttpUser, HttpUser, constant, events, task

TARGETS: dict[str, Any] = (
    json.loads(open(os.environ["BENCH_TARGETS"], encoding="utf-8").read())
    if os.environ.get("BENCH_TARGETS")
    else {}
)
#: Several app processes (``BENCH_HOSTS=http://127.0.0.1:8101,http://127.0.0.1:8102``): each
#: user talks to one of them, in turn.
HOSTS = itertools.cycle([h for h in os.environ.get("BENCH_HOSTS", "").split(",") if h])

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PIECE_ID = re.compile(r'name="piece_id" value="(\d+)"')
PAID_PAGE = re.compile(r"/orders/OP-[A-Z0-9]+(\?|$)")
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/49", "cvc": "123"}


#: How the shop's page cache answered (its ``X-Page-Cache`` header: hit, stale, miss or none), written
#: at the end of the run to the JSON file ``BENCH_CACHE_TALLY`` names.
TALLY: Counter[str] = Counter()


@events.quitting.add_listener
def _write_tally(**_: Any) -> None:
    path = os.environ.get("BENCH_CACHE_TALLY")
    if path:
        Path(path).write_text(json.dumps(dict(TALLY)), encoding="utf-8")


def csrf(html: str) -> str:
    """The CSRF token of the first form on a page ("" if none)."""
    found = CSRF.search(html)
    return found.group(1) if found else ""


def address(n: int) -> dict[str, str]:
    """A Peruvian delivery address for the checkout form."""
    return {
        "email": f"loadtest{n}@example.com",
        "name": f"Load Test {n}",
        "phone": "",
        "country": "PE",
        "region": "Puno",
        "city": "Juliaca",
        "address_line1": f"Jr. Moquegua {n % 900 + 1}",
        "address_line2": "",
        "postal_code": "",
    }


def label(user: Any, name: str) -> str:
    """A request's name, with the app process's port when several are loaded together."""
    if not os.environ.get("BENCH_HOSTS"):
        return name
    return f"{name} @{str(user.host).rsplit(':', 1)[-1]}"


class Page(FastHttpUser):
    """A user asking for one page as fast as the server answers."""

    abstract = True
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        """Pick this user's app process when several are loaded together."""
        if os.environ.get("BENCH_HOSTS"):
            self.host = next(HOSTS)
        super().__init__(environment)

    def get(self, path: str, name: str) -> Any:
        """GET ``path``, counted under ``name`` (and how the page cache answered)."""
        response = self.client.get(path, name=label(self, name))
        TALLY[(response.headers or {}).get("X-Page-Cache") or "none"] += 1
        return response


class FloorUser(Page):
    """The floor app: one primary-key read and a short template."""

    @task
    def piece(self) -> None:
        """A random piece by id."""
        self.get(f"/pieces/{random.choice(TARGETS['piece_ids'])}", "floor")


class HomeUser(Page):
    """The home page."""

    @task
    def home(self) -> None:
        """/"""
        self.get("/", "home")


class CatalogUser(Page):
    """The catalog's first page."""

    @task
    def catalog(self) -> None:
        """/products"""
        self.get("/products", "catalog page 1")


class CatalogDeepUser(Page):
    """Far into the catalog."""

    @task
    def catalog(self) -> None:
        """/products?page=50"""
        self.get("/products?page=50", "catalog page 50")


class SearchUser(Page):
    """A search for a word that matches."""

    @task
    def search(self) -> None:
        """/products?q=<word>"""
        self.get(f"/products?q={TARGETS['search_word']}", "search")


class FilteredUser(Page):
    """The catalog narrowed and sorted."""

    @task
    def filtered(self) -> None:
        """Rings of 18k, cheapest first."""
        self.get("/products?category=ring&karat=18&sort=price_asc", "filtered catalog")


class PieceUser(Page):
    """A piece with its provenance panel."""

    @task
    def piece(self) -> None:
        """A random piece by slug."""
        self.get(f"/products/{random.choice(TARGETS['piece_slugs'])}", "piece")


class LotUser(Page):
    """A lot with its custody chain, verified on every view."""

    @task
    def lot(self) -> None:
        """A random lot by code."""
        self.get(f"/lots/{random.choice(TARGETS['lot_codes'])}", "lot")


class CooperativeUser(Page):
    """A cooperative officer's premium dashboard."""

    def on_start(self) -> None:
        """Sign in once."""
        page = self.client.get("/account/login", name="sign in (form)")
        self.client.post(
            "/account/login",
            data={
                "csrf_token": csrf(page.text or ""),
                "email": TARGETS["officer_email"],
                "password": TARGETS["password"],
            },
            name="sign in",
        )

    @task
    def dashboard(self) -> None:
        """/cooperative/"""
        with self.client.get(
            "/cooperative/",
            name="cooperative dashboard",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}: not signed in?")


def record(user: Any, name: str, started: float, exception: Exception | None = None) -> None:
    """Count a whole purchase (or a sold-out attempt) as one event in the statistics."""
    events.request.fire(
        request_type="FLOW",
        name=label(user, name),
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=exception,
        context={},
    )


class Shopper:
    """The sandbox checkout as a browser walks it: piece page, add to cart (then the cart),
    address form, address (then the review), place the order (then the pay form), pay with
    4242 (then the receipt). Redirects are followed by hand so each step is timed on its own.
    """

    n = itertools.count(1)
    client: Any

    def _post(self, path: str, data: dict[str, str], name: str) -> Any:
        """POST a form without following its redirect."""
        return self.client.post(path, data=data, name=label(self, name), allow_redirects=False)

    def buy(self) -> None:
        """One purchase; "checkout: paid order" counts the orders paid."""
        started = time.perf_counter()
        slug = random.choice(TARGETS["buy_slugs"])
        page = self.client.get(f"/products/{slug}", name=label(self, "checkout: piece page"))
        found = PIECE_ID.search(page.text or "")
        if not found:
            record(self, "checkout: sold out", started)
            return
        self._post(
            "/cart",
            {
                "csrf_token": csrf(page.text),
                "piece_id": found.group(1),
                "action": "add",
                "quantity": "1",
            },
            "checkout: add to cart",
        )
        self.client.get("/cart", name=label(self, "checkout: cart"))
        form = self.client.get(
            "/checkout", name=label(self, "checkout: address form"), allow_redirects=False
        )
        if form.status_code != 200:
            record(self, "checkout: sold out", started)  # the cart is empty: sold out meanwhile
            return
        self._post(
            "/checkout",
            {"csrf_token": csrf(form.text), **address(next(self.n))},
            "checkout: address",
        )
        review = self.client.get("/checkout/review", name=label(self, "checkout: review"))
        placed = self._post(
            "/checkout/review", {"csrf_token": csrf(review.text)}, "checkout: place order"
        )
        pay_url = placed.headers.get("Location", "")
        if "/pay" not in pay_url:
            if placed.status_code in (302, 303):  # sent back to the cart: sold out meanwhile
                record(self, "checkout: sold out", started)
            else:
                record(
                    self,
                    "checkout: paid order",
                    started,
                    RuntimeError(f"placing the order answered {placed.status_code}"),
                )
            return
        pay = self.client.get(pay_url, name=label(self, "checkout: pay form"))
        done = self._post(pay_url, {"csrf_token": csrf(pay.text), **CARD}, "checkout: pay")
        receipt = done.headers.get("Location", "")
        if done.status_code in (302, 303) and PAID_PAGE.search(receipt):
            self.client.get(receipt, name=label(self, "checkout: receipt"))
            record(self, "checkout: paid order", started)
        else:
            record(
                self,
                "checkout: paid order",
                started,
                RuntimeError(f"paying answered {done.status_code} {receipt}"),
            )


class CheckoutUser(Shopper, Page):
    """A shopper buying one piece after another, as fast as the shop lets them.

    With ``BENCH_BACKGROUND_SHOPPERS=N`` exactly N of them buy while another class of users asks
    for its page: every order is a write, and writes replace the shop's cached pages.
    """

    fixed_count = int(os.environ.get("BENCH_BACKGROUND_SHOPPERS", "0"))

    @task
    def checkout(self) -> None:
        """One purchase."""
        self.buy()


# --- Past one machine: a mixed crowd over several app processes --------------------------------


class Browser(Page):
    """Someone looking around: home, catalog, search, pieces, lots."""

    weight = 3

    @task(2)
    def home(self) -> None:
        """/"""
        self.get("/", "home")

    @task(4)
    def catalog(self) -> None:
        """A catalog page."""
        self.get(f"/products?page={random.randint(1, 20)}", "catalog")

    @task(2)
    def search(self) -> None:
        """A search."""
        self.get(f"/products?q={TARGETS['search_word']}", "search")

    @task(6)
    def piece(self) -> None:
        """A piece."""
        self.get(f"/products/{random.choice(TARGETS['piece_slugs'])}", "piece")

    @task(1)
    def lot(self) -> None:
        """A lot."""
        self.get(f"/lots/{random.choice(TARGETS['lot_codes'])}", "lot")


class SpreadShopper(Shopper, HttpUser):
    """A shopper for the run over several processes, with rate limits on.

    Every purchase comes from a new visitor: fresh cookies and a loopback address of its own
    (127.1.x.y), so the shop's per-address limits apply as they would to real shoppers and
    never to the load generator as a whole. Uses ``requests``, which can choose the source
    address.
    """

    weight = 1
    #: How many shoppers among the users (``BENCH_SHOPPERS``); the rest browse.
    fixed_count = int(os.environ.get("BENCH_SHOPPERS", "0"))
    wait_time = constant(0)
    addresses = itertools.count()

    def __init__(self, environment: Any) -> None:
        """Pick this shopper's app process."""
        if os.environ.get("BENCH_HOSTS"):
            self.host = next(HOSTS)
        super().__init__(environment)

    def new_visitor(self) -> None:
        """Forget the cookies and connect from the next loopback address."""
        from requests.adapters import HTTPAdapter

        k = next(self.addresses)
        source = f"127.1.{(k // 250) % 250 + 1}.{k % 250 + 1}"

        class FromAddress(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["source_address"] = (source, 0)
                super().init_poolmanager(*args, **kwargs)

        self.client.cookies.clear()
        self.client.mount("http://", FromAddress())

    @task
    def checkout(self) -> None:
        """One purchase by a new visitor."""
        self.new_visitor()
        self.buy()
