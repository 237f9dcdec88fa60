"""A Shopify Admin GraphQL endpoint on 127.0.0.1 for the tests: it answers the
two queries ``chatbot/order_sources/shopify.py`` sends (orders by name, orders
by email) from Shopify-shaped order nodes, and, when scripted, with Shopify's
failures: HTTP errors, GraphQL ``errors``, throttling (429 with
``Retry-After``, or ``THROTTLED``) and a request that never finishes."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "shpat_test_token"
VERSION = "2026-10"
COST = {
    "requestedQueryCost": 52,
    "actualQueryCost": 12,
    "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1988, "restoreRate": 100.0},
}
INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def throttled(*, requested: float = 52, available: float = 52, restore_rate: float = 100.0) -> dict[str, Any]:
    """Shopify's answer to a query that does not fit in the bucket (HTTP 200)."""
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/limits"},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": restore_rate,
                },
            }
        },
    }


def money(amount: str, currency: str = "GBP") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def line(line_id: str, title: str, quantity: int, unit_price: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/LineItem/{line_id}",
        "title": title,
        "quantity": quantity,
        "originalUnitPriceSet": money(unit_price, extra.pop("currency", "GBP")),
        "image": extra.pop("image", None),
        "product": extra.pop("product", None),
        **extra,
    }


def fulfillment(status: str, lines: list[str], tracking: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "displayStatus": status,
        "trackingInfo": tracking,
        "fulfillmentLineItems": {"nodes": [{"lineItem": {"id": f"gid://shopify/LineItem/{n}"}} for n in lines]},
    }


def order_node(name: str, email: str | None, created_at: str, **fields: Any) -> dict[str, Any]:
    """An order as the Admin API answers it, for the fields the source asks for."""
    return {
        "name": name,
        "email": email,
        "createdAt": created_at,
        "cancelledAt": None,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "totalPriceSet": money("0.00"),
        "lineItems": {"nodes": []},
        "fulfillments": [],
        **fields,
    }


def shop_orders() -> list[dict[str, Any]]:
    """The shop of the tests: two of Oliver's orders, one of Emma's, and a near name."""
    return [
        order_node(
            "UK22080",
            "Oliver@Example.com",
            "2026-11-27T10:15:00Z",
            displayFulfillmentStatus="PARTIALLY_FULFILLED",
            totalPriceSet=money("1097.00"),
            lineItems={
                "nodes": [
                    line(
                        "1",
                        "Fiido D11 Folding E-bike",
                        1,
                        "999.00",
                        image={"url": "https://cdn.shopify.com/d11.jpg"},
                        product={"onlineStoreUrl": "https://fiido.example/products/d11"},
                    ),
                    line("2", "Fiido Rear Rack", 2, "49.00", product={"onlineStoreUrl": None}),
                ]
            },
            fulfillments=[
                fulfillment(
                    "IN_TRANSIT",
                    ["1"],
                    [{"company": "DPD", "number": "15501234567890", "url": "https://track.dpd.co.uk/15501234567890"}],
                )
            ],
        ),
        order_node("UK220801", "someone@example.com", "2026-11-28T09:00:00Z"),  # found by a loose name search
        order_node(
            "#UK30001",
            "oliver@example.com",
            "2026-11-30T08:00:00Z",
            displayFinancialStatus="PENDING",
            totalPriceSet=money("49.00"),
            lineItems={"nodes": [line("3", "Fiido Bell", 1, "49.00")]},
        ),
        order_node("UK10432", "emma@example.com", "2026-10-01T08:00:00Z", totalPriceSet=money("10.00")),
    ]


class FakeShopify:
    """The endpoint: ``orders`` are the shop's order nodes; each entry of ``script``
    answers one request instead of the shop: ``(status, body)``, ``(status, body,
    headers)``, or ``"hang"`` (hold the request until the test ends)."""

    def __init__(self) -> None:
        self.orders = shop_orders()
        self.script: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if server.script:
                    step = server.script.pop(0)
                    if step == "hang":
                        server.release.wait(30)
                        return
                    status, payload, *headers = step
                    return self.answer(status, payload, headers[0] if headers else {})
                if self.path != f"/admin/api/{VERSION}/graphql.json":
                    return self.answer(404, {"errors": "Not Found"})
                if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                    return self.answer(401, INVALID_TOKEN)
                nodes = server.search(body["query"], body.get("variables") or {})
                self.answer(200, {"data": {"orders": {"nodes": nodes}}, "extensions": {"cost": COST}})

            def answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def search(self, query: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
        """Shopify's search, as loosely as it matches: a name finds names that start
        with it; an email finds the address in any case."""
        terms = variables["query"]
        if terms.startswith("name:"):
            names = re.findall(r"name:(\S+)", terms)
            found = [node for node in self.orders if any(node["name"].startswith(name) for name in names)]
            return found[:5]
        match = re.fullmatch(r'email:"((?:[^"\\]|\\.)*)"', terms)
        assert match, f"not a query the source sends: {terms!r}"
        assert "sortKey: CREATED_AT, reverse: true" in query
        email = re.sub(r"\\(.)", r"\1", match.group(1)).casefold()
        found = [node for node in self.orders if (node["email"] or "").casefold() == email]
        found.sort(key=lambda node: node["createdAt"], reverse=True)
        return found[: variables["first"]]

    def __enter__(self) -> FakeShopify:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
