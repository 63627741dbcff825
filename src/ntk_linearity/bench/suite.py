"""The airspeed-velocity (asv) suite: thin wrappers around :mod:`.cases` and :mod:`.floors`.

asv imports this folder as the package ``bench`` (``benchmark_dir`` of ``asv.conf.json``), so the
suite of the working tree measures any commit's ``ntk_linearity.numerics``. One class per case,
named after it: ``time_case`` (and ``peakmem_case`` where memory limits the size); one class per
floor reference, ``floor_<key>.time_floor``. ``setup`` builds and compiles; asv times the thunk.
"""

from __future__ import annotations

from .cases import Case, cases, floor_keys
from .floors import reference_program

CASES = cases()
TIME_SETTINGS = dict(number=1, repeat=(1, 5, 10.0), rounds=1, warmup_time=0.0)


def floor_class_name(key: str) -> str:
    return "floor_" + key.replace(":", "_")


def _case_class(case: Case) -> type:
    def setup(self):
        self.run = case.build()

    def run_once(self):
        self.run()

    attributes = dict(setup=setup, time_case=run_once, version=case.version, timeout=case.timeout,
                      __module__=__name__, __doc__=f"{case.name}: floor {case.floor.what}", **TIME_SETTINGS)
    if case.memory:
        attributes["peakmem_case"] = run_once
    if case.timeout > 600:
        attributes["repeat"] = 1
    return type(case.name, (), attributes)


def _floor_class(key: str) -> type:
    def setup(self):
        self.run = reference_program(key)

    def run_once(self):
        self.run()

    return type(floor_class_name(key), (), dict(setup=setup, time_floor=run_once, version=key, timeout=600.0,
                                                __module__=__name__, **TIME_SETTINGS))


for _case in CASES:
    globals()[_case.name] = _case_class(_case)
for _key in floor_keys(CASES):
    globals()[floor_class_name(_key)] = _floor_class(_key)
