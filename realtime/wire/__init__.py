"""The wire: what travels between clients, servers and nodes, as pure code.

The client protocol codec (:mod:`.protocol`), group and channel names (:mod:`.names`), close
and error codes (:mod:`.codes`), finished frames (:mod:`.frames`) and the schema of the
messages server nodes send each other (:mod:`.node_messages`). No Django, no I/O: everything
here is tested with literal values, and the Python client builds on it.
"""
