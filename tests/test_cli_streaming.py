"""``sortnet sort`` / ``sortnet run``: exact text, checked ``.npy`` files, streaming, signals."""

from __future__ import annotations

import io
import math
import mmap
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.cli import _stream, main
from sortnet.cli._npy import open_npy
from sortnet.io.atomic import _signals_held

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _numpy_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORTNET_KERNEL", "numpy")  # the kernels are not the point here


def _run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = sys.__stdin__
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _error(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> str:
    code, out, err = _run(capsys, *argv, stdin=stdin)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("sortnet: error: ") and err.count("\n") == 1, err
    return err


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _count_blocks(monkeypatch: pytest.MonkeyPatch, module: str) -> list[int]:
    counts: list[int] = []

    def counting(*args: object, **kwargs: object) -> int:
        counts.append(_stream.stream_rows(*args, **kwargs))  # type: ignore[arg-type]
        return counts[-1]

    monkeypatch.setattr(f"sortnet.cli.{module}.stream_rows", counting)
    return counts


# -- defect 4: text is read exactly, or refused --------------------------------------------
def test_big_integer_is_not_rounded(capsys: pytest.CaptureFixture[str]) -> None:
    """Was: 9007199254740992.0 and exit 0 (the integer rounded to float64)."""
    err = _error(capsys, "sort", "bitonic", "4", stdin="9007199254740993 1 2 0\n0.5 1 2 3\n")
    assert "line 1, column 1: 9007199254740993 is not exactly a float64" in err
    assert "line 2, column 1 holds the non-integer 0.5" in err
    code, out, _ = _run(capsys, "sort", "bitonic", "4", stdin="9007199254740993 1 2 -0\n")
    assert code == 0 and out == "0 1 2 9007199254740993\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9007199254740993.0 1 2 0", "line 1, column 1: 9007199254740993.0 has more digits"),
        ("1 0.10000000000000000001 2 0", "column 2: 0.10000000000000000001 has more digits"),
        ("1 2 3 99999999999999999999999", "does not fit in int64 and is not exactly a float64"),
        ("1 2 3 4\n1 2 -1e999 4", "line 2, column 3: -1e999 is too large for float64"),
    ],
)
def test_text_that_would_round_is_refused(
    capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    assert message in _error(capsys, "sort", "bitonic", "4", stdin=text + "\n")


def test_exact_text_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    # 0.1 and 1e23 read as the nearest float64 and print back as written; 2**64 is a
    # float64 exactly, so an integer past int64 is kept (as a float) when it is exact.
    code, out, _ = _run(capsys, "sort", "best", "4", stdin="0.1 -0.0 1e23 7\n")
    assert code == 0 and out == "-0.0 0.1 7.0 1e+23\n"
    code, out, _ = _run(capsys, "sort", "best", "4", stdin="18446744073709551616 1 2 0\n")
    assert code == 0 and out == "0.0 1.0 2.0 1.8446744073709552e+19\n"


def test_text_output_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 8)) * 10.0 ** rng.integers(-310, 300, (40, 8))
    X[0, :3] = [5e-324, -np.inf, -0.0]
    X[1, :2] = [1 / 3, 2.0**53 + 2]
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in X) + "\n"
    code, out, _ = _run(capsys, "sort", "best", "8", "--block-rows", "3", stdin=text)
    Y = np.array([[float(t) for t in line.split()] for line in out.splitlines()])
    assert code == 0 and np.array_equal(Y, np.sort(X, axis=1))
    assert np.signbit(Y[0][Y[0] == 0]).all()  # -0.0 prints as -0.0


