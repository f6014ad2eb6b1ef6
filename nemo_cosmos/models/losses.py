"""Reconstruction and adversarial objectives for training the tokenizers.

The reference release ships no training code; these follow common practice for
wavelet/FSQ autoencoders: L1 plus a structural term (1 - SSIM) per frame, and an
optional hinge GAN term from a small per-frame patch discriminator. Two optional terms
target what a small model gets wrong first: a colour term (the error of each sample's
mean colour, which per-pixel L1 weighs no more than noise) and a decorrelation term on
the FSQ channels before rounding (correlated channels reach only a sliver of the
codebook).
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.image import structural_similarity_index_measure


def frames_of(x: Tensor) -> Tensor:
    """``[B, C, T, H, W]`` -> ``[B*T, C, H, W]``; images pass through."""
    if x.dim() == 4:
        return x
    return x.transpose(1, 2).flatten(0, 1)


def ssim(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean SSIM over frames of tensors in [-1, 1] (differentiable)."""
    return structural_similarity_index_measure(
        frames_of(prediction).float().add(1).div(2), frames_of(target).float().add(1).div(2), data_range=1.0
    )


def psnr(prediction: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB of tensors in [-1, 1] (peak-to-peak 2), MSE over everything."""
    mse = F.mse_loss(prediction.float().clamp(-1, 1), target.float())
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def reconstruction_loss(prediction: Tensor, target: Tensor, ssim_weight: float) -> tuple[Tensor, dict[str, Tensor]]:
    """``L1 + ssim_weight * (1 - SSIM)``, with its parts for logging."""
    l1 = (prediction - target).abs().mean()
    structural = 1 - ssim(prediction, target) if ssim_weight else torch.zeros((), device=prediction.device)
    return l1 + ssim_weight * structural, {"l1": l1.detach(), "ssim": 1 - structural.detach()}


def color_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error of each sample's mean colour (per channel, over frames and pixels)."""
    dims = tuple(range(2, prediction.dim()))
    return (prediction.mean(dim=dims) - target.mean(dim=dims)).abs().mean()


def decorrelation_loss(z: Tensor) -> Tensor:
    """Mean squared correlation between different channels of ``z`` ``[B, C, ...]``, over all positions."""
    flat = z.float().transpose(0, 1).flatten(1)  # [C, positions]
    centred = flat - flat.mean(dim=1, keepdim=True)
    normalised = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-6)
    correlation = normalised @ normalised.T
    off_diagonal = correlation - torch.diag_embed(torch.diagonal(correlation))
    channels = z.shape[1]
    return off_diagonal.square().sum() / max(1, channels * (channels - 1))


class PatchDiscriminator(nn.Module):
    """A small PatchGAN: strided 4x4 convs over single frames, one logit per patch."""

    def __init__(self, channels: int = 32, layers: int = 3, in_channels: int = 3):
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        width = channels
        for _ in range(layers - 1):
            blocks += [
                nn.Conv2d(width, width * 2, 4, stride=2, padding=1),
                nn.GroupNorm(8, width * 2),
                nn.LeakyReLU(0.2),
            ]
            width *= 2
        blocks.append(nn.Conv2d(width, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(frames_of(x))


def discriminator_hinge_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_hinge_loss(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()
