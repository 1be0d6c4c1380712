"""Tests of realtime.wire."""
