"""Provenance: which results on disk can be trusted, and whether a run fits before it starts.

``ledger`` defines a run's fingerprint and commit record; ``resume`` decides before a run which
persisted results are trusted; ``catalog`` lets the runner count the untrusted ones as missing;
``resources`` refuses a run whose memory estimate does not fit. Imports ``experiment`` and
``numerics``.
"""
