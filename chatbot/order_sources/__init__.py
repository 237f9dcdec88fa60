"""Order sources: where the bots and the agents' customer panel read orders.

``settings.ORDER_SOURCE`` names the class, as ``CHATBOT_BACKEND`` names the
bot: ``local.LocalOrderSource`` (the default: this database's orders, kept in
the admin) or ``shopify.ShopifyOrderSource`` (a Shopify shop, through the
Admin GraphQL API). See ``base.py`` for the interface.
"""

from chatbot.order_sources.base import Item, Order, OrderSource, Shipment, get_order_source

__all__ = ["Item", "Order", "OrderSource", "Shipment", "get_order_source"]
