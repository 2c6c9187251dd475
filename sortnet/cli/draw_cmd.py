"""``sortnet draw``: export a diagram of a network, a compiled model or a counting network.

::

    sortnet draw bubble 4 -o bubble.svg                  # computation graph
    sortnet draw bitonic 16 --style wires -o b16.pdf     # Knuth wire diagram
    sortnet draw odd-even-merge 4 --style layers --k 3 -o kth.png
    sortnet draw model.npz -o model.svg                  # a saved compiled model
    sortnet draw counting 4 --k 3 -o counting.dot

The format comes from the suffix of ``-o`` (.dot/.gv, .svg, .png, .pdf). Without
the Graphviz programs a ``.dot`` is still written, and asking for an image writes
the ``.dot`` beside it and says how to install Graphviz. The gallery in
``diagrams/`` is rebuilt by ``python -m sortnet.draw.gallery``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sortnet.cli._common import add_network_arguments, network_from_args, parse_wire_count
from sortnet.cli.verify_cmd import parse_k
from sortnet.draw import STYLES, draw, save_drawing
from sortnet.draw._common import INSTALL_HINT, DrawingError, has_engine, output_format
from sortnet.io.atomic import check_target

MODEL_SUFFIXES = (".npz",)


def register(subparsers: Any) -> None:
    """Add the ``draw`` subcommand."""
    parser = subparsers.add_parser(
        "draw",
        help="export a diagram (graph, wires or layers) as DOT, SVG, PNG or PDF",
        description="Draw FAMILY N, a network FILE, a compiled MODEL (.npz) or "
        "'counting N' with Graphviz; the format comes from the suffix of -o.",
    )
    add_network_arguments(parser)
    parser.add_argument(
        "--style",
        default=None,
        metavar="STYLE",
        help=f"{' | '.join(STYLES)} (default: graph for networks, layers for models)",
    )
    parser.add_argument(
        "--k", default=None, help="highlight output k (1-based, or median, min, max)"
    )
    parser.add_argument(
        "--lowering",
        default=None,
        choices=("abs", "relu", "residual"),
        help="how to compile a comparator network for --style layers (default abs)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file: .dot, .gv, .svg, .png or .pdf",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the drawing and write it; see the module docstring."""
    if args.style is not None and args.style not in STYLES:
        raise DrawingError(f"unknown style {args.style!r} (use {', '.join(STYLES)})")
    out = Path(args.output)
    fmt = output_format(out)  # a bad suffix or folder fails before any work
    check_target(out, "drawing")
    args.k = parse_k(args.k)
    obj = _load(args)
    if isinstance(args.k, str):  # median, min, max: a position among the n outputs
        n = obj.n
        args.k = {"min": 1, "median": (n + 1) // 2, "max": n}[args.k]
    style = args.style
    if style is None:
        style = "graph" if _is_network(obj) else "layers"
    if args.lowering is not None and not (style == "layers" and _is_network(obj)):
        raise DrawingError("--lowering applies to --style layers on a network")
    if style == "layers" and _is_network(obj):
        obj = _compile(obj, args.lowering)
    drawing = draw(obj, style=style, k=args.k)
    if fmt != "dot" and not has_engine(drawing.engine):
        fallback = save_drawing(drawing, out.with_suffix(".dot"))
        raise DrawingError(
            f"wrote {fallback} but not {out}: the Graphviz program {drawing.engine!r} is "
            f"not installed ({INSTALL_HINT})"
        )
    save_drawing(drawing, out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _load(args: argparse.Namespace) -> Any:
    source = args.network
    if source == "counting":
        from sortnet.generators.counting import counting_network

        if args.n is None:
            raise DrawingError("'counting' needs N, the number of wires (e.g. 'counting 4')")
        return counting_network(parse_wire_count(args.n), k=args.k)
    if Path(source).suffix.lower() in MODEL_SUFFIXES:
        from sortnet.nn.model import load_model

        if not Path(source).exists():
            raise FileNotFoundError(2, "No such file", source)
        return load_model(source)
    return network_from_args(args)


def _compile(net: Any, lowering: str | None) -> Any:
    """The model ``--style layers`` draws: the renderer draws models and compiles nothing.

    Comparator networks default to the ``abs`` lowering (the Sort_2 form of the
    course figures); counting networks have their own lowering.
    """
    import compilers

    if net.kind == "counting":
        return compilers.compile(net, lowering=lowering)
    return compilers.compile(net, lowering=lowering or "abs")


def _is_network(obj: Any) -> bool:
    from sortnet.network import Network

    return isinstance(obj, Network)
