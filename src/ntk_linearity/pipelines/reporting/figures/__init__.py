"""The report's figures, drawn from the persisted tables (the pipeline's PNGs and the notebook's).

:mod:`.style` holds what every figure shares; :mod:`.paper` the paper's Fig. 1, Fig. 2, E4, E5 and
E6; :mod:`.sweeps` the figures of any sweep; :mod:`.step_size` the catapult and Theorem 5.1's rate;
:mod:`.ball` Proposition 2.2; :mod:`.appendices` the parameterisation and the output scale. Every
figure is drawn off screen (the Agg backend, chosen here before any of them imports pyplot).
"""

import matplotlib

matplotlib.use("Agg")
