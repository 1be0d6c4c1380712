"""Shared test helpers: real server processes, bounded waits, WebSocket clients."""
