"""Tests of realtime.connection."""
