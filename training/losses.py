"""SimSwap's losses: identity (1 - cosine to the source embedding), weak feature matching on the deepest
discriminator features, reconstruction on same-identity steps, and the hinge adversarial loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["feature_matching_loss", "hinge_d_loss", "hinge_g_loss", "identity_loss", "reconstruction_loss"]

Features = list[list[torch.Tensor]]  # per discriminator scale, per layer; the last of each scale is the logits


def identity_loss(result_embedding: torch.Tensor, source_embedding: torch.Tensor) -> torch.Tensor:
    """Mean (1 - cosine) between [N,D] unit embeddings of the results and of their sources; in [0, 2]."""
    return (1.0 - (result_embedding * source_embedding).sum(dim=1)).mean()


def reconstruction_loss(result: torch.Tensor, target: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """L1 between result and target [N,3,H,W] on the samples where ``same`` [N] bool (source and target are one
    person); 0 when there are none."""
    if not bool(same.any()):
        return result.new_zeros(())
    return F.l1_loss(result[same], target[same])


def feature_matching_loss(fake: Features, real: Features, layers: int) -> torch.Tensor:
    """L1 between the fake's and the (detached) real's features of the last ``layers`` feature layers before the
    logits, averaged over scales: SimSwap's *weak* feature matching, which keeps attributes without copying the
    target's identity the way shallow features would."""
    total = fake[0][0].new_zeros(())
    for fake_scale, real_scale in zip(fake, real, strict=True):
        chosen = range(max(0, len(fake_scale) - 1 - layers), len(fake_scale) - 1)
        total = total + sum(F.l1_loss(fake_scale[i], real_scale[i].detach()) for i in chosen)
    return total / len(fake)


def hinge_d_loss(real: Features, fake: Features) -> torch.Tensor:
    """Discriminator hinge loss, mean over scales: relu(1 - D(real)) + relu(1 + D(fake))."""
    losses = [F.relu(1.0 - r[-1]).mean() + F.relu(1.0 + f[-1]).mean() for r, f in zip(real, fake, strict=True)]
    return torch.stack(losses).mean()


def hinge_g_loss(fake: Features) -> torch.Tensor:
    """Generator hinge loss, mean over scales: -D(fake)."""
    return torch.stack([-f[-1].mean() for f in fake]).mean()
