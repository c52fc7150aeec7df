"""The hybrid coder's registration: integer prediction cascade + small integer network, range-coded, exact on
every machine. Beyond the paper, but shown in Table 1's main part beside the paper's learned columns."""

from __future__ import annotations

from trilobyte.core.methods import Column, Method

METHOD = Method(
    "hybrid", "trilobyte.hybrid.method:make_estimator", "learned", "Hybrid", requires=("numba", "safetensors"),
    command="python -m trilobyte.hybrid.evaluate --model DIR",
    columns=(Column("Hybrid", paper=True,
                    fill="python -m trilobyte.hybrid.train --dataset {dataset} --out models/hybrid &&"
                         " python -m trilobyte.hybrid.evaluate --model models/hybrid --dataset {dataset}"
                         " --split {split}"),
             Column("Hybrid: cascade alone"), Column("Hybrid: network alone")),
)
