"""Handlers and an authenticator for the hardening tests (tests/e2e/hardened_settings.py)."""
