"""Screens of the chat app (modal dialogs over the main chat)."""
