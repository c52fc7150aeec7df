"""The Trilobyte GPT-2 models' registration: Table 1's Standard (sample tokens), Trilobyte (byte tokens) and
Transfer (one model over several depths) columns, all from one method whose config says which."""

from __future__ import annotations

from trilobyte.core.methods import Column, Method
from trilobyte.gpt2.report import trilobyte_report

_TRAIN = "python -m trilobyte.train --dataset {dataset} "
_ESTIMATE = " --dataset {dataset} --split {split}"

METHOD = Method(
    "trilobyte", "trilobyte.gpt2.estimate:TrilobyteRate", "learned", "Trilobyte",
    requires=("torch", "transformers", "safetensors"), command="python -m trilobyte.estimate --model DIR",
    columns=(
        Column("Standard", paper=True, impossible_depths=(24,), same_as={8: "Trilobyte"},
               fill=_TRAIN + "--scheme sample --out models/{dataset}-sample && python -m trilobyte.estimate"
                    " --model models/{dataset}-sample" + _ESTIMATE,
               note="At 8 bits one sample is one byte, so Standard's sample tokens are Trilobyte's byte tokens:"
                    " the two are one model, trained and rated once (its 8-bit cells read \"= Trilobyte\")."),
        Column("Trilobyte", paper=True, figures=("correlation",),
               fill=_TRAIN + "--out models/{dataset} && python -m trilobyte.estimate --model models/{dataset}"
                    + _ESTIMATE),
        Column("Transfer", paper=True, figures=("correlation",),
               fill="python -m trilobyte.estimate --model models/transfer" + _ESTIMATE),
    ),
    figures=("byte-positions", "correlation"), report=trilobyte_report,
)
