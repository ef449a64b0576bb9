"""Activations of named submodules of any network, read through forward hooks."""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

import torch  # noqa: F401  (used by the doctests)
from torch import Tensor, nn

Layers = Union[str, Sequence[str]]

_SHOWN_NAMES = 8  # how many valid layer names an error message lists before "..."


class _StopForward(Exception):
    """Raised by the last hook that fires: every requested activation is in hand."""


def _as_name_list(layers: Layers, name: str) -> List[str]:
    if isinstance(layers, str):
        return [layers]
    try:
        names = list(layers)
    except TypeError:
        raise TypeError(f"{name}: layers must be a layer name or a sequence of names, got {layers!r}") from None
    for layer in names:
        if not isinstance(layer, str):
            raise TypeError(f"{name}: layer names must be strings, as in network.named_modules(), got {layer!r}")
    return names


def _show(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN_NAMES])
    return shown + (", ..." if len(names) > _SHOWN_NAMES else "")


def layer_modules(network: nn.Module, layers: Layers, name: str = "feature_extractor") -> Dict[str, nn.Module]:
    """The submodules of ``network`` called ``layers``, checked against ``network.named_modules()``.

    Args:
        network: any ``nn.Module``.
        layers: one name or several, as ``network.named_modules()`` spells them
            (``'features.3'``, ``'layer2.0.relu'``); duplicates are dropped, the order kept.
        name: the caller's name for error messages.

    Returns:
        The requested names mapped to their modules, in the order requested.

    Raises:
        ValueError: for an empty request or a name that is not a submodule; the message
            lists the first valid names.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
        >>> list(layer_modules(net, ["1", "2"]))
        ['1', '2']
        >>> layer_modules(net, "relu")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...unknown layer name(s) ['relu'] for Sequential; valid names (3 in all): '0', '1', '2'
    """
    if not isinstance(network, nn.Module):
        raise TypeError(f"{name}: network must be a torch.nn.Module, got {type(network).__name__}")
    names = list(dict.fromkeys(_as_name_list(layers, name)))
    if not names:
        raise ValueError(f"{name}: layers is empty; name at least one submodule of the network")
    # the root module ('') is not a layer: its output is the network's output
    modules = {n: m for n, m in network.named_modules() if n}
    unknown = [n for n in names if n not in modules]
    if unknown:
        valid = list(modules)
        raise ValueError(
            f"{name}: unknown layer name(s) {unknown} for {type(network).__name__}; "
            f"valid names ({len(valid)} in all): {_show(valid) if valid else 'none (the network has no submodules)'}"
        )
    return {n: modules[n] for n in names}


def extract_features(network: nn.Module, input: Tensor, layers: Layers, stop_early: bool = True) -> Dict[str, Tensor]:
    """Run ``network`` on ``input`` and return the outputs of the named submodules.

    A forward hook on each requested module records its output; the hooks are removed
    before returning, also when the forward pass raises. With ``stop_early`` the pass
    stops as soon as every requested output is recorded, so the layers after the last
    one are never computed (a network that catches every ``Exception`` in its forward
    runs to the end instead, with the same result). The network is run as it is: its
    train/eval mode and ``requires_grad`` flags are the caller's, and gradients flow
    through the returned tensors as through any other activation.

    A module called several times in one pass (a shared ``ReLU``, as in torchvision's
    ResNet blocks) yields the output of its first call. An output that a later in-place
    operation overwrites (a ``Conv2d`` followed by ``ReLU(inplace=True)``) raises an error
    instead of silently returning the modified values: request the module after it.

    Args:
        network: any ``nn.Module`` whose requested submodules return tensors.
        input: the network's input.
        layers: one name or several, as ``network.named_modules()`` spells them.
        stop_early: stop the forward pass after the last requested output (default True).

    Returns:
        The requested names mapped to their outputs, in the order requested.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2))
        >>> feats = extract_features(net, torch.randn(2, 1, 8, 8), ["1", "2"])
        >>> {k: tuple(v.shape) for k, v in feats.items()}
        {'1': (2, 4, 8, 8), '2': (2, 8, 3, 3)}
        >>> any(m._forward_hooks for m in net.modules())  # no hook left behind
        False
    """
    if not isinstance(stop_early, bool):
        raise TypeError(f"feature_extractor: stop_early must be True or False, got {stop_early!r}")
    modules = layer_modules(network, layers)
    outputs: Dict[str, Tensor] = {}
    versions: Dict[str, int] = {}

    def make_hook(layer: str):
        def hook(module: nn.Module, args: object, output: object) -> None:
            if layer in outputs:
                return
            if not torch.is_tensor(output):
                raise TypeError(
                    f"feature_extractor: layer {layer!r} ({type(module).__name__}) returned "
                    f"{type(output).__name__}, not a tensor; request a submodule that outputs a tensor"
                )
            outputs[layer] = output
            if not output.is_inference():  # inference tensors keep no version counter
                versions[layer] = output._version
            if stop_early and len(outputs) == len(modules):
                raise _StopForward

        return hook

    handles = [module.register_forward_hook(make_hook(layer)) for layer, module in modules.items()]
    try:
        network(input)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [layer for layer in modules if layer not in outputs]
    if missing:
        raise RuntimeError(
            f"feature_extractor: layer(s) {missing} of {type(network).__name__} were not called during the "
            "forward pass; request modules that the network's forward uses"
        )
    changed = [layer for layer, version in versions.items() if outputs[layer]._version != version]
    if changed:
        raise RuntimeError(
            f"feature_extractor: the output of layer(s) {changed} was modified in place later in the forward pass "
            "(e.g. by ReLU(inplace=True)); request the module that applies the in-place operation instead"
        )
    return {layer: outputs[layer] for layer in modules}


__all__ = ["extract_features", "layer_modules"]
