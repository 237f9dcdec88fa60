from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from chatbot import hours, payloads, selectors

        hours.configured()  # a malformed SUPPORT_HOURS stops the worker now, naming the setting
        from fiido.metrics import register_queue_probe
        from fiido.realtime.hub import register_localizer, register_positions, register_probe

        # The hub asks this which streams are behind (one query for many groups),
        # has events rendered for readers of other languages with this, and
        # reads waiting customers' places in the queue with the last.
        register_probe(selectors.latest_seqs)
        register_localizer(payloads.localized_event_json)
        register_positions(selectors.queue_positions)
        register_queue_probe(selectors.queue_stats)  # the queue gauges of /metrics
