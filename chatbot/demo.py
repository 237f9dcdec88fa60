"""Demo data for the built-in bot: FAQ entries and orders (``manage.py seed_demo``).

``seed_orders_and_faq()`` may run any number of times: each FAQ entry and
order is matched by its question or number and rewritten to the demo state.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chatbot.models import CardStatus, FaqEntry, Order, OrderItem, Shipment

# topic -> language -> (question, keywords, answer). A topic missing a language is
# answered in English (chatbot/bots/builtin.py::match_faq); keywords may be in any language.
FAQ: dict[str, dict[str, tuple[str, str, str]]] = {
    "delivery": {
        "en": (
            "How long does delivery take?",
            "delivery, deliver, shipping, ship, arrive, dispatch, 发货, 配送, 运费",
            "Orders leave our UK, EU and US warehouses within 1–2 working days. Delivery then takes "
            "2–5 working days in the UK and the EU and 3–7 in the US. You get a tracking link by email "
            "as soon as your parcel ships, and shipping is free on every e-bike.",
        ),
    },
    "returns": {
        "en": (
            "How do I return an item?",
            "return, returns, refund, send back, money back, exchange, 退货, 退款",
            "You can return anything within 30 days of delivery, unused and in its original packaging. "
            "Tell us your order number here and we'll email a prepaid return label; your refund reaches "
            "your original payment method within 5–7 working days of the return arriving.",
        ),
    },
    "warranty": {
        "en": (
            "What does the warranty cover?",
            "warranty, guarantee, broken, defect, faulty, repair, 保修, 质保",
            "Frames carry a 2-year warranty; motors, batteries, displays and chargers 1 year. It covers "
            "manufacturing defects, not wear parts (tyres, brake pads, chains) or crash damage. Send us "
            "your order number and a photo or video of the problem and we'll sort out a repair or a part.",
        ),
    },
    "battery": {
        "en": (
            "How far does the battery go, and how do I look after it?",
            "battery, range, mileage, km, miles, cells, 电池, 续航",
            "Range depends on the model and the assist level: the D11 goes up to 100 km, the C11 up to "
            "130 km. To keep the battery healthy, store it between 40% and 80% charge in a cool, dry "
            "place, charge it at least once every three months, and avoid charging below 0 °C.",
        ),
    },
    "charging": {
        "en": (
            "How do I charge my e-bike?",
            "charge, charging, charger, plug, charge time, 充电, 充电器",
            "Use the charger that came with your bike. A full charge takes 4–6 hours; the charger's light "
            "turns green when it is done. You can charge the battery on the bike or take it out; don't "
            "leave it on the charger for days at a time.",
        ),
    },
}

DPD_NUMBER = "15501234567890"
ROYAL_MAIL_NUMBER = "RM123456785GB"


def _orders(now) -> list[dict]:
    return [
        {
            "number": "UK22080",
            "status": Order.Status.PARTIALLY_SHIPPED,
            "currency": "GBP",
            "total": "1048.00",
            "placed_at": now - timedelta(days=4),
            "customer_name": "Oliver Brown",
            "customer_email": "oliver@example.com",
            "shipments": {
                "dpd": ("DPD", DPD_NUMBER, f"https://track.dpd.co.uk/parcels/{DPD_NUMBER}", CardStatus.IN_TRANSIT),
                "rm": (
                    "Royal Mail",
                    ROYAL_MAIL_NUMBER,
                    f"https://www.royalmail.com/track-your-item#/tracking-results/{ROYAL_MAIL_NUMBER}",
                    CardStatus.SHIPPED,
                ),
            },
            "items": [
                ("Fiido D11 Folding E-bike", 1, "999.00", "", "dpd"),
                ("Fiido Rear Rack", 1, "49.00", "", "rm"),
            ],
        },
        {
            "number": "US10432",
            "status": Order.Status.REFUNDED,
            "currency": "USD",
            "total": "1548.00",
            "placed_at": now - timedelta(days=41),
            "customer_name": "Emma Johnson",
            "customer_email": "emma@example.com",
            "shipments": {},
            "items": [
                ("Fiido X Folding E-bike", 1, "1499.00", CardStatus.RETURNED_REFUNDED, None),
                ("Worry-free Purchase", 1, "49.00", CardStatus.REFUNDED, None),
            ],
        },
        {
            "number": "EU30517",
            "status": Order.Status.DELIVERED,
            "currency": "EUR",
            "total": "1278.00",
            "placed_at": now - timedelta(days=20),
            "customer_name": "Lena Schmidt",
            "customer_email": "lena@example.com",
            "shipments": {
                "dhl": (
                    "DHL",
                    "00340434161094042557",
                    "https://www.dhl.com/de-en/home/tracking.html?tracking-id=00340434161094042557",
                    CardStatus.RECEIVED,
                ),
            },
            "items": [
                ("Fiido C11 City E-bike", 1, "1199.00", "", "dhl"),
                ("Extended Warranty (2 years)", 1, "79.00", CardStatus.ACTIVE, None),
            ],
        },
        {
            "number": "DE41290",
            "status": Order.Status.PROCESSING,
            "currency": "EUR",
            "total": "1899.00",
            "placed_at": now - timedelta(days=1),
            "customer_name": "Jonas Weber",
            "customer_email": "jonas@example.com",
            "shipments": {},
            "items": [("Fiido M1 Pro Fat Tyre E-bike", 1, "1899.00", "", None)],
        },
        {
            "number": "PL50321",
            "status": Order.Status.SHIPPED,
            "currency": "PLN",
            "total": "4599.00",
            "placed_at": now - timedelta(days=6),
            "customer_name": "Anna Nowak",
            "customer_email": "anna@example.com",
            "shipments": {
                "inpost": (
                    "InPost",
                    "620123456789012345678901",
                    "https://inpost.pl/sledzenie-przesylek?number=620123456789012345678901",
                    CardStatus.DELIVERY_FAILED,
                ),
            },
            "items": [("Fiido Titan Cargo E-bike", 1, "4599.00", "", "inpost")],
        },
    ]


@transaction.atomic
def seed_orders_and_faq() -> None:
    """Create or reset the demo FAQ and orders (``UK22080`` and friends)."""
    for topic, languages in FAQ.items():
        for language, (question, keywords, answer) in languages.items():
            FaqEntry.objects.update_or_create(
                topic=topic,
                language=language,
                defaults={"question": question, "keywords": keywords, "answer": answer, "is_active": True},
            )
    for data in _orders(timezone.now()):
        order, created = Order.objects.get_or_create(
            number=data["number"],
            defaults={key: data[key] for key in ("status", "currency", "total", "placed_at")},
        )
        if not created:
            order.status, order.currency, order.total = data["status"], data["currency"], data["total"]
        order.customer_name, order.customer_email = data["customer_name"], data["customer_email"]
        order.save()
        order.items.all().delete()
        order.shipments.all().delete()
        shipments = {
            key: Shipment.objects.create(
                order=order,
                carrier=carrier,
                tracking_number=number,
                tracking_url=url,
                status=status,
                shipped_at=order.placed_at + timedelta(days=1),
            )
            for key, (carrier, number, url, status) in data["shipments"].items()
        }
        for name, quantity, price, status, shipment in data["items"]:
            OrderItem.objects.create(
                order=order,
                product_name=name,
                quantity=quantity,
                price=Decimal(price),
                status=status,
                shipment=shipments.get(shipment) if shipment else None,
            )
