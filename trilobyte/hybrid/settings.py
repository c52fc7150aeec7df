"""The hybrid model's settings: one frozen dataclass, saved beside the weights as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

FEATURE_HISTORY_MAX = 64
MAX_ORDER = 1536  # with inputs clamped to 2**26, a window's energy stays below 1.5 * 2**62
VARIANT_ORDER_MAX = 1024  # variant 4 lengthens the second stage to at most this
RECENT_MAX_DEPTH = 16  # recent values' tree spans a side channel's range: 2**17 entries at most
FINE_SUM_ABOVE = 8  # bit depths where fine_sum applies: both 8-bit valid splits lost with it
FINE_INPUTS_MAX = 16  # fine_inputs up to here: a 16-bit side channel's residual in 1/16 stays below 2**22
MAX_HIDDEN = 256  # with the network's activation clamp, what keeps its sums below 2**63
# fields added after the first saved models, at the values that reproduce their kernel
LEGACY = {
    "nlms": False, "stereo_taps": 2, "scale_shift": 4, "wide_from": 0, "wide_orders": [32, 256, 16],
    "wide_rates": [4, 8, 4], "context_features": 0, "stereo_modes": False, "lpc_covariance": False,
    "lpc_ridge": 20, "nlms_robust": False, "lpc_cover_rhs": False, "lpc_warmup": 0, "absolute_scale": False,
    "round_centre": False, "fine_sum": False, "stage_mix": False, "lpc_fraction": 0, "fine_inputs": False,
    "nlms_recent": 0,
}


class KernelConfig(NamedTuple):
    """The settings one frame's kernel reads, by name, resolved for one stream (its sample rate picks the
    stages, its channel count the stereo fields); numba passes it as a named tuple of scalars. Built only
    by :meth:`HybridSettings.kernel_config`. Fields as :class:`HybridSettings`' except where noted."""

    order0: int  # the adaptive stages' orders (the wide ones where they run; 0 without the cascade)
    order1: int
    order2: int
    rate0: int
    rate1: int
    rate2: int
    lpc_order: int  # 0 without the cascade
    lpc_decay: int
    lpc_every: int
    history: int
    components: int
    bin_bits: int
    central_bins: int
    bit_depth: int
    cascade: bool
    nlms: bool
    stereo_taps: int  # 0 unless two channels and a first stage
    scale_shift: int
    wide: int  # 1 where the wide stages run (a context feature)
    context_features: int
    stereo: int  # the encoder's stereo mode, written first in a frame; -1: none in the stream
    lpc_covariance: bool  # and an LPC stage at all
    lpc_ridge: int
    nlms_robust: bool
    lpc_cover_rhs: bool
    lpc_warmup: int
    absolute_scale: bool
    round_centre: bool
    fine_sum: bool
    stage_mix: bool  # only with fine_sum
    lpc_fraction: int  # 0 without the covariance stage
    fine_inputs: bool  # only with fine_sum, at 16 bits or fewer
    nlms_recent: int  # 0 without nlms
    calibrate: bool  # the coder maps the mixture's CDF by the frame's calibration (layouts 3 to 6)
    recent: bool  # the coder mixes in the channel's recent values (layouts 5, 6; 16 bits or fewer)


class SettingsError(ValueError):
    """Settings that the kernels cannot run."""


# The cascade variants a frame may name (frame layouts 3 to 6), by index: each changes a few of the model's
# settings for that frame (1 to 3 leave the decoder's work the same, 4 lengthens the second stage). A file
# names them by index: append only.
VARIANTS = (
    "the model's settings",
    "every adaptive stage one step slower (each rate shift + 1, at most 40)",
    "the LPC window halved (lpc_decay - 1, at least 4)",
    "the residual's running scale one step slower (scale_shift + 1, at most 8)",
    "the first adaptive stage one step faster (its rate shift - 1, at least 3) and the second four times longer"
    " (at most 1,024 taps)",
)
FAST_RATE_MIN = 3  # variant 4's floor: a step of 1/8 (the model's own rates stay at 4 or more)


def vary(config: dict[str, Any], variant: int) -> dict[str, Any]:
    """``config`` (:class:`KernelConfig`'s fields) under cascade variant ``variant`` of :data:`VARIANTS`."""
    if not 0 <= variant < len(VARIANTS):
        raise SettingsError(f"cascade variant {variant} is not one of 0..{len(VARIANTS) - 1}")
    config = dict(config)
    if variant == 1:
        for key in ("rate0", "rate1", "rate2"):
            config[key] = min(config[key] + 1, 40)
    elif variant == 2:
        config["lpc_decay"] = max(config["lpc_decay"] - 1, 4)
    elif variant == 3:
        config["scale_shift"] = min(config["scale_shift"] + 1, 8)
    elif variant == 4:
        config["rate0"] = max(config["rate0"] - 1, FAST_RATE_MIN)
        config["order1"] = min(config["order1"] * 4, VARIANT_ORDER_MAX)
    return config


