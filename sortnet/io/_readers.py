"""Readers for the network formats of :mod:`sortnet.io` (JSON and plain comparator lists)."""

from __future__ import annotations

import re
from typing import Any

from sortnet.errors import NetworkFormatError
from sortnet.network import Comparator, Network, comparator_graph
from sortnet.schedule import asap_layer_indices
from sortnet.validate import MAX_COMPARATORS, MAX_WIRES, comparator_violations

FORMAT_NAME = "sortnet-network"
FORMAT_VERSION = 1

# Graph attributes written as top-level JSON fields (or rebuilt), not as metadata.
RESERVED = {"n", "kind", "name", "family", "descending"}
# A pair in brackets, "(0, 1)" or "[0, 1]"; its two fields are checked as integers later.
_BRACKET_PAIR = re.compile(r"[(\[]\s*([^,()\[\]]*?)\s*,\s*([^,()\[\]]*?)\s*[)\]]")
_COLON_PAIR = re.compile(r"([^\s,;:]+)\s*:\s*([^\s,;:]+)")
_LINE_PAIR = re.compile(r"^[ \t]*(\S+?)[ \t]*[ \t,][ \t]*(\S+?)[ \t]*$", re.MULTILINE)
_FILLER = set(" \t\r\n,;[]()")


# -- formats ------------------------------------------------------------------------------


def from_sortnet_json(data: dict[str, Any], label: str, n: int | None) -> Network:
    """Build a network from a parsed sortnet JSON document."""
    if data["format"] != FORMAT_NAME:
        raise NetworkFormatError(
            f"{label}: format {_clip(repr(data['format']))} is not {FORMAT_NAME!r}"
        )
    _require(data, ("version", "n", "comparators"), label)
    if data["version"] != FORMAT_VERSION:
        raise NetworkFormatError(
            f"{label}: unsupported sortnet-network version {_clip(repr(data['version']))} "
            f"(this sortnet reads version {FORMAT_VERSION})"
        )
    wires = _wire_count(data["n"], "n", label, n)
    comparators = _pairs(data["comparators"], "comparators", label, wires)
    descending = data.get("descending", False)
    if not isinstance(descending, bool):
        raise NetworkFormatError(f"{label}: field 'descending' must be true or false")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise NetworkFormatError(f"{label}: field 'metadata' must be an object")
    for field in ("name", "family"):
        if not isinstance(data.get(field), (str, type(None))):
            raise NetworkFormatError(
                f"{label}: field {field!r} must be a string or null, got {_clip(repr(data[field]))}"
            )
    extra = {k: v for k, v in metadata.items() if k not in RESERVED}
    if data.get("family") is not None:
        extra["family"] = data["family"]
    name = data.get("name")
    if "outputs" not in data:
        net = Network.from_comparators(
            wires, comparators, name=name, descending=descending, **extra
        )
    else:
        outputs = _outputs(data["outputs"], label, wires)
        backwards = [index for index, (i, j) in enumerate(comparators) if i > j]
        if backwards:
            raise NetworkFormatError(
                f"{label}: comparator {backwards[0]} {list(comparators[backwards[0]])}: "
                "needs i < j when 'outputs' is given"
            )
        graph = comparator_graph(wires, comparators, outputs)
        graph.graph.update(extra, name=name, descending=descending)
        net = Network(graph)
    _check_count(data, "size", net.size, label)
    _check_count(data, "depth", net.depth, label)
    return net


def from_sorterhunter(data: dict[str, Any], label: str, n: int | None, stem: str) -> Network:
    """Build a network from a parsed SorterHunter document; L and D must agree."""
    _require(data, ("N", "nw"), label)
    wires = _wire_count(data["N"], "N", label, n)
    comparators = _pairs(data["nw"], "nw", label, wires)
    depth = max(asap_layer_indices(wires, comparators), default=-1) + 1
    for field, actual, what in (("L", len(comparators), "size"), ("D", depth, "depth")):
        if field in data and data[field] != actual:
            raise NetworkFormatError(
                f"{label}: field {field} says {what} {_clip(repr(data[field]))} "
                f"but the network has {actual}"
            )
    return Network.from_comparators(
        wires,
        comparators,
        name=stem or f"sorterhunter-{wires}",
        family="sorterhunter",
        symmetric=bool(data.get("symmetric", False)),
    )


