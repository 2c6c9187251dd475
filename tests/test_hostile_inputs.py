"""Hostile inputs (issue 9): every one is refused at once with a `SortnetError` naming the
problem through the API, and with exit code 2 and one line on stderr through the CLI.

Before these fixes each case below gave a traceback, exhausted memory, hung, or was
silently misread. The CLI runs in-process (``main(argv)``) except where only a fresh
process is safe (devices, FIFOs).
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.cli import main
from sortnet.errors import NetworkFormatError, SortnetError, TooMuchWorkError
from sortnet.generators import bubble

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _numpy_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORTNET_KERNEL", "numpy")  # no numba compiles: keep this file fast


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; assert exit 2, nothing on stdout and one line on stderr; return it."""
    code = main(list(argv))
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, ""), captured
    assert captured.err.count("\n") == 1 and captured.err.startswith("sortnet: error: "), captured
    return captured.err


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- 8a/8b: JSON nested 100,000 deep, numbers past Python's digit limit ------------------------

DEEP = '{"nw": ' + "[" * 100_000 + "]" * 100_000 + "}"
DIGITS = "1" * 5000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEEP, "JSON nested too deeply"),
        ('{"N": 4, "nw": [[0, ' + DIGITS + "]]}", "a number in the JSON has more than 4300 digits"),
        ('{"N": ' + DIGITS + ', "nw": []}', "more than 4300 digits"),
    ],
    ids=["nested", "long-wire", "long-n"],
)
def test_json_that_python_cannot_parse(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(NetworkFormatError, match=message):
        sortnet.load_network(text)
    path = _write(tmp_path, "net.json", text)
    for command in ("verify", "info"):
        assert message in _usage_error(capsys, command, str(path))


def test_pair_list_with_a_5000_digit_wire(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "0:1 2:" + DIGITS
    with pytest.raises(NetworkFormatError, match="is more than sortnet's limit of 65536 wires"):
        sortnet.load_network(text)
    err = _usage_error(capsys, "info", str(_write(tmp_path, "pairs.txt", text)))
    assert "(5000 characters)" in err and len(err) < 300  # the token is clipped


def test_json_with_a_long_number_under_the_digit_limit() -> None:
    """4000 digits parse, but the message must not print them all."""
    with pytest.raises(NetworkFormatError, match=r"\(4000 characters\) out of range") as caught:
        sortnet.load_network('{"N": 4, "nw": [[0, ' + "1" * 4000 + "]]}")
    assert len(str(caught.value)) < 300


# -- 8c: devices, FIFOs, directories and huge files as network files --------------------------


def test_devices_and_fifos_are_refused_before_reading(tmp_path: Path) -> None:
    """A fresh process (old code read /dev/zero until MemoryError and blocked on a FIFO)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "a character device"), (str(fifo), "a FIFO")):
        script = (
            "import sortnet, sys\n"
            "try:\n"
            f"    sortnet.load_network({path!r})\n"
            "except sortnet.NetworkFormatError as error:\n"
            "    print(error)\n"
        )
        api = _run_guarded([sys.executable, "-c", script])
        assert api.stdout.strip() == f"{path}: not a regular file ({kind})"
        cli = _run_guarded([sys.executable, "-m", "sortnet", "verify", path])
        assert cli.returncode == 2 and cli.stdout == ""
        assert cli.stderr == f"sortnet: error: {path}: not a regular file ({kind})\n"


def _run_guarded(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with 2 GB of address space and a time limit, so old behaviour fails, not hangs."""
    guarded = ["bash", "-c", 'ulimit -v 2000000; exec "$@"', "guard", *argv]
    env = {**os.environ, "SORTNET_KERNEL": "numpy"}
    return subprocess.run(
        guarded, capture_output=True, text=True, timeout=30, cwd=ROOT, env=env, check=False
    )


def test_a_huge_file_is_refused_by_its_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as stream:
        stream.truncate(40 << 20)  # sparse: no disk used
    message = "41943040 bytes is more than the limit for network files of 32 MB"
    with pytest.raises(NetworkFormatError, match=message):
        sortnet.load_network(path)
    assert message in _usage_error(capsys, "info", str(path))


def test_a_huge_text_is_refused_by_its_length() -> None:
    with pytest.raises(NetworkFormatError, match="more than the limit for network files"):
        sortnet.load_network("0:1\n" * (9 << 20))


# -- other malformed network files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"N": 4, "N": 3, "nw": []}', "duplicate key 'N' in a JSON object"),
        ("0:1 \uff12:\uff13", "wire '\uff12' is not an integer"),  # fullwidth digits
        ("0:1 1_0:2", "wire '1_0' is not an integer"),
        (
            '{"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]], '
            '"outputs": [[0, 0], [0, 1]]}',
            "field 'outputs' lists position 0 twice",
        ),
        (
            '{"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]], '
            '"family": {"a": 1}}',
            "field 'family' must be a string or null, got {'a': 1}",
        ),
        (
            '{"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]], '
            '"name": [1]}',
            "field 'name' must be a string or null",
        ),
        (
            '{"format": "sortnet-network", "version": 1, "n": 2, "comparators": [[0, 1]], '
            '"metadata": []}',
            "field 'metadata' must be an object",
        ),
    ],
)
def test_malformed_network_text(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(NetworkFormatError, match=message.replace("[", r"\[").replace("(", r"\(")):
        sortnet.load_network(content)
    assert message in _usage_error(capsys, "info", str(_write(tmp_path, "net.txt", content)))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("0:1 2:3".encode("utf-16"), "UTF-16 text; save the file as UTF-8"),
        (b"PK\x03\x04 not a zip", "a zip archive (a compiled model?), not a network file"),
    ],
)
def test_files_in_the_wrong_encoding(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "net.txt", content)
    with pytest.raises(NetworkFormatError) as caught:
        sortnet.load_network(path)
    assert message in str(caught.value)
    assert message in _usage_error(capsys, "verify", str(path))


