"""``sortnet compile FAMILY N | FILE | counting N [--lowering L] [--k K] [--bound M] -o OUT``.

Compiles a network to a model file; the format follows the suffix of ``OUT``:
``.npz`` (sortnet model, reload with ``sortnet run``/``sortnet.load_model``) or
``.onnx`` (needs the optional ``onnx`` package). Prints the model summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sortnet.cli._common import add_network_arguments, network_from_args, parse_wire_count
from sortnet.errors import SortnetError
from sortnet.generators.counting import counting_network
from sortnet.io.atomic import check_target
from sortnet.network import Network

SUFFIXES = (".npz", ".onnx")


def register(subparsers: Any) -> None:
    """Add the ``compile`` subcommand."""
    parser = subparsers.add_parser(
        "compile",
        help="compile a network into a neural network model (.npz or .onnx)",
        description="Compile FAMILY N, a network FILE, or 'counting N' (a rank-counting "
        "network) into an MLP whose weights sort (or output the k-th smallest).",
    )
    add_network_arguments(parser)
    parser.add_argument(
        "--lowering",
        choices=("relu", "abs", "residual", "softplus"),
        default=None,
        help="how a comparator becomes units: relu (plain ReLU MLP, default), abs (the "
        "Sort_2 |z|/identity form), residual (residual MLP, 1 ReLU per comparator + skip) or "
        "softplus (the residual form with softplus at --steepness: smooth, differentiable, "
        "within depth*log(2)/steepness of the sort); counting networks always use their own "
        "lowering",
    )
    parser.add_argument(
        "--steepness",
        type=float,
        metavar="BETA",
        help="steepness of the softplus lowering (needed with --lowering softplus)",
    )
    parser.add_argument("--k", help="output only the k-th smallest (1-based, or median, min, max)")
    parser.add_argument(
        "--bound",
        type=float,
        metavar="M",
        help="refuse inputs with |x| > M (counting models default to 2**100)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="model file: .npz or .onnx"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON description")
    parser.set_defaults(func=run)


def source_network(args: argparse.Namespace) -> Network:
    """The network to compile: ``counting N`` or whatever :func:`network_from_args` reads."""
    if args.network == "counting" and not Path("counting").exists():
        if args.n is None:
            raise SortnetError("'counting' needs N, the number of inputs (e.g. 'counting 8')")
        if getattr(args, "optimize", None) is not None:
            raise SortnetError("--optimize applies to the 'best' family, not to 'counting'")
        return counting_network(parse_wire_count(args.n))
    return network_from_args(args)


def run(args: argparse.Namespace) -> int:
    """Compile and write the model; exit code 0 (user mistakes propagate to main)."""
    import compilers  # lazy: sortnet imports compilers only at the CLI edge

    target = Path(args.output)
    if target.suffix not in SUFFIXES:
        raise SortnetError(
            f"cannot tell the model format from {args.output!r}: use a .npz or .onnx file name"
        )
    check_target(target, "model")  # a missing folder fails before the compile work
    k: Any = args.k
    if k is not None and k.lstrip("+-").isdigit():
        k = int(k)
    model = compilers.compile(
        source_network(args), args.lowering, k, bound=args.bound, steepness=args.steepness
    )
    if target.suffix == ".onnx":
        model.to_onnx(target)
    else:
        model.save(target)
    if args.json:
        print(json.dumps({"output": str(target), **model_description(model)}))
    else:
        print(model.summary())
        print(f"wrote {target}")
    return 0


def model_description(model: Any) -> dict[str, Any]:
    """A JSON-ready description of a compiled model (also used by ``sortnet info MODEL``)."""
    return {
        "n": model.n,
        "outputs": model.n_outputs,
        "lowering": model.lowering,
        "k": model.k,
        "bound": model.bound,
        "source": {
            key: value
            for key, value in model.metadata.get("source", {}).items()
            if key not in ("comparators", "outputs")
        },
        "hidden_layers": model.depth,
        "layers": [
            {
                "inputs": layer.inputs,
                "units": layer.units,
                "outputs": layer.outputs,
                "residual": layer.residual,
                "activations": {name: stop - start for name, start, stop in layer.groups},
                "parameters": layer.parameters,
                "nonzeros": layer.nonzeros,
            }
            for layer in model.layers
        ],
        "parameters": model.parameters,
        "nonzeros": model.nonzeros,
    }
