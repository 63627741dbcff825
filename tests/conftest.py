"""Test-session setup shared by every test module.

Environment variables are set at import time, before any test module (or the
project package) imports JAX or Kedro: JAX reads ``JAX_PLATFORMS`` when its
backend is first initialised and kedro-telemetry checks
``KEDRO_DISABLE_TELEMETRY`` on every CLI call (offline machines stall on it).
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["KEDRO_DISABLE_TELEMETRY"] = "1"
