"""Exact PCM bytes and the three lossless ways of turning them into a language model's tokens.

Bytes: each sample (an exact integer from ``trilobyte.core.audio``) is offset to unsigned
(``s + 2**(b-1)``, so silence is 0x80 / 0x8000 / 0x800000) and written in ``b/8`` bytes, most
significant first (``big``, the default: the predictable high byte comes before the noisy low one) or
least significant first (``little``, a WAV file's order). Channels are interleaved frame by frame.

Mappings (every one lossless, or the chunk is refused):

- ``ascii7``: each byte's 7 high bits as one ASCII character (``b >> 1``); the low bit of every byte
  is stored raw beside the token stream and counted (1 bit per byte). This is Deletang et al.'s
  right shift, with the dropped bit kept. The text goes through the model's own tokenizer.
- ``latin1``: every byte one character (U+0000..U+00FF), through the tokenizer the same way.
- ``bytes``: exactly one token per byte through a fixed table built from the vocabulary: Llama's
  byte-fallback tokens ``<0x00>..<0xFF>``, or a byte-level BPE's 256 byte symbols. A vocabulary that
  lacks some byte symbols (SmolLM2 lacks 21) has each missing one filled by an otherwise unused token
  that decodes to a single character; the table is recorded with the result.

A tokenizer need not give a text back exactly (it may drop characters it cannot spell, or normalize
them). Text mappings therefore check every chunk: ids -> text -> bytes must give the chunk's bytes
back, or :class:`RoundTripError` names the bytes at fault. Nothing is ever lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Protocol

import numpy as np

from trilobyte.core import audio

MAPPINGS = ("ascii7", "latin1", "bytes")
BYTE_ORDERS = ("big", "little")


class RoundTripError(ValueError):
    """A chunk whose tokens do not give its bytes back; the message names the bytes at fault."""


# -- PCM <-> bytes --------------------------------------------------------------------------------


def _shifts(bit_depth: int, byte_order: str) -> np.ndarray:
    if byte_order not in BYTE_ORDERS:
        raise ValueError(f"byte order must be one of {BYTE_ORDERS}, not {byte_order!r}")
    if bit_depth not in audio.SUPPORTED_BIT_DEPTHS:
        raise ValueError(
            f"the in-context LLM's byte mappings need 8, 16 or 24-bit audio (whole bytes); this file is {bit_depth}-bit"
        )
    shifts = 8 * np.arange(bit_depth // 8, dtype=np.int64)
    return shifts[::-1] if byte_order == "big" else shifts


def pcm_to_bytes(samples: np.ndarray, bit_depth: int, byte_order: str = "big") -> np.ndarray:
    """Exact samples ``(frames, channels)`` -> unsigned-offset bytes, channels interleaved (``uint8``)."""
    shifts = _shifts(bit_depth, byte_order)
    samples = np.asarray(samples)
    audio.check_range(samples, bit_depth)
    unsigned = samples.reshape(-1).astype(np.int64) + (1 << (bit_depth - 1))
    return ((unsigned[:, None] >> shifts) & 0xFF).astype(np.uint8).reshape(-1)


def bytes_to_pcm(data: np.ndarray, bit_depth: int, channels: int, byte_order: str = "big") -> np.ndarray:
    """The inverse of :func:`pcm_to_bytes`: ``int32`` samples of shape ``(frames, channels)``."""
    shifts = _shifts(bit_depth, byte_order)
    data = np.asarray(data, dtype=np.uint8)
    per_frame = channels * (bit_depth // 8)
    if data.size % per_frame:
        raise ValueError(f"{data.size} bytes are not whole {channels}-channel {bit_depth}-bit frames")
    unsigned = (data.reshape(-1, bit_depth // 8).astype(np.int64) << shifts).sum(axis=1)
    return (unsigned - (1 << (bit_depth - 1))).astype(np.int32).reshape(-1, channels)


# -- Mappings -------------------------------------------------------------------------------------


@dataclass
class Encoded:
    """A chunk as the coder sees it: token ids, plus raw side bits stored beside them."""

    ids: list[int]
    side: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))  # one value per bit

    @property
    def side_bits(self) -> int:
        return int(self.side.size)


class Mapping(Protocol):
    name: str

    def encode(self, data: np.ndarray) -> Encoded:
        """Bytes -> tokens; raises :class:`RoundTripError` unless the tokens give the bytes back."""
        ...

    def decode(self, ids: list[int], side: np.ndarray, num_bytes: int) -> np.ndarray:
        """Tokens (and side bits) -> the chunk's bytes."""
        ...

    def count_bits(self, num_bytes: int) -> int:
        """Bits of the stored token count (0 where the byte count fixes it)."""
        ...

    def describe(self) -> dict[str, Any]: ...


def _hex(values: Any) -> str:
    return ", ".join(f"0x{int(v):02x}" for v in values)


def detokenize(tokenizer: Any, ids: list[int]) -> str:
    """Token ids -> text, exactly as the tokenizer spells them (no clean-up, special tokens kept)."""
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


