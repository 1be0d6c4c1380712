"""This node: its local registry of connections, users and rooms, local fan-out, and the link
to the other nodes over the Channels layer API (node-level groups, one message per publish).
"""
