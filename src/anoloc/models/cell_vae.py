"""The VAE of the SUPN cell experiment (spec supn-cells §2.4–§2.5): one encoder, a mean decoder and an optional
second decoder for the pixel precision — SUPN (sparse Cholesky factor of Λ) or diagonal (log σ²).

Likelihoods (`likelihood`):
- ``"fixed"``: the stage-1 model, N(μ, fixed_var·I); also the L2 baseline (map r²/fixed_var);
- ``"supn"``: Λ = L Lᵀ with the sparse L of `anoloc.models.supn` (1 + F output channels);
- ``"diag"``: channel 0 of the same decoder read as s = log σ² (channels 1..F unused, as in the released code).

All three expose the same Cholesky parametrisation through `whitening(z)` → (μ, ℓ, w, connectivity), so the
scores of the three models share one code path (`anoloc.models.supn.mahalanobis_map`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from anoloc.models import supn
from anoloc.models.vae import LOG_2PI, kl_std_normal

Likelihood = Literal["fixed", "supn", "diag"]
LIKELIHOODS = ("fixed", "supn", "diag")


def _n_blocks(image_size: int, depth: int, kernel_size: int) -> int:
    """Encoder blocks: stop at `depth` or when the side would drop below the kernel size (spec §2.4)."""
    n, side = 0, image_size
    while n < depth and side // 2 >= kernel_size:
        n, side = n + 1, side // 2
    return n


class ConvPair(nn.Sequential):
    """Conv k×k → Conv k×k (no nonlinearity in between), 'same' padding."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2), nn.Conv2d(cout, cout, k, padding=k // 2))


class Encoder(nn.Module):
    """Blocks conv-conv-maxpool-ReLU with 1→2→4→…→2ⁿ channels, flatten → ReLU → Linear(hidden); μ / log σ² heads."""

    def __init__(self, image_size: int, n_blocks: int, k: int, hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_blocks):
            layers += [ConvPair(2**i if i else 1, 2 ** (i + 1), k), nn.MaxPool2d(2), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        side = image_size // 2**n_blocks
        self.dense = nn.Sequential(nn.Flatten(), nn.ReLU(), nn.Linear(2**n_blocks * side * side, hidden_dim))
        self.dense_mu = nn.Linear(hidden_dim, latent_dim)
        self.dense_logvar = nn.Linear(hidden_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.dense(self.convs(x.contiguous(memory_format=torch.channels_last)))
        return self.dense_mu(h).clamp(-100, 100), self.dense_logvar(h).clamp(-100, 100)


# FOLD[a][r, u] = 1 when tap u of a 3-tap kernel, applied at output position 2i + a of a ×2 nearest upsampling,
# reads input position i + r − 1 (a = 0: taps → i−1, i, i; a = 1: taps → i, i, i+1).
_FOLD = torch.tensor([[[1.0, 0, 0], [0, 1, 1], [0, 0, 0]], [[0.0, 0, 0], [1, 1, 0], [0, 0, 1]]])


def upsample_conv3x3(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """`conv(Upsample(×2, nearest)(x))` for a 3×3 conv with padding 1, computed at the input resolution.

    Output pixel (2i + a, 2j + b) only sees input pixels i−1…i+1, j−1…j+1: per phase (a, b) the 3×3 taps that
    land on the same input pixel are summed into a folded kernel K_ab = F_a W F_bᵀ, the four phases run as one
    conv with 4·C_out channels and `pixel_shuffle` interleaves them. Exact up to float rounding (a different
    summation order), and ~2× faster on the CPU than materialising the upsampled tensor.
    """
    fold = _FOLD.to(conv.weight)
    k = torch.einsum("aru,oiuv,bsv->oabirs", fold, conv.weight, fold).reshape(-1, *conv.weight.shape[1:])
    bias = conv.bias.repeat_interleave(4) if conv.bias is not None else None
    return F.pixel_shuffle(F.conv2d(x, k, bias, padding=1), 2)


class Decoder(nn.Module):
    """Linear → ReLU → Linear → ReLU → (2ⁿ + oc − 1, s, s), then n blocks upsample-conv-conv-ReLU (no
    activation after the last), channels 2^(n−k) + oc − 1 → … → oc.

    For 3×3 kernels each upsample + first conv runs as `upsample_conv3x3` (same parameters, same function up to
    float rounding); `self.blocks(h)` is the plain sequential reference."""

    def __init__(self, image_size: int, n_blocks: int, k: int, hidden_dim: int, latent_dim: int, oc: int) -> None:
        super().__init__()
        self.side = image_size // 2**n_blocks
        self.c0 = 2**n_blocks + oc - 1
        self.dense = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, self.c0 * self.side**2),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        for i in range(n_blocks):
            cin, cout = 2 ** (n_blocks - i) + oc - 1, 2 ** (n_blocks - i - 1) + oc - 1
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), ConvPair(cin, cout, k)]
            if i < n_blocks - 1:
                blocks.append(nn.ReLU())
        self.blocks = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(-1, self.c0, self.side, self.side).contiguous(memory_format=torch.channels_last)
        mods = list(self.blocks)
        i = 0
        while i < len(mods):
            up, nxt = mods[i], mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(up, nn.Upsample) and isinstance(nxt, ConvPair) and nxt[0].kernel_size == (3, 3):
                h = nxt[1](upsample_conv3x3(h, nxt[0]))
                i += 2
            else:
                h = up(h)
                i += 1
        return h