class TextMapping:
    """Bytes -> characters -> the tokenizer's own tokens (merges allowed), checked chunk by chunk."""

    name = "text"
    alphabet_size = 256
    utf8_bytes_per_char = 1

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    # what a subclass defines
    def to_text(self, data: np.ndarray) -> tuple[str, np.ndarray]:
        raise NotImplementedError

    def from_text(self, text: str, side: np.ndarray, num_bytes: int) -> np.ndarray:
        raise NotImplementedError

    def bytes_of_char(self, code: int) -> list[int]:
        raise NotImplementedError

    # shared
    def max_tokens(self, num_bytes: int) -> int:
        """An upper bound on the token count of any chunk of ``num_bytes`` (each token spells >= 1 byte,
        plus one for a tokenizer that prefixes a space)."""
        return self.utf8_bytes_per_char * num_bytes + 1

    def count_bits(self, num_bytes: int) -> int:
        return self.max_tokens(num_bytes).bit_length()

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @cached_property
    def lost_chars(self) -> tuple[int, ...]:
        """Characters of the alphabet this tokenizer does not give back even on their own."""
        lost = []
        for code in range(self.alphabet_size):
            char = chr(code)
            if detokenize(self.tokenizer, self.tokenize(char)) != char:
                lost.append(code)
        return tuple(lost)

    @property
    def lost_bytes(self) -> list[int]:
        return sorted(b for c in self.lost_chars for b in self.bytes_of_char(c))

    def encode(self, data: np.ndarray) -> Encoded:
        data = np.asarray(data, dtype=np.uint8)
        text, side = self.to_text(data)
        ids = self.tokenize(text)
        if len(ids) > self.max_tokens(data.size):
            raise RoundTripError(
                f"{self.name}: {len(ids)} tokens for {data.size} bytes exceeds the bound"
                f" {self.max_tokens(data.size)} that the stored token count allows"
            )
        back = detokenize(self.tokenizer, ids)
        if back != text:
            raise RoundTripError(self._fault(data, text, back))
        decoded = self.from_text(back, side, data.size)
        if not np.array_equal(decoded, data):  # cannot happen when the text matches; checked anyway
            raise RoundTripError(f"{self.name}: the bytes do not come back from their text")
        return Encoded(ids, side)

    def decode(self, ids: list[int], side: np.ndarray, num_bytes: int) -> np.ndarray:
        return self.from_text(detokenize(self.tokenizer, ids), side, num_bytes)

    def _fault(self, data: np.ndarray, text: str, back: str) -> str:
        first = next((i for i, (a, b) in enumerate(zip(text, back, strict=False)) if a != b), min(len(text), len(back)))
        lost_here = sorted({int(b) for b in data} & set(self.lost_bytes))
        where = f"first at byte {first}" if first < data.size else "at the end"
        byte_info = f" (byte 0x{int(data[first]):02x}, character U+{ord(text[first]):04X})" if first < len(text) else ""
        message = (
            f"{self.name} mapping refused: the tokenizer does not give this chunk's text back ({len(text)}"
            f" characters in, {len(back)} out), {where}{byte_info}: {text[max(0, first - 4) : first + 8]!r}"
            f" comes back as {back[max(0, first - 4) : first + 8]!r}"
        )
        if lost_here:
            message += f"; bytes in this chunk that this tokenizer cannot give back: {_hex(lost_here)}"
        return message

    def describe(self) -> dict[str, Any]:
        return {
            "mapping": self.name,
            "bytes_not_round_tripping": [f"0x{b:02x}" for b in self.lost_bytes],
        }


class Ascii7Mapping(TextMapping):
    """Each byte's 7 high bits as an ASCII character; the low bits stored raw (1 bit per byte)."""

    name = "ascii7"
    alphabet_size = 128

    def to_text(self, data: np.ndarray) -> tuple[str, np.ndarray]:
        return (data >> 1).tobytes().decode("ascii"), (data & 1).astype(np.uint8)

    def from_text(self, text: str, side: np.ndarray, num_bytes: int) -> np.ndarray:
        try:
            high = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        except UnicodeEncodeError as err:
            raise RoundTripError(f"ascii7: decoded text holds a non-ASCII character ({err})") from err
        if high.size != num_bytes or side.size != num_bytes:
            raise RoundTripError(f"ascii7: decoded {high.size} characters and {side.size} low bits, not {num_bytes}")
        return ((high << 1) | (side & 1)).astype(np.uint8)

    def bytes_of_char(self, code: int) -> list[int]:
        return [2 * code, 2 * code + 1]


