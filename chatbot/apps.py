from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    name = "chatbot"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from chatbot import selectors
        from fiido.realtime.hub import register_probe

        # The hub asks this which streams are behind (one query for many groups).
        register_probe(selectors.latest_seqs)