def from_pair_list(text: str, label: str, n: int | None, stem: str) -> Network:
    """Parse a plain comparator list: ``(i,j)``/``[i,j]`` pairs, ``i:j`` pairs or ``i j`` lines."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    if ":" in body:
        pattern = _COLON_PAIR
    elif "(" in body or "[" in body:
        pattern = _BRACKET_PAIR
    else:
        pattern = _LINE_PAIR
    raw, leftover = [], list(body)
    for match in pattern.finditer(body):
        raw.append((match.group(1), match.group(2), match.group(0)))
        leftover[match.start() : match.end()] = " " * (match.end() - match.start())
    _check_leftover("".join(leftover), label)
    comparators = []
    for index, (first, second, shown) in enumerate(raw, start=1):
        pair = []
        for token in (first, second):
            where = f"{label}: pair {index} {_clip(shown)}: wire {_clip(token)!r}"
            if not re.fullmatch(r"[+-]?[0-9]+", token):  # int() takes "٣" and "1_0" too
                raise NetworkFormatError(f"{where} is not an integer")
            if len(token.lstrip("+-")) > 20:
                # Checked before int(): a 5000-digit token would hit Python's digit limit.
                raise NetworkFormatError(
                    f"{where} is more than sortnet's limit of {MAX_WIRES} wires"
                )
            try:
                pair.append(int(token))
            except ValueError:
                raise NetworkFormatError(f"{where} is not an integer") from None
        comparators.append((pair[0], pair[1]))
    if not comparators and n is None:
        raise NetworkFormatError(f"{label}: no comparators found (pass n= for an empty network)")
    wires = n if n is not None else max(max(pair) for pair in comparators) + 1
    _check_wires(comparators, wires, label, "")
    return Network.from_comparators(wires, comparators, name=stem or None, family="comparator-list")


# -- checks -------------------------------------------------------------------------------


def _require(data: dict[str, Any], fields: tuple[str, ...], label: str) -> None:
    for field in fields:
        if field not in data:
            raise NetworkFormatError(f"{label}: missing field {field!r}")


def _wire_count(value: object, field: str, label: str, n: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NetworkFormatError(
            f"{label}: field {field!r} must be an integer >= 1, got {_clip(repr(value))}"
        )
    if value > MAX_WIRES:
        raise NetworkFormatError(
            f"{label}: field {field!r} says n={_clip(repr(value))}, more than sortnet's limit "
            f"of {MAX_WIRES} wires"
        )
    if n is not None and n != value:
        raise NetworkFormatError(f"{label}: n={n} was given but the file says {field}={value}")
    return value


def _pairs(value: object, field: str, label: str, wires: int) -> list[Comparator]:
    if not isinstance(value, list):
        raise NetworkFormatError(f"{label}: field {field!r} must be a list of [i, j] pairs")
    if len(value) > MAX_COMPARATORS:
        raise NetworkFormatError(
            f"{label}: field {field!r} has {len(value)} comparators, more than sortnet's "
            f"limit of {MAX_COMPARATORS}"
        )
    for index, pair in enumerate(value):
        shown = _clip(repr(pair))
        if not isinstance(pair, list) or len(pair) != 2:
            raise NetworkFormatError(f"{label}: {field}[{index}] {shown} is not an [i, j] pair")
        for wire in pair:
            if isinstance(wire, bool) or not isinstance(wire, int):
                raise NetworkFormatError(
                    f"{label}: {field}[{index}] {shown}: wire {_clip(repr(wire))} is not an integer"
                )
            if abs(wire) > MAX_WIRES:  # the general check below would print all its digits
                raise NetworkFormatError(
                    f"{label}: {field}[{index}] {shown}: wire {_clip(repr(wire))} "
                    f"out of range [0, {wires})"
                )
    comparators = [(pair[0], pair[1]) for pair in value]
    _check_wires(comparators, wires, label, field)
    return comparators


def _check_wires(comparators: list[Comparator], wires: int, label: str, field: str) -> None:
    problems = comparator_violations(wires, comparators)
    if problems:
        where = f"{field}: " if field else ""
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise NetworkFormatError(f"{label}: {where}{shown}")


def _outputs(value: object, label: str, wires: int) -> dict[int, int]:
    problem = f"{label}: field 'outputs' must list [position, wire] pairs in [0, {wires})"
    if not isinstance(value, list):
        raise NetworkFormatError(problem)
    mapping = {}
    for pair in value:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(type(v) is int and 0 <= v < wires for v in pair)
        ):
            raise NetworkFormatError(f"{problem}; got {_clip(repr(pair))}")
        if pair[0] in mapping:
            raise NetworkFormatError(f"{label}: field 'outputs' lists position {pair[0]} twice")
        mapping[pair[0]] = pair[1]
    return mapping


def _check_count(data: dict[str, Any], field: str, actual: int, label: str) -> None:
    if field in data and data[field] != actual:
        raise NetworkFormatError(
            f"{label}: field {field!r} says {_clip(repr(data[field]))} but the network has {actual}"
        )


def _check_leftover(leftover: str, label: str) -> None:
    for line_number, line in enumerate(leftover.splitlines(), start=1):
        for column, char in enumerate(line, start=1):
            if char not in _FILLER:
                token = re.match(r"\S+", line[column - 1 :])
                shown = token.group(0) if token else char
                raise NetworkFormatError(
                    f"{label}: unexpected {_clip(shown)!r} at line {line_number}, column {column} "
                    "(expected pairs like (0,1), [0,1] or 0:1)"
                )


def _clip(text: str, width: int = 40) -> str:
    """``text`` cut to ``width`` characters, so one bad token cannot flood the message.

    Examples
    --------
    >>> _clip("1" * 5000)
    '1111111111111111111111111111111111111111... (5000 characters)'
    """
    return text if len(text) <= width else f"{text[:width]}... ({len(text)} characters)"