class Latin1Mapping(TextMapping):
    """Every byte one character U+0000..U+00FF (two UTF-8 bytes from U+0080 on)."""

    name = "latin1"
    utf8_bytes_per_char = 2

    def to_text(self, data: np.ndarray) -> tuple[str, np.ndarray]:
        return data.tobytes().decode("latin-1"), np.zeros(0, dtype=np.uint8)

    def from_text(self, text: str, side: np.ndarray, num_bytes: int) -> np.ndarray:
        try:
            data = np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
        except UnicodeEncodeError as err:
            raise RoundTripError(f"latin1: decoded text holds a character beyond U+00FF ({err})") from err
        if data.size != num_bytes:
            raise RoundTripError(f"latin1: decoded {data.size} characters, not {num_bytes}")
        return data

    def bytes_of_char(self, code: int) -> list[int]:
        return [code]


# -- The byte table -------------------------------------------------------------------------------


@cache
def bytes_to_unicode() -> dict[int, str]:
    """The byte-level BPE alphabet (GPT-2's): printable Latin-1 bytes stand for themselves, the other
    68 bytes for the characters U+0100 onwards, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@dataclass(frozen=True)
class ByteTable:
    """One token id per byte value; ``filled`` maps bytes the vocabulary lacks to their stand-ins."""

    ids: tuple[int, ...]
    kind: str  # "byte-fallback" or "byte-level"
    filled: dict[int, int]

    def __post_init__(self) -> None:
        if len(self.ids) != 256 or len(set(self.ids)) != 256:
            raise ValueError("a byte table needs 256 distinct token ids")


def build_byte_table(tokenizer: Any) -> ByteTable:
    """The fixed byte -> token table of a vocabulary, filling missing byte symbols as documented above."""
    vocab: dict[str, int] = tokenizer.get_vocab()
    fallback = [vocab.get(f"<0x{b:02X}>") for b in range(256)]
    if all(i is not None for i in fallback):
        return ByteTable(tuple(int(i) for i in fallback), "byte-fallback", {})
    symbols = bytes_to_unicode()
    space = vocab.get(symbols[0x20])
    present = sum(symbols[b] in vocab for b in range(256))
    if present >= 128 and space is not None and detokenize(tokenizer, [space]) == " ":
        kind, ids = "byte-level", [vocab.get(symbols[b]) for b in range(256)]
    elif sum(i is not None for i in fallback) >= 128:
        kind, ids = "byte-fallback", fallback
    else:
        raise ValueError(
            "the vocabulary has neither byte-fallback tokens <0x00>..<0xFF> nor byte-level BPE symbols;"
            " use --mapping ascii7 or latin1"
        )
    missing = [b for b in range(256) if ids[b] is None]
    used = {i for i in ids if i is not None}
    special = set(tokenizer.all_special_ids)
    filled: dict[int, int] = {}
    if missing:
        for token_id in sorted(vocab.values()):
            if token_id in used or token_id in special:
                continue
            text = detokenize(tokenizer, [token_id])
            if len(text) == 1 and text != "\ufffd":
                filled[missing[len(filled)]] = token_id
                used.add(token_id)
                if len(filled) == len(missing):
                    break
        if len(filled) < len(missing):
            raise ValueError(f"the vocabulary lacks {len(missing)} byte symbols and has too few spare tokens")
        for b, token_id in filled.items():
            ids[b] = token_id
    return ByteTable(tuple(int(i) for i in ids), kind, filled)


class BytesMapping:
    """Exactly one token per byte through a fixed table: lossless by construction."""

    name = "bytes"

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.table = build_byte_table(tokenizer)
        self._ids = np.asarray(self.table.ids, dtype=np.int64)
        self._inverse = {token_id: b for b, token_id in enumerate(self.table.ids)}

    def encode(self, data: np.ndarray) -> Encoded:
        return Encoded(self._ids[np.asarray(data, dtype=np.uint8)].tolist())

    def decode(self, ids: list[int], side: np.ndarray, num_bytes: int) -> np.ndarray:
        try:
            data = np.fromiter((self._inverse[i] for i in ids), dtype=np.uint8, count=len(ids))
        except KeyError as err:
            raise RoundTripError(f"bytes: token {err.args[0]} is not in the byte table") from err
        if data.size != num_bytes:
            raise RoundTripError(f"bytes: decoded {data.size} bytes, not {num_bytes}")
        return data

    def count_bits(self, num_bytes: int) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        tokens = self.tokenizer.convert_ids_to_tokens(list(self.table.ids))
        return {
            "mapping": self.name,
            "byte_table_kind": self.table.kind,
            "byte_table": list(self.table.ids),
            "byte_table_tokens": tokens,
            "filled_bytes": {
                f"0x{b:02x}": {
                    "token_id": i,
                    "token": self.tokenizer.convert_ids_to_tokens(i),
                    "text": detokenize(self.tokenizer, [i]),
                }
                for b, i in sorted(self.table.filled.items())
            },
        }


def make_mapping(name: str, tokenizer: Any) -> Mapping:
    if name == "ascii7":
        return Ascii7Mapping(tokenizer)
    if name == "latin1":
        return Latin1Mapping(tokenizer)
    if name == "bytes":
        return BytesMapping(tokenizer)
    raise ValueError(f"unknown mapping {name!r}; choose from {MAPPINGS}")