class CellVAE(nn.Module):
    """Encoder + mean decoder (+ precision decoder for `likelihood` supn / diag); see the module docstring.

    Quirk switches (spec §7), off by default: `legacy_reparam` samples z = μ + exp(log σ²)·ε (the released
    code) instead of μ + exp(½ log σ²)·ε; `legacy_logvar_bias_init` keeps PyTorch's default bias of the
    log σ² head (the released code zeroes only its weight; by default weight and bias of both heads are zero).

    `offdiag_bound` ρ̄ ∈ (0, 1) (SUPN only; None = the published, unconstrained off-diagonals) maps the raw
    off-diagonal outputs a (F per pixel) to w = ρ̄·exp(ℓ)·a / (1 + Σ_f |a_f|), so every row of Lᵀ is strictly
    diagonally dominant, Σ_f |w_f[p]| < ρ̄·exp(ℓ_p). Then the sampler's triangular solve cannot grow:
    ‖L⁻ᵀε‖_∞ ≤ ‖ε‖_∞ / ((1 − ρ̄)·min exp(ℓ)), and σ_min(Lᵀ) ≥ (1 − ρ̄)·min exp(ℓ) / √(H·W)
    (`anoloc.models.supn_diagnostics`). Not the published model: a documented deviation.
    """

    def __init__(
        self,
        image_size: int = 128,
        depth: int = 5,
        kernel_size: int = 3,
        hidden_dim: int = 300,
        latent_dim: int = 100,
        likelihood: Likelihood = "fixed",
        connectivity: int = 1,
        fixed_var: float = 0.11,
        sigmoid_scale: float = 11.0,
        sigmoid_shift: float = -7.0,
        legacy_reparam: bool = False,
        legacy_logvar_bias_init: bool = False,
        offdiag_bound: float | None = None,
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if offdiag_bound is not None and not 0 < offdiag_bound < 1:
            raise ValueError(f"offdiag_bound must be in (0, 1) or None, got {offdiag_bound}")
        self.hparams = {
            "image_size": image_size,
            "depth": depth,
            "kernel_size": kernel_size,
            "hidden_dim": hidden_dim,
            "latent_dim": latent_dim,
            "likelihood": likelihood,
            "connectivity": connectivity,
            "fixed_var": fixed_var,
            "sigmoid_scale": sigmoid_scale,
            "sigmoid_shift": sigmoid_shift,
            "legacy_reparam": legacy_reparam,
            "legacy_logvar_bias_init": legacy_logvar_bias_init,
        }
        if offdiag_bound is not None:  # only when set: the published model's hparams (and checkpoints) are unchanged
            self.hparams["offdiag_bound"] = offdiag_bound
        self.likelihood = likelihood
        self.connectivity = connectivity
        self.fixed_var = float(fixed_var)
        self.sigmoid_scale, self.sigmoid_shift = float(sigmoid_scale), float(sigmoid_shift)
        self.legacy_reparam = legacy_reparam
        self.offdiag_bound = None if offdiag_bound is None else float(offdiag_bound)
        n = _n_blocks(image_size, depth, kernel_size)
        self.encoder = Encoder(image_size, n, kernel_size, hidden_dim, latent_dim)
        self.mean_decoder = Decoder(image_size, n, kernel_size, hidden_dim, latent_dim, oc=1)
        self.var_decoder = (
            Decoder(image_size, n, kernel_size, hidden_dim, latent_dim, oc=1 + supn.n_off_diagonals(connectivity))
            if likelihood != "fixed"
            else None
        )
        with torch.no_grad():
            for head in (self.encoder.dense_mu, self.encoder.dense_logvar):
                head.weight.zero_()
            self.encoder.dense_mu.bias.zero_()
            if not legacy_logvar_bias_init:
                self.encoder.dense_logvar.bias.zero_()
        # NHWC convolutions: ~5x faster on CPU (oneDNN) for these few-channel layers, and fine on CUDA.
        self.to(memory_format=torch.channels_last)

    # -------------------------------------------------------------------------------- latent
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_z, log σ²_z), each (B, latent_dim), clamped to [−100, 100]."""
        return self.encoder(x)

    def sample_z(self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None):
        std = torch.exp(logvar) if self.legacy_reparam else torch.exp(0.5 * logvar)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + std * eps

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) ‖ N(0, I)) per sample, log σ² read as a log-variance (also with `legacy_reparam`)."""
        return kl_std_normal(mu, 0.5 * logvar)

    # -------------------------------------------------------------------------------- decoders
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean_decoder(z)

    def decode_precision(self, z: torch.Tensor) -> torch.Tensor:
        """Precision-decoder output (B, 1+F, H, W): channel 0 mapped to shift + scale·sigmoid(−a); channels 1..F
        raw, or bounded relative to exp(channel 0) with `offdiag_bound` (SUPN)."""
        if self.var_decoder is None:
            raise ValueError("a likelihood='fixed' model has no precision decoder")
        out = self.var_decoder(z)
        diag = self.sigmoid_shift + self.sigmoid_scale * torch.sigmoid(-out[:, :1])
        off = out[:, 1:]
        if self.offdiag_bound is not None and self.likelihood == "supn":
            off = self.offdiag_bound * torch.exp(diag) * off / (1 + off.abs().sum(1, keepdim=True))
        return torch.cat([diag, off], dim=1)

    def whitening(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """(μ, ℓ, w, connectivity): the Gaussian N(μ, (L Lᵀ)⁻¹) at z in SUPN's Cholesky parametrisation."""
        mean = self.decode_mean(z)
        if self.likelihood == "fixed":
            log_diag = torch.full_like(mean, -0.5 * math.log(self.fixed_var))
            return mean, log_diag, mean.new_zeros(mean.shape[0], 0, *mean.shape[2:]), 0
        out = self.decode_precision(z)
        if self.likelihood == "supn":
            return mean, out[:, :1], out[:, 1:], self.connectivity
        # diag: channel 0 is s = log σ², so ℓ = log(1/σ) = −½ s
        return mean, -0.5 * out[:, :1], mean.new_zeros(mean.shape[0], 0, *mean.shape[2:]), 0

    def mahalanobis_map(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(Lᵀ(x − μ))² per pixel at latent z."""
        mean, log_diag, off_diag, c = self.whitening(z)
        return supn.mahalanobis_map(x, mean, log_diag, off_diag, c)

    # -------------------------------------------------------------------------------- stages
    def mean_path_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.encoder.parameters()
        yield from self.mean_decoder.parameters()

    def precision_parameters(self) -> list[nn.Parameter]:
        return list(self.var_decoder.parameters()) if self.var_decoder is not None else []

    def load_mean_path(self, other: CellVAE) -> None:
        """Copy encoder and mean decoder weights from a (stage-1) model with the same architecture."""
        self.encoder.load_state_dict(other.encoder.state_dict())
        self.mean_decoder.load_state_dict(other.mean_decoder.state_dict())

    def freeze_mean_path(self) -> list[nn.Parameter]:
        """Stage 2: encoder and mean decoder stop learning; returns the parameters left to train."""
        for p in self.mean_path_parameters():
            p.requires_grad_(False)
        return self.precision_parameters()


# ------------------------------------------------------------------------------------ losses (spec §2.5)
def fixed_var_nll(x: torch.Tensor, mean: torch.Tensor, var: float) -> torch.Tensor:
    """−log N(x; mean, var·I) per image: ½Σr²/var + ½N log var + ½N log 2π."""
    n = x[0].numel()
    return 0.5 * (x - mean).square().flatten(1).sum(1) / var + 0.5 * n * (math.log(var) + LOG_2PI)


def diag_nll(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, legacy_quarter: bool = False) -> torch.Tensor:
    """−log N(x; mean, diag(e^s)) per image; `legacy_quarter` uses the released ¼·Σs instead of ½·Σs."""
    n = x[0].numel()
    quad = 0.5 * ((x - mean).square() / (torch.exp(log_var) + 1e-7)).flatten(1).sum(1)
    return quad + (0.25 if legacy_quarter else 0.5) * log_var.flatten(1).sum(1) + 0.5 * n * LOG_2PI


def _posterior(model: CellVAE, x: torch.Tensor, train_encoder: bool):
    with torch.set_grad_enabled(train_encoder and torch.is_grad_enabled()):
        mu, logvar = model.encode(x)
        z = model.sample_z(mu, logvar)
    return mu, logvar, z


def mean_stage_loss(model: CellVAE, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Stage 1: fixed-variance Gaussian NLL (σ² = model.fixed_var) + KL, batch mean."""
    x = batch[0]
    mu, logvar, z = _posterior(model, x, train_encoder=True)
    nll = fixed_var_nll(x, model.decode_mean(z), model.fixed_var)
    kl = model.kl(mu, logvar)
    return {"loss": (nll + kl).mean(), "nll": nll.mean().detach(), "kl": kl.mean().detach()}


def precision_stage_loss(
    model: CellVAE, batch: tuple[torch.Tensor, ...], l1_weight: float = 0.0, legacy_diag_quarter: bool = False
) -> dict[str, torch.Tensor]:
    """Stage 2 (frozen encoder and mean): −log p(x|z) + KL (+ λ·mean|w| for SUPN), batch mean.

    z is still sampled from q(z|x) for every batch; the encoder and mean decoder run without autograd.
    """
    x = batch[0]
    mu, logvar, z = _posterior(model, x, train_encoder=False)
    with torch.no_grad():
        mean = model.decode_mean(z)
        kl = model.kl(mu, logvar)
    out = model.decode_precision(z)
    stats: dict[str, torch.Tensor] = {}
    if model.likelihood == "supn":
        log_diag, off_diag = out[:, :1], out[:, 1:]
        nll = -supn.log_prob(x, mean, log_diag, off_diag, model.connectivity)
        loss = (nll + kl).mean()
        if l1_weight:
            l1 = off_diag.abs().mean()
            loss = loss + l1_weight * l1
        else:  # logged only: no autograd graph for a term of weight 0 (same loss and gradients)
            with torch.no_grad():
                l1 = off_diag.abs().mean()
        stats["l1"] = l1.detach()
    elif model.likelihood == "diag":
        nll = diag_nll(x, mean, out[:, :1], legacy_diag_quarter)
        loss = (nll + kl).mean()
    else:
        raise ValueError("precision_stage_loss needs a supn or diag model")
    return {"loss": loss, "nll": nll.mean().detach(), "kl": kl.mean().detach(), **stats}


@torch.no_grad()
def heldout_nll(
    model: CellVAE,
    x: torch.Tensor,
    n_samples: int = 4,
    generator: torch.Generator | None = None,
    batch_size: int = 32,
) -> torch.Tensor:
    """−log p(x | z) per image (N,), averaged over `n_samples` latents z ~ q(z|x): the exact Gaussian NLL of
    each likelihood (fixed variance, diag, SUPN) through the shared Cholesky form `whitening` — for choosing
    settings on held-out healthy training crops (never on the test cells)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        mu, logvar = model.encode(xb)
        total = torch.zeros(len(xb), dtype=torch.float64, device=device)
        for _ in range(n_samples):
            mean, log_diag, off_diag, c = model.whitening(model.sample_z(mu, logvar, generator))
            total -= supn.log_prob(xb, mean, log_diag, off_diag, c).double()
        out.append(total / n_samples)
    return torch.cat(out).cpu()
