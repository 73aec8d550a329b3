"""The zoo's PP-OCR detector as a trainable DB network.

`to_torch` (onnx2torch) gives the inference graph, which ends in the probability head (conv 3x3,
two transposed convolutions up to full resolution, sigmoid). Training also needs DB's threshold
map: `DBTrainNet` finds the tensor feeding the probability head in the FX graph (walking back from
the output to the first plain convolution), makes the graph return it as a second output, and puts
a threshold head on it (the same shape as DB's: conv 3x3 + BN + ReLU, two stride-2 transposed
convolutions, sigmoid), used only in training. In eval mode the module returns the probability map
only, like the ONNX graph. Export writes the trained tensors back into the original ONNX file
(`export.py`), so the threshold head is dropped there by construction.
"""
from __future__ import annotations

import torch
from torch import nn

from service.tooling.training.onnx_torch import ConversionError


def _plain_conv(module: nn.Module) -> nn.Conv2d | None:
    if isinstance(module, nn.Conv2d):
        return module
    if isinstance(module, nn.Sequential):  # explicit-padding wrappers: (pad, conv)
        convs = [m for m in module if isinstance(m, nn.Conv2d)]
        return convs[0] if len(convs) == 1 else None
    return None


def split_probability_head(graph_module: torch.fx.GraphModule, max_steps: int = 16) -> int:
    """Make the graph return (probability map, features of the probability head); returns the
    feature channels. Raises ConversionError when the graph does not end in such a head."""
    output = next(n for n in graph_module.graph.nodes if n.op == "output")
    node = output.args[0]
    if isinstance(node, (tuple, list)):
        if len(node) != 1:
            raise ConversionError(f"the detector has {len(node)} outputs, expected the probability map only")
        node = node[0]
    prob = node
    for _ in range(max_steps):
        if not isinstance(node, torch.fx.Node) or node.op != "call_module":
            break
        conv = _plain_conv(graph_module.get_submodule(node.target))
        if conv is not None:
            features = node.args[0]
            output.args = ((prob, features),)
            graph_module.recompile()
            return conv.in_channels
        node = node.args[0]
    raise ConversionError("no convolution found within the last layers: not a DB probability head")


class ThresholdHead(nn.Module):
    """DB's threshold branch: features at 1/4 scale -> threshold map at full scale."""

    def __init__(self, channels: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(channels // 4, 16)
        self.layers = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(hidden, hidden, 2, stride=2), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(hidden, 1, 2, stride=2), nn.Sigmoid())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class DBTrainNet(nn.Module):
    """Inference graph + threshold head. train(): (prob, thr); eval(): prob (the ONNX graph's output).

    What the training loop (train.py) asks of a detector, which native.NativeDBNet answers too:
    forward in train mode -> (probability map after its sigmoid, threshold map); `param_groups`,
    `weights` / `load_weights` (the tensors a checkpoint holds) and `freeze_first`."""

    def __init__(self, graph_module: torch.fx.GraphModule):
        super().__init__()
        channels = split_probability_head(graph_module)
        self.net = graph_module
        self.thresh = ThresholdHead(channels)

    def forward(self, x: torch.Tensor):
        prob, features = self.net(x)
        if not self.training:
            return prob
        return prob, self.thresh(features)

    def param_groups(self, lr: float, head_lr: float) -> list[dict]:
        """The pretrained network at `lr`; the fresh threshold head at `head_lr`, without warm-up."""
        return [{"params": [p for p in self.net.parameters() if p.requires_grad], "lr": lr, "base": lr},
                {"params": list(self.thresh.parameters()), "lr": head_lr, "base": head_lr, "warm": False}]

    def weights(self) -> dict:
        return {"net": self.net.state_dict(), "thresh": self.thresh.state_dict()}

    def load_weights(self, checkpoint: dict) -> None:
        self.net.load_state_dict(checkpoint["net"])
        self.thresh.load_state_dict(checkpoint["thresh"])

    def freeze_first(self, fraction: float) -> int:
        """Freeze the parameters of the first `fraction` of the graph's layers (in execution order:
        the early backbone); returns how many parameters stay trainable. Frozen layers need no
        backward pass, and keep what they learnt on the original data."""
        layers = [n for n in self.net.graph.nodes if n.op == "call_module"]
        for node in layers[:int(fraction * len(layers))]:
            for p in self.net.get_submodule(node.target).parameters():
                p.requires_grad_(False)
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