@dataclass(frozen=True)
class HybridSettings:
    """What shapes the integer computation (every field is recorded in the model and in each file).

    ``lpc_order``, ``lpc_decay``, ``lpc_every``: the LPC stage's order, its window (a decay of
    2**-lpc_decay a sample) and how often it is re-solved; ``lpc_covariance``: the stage solves the
    window's least-squares problem (the covariance method, :mod:`trilobyte.hybrid.covariance`) instead of
    the autocorrelation method's Levinson-Durbin recursion; ``lpc_ridge``: its regularization, the largest
    diagonal entry over 2**lpc_ridge; ``orders``: taps of the adaptive
    (NLMS) stages on the LPC residual, first stage first (each later one sees the residual of the stage
    before); ``rates``: each stage's step as a right shift (larger is slower); ``cascade``: False replaces
    the cascade by the previous sample (the network-alone ablation); ``history``: past residuals and
    prefiltered samples (``x[n] - 31/32 x[n-1]``) the network sees; ``hidden``: widths of its two hidden
    layers; ``components``: logistics in the mixture;
    ``bin_bits``: bins are at most 1/2**bin_bits of the running residual scale wide; ``central_bins``:
    bins on each side of the prediction coded directly (beyond them an escape code);
    ``frame_samples``: samples per channel in an independently coded frame.
    ``nlms``: the stages adapt by normalized LMS (error times input over the window's energy, a step of
    2**-rate) instead of sign-error LMS (a step of ``|input| / its running mean`` times 2**-rate);
    ``stereo_taps``: the other channel's LPC residuals stage 0 sees (the second channel's include the
    first one's current one); ``scale_shift``: adaptation shift of the running residual scale;
    ``wide_orders`` and ``wide_rates`` replace ``orders`` and ``rates`` for audio sampled at
    ``wide_from`` Hz or more (0: never), where a long stage pays; ``context_features``: how many of
    (whether the wide stages run, the bit depth) the network also sees, so it can treat each kind of audio
    its own way (a model that sees the depth must be trained on every depth it will meet);
    ``stereo_modes``: each stereo frame codes left/right, left/side or mid/side, the encoder's choice
    (by FLAC's rule: the smallest sum of second-order differences) written first in the frame.
    ``nlms_robust``: each normalized LMS step divides by the window's energy plus the error's square,
    so one outlying error (an attack, a clipped sample) moves a weight by at most half the step size
    instead of throwing the stage off for thousands of samples.
    ``lpc_cover_rhs``: the covariance system's scale also covers its right-hand side (the newest lag
    sums), which a signal growing louder could otherwise push past the range where it is clamped;
    ``lpc_warmup``: over a frame's first samples the covariance stage solves for at most
    ``samples >> lpc_warmup`` coefficients (0: always ``lpc_order``), rather than fitting 32 of them to
    the first few dozen samples of an attack.
    ``absolute_scale``: the network's two log-scale inputs are log2 of the running scales in sample units
    (as 16-bit audio's always were) instead of relative to full scale, so quiet 24-bit audio (a fade, a
    near-silent tail) looks like the quiet 16-bit audio training covers rather than like an input no
    model has seen; the bit depth reaches the network as a context feature instead.
    ``round_centre``: each component's centre is rounded to the nearest half sample, as training's float
    twin has it, instead of down: at a scale near its floor (digital silence) any slightly negative
    offset otherwise put the centre half a sample low, a bit a sample where an exact zero costs almost
    nothing.
    ``fine_sum``: the prediction is the exact sum of the LPC stage's and the adaptive stages' parts
    (in 1/4096 of a sample) rounded once, instead of the sum of the parts each rounded to a whole sample:
    each stage still takes the input its predecessors' rounded parts leave, where over noise no stage
    predicts their rounding errors, so four of them reached the residual, now one. It matters where the
    residual is a few steps, as in a quiet tonal decay. Only above 8 bits (``FINE_SUM_ABOVE``).
    ``stage_mix``: with ``fine_sum``, the adaptive stages' parts enter that sum weighted by adaptive
    weights (:mod:`trilobyte.hybrid.stagemix`), so a stage whose part is mostly noise counts for less.
    ``lpc_fraction``: the covariance stage's lag sums keep this many fractional bits (fewer where the
    input is wide, :func:`trilobyte.hybrid.covariance.fraction_bits`), so the decay's rounding (a whole
    unit a sample) no longer swamps the sums of a quiet passage, and the lift that keeps those sums'
    system well posed shrinks with it (0: whole units, as before).
    ``fine_inputs``: with ``fine_sum``, at 16 bits or fewer, the adaptive stages' inputs (the LPC residual
    and each stage's residual) are kept in 1/16 of a sample, from the parts before rounding, instead of in
    whole samples: in a passage a few steps loud the rounding was noise the size of what they predict.
    ``nlms_recent``: each normalized LMS step divides by 3/4 of the window's energy plus 1/4 of the stage's
    order times its input's recent power (a running mean of its square over about 2**nlms_recent
    samples), so after an attack or into a decay the step follows the level sooner than the window's
    energy alone lets it (0: the window's energy alone).

    A model saved before a field existed gets that field's ``LEGACY`` value, which reproduces the kernel
    it was made with.
    """

    lpc_order: int = 32
    lpc_decay: int = 12
    lpc_every: int = 16
    orders: tuple[int, ...] = (32, 16, 8)
    rates: tuple[int, ...] = (4, 4, 4)
    cascade: bool = True
    history: int = 16
    hidden: tuple[int, int] = (32, 32)
    components: int = 3
    bin_bits: int = 4
    central_bins: int = 1024
    frame_samples: int = 1 << 17
    nlms: bool = True
    stereo_taps: int = 16
    scale_shift: int = 4
    wide_orders: tuple[int, ...] = (32, 256, 16)
    wide_rates: tuple[int, ...] = (4, 5, 4)
    wide_from: int = 32000
    context_features: int = 2
    stereo_modes: bool = True
    lpc_covariance: bool = True
    lpc_ridge: int = 20
    nlms_robust: bool = True
    lpc_cover_rhs: bool = True
    lpc_warmup: int = 3
    absolute_scale: bool = True
    round_centre: bool = True
    fine_sum: bool = True
    stage_mix: bool = True
    lpc_fraction: int = 8
    fine_inputs: bool = False
    nlms_recent: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", tuple(int(o) for o in self.orders))
        object.__setattr__(self, "rates", tuple(int(r) for r in self.rates))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "wide_orders", tuple(int(o) for o in self.wide_orders))
        object.__setattr__(self, "wide_rates", tuple(int(r) for r in self.wide_rates))
        for orders, rates in ((self.orders, self.rates), (self.wide_orders, self.wide_rates)):
            if len(orders) != 3 or len(rates) != 3:
                raise SettingsError(f"the cascade has three stages: orders {orders}, rates {rates}")
            if not all(0 <= o <= MAX_ORDER for o in orders):
                raise SettingsError(f"stage orders must be 0..{MAX_ORDER}, not {orders}")
            if not all(4 <= r <= 40 for r in rates):
                raise SettingsError(f"stage rates are shifts from 4 to 40, not {rates}")
        object.__setattr__(self, "context_features", int(self.context_features))
        if not 0 <= self.context_features <= 2:
            raise SettingsError(f"context_features must be 0, 1 or 2, not {self.context_features}")
        if self.wide_from < 0:
            raise SettingsError(f"wide_from is a sample rate (0: never), not {self.wide_from}")
        if not 0 <= self.lpc_order <= 64 or not 4 <= self.lpc_decay <= 16 or not 1 <= self.lpc_every <= 4096:
            raise SettingsError(
                f"LPC order 0..64, decay 4..16, refresh 1..4096, not {self.lpc_order, self.lpc_decay, self.lpc_every}"
            )
        if not 0 <= self.lpc_warmup <= 8:
            raise SettingsError(f"lpc_warmup is a shift from 0 to 8, not {self.lpc_warmup}")
        if not 0 <= self.lpc_fraction <= 16:
            raise SettingsError(f"lpc_fraction is 0 to 16 bits, not {self.lpc_fraction}")
        if not 0 <= self.nlms_recent <= 12:
            raise SettingsError(f"nlms_recent is a shift from 1 to 12 (0: off), not {self.nlms_recent}")
        if not 4 <= self.lpc_ridge <= 30:
            raise SettingsError(f"lpc_ridge is a shift from 4 to 30, not {self.lpc_ridge}")
        if not 1 <= self.history <= FEATURE_HISTORY_MAX:
            raise SettingsError(f"history must be 1..{FEATURE_HISTORY_MAX}, not {self.history}")
        if len(self.hidden) != 2 or not 1 <= min(self.hidden) <= max(self.hidden) <= MAX_HIDDEN:
            raise SettingsError(f"two hidden layers of width 1..{MAX_HIDDEN}, not {self.hidden}")
        if not 1 <= self.components <= 8:
            raise SettingsError(f"components must be 1..8, not {self.components}")
        if not 1 <= self.bin_bits <= 8:
            raise SettingsError(f"bin_bits must be 1..8, not {self.bin_bits}")
        if not 16 <= self.central_bins <= 1 << 16:
            raise SettingsError(f"central_bins must be 16..65536, not {self.central_bins}")
        if not 0 <= self.stereo_taps <= 32 or not 1 <= self.scale_shift <= 8:
            raise SettingsError(f"stereo_taps 0..32 and scale_shift 1..8, not {self.stereo_taps, self.scale_shift}")
        if not 256 <= self.frame_samples <= 1 << 24:
            raise SettingsError(f"frame_samples must be 256..2**24, not {self.frame_samples}")

    @property
    def features(self) -> int:
        """Inputs of the network: two histories, nine scalars and the context features."""
        return 2 * self.history + 9 + self.context_features

    @property
    def outputs(self) -> int:
        return 3 * self.components

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def identity(self) -> dict[str, Any]:
        """The fields a model's id hashes: those at their ``LEGACY`` value are left out, so models saved
        before the field existed keep their id."""
        return {k: v for k, v in self.to_dict().items() if not (k in LEGACY and v == LEGACY[k])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HybridSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SettingsError(f"unknown hybrid settings {sorted(unknown)}")
        data = {**LEGACY, **data}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def stages(self, sample_rate: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The adaptive stages' orders and rates for audio at ``sample_rate``."""
        if self.wide_from and sample_rate >= self.wide_from:
            return self.wide_orders, self.wide_rates
        return self.orders, self.rates

    def kernel_config(self, bit_depth: int, channels: int, sample_rate: int, stereo: int = 0,
                      variant: int = 0, calibrate: bool = False, recent: bool = False) -> KernelConfig:
        """What the kernel reads for one stream (:class:`KernelConfig`); ``stereo``: the encoder's stereo mode
        (ignored without ``stereo_modes``, and by the decoder, which reads it); ``variant``: the frame's
        cascade variant (:data:`VARIANTS`); ``calibrate``: the coder calibrates the mixture (layouts 3 to 6);
        ``recent``: the coder mixes in recent values (layouts 5, 6; only at 16 bits or fewer)."""
        orders, rates = self.stages(sample_rate)
        orders = orders if self.cascade else (0, 0, 0)
        lpc_order = self.lpc_order if self.cascade else 0
        config = dict(
            order0=orders[0], order1=orders[1], order2=orders[2], rate0=rates[0], rate1=rates[1], rate2=rates[2],
            lpc_order=lpc_order, lpc_decay=self.lpc_decay, lpc_every=self.lpc_every, history=self.history,
            components=self.components, bin_bits=self.bin_bits, central_bins=self.central_bins,
            bit_depth=bit_depth, cascade=self.cascade, nlms=self.nlms,
            stereo_taps=self.stereo_taps if channels == 2 and orders[0] > 0 else 0,
            scale_shift=self.scale_shift, wide=bool(self.wide_from) and sample_rate >= self.wide_from,
            context_features=self.context_features, stereo=stereo if self.stereo_modes and channels == 2 else -1,
            lpc_covariance=self.lpc_covariance and lpc_order > 0, lpc_ridge=self.lpc_ridge,
            nlms_robust=self.nlms_robust, lpc_cover_rhs=self.lpc_cover_rhs, lpc_warmup=self.lpc_warmup,
            absolute_scale=self.absolute_scale, round_centre=self.round_centre,
            fine_sum=self.fine_sum and bit_depth > FINE_SUM_ABOVE, calibrate=calibrate,
            stage_mix=self.stage_mix and self.fine_sum and bit_depth > FINE_SUM_ABOVE,
            recent=recent and bit_depth <= RECENT_MAX_DEPTH,
            lpc_fraction=self.lpc_fraction if self.lpc_covariance and lpc_order > 0 else 0,
            fine_inputs=self.fine_inputs and self.fine_sum and FINE_SUM_ABOVE < bit_depth <= FINE_INPUTS_MAX,
            nlms_recent=self.nlms_recent if self.nlms else 0,
        )
        # plain ints and bools: numba compiles the kernel once for this one type of named tuple
        return KernelConfig(**{k: bool(v) if KernelConfig.__annotations__[k] == "bool" else int(v)
                               for k, v in vary(config, variant).items()})
