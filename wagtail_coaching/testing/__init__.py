"""Helpers for testing wagtail-coaching and sites built on it (needs the ``test`` extra)."""
