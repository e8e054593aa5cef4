"""Renderers of a Report: text (rich or plain), json."""
