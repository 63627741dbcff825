"""``LedgerCatalog``: Kedro's ``DataCatalog`` that can be told that a file on disk does not count.

``kedro run --only-missing-outputs`` skips a node when ``catalog.exists`` says its outputs exist.
Before a run, :mod:`ntk_linearity.provenance.resume` finds the files that exist but must not be trusted (a
run that was never committed, results of other settings, tables derived from them) and marks them
here, so the runner recomputes them; nothing on disk is deleted to get there.
"""

from __future__ import annotations

from collections.abc import Iterable

from kedro.io import DataCatalog


class LedgerCatalog(DataCatalog):
    """``DataCatalog`` whose :meth:`exists` is ``False`` for the datasets :meth:`mark_missing` names."""

    def mark_missing(self, names: Iterable[str]) -> None:
        """Count ``names`` as missing, whatever is on disk."""
        self._marked_missing = getattr(self, "_marked_missing", frozenset()) | frozenset(names)

    def exists(self, ds_name: str) -> bool:
        if ds_name in getattr(self, "_marked_missing", ()):
            return False
        return super().exists(ds_name)