# -- defect 8: bad .npy files are one-line errors, checked before reading -------------------
def _bad_npy(tmp_path: Path, kind: str) -> tuple[str, str]:
    path = tmp_path / "x.npy"
    if kind == "truncated":
        np.save(path, np.zeros((100, 4)))
        path.write_bytes(path.read_bytes()[:1000])
        return str(path), "truncated: the header says 100 x 4 float64 (3200 bytes"
    if kind == "npz":
        np.savez(tmp_path / "x.npz", a=np.zeros((2, 4)))
        (tmp_path / "x.npz").rename(path)
        return str(path), "a zip archive (an .npz?), not a .npy array"
    if kind == "huge":
        with path.open("wb") as stream:
            header = {"descr": "<f8", "fortran_order": False, "shape": (10**13, 4)}
            np.lib.format.write_array_header_1_0(stream, header)
            stream.write(bytes(64))
        return str(path), "truncated: the header says 10000000000000 x 4 float64"
    if kind == "object":
        np.save(path, np.array([[1, "a", None, 2]], dtype=object), allow_pickle=True)
        return str(path), "holds Python objects (needs pickle)"
    if kind == "fortran":
        np.save(path, np.asfortranarray(np.arange(12.0).reshape(3, 4)))
        return str(path), "stored in Fortran (column) order"
    if kind == "ndim":
        np.save(path, np.zeros((2, 4, 1)))
        return str(path), "expected an array of shape (batch, n=4), got (2, 4, 1)"
    if kind == "trailing":
        np.save(path, np.zeros((2, 4)))
        path.write_bytes(path.read_bytes() + b"junk")
        return str(path), "trailing bytes after the array"
    if kind == "text":
        path.write_text("1 2 3 4\n")
        return str(path), "not a .npy file"
    if kind == "header":
        path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8'}\n")
        return str(path), "corrupt .npy header"
    if kind == "strings":
        np.save(path, np.array([["a", "b", "c", "d"]]))
        return str(path), "dtype <U1 is not numbers sortnet can sort"
    if kind == "empty":
        path.write_bytes(b"")
        return str(path), "the file is empty, not a .npy array"
    if kind == "directory":
        return str(tmp_path), "is a directory"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it must not hang
        return str(path), "not a regular file"
    assert kind == "device"
    return "/dev/zero", "/dev/zero: not a regular file"


BAD_KINDS = [
    "truncated",
    "npz",
    "huge",
    "object",
    "fortran",
    "ndim",
    "trailing",
    "text",
    "header",
    "strings",
    "empty",
    "directory",
    "fifo",
    "device",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("command", ["sort", "run"])
def test_bad_npy_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, command: str
) -> None:
    path, message = _bad_npy(tmp_path, kind)
    if command == "sort":
        argv = ["sort", "best", "4"]
    else:
        argv = ["run", str(tmp_path / "m.npz")]
        compilers.compile(sortnet.network("bubble", 4)).save(tmp_path / "m.npz")
    err = _error(capsys, *argv, "--input", path)
    assert message in err and path in err, err


def test_input_is_memory_mapped(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(40.0).reshape(10, 4))
    source = open_npy(str(tmp_path / "x.npy"), 4)
    assert isinstance(source.rows.base, mmap.mmap) and not source.rows.flags.writeable
    assert [start for start, _ in source.blocks(4)] == [0, 4, 8]


# -- streaming: block by block, bit for bit --------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", ">f8"])
@pytest.mark.parametrize("extra", [[], ["--k", "median"], ["--argsort"], ["--argsort", "--k", "2"]])
def test_streamed_sort_equals_np_sort(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dtype: str,
    extra: list[str],
) -> None:
    rng = np.random.default_rng(7)
    X = (rng.standard_normal((103, 6)) * 50).astype(dtype)
    X[::5, 2] = X[::5, 4]  # ties, for the argsort order
    np.save(tmp_path / "x.npy", X)
    counts = _count_blocks(monkeypatch, "sort_cmd")
    argv = ["sort", "best", "6", "--input", str(tmp_path / "x.npy"), "--block-rows", "10"]
    code, out, err = _run(capsys, *argv, "--output", str(tmp_path / "y.npy"), *extra)
    assert (code, out, err) == (0, "", "")
    assert counts == [11]  # 103 rows in blocks of 10
    if "--argsort" in extra:
        expected = np.argsort(X, axis=1, kind="stable").astype(np.intp)
    else:
        expected = np.sort(X, axis=1)
    if "--k" in extra:
        k = 3 if "median" in extra else 2
        expected = expected[:, k - 1 : k]
    assert (tmp_path / "y.npy").read_bytes() == _npy_bytes(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]
    # Text output, streamed too, gives the same rows.
    code, out, _ = _run(capsys, *argv, *extra)
    assert code == 0 and out == "".join(
        " ".join(str(v) if isinstance(v, int) else repr(v) for v in row) + "\n"
        for row in expected.tolist()
    )


