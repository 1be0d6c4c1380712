"""The cluster of server nodes: membership (:mod:`.membership`), cross-server calls
(:mod:`.calls`), cluster-wide queries (:mod:`.queries`), operations run on every node
(:mod:`.operations`) and the health event log (:mod:`.health_log`).
"""
