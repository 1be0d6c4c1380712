"""Tests of realtime.node."""