def test_streamed_run_equals_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = compilers.compile(sortnet.network("bitonic", 4))
    model.save(tmp_path / "m.npz")
    X = np.random.default_rng(1).standard_normal((50, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    counts = _count_blocks(monkeypatch, "run_cmd")
    argv = ["run", str(tmp_path / "m.npz"), "--input", str(tmp_path / "x.npy"), "--block-rows", "8"]
    code, _, _ = _run(capsys, *argv, "--output", str(tmp_path / "y.npy"))
    assert code == 0 and counts == [7]
    assert (tmp_path / "y.npy").read_bytes() == _npy_bytes(model(X))
    np.save(tmp_path / "i.npy", np.array([[3, 1, 2, 0]] * 20))
    code, out, _ = _run(capsys, "run", str(tmp_path / "m.npz"), "--input", str(tmp_path / "i.npy"))
    assert code == 0 and out == "0 1 2 3\n" * 20


def test_error_in_a_later_block_names_the_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    X = np.zeros((30, 4))
    X[23, 1] = np.nan
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "y.npy").write_bytes(b"old")
    argv = ["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    err = _error(capsys, "sort", "best", "4", *argv, "--block-rows", "5")
    assert "x.npy: X contains NaN at row 23" in err
    assert (tmp_path / "y.npy").read_bytes() == b"old"  # untouched, and no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]


def test_empty_npy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((0, 4), np.float32))
    argv = ["sort", "best", "4", "--input", str(tmp_path / "x.npy")]
    code, out, _ = _run(capsys, *argv, "--output", str(tmp_path / "y.npy"))
    assert code == 0 and out == ""
    assert (tmp_path / "y.npy").read_bytes() == _npy_bytes(np.zeros((0, 4), np.float32))


# -- defect 10: a stop signal removes the temporary file -------------------------------------
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)]
)
def test_signal_leaves_no_temporary_file(tmp_path: Path, signum: int, code: int) -> None:
    """Was: SIGTERM killed the process and left the hidden .tmp file beside the output."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((200_000, 4)))
    (tmp_path / "y.npy").write_bytes(b"old output")
    command = [sys.executable, "-m", "sortnet", "sort", "best", "4", "--block-rows", "1"]
    command += ["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    environment = {**os.environ, "SORTNET_KERNEL": "numpy", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".y.npy.*.tmp")):  # wait until the write has begun
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code
    assert err.count("\n") == 1 and err.startswith("sortnet: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]
    assert (tmp_path / "y.npy").read_bytes() == b"old output"


def test_signal_while_creating_the_temporary_file_is_held() -> None:
    with pytest.raises(KeyboardInterrupt), _signals_held():
        signal.raise_signal(signal.SIGINT)
        held = True  # reached: the handler did not run inside the block
    assert held


def test_block_rows_default_is_bounded(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((10, 16), np.float32))
    source = open_npy(str(tmp_path / "x.npy"), 16)
    assert _stream.block_rows_for(source, None) * 16 * 4 == _stream.BLOCK_BYTES
    assert _stream.block_rows_for(source, 3) == 3
    assert math.isclose(_stream.BLOCK_BYTES, 16 * 2**20)


def test_text_output_is_written_in_chunks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Text to stdout is built a bounded chunk at a time, never as one giant string."""
    monkeypatch.setattr("sortnet.cli._text.TEXT_CHUNK_VALUES", 8)
    X = np.arange(40, 0, -1).reshape(10, 4)
    np.save(tmp_path / "x.npy", X)
    writes: list[str] = []
    real_write = sys.stdout.write
    monkeypatch.setattr(sys.stdout, "write", lambda text: writes.append(text) or real_write(text))
    code, out, _ = _run(capsys, "sort", "best", "4", "--input", str(tmp_path / "x.npy"))
    assert code == 0 and out.splitlines()[0] == "37 38 39 40"
    assert len(writes) == 5 and all(text.count("\n") == 2 for text in writes)


def test_kernel_is_chosen_for_the_whole_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A large file is sorted by the compiled kernel even though each block is small."""
    from sortnet.circuit import kernels

    seen: list[tuple[int, ...]] = []
    compiled: list[str] = []

    def use_kernel(X: np.ndarray, net: object, *, kind: str = "sort", **_: object) -> bool:
        seen.append(X.shape)
        return bool(compiled) or X.shape[0] >= 100  # like auto mode: big batch or compiled

    def warm_up(net: object, dtype: object, *, kind: str = "sort") -> None:
        compiled.append(kind)

    def run(X: np.ndarray, out: np.ndarray, net: object, kind: str = "sort", **_: object) -> None:
        compiled.append(kind)
        out[...] = np.sort(X, axis=1)

    monkeypatch.setattr(kernels, "use_kernel", use_kernel)
    monkeypatch.setattr(kernels, "warm_up", warm_up)
    monkeypatch.setattr(kernels, "specialized_ready", lambda *_, **__: False)
    monkeypatch.setattr(kernels.interpreter, "run", run)
    X = np.random.default_rng(2).standard_normal((100, 4))
    np.save(tmp_path / "x.npy", X)
    argv = ["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]
    code, _, _ = _run(capsys, "sort", "best", "4", *argv, "--block-rows", "10")
    assert code == 0 and seen[0] == (100, 4) and compiled[0] == "sort"
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.sort(X, axis=1))
    assert len(compiled) == 12  # the warm-up, the empty probe and 10 blocks, all compiled
