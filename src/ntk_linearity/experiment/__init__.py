"""The experiment model: what a run is, before anything runs.

``vocabulary`` names every axis, architecture and quantity; ``families`` holds the typed settings
of each model family and how its network is built; ``sweeps`` turns a YAML sweep block into
resolved runs; ``parameters`` validates the whole parameter tree into an ``Experiment``;
``config`` reads the active run environment's configuration. Imports only ``numerics``.
"""