def test_a_utf8_byte_order_mark_is_not_content(tmp_path: Path) -> None:
    path = _write(tmp_path, "net.txt", "\ufeff0:1 2:3 0:2 1:3 1:2")
    assert sortnet.load_network(path).comparators == [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)]


@pytest.mark.parametrize("n", [" 4", "\u0663", "1_0"])
def test_cli_n_must_be_ascii_digits(n: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"N must be an integer >= 1, got {n!r}" in _usage_error(capsys, "info", "bubble", n)
    assert f"must be an integer >= 1, got {n!r}" in _usage_error(capsys, "demo", "--n", n)


def test_cli_list_past_the_wire_limit(capsys: pytest.CaptureFixture[str]) -> None:
    err = _usage_error(capsys, "list", "--n", "70000")
    assert "n=70000 is more than sortnet's limit of 65536 wires" in err


# -- 8d: bench checks sizes before allocating ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--n", "100000", "--quick"), "--n values must be at most 65536 (sortnet's limit"),
        (("--repeats", "1001"), "--repeats must be at most 1000, got 1001"),
        (("--warmup", "5000"), "--warmup must be at most 1000"),
        (("--dtype", "foo"), "--dtype must be a real numeric dtype, got 'foo'"),
        (("--budget", "nan"), "--budget must be a number of seconds > 0, got nan"),
        (("--budget", "-1"), "--budget must be a number of seconds > 0, got -1.0"),
        (("--seed", "-1"), "--seed must be 0 or more, got -1"),
    ],
)
def test_cli_bench_bad_arguments(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    small = ("--n", "4", "--rows", "1", "--executor", "circuit", "--no-memory")
    assert message in _usage_error(capsys, "bench", *small, *argv)


def test_bench_batch_past_the_memory_limit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sortnet.bench import BenchConfig, run_benchmark, runner

    monkeypatch.setattr(runner, "memory_limit", lambda: 1 << 20)  # a 2 MiB machine
    message = (
        r"a batch of 10000 rows x 64 wires \(float32\) needs about 9.8 MiB \(input, "
        r"reference and outputs\), more than the limit of 1.0 MiB \(half of this machine's "
        r"memory\); lower --rows to at most 1024"
    )
    config = BenchConfig(sizes=[64], executors=["circuit"], rows=10_000, memory=False)
    with pytest.raises(TooMuchWorkError, match=message):
        run_benchmark(config, lambda n: [])
    err = _usage_error(capsys, "bench", "--n", "64", "--rows", "10000", "--executor", "circuit")
    assert "lower --rows to at most 1024" in err


def test_bench_default_rows_at_the_wire_limit_is_refused() -> None:
    """100,000 rows of 65536 float32 wires: about 98 GiB, refused without allocating."""
    from sortnet.bench.runner import batch_bytes, check_batch_memory

    assert batch_bytes(100_000, 65_536, "float32") == 100_000 * 65_536 * 16
    with pytest.raises(TooMuchWorkError, match="needs about 97.7 GiB"):
        check_batch_memory(100_000, [4, 65_536], "float32")


# -- 8e: ONNX export refuses a dense model past the limit, at once --------------------------


def test_onnx_export_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnx")
    from sortnet.nn import onnx_export

    model = compilers.compile(bubble(8), "relu")
    size = onnx_export.onnx_bytes(model)
    assert size == 4 * sum(
        layer.weight.shape[0] * layer.weight.shape[1] + (layer.bias.size * any(layer.bias))
        for layer in model.layers
    )
    monkeypatch.setattr(onnx_export, "MAX_ONNX_BYTES", size - 1)
    with pytest.raises(TooMuchWorkError, match="would hold 0.0 GiB of dense weights"):
        model.to_onnx(tmp_path / "m.onnx")
    err = _usage_error(capsys, "compile", "bubble", "8", "-o", str(tmp_path / "m.onnx"))
    assert "save it as .npz instead" in err
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setattr(onnx_export, "MAX_ONNX_BYTES", size)  # at the limit: exported
    model.to_onnx(tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").stat().st_size > size


# -- 8f: a full disk says so, with the path ---------------------------------------------------


class _FullDisk(io.RawIOBase):
    """A stream that fails like a full disk: OSError ENOSPC (no file name) or numpy's form."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        lambda: OSError(errno.ENOSPC, "No space left on device"),
        lambda: OSError("40000 requested and 7664 written"),  # numpy's tofile on a full disk
    ],
    ids=["ENOSPC", "numpy-short-write"],
)
def test_full_disk_names_the_path(
    error: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sortnet.io import atomic

    real_fdopen = os.fdopen

    def full(handle: int, mode: str = "r") -> Any:
        real_fdopen(handle, mode).close()
        return _FullDisk(error())

    monkeypatch.setattr(atomic.os, "fdopen", full)
    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: 0)
    target = tmp_path / "net.json"
    with pytest.raises(OSError) as caught:
        sortnet.save_network(bubble(4), target)
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(target))
    err = _usage_error(capsys, "draw", "bubble", "4", "-o", str(tmp_path / "d.dot"))
    assert err == f"sortnet: error: no space left on device: {tmp_path / 'd.dot'}\n"
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_full_tmpfs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real 64 KiB tmpfs (needs root; skipped where mounting is not allowed)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        target = folder / "m.npz"
        err = _usage_error(capsys, "compile", "bubble", "32", "-o", str(target))
        assert err == f"sortnet: error: no space left on device: {target}\n"
        assert os.listdir(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], check=False)


# -- 9: exhaustive verification estimates its work and refuses what is out of reach ----------


def test_verify_exhaustive_out_of_reach_is_refused_at_once() -> None:
    with pytest.raises(TooMuchWorkError, match=r"bubble-64 would take about 131 days") as caught:
        sortnet.verify(bubble(64), exhaustive=True, max_seconds=600)
    assert "use the randomized check (exhaustive=False" in str(caught.value)
    assert caught.value.estimate > 1e7 and caught.value.limit == 600


def test_verify_max_seconds_can_be_raised_or_lifted() -> None:
    net = bubble(12)
    with pytest.raises(TooMuchWorkError):
        sortnet.verify(net, exhaustive=True, max_seconds=1e-9)
    assert sortnet.verify(net, exhaustive=True, max_seconds=None).ok


@pytest.mark.parametrize("value", [0, -1, float("nan"), "10", True])
def test_verify_bad_max_seconds(value: object) -> None:
    with pytest.raises(SortnetError, match="max_seconds must be a positive number or None"):
        sortnet.verify(bubble(4), max_seconds=value)  # type: ignore[arg-type]


def test_verify_randomized_out_of_reach_is_refused() -> None:
    with pytest.raises(TooMuchWorkError, match="randomized verification of bubble-8"):
        sortnet.verify(bubble(8), exhaustive=False, samples=10**15, max_seconds=600)


def test_cli_verify_exhaustive_out_of_reach(capsys: pytest.CaptureFixture[str]) -> None:
    # (--max-seconds first: before the fix the bubble 64 case ran for days)
    err = _usage_error(capsys, "verify", "bubble", "12", "--exhaustive", "--max-seconds", "1e-9")
    assert "more than --max-seconds 1e-09" in err
    err = _usage_error(capsys, "verify", "--exhaustive", "bubble", "64")
    assert "bubble 64: the exhaustive check would take about 131 days" in err
    assert "drop --exhaustive for a randomized check" in err


def test_long_checks_show_progress() -> None:
    from sortnet.verify import LONG_SECONDS, _show_progress

    assert _show_progress(None, LONG_SECONDS * 2) is True
    assert _show_progress(None, 1.0) is None  # a terminal decides
    assert _show_progress(False, 1e9) is False


def test_randomized_permutations_in_bounded_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """samples // 64 permutation rows are drawn in batches, not in one (rows, n) array."""
    verify_module = importlib.import_module("sortnet.verify")

    monkeypatch.setattr(verify_module, "_PERMUTATION_ROWS", 7)
    result = sortnet.verify(bubble(6), exhaustive=False, samples=64 * 30, seed=1)
    assert result.ok and result.checked == 64 * 30 + 30
    broken = sortnet.Network.from_comparators(3, [(0, 1), (1, 2)])
    assert not sortnet.verify(broken, exhaustive=False, samples=64 * 30, seed=1).ok


def test_list_large_n_is_cheap() -> None:
    """size/depth come from comparator lists: bitonic at n=2000 without building a graph."""
    from sortnet.cli import list_cmd

    built: list[int] = []
    real = sortnet.Network.from_comparators
    original = real.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, n: int, *args: Any, **kwargs: Any) -> Any:
        built.append(n)
        return original(cls, n, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sortnet.Network, "from_comparators", classmethod(spy))
        rows = {row["family"]: row for row in list_cmd.family_rows(2000)}
    assert built == []
    assert (rows["bitonic"]["size"], rows["bitonic"]["depth"]) == (65536, 66)
    assert rows["bubble"]["size"] is None
    assert rows["selection"]["size"] is None  # past SELECTION_LIST_MAX_N: not computed


def test_numpy_scalars_for_max_seconds() -> None:
    assert sortnet.verify(bubble(4), max_seconds=np.float64(5.0)).ok
