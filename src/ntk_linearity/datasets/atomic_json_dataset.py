"""``AtomicJSONDataset``: kedro-datasets' ``JSONDataset`` whose local saves are atomic.

``JSONDataset`` opens the target for writing and streams ``json.dump`` into it, so a run interrupted
mid-save (Ctrl-C, a killed job) leaves a truncated file. ``kedro run --only-missing-outputs`` then
counts it as present, skips the node that makes it, and the run that reads it fails.
"""

from __future__ import annotations

import json
from typing import Any

from kedro_datasets.json import JSONDataset

from ntk_linearity.datasets.atomic import AtomicLocalSave


class AtomicJSONDataset(AtomicLocalSave, JSONDataset):
    """``json.JSONDataset`` (same arguments) that, on the local filesystem, serialises the data first,
    writes it to a hidden temporary sibling, flushes it to disk and renames it over the target: the
    file is either the previous one or the complete new one, never a partial write. Other filesystems
    save as ``JSONDataset`` does.

    Example catalog entry:

    ```yaml
    "{namespace}.metrics":
      type: ntk_linearity.datasets.AtomicJSONDataset
      filepath: data/07_model_output/{namespace}/metrics.json
    ```
    """

    def _serialise(self, data: Any) -> bytes:
        return json.dumps(data, **self._save_args).encode()
