"""The output map: output positions, and the k-th-smallest readout W3.

The output layer of a sorting model reads each output position's wire
(``net.outputs``: position -> wire, which also encodes descending networks).
A k-th-smallest model appends W3, a ``1 x n`` one-hot row over the output
positions at the one holding the k-th smallest (``k - 1``, or ``n - k`` for a
descending network), and multiplies it into that map before fusion.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from sortnet.network import Network


def readout(n: int, k: int, *, descending: bool = False) -> np.ndarray:
    """W3: the ``1 x n`` one-hot row picking the k-th smallest (1-based) output.

    Examples
    --------
    >>> readout(4, 3)
    array([[0., 0., 1., 0.]])
    >>> readout(4, 3, descending=True)
    array([[0., 1., 0., 0.]])
    """
    row = np.zeros((1, n))
    row[0, n - k if descending else k - 1] = 1.0
    return row


def position_map(net: Network) -> scipy.sparse.csr_array:
    """The ``n x n`` map from wire values to output positions (rows of absent positions are 0).

    Examples
    --------
    >>> position_map(Network.from_comparators(2, [(0, 1)], descending=True)).toarray()
    array([[0., 1.],
           [1., 0.]])
    """
    rows = list(net.outputs)
    wires = [net.outputs[p] for p in rows]
    return scipy.sparse.csr_array(
        (np.ones(len(rows)), (rows, wires)), shape=(net.n, net.n), dtype=np.float64
    )


def counting_output_map(rows: int, width: int) -> scipy.sparse.csr_array:
    """The output map of a counting model: its ``rows`` output values, in row order.

    The counting lowering leaves the selected values in the first ``rows`` rows of
    its last stage (``width`` of them); a network with no stage (``n = 1``) reads its
    single input.

    Examples
    --------
    >>> counting_output_map(2, 2).toarray()
    array([[1., 0.],
           [0., 1.]])
    >>> counting_output_map(1, 1).toarray()
    array([[1.]])
    """
    if rows == width:
        return scipy.sparse.csr_array(scipy.sparse.identity(rows, format="csr"))
    return scipy.sparse.csr_array(np.ones((1, width)))


def output_map(net: Network, k: int | None) -> scipy.sparse.csr_array:
    """``position_map``, or ``W3 @ position_map`` for a k-th-smallest model."""
    positions = position_map(net)
    if k is None:
        return positions
    w3 = scipy.sparse.csr_array(readout(net.n, k, descending=net.descending))
    return scipy.sparse.csr_array(w3 @ positions)
