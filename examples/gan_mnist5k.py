"""Train a small GAN on the 5,000 real MNIST digits of ``slf.data`` with each GAN loss of ``slf.losses``.

    python examples/gan_mnist5k.py --out runs/gan_mnist5k
    python examples/gan_mnist5k.py --loss non_saturating wasserstein_gp --steps 500

Losses (``--loss``): ``minimax`` (saturating generator loss), ``non_saturating``,
``least_squares`` (LSGAN, a=0, b=c=1) and ``wasserstein_gp`` (WGAN critic loss plus the
gradient penalty, ``--n-critic`` critic steps per generator step). Every loss starts from
the same initial networks: MLPs, the generator ending in tanh (pixels in [-1, 1]), the
discriminator without normalisation layers (the gradient penalty needs per-sample scores).

Writes ``samples_<loss>.png`` (an 8x8 grid) per loss and ``samples_all.png`` side by side.
The defaults take about 2 minutes on one CPU core (WGAN-GP 1.3 of them: 5 critic steps with
double backpropagation per generator step).

Quality without a pretrained network: a small MLP classifier, trained here on 4,000 of the
real digits, classifies 1,000 samples of each generator. Printed per loss, next to the same
figures on the 1,000 held-out real digits:

- ``conf``: mean max-probability; digit-like samples are classified confidently, but so is
  some noise (the untrained generator's grey noise gets about 0.9): read it with the next two.
- ``H(y)``: entropy of the mean predicted class distribution, in nats; ln 10 = 2.30 when every
  class is generated equally often, lower under mode collapse.
- ``IS``: exp(E_x KL(p(y|x) || p(y))), a poor man's Inception Score between 1 and 10.
- ``mean``: mean pixel intensity in [0, 1] (the real digits: about 0.13).

Seed 0 with the defaults gave IS 2.5 (minimax), 2.4 (non_saturating), 2.9 (least_squares) and
5.1 (wasserstein_gp), against 7.7 for the held-out real digits and 1.0 untrained.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from slf.data import mnist5k_arrays, split_indices
from slf.losses import (
    GradientPenalty,
    LeastSquaresGANLoss,
    MinimaxGANLoss,
    NonSaturatingGANLoss,
    WassersteinGANLoss,
)

SCORE_LOSSES = {
    "minimax": MinimaxGANLoss,
    "non_saturating": NonSaturatingGANLoss,
    "least_squares": LeastSquaresGANLoss,
    "wasserstein_gp": WassersteinGANLoss,
}
LOSSES = tuple(SCORE_LOSSES)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", nargs="+", choices=LOSSES, default=list(LOSSES))
    parser.add_argument("--steps", type=int, default=1000, help="generator steps per loss")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--n-critic", type=int, default=5, help="critic steps per generator step (wasserstein_gp)")
    parser.add_argument("--gp-weight", type=float, default=10.0)
    parser.add_argument("--num-samples", type=int, default=1000, help="samples scored by the classifier")
    parser.add_argument("--classifier-epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    parser.add_argument("--out", type=Path, default=Path("runs/gan_mnist5k"))
    args = parser.parse_args(argv)
    for option in ("steps", "batch_size", "n_critic", "num_samples", "classifier_epochs", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1, got {getattr(args, option)}")
    return args


def make_generator(latent: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 2 * hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(2 * hidden, 784),
        nn.Tanh(),
    )


def make_discriminator(hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 2 * hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(2 * hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
    )


def train_gan(loss: str, data: Tensor, args: argparse.Namespace) -> nn.Module:
    """Train one generator/discriminator pair with ``loss``; ``data`` holds digits in [-1, 1], (N, 784)."""
    torch.manual_seed(args.seed)  # the same initial networks for every loss
    gen, disc = make_generator(args.latent, args.hidden), make_discriminator(args.hidden)
    wgan = loss == "wasserstein_gp"
    betas = (0.5, 0.9) if wgan else (0.5, 0.999)  # Gulrajani et al. / Radford et al.
    opt_g = torch.optim.Adam(gen.parameters(), lr=args.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=betas)
    d_loss, g_loss = SCORE_LOSSES[loss]("discriminator"), SCORE_LOSSES[loss]("generator")
    penalty = GradientPenalty(args.gp_weight) if wgan else None
    rng = torch.Generator().manual_seed(args.seed)
    bar = tqdm(range(args.steps), desc=loss)
    for _ in bar:
        for _ in range(args.n_critic if wgan else 1):
            real = data[torch.randint(len(data), (args.batch_size,), generator=rng)]
            with torch.no_grad():
                fake = gen(torch.randn(args.batch_size, args.latent, generator=rng))
            loss_d = d_loss(disc(fake), disc(real))
            if penalty is not None:
                loss_d = loss_d + penalty(disc, real, fake, generator=rng)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = g_loss(disc(gen(torch.randn(args.batch_size, args.latent, generator=rng))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}", refresh=False)
    return gen


def train_classifier(images: Tensor, labels: Tensor, seed: int, epochs: int = 8) -> nn.Module:
    """A 784-128-10 MLP on real digits in [0, 1], for the quality figures."""
    torch.manual_seed(seed)
    clf = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(clf.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(epochs):
        for batch in torch.randperm(len(images)).split(128):
            loss = F.cross_entropy(clf(images[batch]), labels[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return clf.eval()


@torch.no_grad()
def quality(clf: nn.Module, images: Tensor) -> Dict[str, float]:
    """Classifier figures of images in [0, 1], (N, 784); see the module docstring."""
    probs = clf(images).softmax(dim=1)
    marginal = probs.mean(dim=0)
    kl = (probs * (probs.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(dim=1)
    return {
        "conf": probs.max(dim=1).values.mean().item(),
        "H(y)": -(marginal * marginal.clamp_min(1e-12).log()).sum().item(),
        "IS": math.exp(kl.mean().item()),
        "mean": images.mean().item(),
    }


@torch.no_grad()
def sample(gen: nn.Module, n: int, latent: int, seed: int) -> Tensor:
    """``n`` generated digits in [0, 1], (n, 784), from a fixed noise batch."""
    z = torch.randn(n, latent, generator=torch.Generator().manual_seed(seed + 1))
    return gen(z).add(1.0).div(2.0)


def image_grid(images: Tensor, rows: int = 8) -> np.ndarray:
    """The first rows * rows images (N, 784) tiled into one (28 rows, 28 rows) array."""
    tiles = images[: rows * rows].reshape(rows, rows, 28, 28).permute(0, 2, 1, 3)
    return tiles.reshape(rows * 28, rows * 28).numpy()


def save_pngs(grids: Dict[str, np.ndarray], scores: Dict[str, Dict[str, float]], out: Path) -> List[Path]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for loss, grid in grids.items():
        paths.append(out / f"samples_{loss}.png")
        plt.imsave(paths[-1], grid, cmap="gray", vmin=0.0, vmax=1.0)
    fig, axes = plt.subplots(1, len(grids), figsize=(3.2 * len(grids), 3.8), squeeze=False)
    for ax, (loss, grid) in zip(axes[0], grids.items()):
        ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(f"{loss}\nconf {scores[loss]['conf']:.2f}, IS {scores[loss]['IS']:.2f}", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    paths.append(out / "samples_all.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    """Train every requested loss; return the quality figures per loss (and for ``'real'`` and ``'untrained'``)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    raw_images, raw_labels = mnist5k_arrays()
    images = torch.from_numpy(raw_images).float().div(255.0)
    labels = torch.from_numpy(raw_labels)
    test_idx, train_idx = (torch.from_numpy(i) for i in split_indices(raw_labels, [1000, None], args.seed))

    clf = train_classifier(images[train_idx], labels[train_idx], args.seed, args.classifier_epochs)
    accuracy = (clf(images[test_idx]).argmax(dim=1) == labels[test_idx]).float().mean().item()
    torch.manual_seed(args.seed)
    untrained = make_generator(args.latent, args.hidden)
    scores = {
        "real": quality(clf, images[test_idx]),
        "untrained": quality(clf, sample(untrained, args.num_samples, args.latent, args.seed)),
    }
    print(f"classifier accuracy on 1,000 held-out real digits: {accuracy:.3f}")

    data = images.mul(2.0).sub(1.0)  # all 5,000 digits, in the generator's range [-1, 1]
    grids = {}
    for loss in args.loss:
        start = time.time()
        gen = train_gan(loss, data, args)
        samples = sample(gen, max(args.num_samples, 64), args.latent, args.seed)
        scores[loss] = dict(quality(clf, samples), seconds=time.time() - start)
        grids[loss] = image_grid(samples)
    paths = save_pngs(grids, scores, args.out)

    print(f"{'':>15} {'conf':>6} {'H(y)':>6} {'IS':>6} {'mean':>6} {'time':>6}")
    for name, row in scores.items():
        seconds = f"{row['seconds']:5.0f}s" if "seconds" in row else ""
        print(f"{name:>15} {row['conf']:6.3f} {row['H(y)']:6.3f} {row['IS']:6.2f} {row['mean']:6.3f} {seconds:>6}")
    print("wrote", ", ".join(str(p) for p in paths))
    return scores


if __name__ == "__main__":
    main()
