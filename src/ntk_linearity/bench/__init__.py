"""The benchmark suite (airspeed velocity, asv): docs/benchmarks.md.

* :mod:`.cases` -- what each case runs, at which size, and its floor (flops or bytes);
* :mod:`.floors` -- the reference programs (one GEMM, one memory pass, one process start) that
  measure the machine's own limit beside the cases;
* :mod:`.programs`, :mod:`.kedro_run` -- the programs timed (JAX and Kedro imported only there);
* :mod:`.suite` -- the asv benchmarks, thin wrappers (``asv.conf.json``: ``benchmark_dir`` is this
  folder, imported by asv as the package ``bench``, so modules here import each other relatively);
* :mod:`.table`, :mod:`.compare`, :mod:`.cli` -- ``python -m ntk_linearity.bench table`` prints a
  stored run (time, floor, ratio); ``... compare A B`` compares two commits.

Results live in ``results/`` beside this file (committed: the history travels with the code).
"""
