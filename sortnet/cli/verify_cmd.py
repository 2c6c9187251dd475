"""``sortnet verify FAMILY N | FILE... [--k K] [--json]``: prove networks sort or select.

One line per network (verdict, proof or randomized, patterns, seconds) and a total
line when several are given; ``--json`` prints one object per network (a list for
several). Exit code 0 when every network sorts (or selects with ``--k``), 1 when one
does not, 2 for usage errors. Several files at once make this the timing command
for the verification targets, e.g. ``sortnet verify Sort_*.json``.

Other kinds of subject (a compiled model, later) plug in at :func:`subjects`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sortnet.cli._common import (
    network_from_args,
    nonnegative_int,
    parse_wire_count,
    positive_float,
    positive_int,
)
from sortnet.errors import SortnetError, TooMuchWorkError
from sortnet.generators import FAMILIES
from sortnet.network import Network
from sortnet.verify import (
    DEFAULT_MAX_SECONDS,
    DEFAULT_SAMPLES,
    VerificationResult,
    describe_seconds,
    verify,
)


def register(subparsers: Any) -> None:
    """Add the ``verify`` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="prove a network sorts (or selects output k) by the 0-1 principle",
        description="Check every 0-1 input (bit-parallel; a proof by the 0-1 principle) or, "
        "when that is unaffordable, a labelled randomized sample. Give FAMILY N, or one or "
        "more network FILEs.",
    )
    parser.add_argument(
        "networks",
        nargs="+",
        metavar="FAMILY N | FILE",
        help=f"a family ({', '.join(FAMILIES)}) and its number of wires, or network files",
    )
    parser.add_argument(
        "--k", help="check only the k-th smallest output (1-based, or median, min, max)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--exhaustive", action="store_true", help="force the exhaustive check (n <= 64)"
    )
    mode.add_argument(
        "--random", action="store_true", help="force the randomized check (not a proof)"
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=DEFAULT_SAMPLES,
        metavar="S",
        help=f"random 0-1 patterns of a randomized check (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--seed", type=nonnegative_int, default=None, help="seed of a randomized check (>= 0)"
    )
    parser.add_argument(
        "--max-seconds",
        type=positive_float,
        default=DEFAULT_MAX_SECONDS,
        metavar="SECONDS",
        help="refuse a check estimated to take longer, before starting it "
        f"(default {DEFAULT_MAX_SECONDS:g})",
    )
    parser.add_argument(
        "--model",
        action="store_true",
        help="the arguments are compiled model files (.npz; recognised without this flag "
        "too): run 0-1 inputs (n <= 20) and adversarial batches through their weights and "
        "report the worst error",
    )
    parser.add_argument(
        "--allow-missing-digest",
        action="store_true",
        help="accept a model file without a content digest (format version 1, written by "
        "sortnet 0.1.0), whose modification cannot be detected",
    )
    parser.add_argument(
        "--optimize", choices=("size", "depth"), default=None, help="for the 'best' family"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify every network named in ``args``; 0 if all pass, 1 if one fails."""
    from sortnet.cli._model import is_model_file, verify_models

    # Model files are recognised by their suffix, as in 'sortnet info MODEL'.
    if getattr(args, "model", False) or all(is_model_file(token) for token in args.networks):
        if args.k is not None:
            raise SortnetError("--k does not apply to model files: a k-th model checks its own k")
        return verify_models(
            args.networks,
            as_json=args.json,
            seed=args.seed,
            allow_missing_digest=getattr(args, "allow_missing_digest", False),
        )
    k = parse_k(args.k)
    exhaustive = True if args.exhaustive else (False if args.random else None)
    records = []
    start = time.perf_counter()
    # Load everything first so a bad argument fails before any result is printed.
    for label, net in list(subjects(args)):
        try:
            result = verify(
                net,
                k,
                exhaustive=exhaustive,
                samples=args.samples,
                seed=args.seed,
                max_seconds=args.max_seconds,
            )
        except TooMuchWorkError as error:
            raise SortnetError(_too_long(label, error, exhaustive)) from None
        record = {"network": label, "n": net.n, "size": net.size, **result.to_dict()}
        if k is not None:
            record["pruned_size"] = net.size if len(net.outputs) == 1 else _pruned_size(net, k)
        records.append(record)
        if not args.json:
            print(format_line(record, result), flush=True)
    total = time.perf_counter() - start
    if args.json:
        print(json.dumps(records[0] if len(records) == 1 else records))
    elif len(records) > 1:
        passed = sum(record["ok"] for record in records)
        print(f"total: {passed}/{len(records)} pass in {total:.2f}s")
    return 0 if all(record["ok"] for record in records) else 1


def _too_long(label: str, error: TooMuchWorkError, exhaustive: bool | None) -> str:
    """The refusal of an unaffordable check, in terms of this command's options.

    Examples
    --------
    >>> error = TooMuchWorkError("...", estimate=1.1e7, limit=600)
    >>> print(_too_long("bubble 64", error, True))  # doctest: +NORMALIZE_WHITESPACE
    bubble 64: the exhaustive check would take about 127 days, more than --max-seconds 600;
    drop --exhaustive for a randomized check (not a proof; --samples S sets its size),
    or raise --max-seconds
    """
    took = f"would take about {describe_seconds(error.estimate)}"
    limit = f"more than --max-seconds {error.limit:g}"
    if exhaustive:
        return (
            f"{label}: the exhaustive check {took}, {limit}; drop --exhaustive for a "
            "randomized check (not a proof; --samples S sets its size), or raise --max-seconds"
        )
    return f"{label}: the randomized check {took}, {limit}; lower --samples or raise --max-seconds"


def subjects(args: argparse.Namespace) -> Iterator[tuple[str, Network]]:
    """``(label, network)`` for ``FAMILY N``, ``FILE [N]`` or several ``FILE``s."""
    tokens = list(args.networks)
    first = tokens[0]
    optimize = getattr(args, "optimize", None)
    wire_count = len(tokens) == 2 and tokens[1].isdigit() and not Path(tokens[1]).exists()
    if first in FAMILIES or first == "selection" or wire_count:
        if len(tokens) > 2:
            raise SortnetError(f"FAMILY N takes two arguments, got {len(tokens)}: {tokens}")
        n = tokens[1] if len(tokens) == 2 else None
        if n is not None:
            parse_wire_count(n)
        namespace = argparse.Namespace(network=first, n=n, optimize=optimize, k=args.k)
        label = f"{first} {n}" if first in FAMILIES or first == "selection" else first
        yield label, network_from_args(namespace)
        return
    for token in tokens:
        if token in FAMILIES:
            raise SortnetError(f"give FAMILY N alone, not mixed with files: {token!r}")
        yield token, network_from_args(argparse.Namespace(network=token, n=None, optimize=optimize))


def format_line(record: dict[str, Any], result: VerificationResult) -> str:
    """One human-readable line for a verified network.

    Examples
    --------
    >>> from sortnet.verify import VerificationResult
    >>> result = VerificationResult(True, True, 16, None, None, 0.0012, 5)
    >>> print(format_line({"network": "best 4", "n": 4, "size": 5}, result))
    best 4: sorts (exhaustive proof, 2^4 inputs, 5 evaluated) n=4 size=5 in 0.001s
    """
    if result.k is None:
        verdict = "sorts" if result.ok else "FAILS: does not sort"
    else:
        verdict = f"selects k={result.k}" if result.ok else f"FAILS: does not select k={result.k}"
    if result.exhaustive and result.ok:
        how = f"exhaustive proof, 2^{record['n']} inputs, {result.evaluated} evaluated"
    elif result.exhaustive:
        how = f"exhaustive, failed after {result.checked} patterns"
    else:
        how = f"RANDOMIZED, not a proof, {result.checked} samples"
    sizes = f"n={record['n']} size={record['size']}"
    if "pruned_size" in record:
        sizes += f" pruned to {record['pruned_size']}"
    line = f"{record['network']}: {verdict} ({how}) {sizes} in {result.elapsed:.3f}s"
    if result.counterexample is not None:
        line += f"\n  counterexample: {' '.join(str(v) for v in result.counterexample)}"
    return line


def _pruned_size(net: Network, k: int | str) -> int:
    from sortnet.select import select

    return select(net, k).size


def parse_k(text: str | None) -> int | str | None:
    """``--k`` as an int or one of median, min, max (range checks happen later).

    Examples
    --------
    >>> parse_k("3"), parse_k("Median"), parse_k(None)
    (3, 'median', None)
    """
    if text is None:
        return None
    if text.lower() in ("median", "min", "max"):
        return text.lower()
    try:
        return int(text)
    except ValueError:
        raise SortnetError(f"--k must be an integer or median, min, max; got {text!r}") from None
