"""Rank and median filters against scipy.ndimage, bit for bit; kernels, errors, CLI, ONNX."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi

from sortnet.circuit import filter_codegen
from sortnet.circuit.filters import MODES, pad_indices, rank_filter
from sortnet.errors import InputError

DTYPES = ("float32", "float64", "float16", "int8", "uint8", "int32", "int64", "uint16")
SIZES = (1, 3, 5, 7, (3, 5), (5, 1), (1, 3))


def scipy_rank(image, size, rank, mode="reflect", cval=0.0):
    """scipy's answer for a 2-D or channels-last 3-D image (one window per channel)."""
    sizes = (size, size) if isinstance(size, int) else tuple(size)
    if image.ndim == 3:
        sizes = (*sizes, 1)
    n = sizes[0] * sizes[1]
    if rank == "median":
        return ndi.median_filter(image, size=sizes, mode=mode, cval=cval)
    position = {"min": 0, "max": n - 1}.get(rank, rank)
    return ndi.rank_filter(image, position, size=sizes, mode=mode, cval=cval)


def random_image(rng, shape, dtype, spread=None):
    """Random values of ``dtype`` with many ties (``spread`` distinct values, if given)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        values = rng.standard_normal(shape) * 100
        if spread:
            values = np.round(values / 100 * spread) + 0.0  # no -0.0: see the zeros test
        return values.astype(dtype)
    info = np.iinfo(dtype)
    low, high = (-spread, spread) if spread else (info.min, info.max)
    low, high = max(low, info.min), min(high, info.max)
    return rng.integers(low, high, size=shape, endpoint=True, dtype=dtype)


def assert_bits_equal(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    unsigned = np.dtype(f"u{actual.dtype.itemsize}")
    assert np.array_equal(actual.view(unsigned), expected.view(unsigned))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_size_mode_and_rank_matches_scipy_bit_for_bit(dtype):
    rng = np.random.default_rng(sum(map(ord, dtype)))
    for size, mode in itertools.product(SIZES, MODES):
        sizes = (size, size) if isinstance(size, int) else size
        n = sizes[0] * sizes[1]
        image = random_image(rng, (9, 11), dtype, spread=int(rng.choice([3, 50])))
        cval = 7 if mode == "constant" else 0.0
        for rank in ("median", "min", "max", n // 3, -2 if n > 1 else 0):
            if dtype == "float16":  # scipy refuses float16; float32 holds it exactly
                wide = scipy_rank(image.astype(np.float32), size, rank, mode, cval)
                expected = wide.astype(np.float16)
            else:
                expected = scipy_rank(image, size, rank, mode, cval)
            actual = rank_filter(image, size, rank, mode=mode, cval=cval, backend="numpy")
            assert_bits_equal(actual, expected)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (3, 2), (1, 6)])
def test_images_smaller_than_the_window(shape):
    rng = np.random.default_rng(1)
    image = random_image(rng, shape, "float64")
    for size, mode, rank in itertools.product((3, 5, 7, (9, 3)), MODES, ("median", "min", 1)):
        expected = scipy_rank(image, size, rank, mode, -1.5)
        actual = rank_filter(image, size, rank, mode=mode, cval=-1.5, backend="numpy")
        assert_bits_equal(actual, expected)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (0, 3, 2)])
def test_empty_images(shape):
    image = np.zeros(shape, np.float32)
    for mode in MODES:
        for backend in ("numpy", "numba"):
            out = rank_filter(image, 3, mode=mode, backend=backend)
            assert out.shape == shape and out.dtype == image.dtype


def test_pad_indices_extend_as_scipy_does_also_many_times_over():
    # scipy's extension of a line, read through a footprint with one True at an offset.
    line = np.array([10.0, 20.0, 30.0])
    for mode in MODES:
        index = pad_indices(3, 7, mode)
        extended = np.where(index >= 0, line[np.maximum(index, 0)], -1.0)
        for offset in range(-7, 8):
            footprint = np.zeros(15, bool)
            footprint[7 + offset] = True
            seen = ndi.rank_filter(line, 0, footprint=footprint, mode=mode, cval=-1.0)
            assert seen.tolist() == extended[7 + offset : 10 + offset].tolist(), (mode, offset)


def window_reference(image, size, position, mode, cval):
    """The exact rank by sorting every window (scipy rounds 64-bit integers past 2**53)."""
    sizes = (size, size) if isinstance(size, int) else size
    rows = pad_indices(image.shape[0], sizes[0] // 2, mode)
    cols = pad_indices(image.shape[1], sizes[1] // 2, mode)
    padded = image[np.maximum(rows, 0)][:, np.maximum(cols, 0)]
    padded[rows < 0] = cval
    padded[:, cols < 0] = cval
    windows = np.lib.stride_tricks.sliding_window_view(padded, sizes)
    flat = windows.reshape(*image.shape, -1)
    return np.sort(flat, axis=-1)[..., position]


def test_channels_last_images():
    rng = np.random.default_rng(2)
    image = random_image(rng, (8, 10, 3), "uint8")
    for size, rank in ((3, "median"), ((5, 3), 4), (5, "max")):
        assert_bits_equal(
            rank_filter(image, size, rank, backend="numpy"), scipy_rank(image, size, rank)
        )


def test_signed_zeros_and_infinities():
    rng = np.random.default_rng(3)
    values = np.array([0.0, -0.0, np.inf, -np.inf, 1.5, -1.5], dtype=np.float32)
    image = rng.choice(values, size=(12, 13))
    for size, mode, rank in itertools.product((3, 5), MODES, ("median", "min", "max", 2)):
        expected = scipy_rank(image, size, rank, mode, np.inf)
        actual = rank_filter(image, size, rank, mode=mode, cval=np.inf, backend="numpy")
        # -0.0 == 0.0: scipy returns either sign depending on its selection order.
        assert np.array_equal(actual, expected)
    no_mixed = np.where(image == 0, 0.0, image).astype(np.float32)
    assert_bits_equal(rank_filter(no_mixed, 5, backend="numpy"), scipy_rank(no_mixed, 5, "median"))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint16", "uint64"])
def test_integer_extremes(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    image = rng.choice(np.array([info.min, info.max, info.min + 1, 0], dtype=dtype), (10, 9))
    for size, mode in itertools.product((3, (5, 3)), MODES):
        cval = int(info.max) if mode == "constant" else 0
        n = 9 if size == 3 else 15
        for rank, position in (("median", n // 2), ("min", 0), ("max", n - 1), (2, 2)):
            actual = rank_filter(image, size, rank, mode=mode, cval=cval, backend="numpy")
            assert_bits_equal(actual, window_reference(image, size, position, mode, cval))
            if info.bits < 64:
                assert_bits_equal(actual, scipy_rank(image, size, rank, mode, cval))


def test_scipy_rounds_64_bit_integers_and_rank_filter_does_not():
    image = np.full((3, 3), 2**62 + 1, dtype=np.int64)
    assert ndi.median_filter(image, 3)[1, 1] == 2**62  # through float64
    assert rank_filter(image, 3)[1, 1] == 2**62 + 1
    assert rank_filter(np.full((1, 2), 2**64 - 1, np.uint64), 3).tolist() == [[2**64 - 1] * 2]


@pytest.mark.parametrize(
    ("dtype", "size", "rank"),
    [("float32", 3, "median"), ("int16", (3, 5), 3), ("float64", 5, "max")],
)
def test_compiled_kernels_match_scipy(dtype, size, rank):
    from sortnet.circuit import filter_kernels

    rng = np.random.default_rng(5)
    image = random_image(rng, (37, 41), dtype, spread=20)
    sizes = (size, size) if isinstance(size, int) else size
    n = sizes[0] * sizes[1]
    position = {"median": n // 2, "max": n - 1}.get(rank, rank)
    for mode in MODES:
        expected = scipy_rank(image, size, rank, mode, 3)
        actual = rank_filter(image, size, rank, mode=mode, cval=3, backend="numba")
        assert_bits_equal(actual, expected)
        rows = pad_indices(image.shape[0], sizes[0] // 2, mode)
        cols = pad_indices(image.shape[1], sizes[1] // 2, mode)
        out = np.empty_like(image)
        fill = np.asarray(3, image.dtype) if mode == "constant" else None
        filter_kernels.filter_into(image, rows, cols, fill, out, *sizes, position, "direct")
        assert_bits_equal(out, expected)
    # A read-only image (a memory map) and a channels-last one: their rows are copied.
    frozen = image.copy()
    frozen.setflags(write=False)
    expected = scipy_rank(image, size, rank)
    assert_bits_equal(rank_filter(frozen, size, rank, backend="numba"), expected)
    strided = image[::2, ::3]
    assert_bits_equal(
        rank_filter(strided, size, rank, backend="numba"), scipy_rank(strided, size, rank)
    )
    for shape, mode in itertools.product(((1, 1), (2, 3), (4, 1)), MODES):
        tiny = image[: shape[0], : shape[1]].copy()
        actual = rank_filter(tiny, size, rank, mode=mode, cval=3, backend="numba")
        assert_bits_equal(actual, scipy_rank(tiny, size, rank, mode, 3))
    colour = np.stack([image, image[::-1]], axis=2)
    assert_bits_equal(
        rank_filter(colour, size, rank, backend="numba"), scipy_rank(colour, size, rank)
    )


def test_compiled_kernel_on_signed_zeros_and_infinities():
    values = np.array([0.0, -0.0, np.inf, -np.inf, 2.5], dtype=np.float32)
    image = np.random.default_rng(9).choice(values, size=(19, 23))
    for mode in MODES:
        actual = rank_filter(image, 3, mode=mode, cval=-np.inf, backend="numba")
        assert np.array_equal(actual, scipy_rank(image, 3, "median", mode, -np.inf))
    # Each compare-exchange swaps only when the second value is smaller: the output is
    # one of the window's bit patterns, so no sign appears that was not there.
    assert not np.signbit(rank_filter(np.abs(image), 3, backend="numba")).any()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_threads_split_rows_into_bands(backend):
    image = random_image(np.random.default_rng(10), (29, 31), "float32", spread=9)
    expected = scipy_rank(image, 3, "median")
    for threads in (2, 3, 40):
        assert_bits_equal(rank_filter(image, 3, threads=threads, backend=backend), expected)
    with pytest.raises(InputError, match="threads must be a positive integer, got 0"):
        rank_filter(image, 3, threads=0)


@pytest.mark.parametrize(("height", "width"), [(1, 5), (3, 3), (3, 5), (5, 3), (5, 5)])
def test_merge_network_selects_from_sorted_columns(height, width):
    rng = np.random.default_rng(height * 10 + width)
    n = height * width
    batch = np.sort(rng.integers(0, 4, size=(500, width, height)), axis=2).reshape(500, n)
    positions = range(n) if n <= 15 else (0, 1, 7, n // 2, n - 2, n - 1)
    for position in positions:
        comparators, wire = filter_codegen.merge_network(height, width, position)
        wires = [batch[:, w] for w in range(n)]
        for i, j in comparators:
            wires[i], wires[j] = np.minimum(wires[i], wires[j]), np.maximum(wires[i], wires[j])
        assert np.array_equal(wires[wire], np.partition(batch, position, axis=1)[:, position])


def test_the_5x5_median_needs_at_most_85_compare_exchanges():
    _, direct = filter_codegen.kernel_source(5, 5, 12, "direct")
    _, shared = filter_codegen.kernel_source(5, 5, 12, "shared")
    assert direct == 85
    assert shared + len(filter_codegen.column_sorter(5)) < 85  # 69 + 9 column sorts


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.array([[1.0, np.nan]]), {"size": 3}, "NaN at pixel (0, 1)"),
        (np.zeros((4, 4)), {"size": 4}, "size must be odd, got 4"),
        (np.zeros((4, 4)), {"size": 0}, "positive odd integer, got 0"),
        (np.zeros((4, 4)), {"size": (3, 3, 3)}, "an int or (height, width)"),
        (np.zeros((4, 4)), {"size": 2.5}, "positive odd integer, got 2.5"),
        (np.zeros((4, 4)), {"size": 3, "mode": "grid"}, "unknown mode 'grid'"),
        (np.zeros((4, 4)), {"size": 3, "rank": 9}, "rank must be in -9..8"),
        (np.zeros((4, 4)), {"size": 3, "rank": "mean"}, "or median, min, max; got 'mean'"),
        (np.zeros((4, 4)), {"size": 3, "rank": 1.0}, "got 1.0"),
        (np.zeros((2, 2, 2, 2)), {"size": 3}, "got shape (2, 2, 2, 2)"),
        (np.zeros(4), {"size": 3}, "got shape (4,)"),
        (np.zeros((3, 3), bool), {"size": 3}, "got bool"),
        (np.zeros((3, 3), complex), {"size": 3}, "got complex128"),
        (np.zeros((3, 3), object), {"size": 3}, "got object"),
        (np.zeros((3, 3), np.uint8), {"size": 3, "mode": "constant", "cval": 256}, "does not fit"),
        (np.zeros((3, 3), np.int8), {"size": 3, "mode": "constant", "cval": 1.5}, "not an integer"),
        (np.zeros((3, 3)), {"size": 3, "mode": "constant", "cval": np.nan}, "cval must not be NaN"),
    ],
)
def test_errors(image, kwargs, message):
    import sortnet

    assert sortnet.rank_filter is rank_filter  # the public name
    with pytest.raises(InputError) as error:
        rank_filter(image, **kwargs)
    assert message in str(error.value)


def onnx_filter(model, image, size, mode="reflect", cval=0.0):
    ort = pytest.importorskip("onnxruntime")
    from sortnet.nn.filter_onnx import build_filter_onnx

    proto = build_filter_onnx(model, image.shape, size, mode=mode, cval=cval)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": image})[0]


def selection_model(n, k):
    import compilers
    import sortnet

    return compilers.compile(sortnet.selection_network(n, k), k=k)


@pytest.mark.parametrize(
    ("size", "k", "mode"),
    [
        (3, 5, "reflect"),
        (5, 13, "constant"),
        ((3, 5), 2, "wrap"),
        (3, 9, "mirror"),
        (3, 1, "nearest"),
    ],
)
def test_onnx_filter_is_exact_on_integer_images(size, k, mode):
    pytest.importorskip("onnx")
    sizes = (size, size) if isinstance(size, int) else size
    model = selection_model(sizes[0] * sizes[1], k)
    rng = np.random.default_rng(k)
    for shape in ((7, 9), (2, 3), (1, 1)):
        image = rng.integers(0, 256, size=shape).astype(np.float32)
        expected = rank_filter(image, size, k - 1, mode=mode, cval=17, backend="numpy")
        assert_bits_equal(onnx_filter(model, image, size, mode, 17), expected)
        as_uint8 = rank_filter(image.astype(np.uint8), size, k - 1, mode=mode, cval=17)
        assert np.array_equal(onnx_filter(model, image, size, mode, 17), as_uint8)


def test_onnx_filter_on_floats_is_within_the_model_bound():
    pytest.importorskip("onnx")
    model = selection_model(25, 13)
    image = (np.random.default_rng(6).standard_normal((9, 8)) * 1e3).astype(np.float32)
    expected = rank_filter(image, 5, backend="numpy")
    got = onnx_filter(model, image, 5)
    padded = np.pad(image, 2, mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5)).reshape(-1, 25)
    bound = model.error_bound(windows).reshape(image.shape)
    assert np.all(np.abs(got.astype(np.float64) - expected) <= bound)
    # Not vacuous: 8 (D + 1) 2**-24 max|window|, D = 16 here.
    assert np.all(bound <= 1e-5 * np.abs(windows).max(axis=1).reshape(image.shape))


def test_onnx_filter_refuses_mismatched_models():
    pytest.importorskip("onnx")
    from sortnet.errors import SortnetError
    from sortnet.nn.filter_onnx import build_filter_onnx

    with pytest.raises(SortnetError, match="takes 9 values but a 5x5 window holds 25"):
        build_filter_onnx(selection_model(9, 5), (4, 4), 5)
    with pytest.raises(InputError, match="unknown mode 'grid'"):
        build_filter_onnx(selection_model(9, 5), (4, 4), 3, mode="grid")
    with pytest.raises(InputError, match="size must be an odd int"):
        build_filter_onnx(selection_model(9, 5), (4, 4), (3, 3, 1))


def cli(*argv):
    from sortnet.cli import main

    return main([str(a) for a in argv])


def test_cli_filters_npy_files_band_by_band(tmp_path):
    rng = np.random.default_rng(7)
    image = random_image(rng, (23, 17), "float32")
    np.save(tmp_path / "in.npy", image)
    out = tmp_path / "out.npy"
    code = cli("filter", tmp_path / "in.npy", "--size", "5", "-o", out, "--block-rows", "4")
    assert code == 0
    assert_bits_equal(np.load(out), ndi.median_filter(image, 5))
    colour = random_image(rng, (9, 8, 3), "uint16")
    np.save(tmp_path / "c.npy", colour)
    argv = ["filter", tmp_path / "c.npy", "--size", "3x5", "--rank", "-1", "-o", out]
    assert cli(*argv, "--mode", "constant", "--cval", "65535") == 0
    expected = ndi.rank_filter(colour, -1, size=(3, 5, 1), mode="constant", cval=65535)
    assert_bits_equal(np.load(out), expected)


def test_cli_pictures(tmp_path):
    pillow = pytest.importorskip("PIL.Image")
    image = random_image(np.random.default_rng(8), (12, 10, 3), "uint8")
    pillow.fromarray(image).save(tmp_path / "in.png")
    assert cli("filter", tmp_path / "in.png", "--size", "3", "-o", tmp_path / "out.png") == 0
    got = np.asarray(pillow.open(tmp_path / "out.png"))
    assert_bits_equal(got, ndi.median_filter(image, size=(3, 3, 1)))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "4"], "size must be odd, got 4"),
        (["--size", "0"], "positive odd integer, got 0"),
        (["--size", "big"], "--size must be N or HxW"),
        (["--size", "3", "--rank", "mean"], "median, min, max; got 'mean'"),
        (["--size", "3", "--rank", "9"], "rank must be in -9..8"),
        (["--size", "3", "--mode", "constant", "--cval", "x"], "--cval must be a number"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, message):
    np.save(tmp_path / "in.npy", np.zeros((4, 4), np.float32))
    assert cli("filter", tmp_path / "in.npy", *argv, "-o", tmp_path / "out.npy") == 2
    err = capsys.readouterr().err
    assert err.startswith("sortnet: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.npy").exists()


def test_cli_refuses_bad_files(tmp_path, capsys):
    nan = np.zeros((6, 3))
    nan[4, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "flat.npy", np.zeros(5))
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    out = tmp_path / "out.npy"
    cases = [
        ("nan.npy", "the image contains NaN at pixel (4, 1)"),
        ("flat.npy", "an image is 2-D (H, W) or 3-D (H, W, C), got (5,)"),
        ("junk.npy", "not a .npy file"),
        ("missing.npy", "no such file"),
        ("x.gif", "must be a .npy file or a picture"),
    ]
    if importlib.util.find_spec("PIL") is not None:
        (tmp_path / "fake.png").write_bytes(b"\x89PNG not really")
        cases.append(("fake.png", "not a picture Pillow can read"))
    for name, message in cases:
        argv = ("filter", tmp_path / name, "--size", "3", "-o", out, "--block-rows", "2")
        assert cli(*argv) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    np.save(out, np.ones(1))
    assert cli("filter", tmp_path / "nan.npy", "--size", "3", "-o", out, "--block-rows", "2") == 2
    assert np.load(out).tolist() == [1.0]  # the old output is left as it was


def test_cli_refuses_a_picture_it_cannot_hold(tmp_path, capsys):
    pytest.importorskip("PIL")
    np.save(tmp_path / "in.npy", np.zeros((4, 4), np.float32))
    assert cli("filter", tmp_path / "in.npy", "--size", "3", "-o", tmp_path / "out.png") == 2
    assert "a PNG picture holds uint8 gray, RGB or RGBA" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_random_cases_match_scipy():
    rng = np.random.default_rng(11)
    for _ in range(30):
        dtype = str(rng.choice(["float32", "float64", "int16", "uint8", "int32"]))
        shape = tuple(int(v) for v in rng.integers(1, 12, size=2))
        size = tuple(int(v) for v in rng.choice([1, 3, 5, 7], size=2))
        mode = str(rng.choice(MODES))
        n = size[0] * size[1]
        rank = int(rng.integers(-n, n))
        image = random_image(rng, shape, dtype, spread=int(rng.choice([2, 1000])))
        expected = scipy_rank(image, size, rank, mode, 5)
        actual = rank_filter(image, size, rank, mode=mode, cval=5, backend="numpy")
        assert_bits_equal(actual, expected)
