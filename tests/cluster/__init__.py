"""Tests of realtime.cluster."""
