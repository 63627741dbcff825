"""The statements the report's prose makes, as pure functions of the persisted tables.

Every number, verdict and comparison in the report's text comes from here (or from
:mod:`ntk_linearity.pipelines.reporting.tables`), so each can be tested on its own, including the
cases where a statement must flip. Each section's statement holds for a sweep with no runs, with
some runs diverged (left out of every median and fit) and with every run diverged: it then says so
in a sentence. Values from the data, the configuration or the environment are escaped
(:mod:`ntk_linearity.pipelines.reporting.markdown`).

:mod:`.formatting` writes numbers, slopes and medians for every section; :mod:`.setup` the Setup
and the run metadata; :mod:`.paper` the paper's own networks (Section 3); :mod:`.sweeps` any sweep,
the paper's claims of Appendix H and the ball of Proposition 2.2; :mod:`.appendices` the
parameterisation and the output scale; :mod:`.step_size` the catapult and Theorem 5.1's rate.
"""
