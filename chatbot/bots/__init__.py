"""Bots answer customers while a session is ``bot_active``; see ``base.py``."""

from chatbot.bots.base import Bot, BotReply, get_bot

__all__ = ["Bot", "BotReply", "get_bot"]
