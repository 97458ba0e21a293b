"""Train DOT(S)-RNN (examples/dots.rnn) on JSB Chorales in PyTorch: the module `rnnalg export
--to torch` writes, rnnalg's data loaders, torch.optim.Adam; on cuda if there is one, else the CPU.

    python examples/train_torch.py [--epochs 20] [--set H=200] [--max-batches N]

Prints the validation NLL per frame (every frame of every whole piece) before and after each epoch.
"""
import argparse
import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch

import rnnalg
from rnnalg.data import load_dataset, music_batches

SPEC = Path(__file__).resolve().parent / "dots.rnn"


def exported_module(program):
    """rnnalg.export(program, "torch", …), imported."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dots_torch.py"
        rnnalg.export(program, "torch", path)
        spec = importlib.util.spec_from_file_location("dots_torch", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def on(device, batch):
    """A data Batch -> the model's batch dict on `device`."""
    return {k: torch.as_tensor(v, dtype=torch.float32, device=device)
            for k, v in {"x": batch.inputs, "y": batch.targets, "mask": batch.mask}.items()}


def valid_nll(net, pieces, device):
    """NLL per frame over whole pieces, dropout off (64 pieces a batch, each from a zero state)."""
    net.eval()
    total = count = 0.0
    with torch.no_grad():
        for batch in music_batches(pieces, 64, None):
            nll, n, _ = net.nll(on(device, batch))
            total, count = total + nll.item(), count + n.item()
    net.train()
    return total / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--set", default="H=200", help="the spec's size, NAME=VALUE")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-batches", type=int, help="stop each epoch after this many batches")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    name, value = args.set.split("=")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    program, data = rnnalg.load_program(SPEC, {name: int(value)}), load_dataset("jsb")
    torch.manual_seed(args.seed)
    net = exported_module(program).Model(device=device)  # rnnalg's init, float32
    optimizer, rng = torch.optim.Adam(net.parameters(), lr=args.lr), np.random.default_rng(args.seed)
    print(f"epoch 0  valid NLL per frame {valid_nll(net, data.splits['valid'], device):.4f}  ({device})")
    for epoch in range(1, args.epochs + 1):
        for i, batch in enumerate(music_batches(data.splits["train"], args.batch_size, rng)):
            if args.max_batches is not None and i >= args.max_batches:
                break
            optimizer.zero_grad()
            net.loss(on(device, batch)).backward()  # rnnalg's loss; dropout (if any) in train mode
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
        print(f"epoch {epoch}  valid NLL per frame {valid_nll(net, data.splits['valid'], device):.4f}")


if __name__ == "__main__":
    main()
