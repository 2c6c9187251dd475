"""``model.to_torch()`` and the torch soft permutation (skipped without torch).

The torch module must equal ``model(X)`` within float rounding for every lowering,
full sorts and k-th models, dense and sparse weights; its autograd gradients must equal
``model.vjp`` (inputs) and ``model.grad`` (weights), exact and straight-through.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import compilers
import sortnet
from sortnet.nn.layer import to_dense
from sortnet.nn.soft import soft_permutation

torch = pytest.importorskip("torch")

from sortnet.nn.torch_module import to_torch  # noqa: E402
from sortnet.nn.torch_soft import SoftSort, soft_permutation_torch  # noqa: E402

RNG = np.random.default_rng(2026)


def _models() -> list[tuple[str, object]]:
    found = []
    for n in (3, 8, 40):  # n = 40: weights stored as CSR by the compiler
        net = sortnet.network("best", n)
        for lowering in ("abs", "relu", "residual"):
            found.append((f"{lowering}-{n}", compilers.compile(net, lowering)))
            found.append((f"{lowering}-{n}-k2", compilers.compile(net, lowering, k=2)))
        found.append((f"softplus-{n}", compilers.compile(net, "softplus", steepness=3.0)))
        found.append(
            (f"softplus-{n}-med", compilers.compile(net, "softplus", k="median", steepness=8.0))
        )
    for n in (3, 6):
        found.append((f"counting-{n}", compilers.compile(sortnet.counting_network(n), bound=100)))
        found.append(
            (f"counting-{n}-k2", compilers.compile(sortnet.counting_network(n, k=2), bound=100))
        )
    return found


MODELS = _models()


@pytest.mark.parametrize(("name", "model"), MODELS, ids=[name for name, _ in MODELS])
@pytest.mark.parametrize("sparse", [None, True, False])
def test_to_torch_equals_model(name: str, model, sparse) -> None:
    X = RNG.standard_normal((64, model.n)) * 10
    expected = model(X)
    module = model.to_torch(dtype=torch.float64, sparse=sparse)
    got = module(torch.tensor(X)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * 10 * model.n)
    # float32 (the default): within the model's own float32 error bound
    module32 = model.to_torch()
    got32 = module32(torch.tensor(X, dtype=torch.float32)).detach().numpy()
    bound = model.error_bound(X.astype(np.float32))
    assert np.all(np.abs(got32 - expected) <= 2 * bound[:, None] + 1e-5 * np.abs(expected))


def test_integer_rows_are_exact_in_float32() -> None:
    model = compilers.compile(sortnet.network("best", 16), "relu")
    X = RNG.integers(-1000, 1000, (100, 16))
    got = model.to_torch()(torch.tensor(X, dtype=torch.float32)).numpy(force=True)
    np.testing.assert_array_equal(got, np.sort(X, axis=1))


def test_sparse_storage_is_chosen_for_sparse_weights() -> None:
    model = compilers.compile(sortnet.network("best", 40), "relu")
    assert not isinstance(model.layers[0].weight, np.ndarray)  # CSR in the model
    module = model.to_torch()
    assert module.layers[0].sparse["weight"]
    small = compilers.compile(sortnet.network("best", 3), "relu").to_torch()
    assert not small.layers[0].sparse["weight"]
    dense = module.layers[0].dense("weight").detach().numpy()
    np.testing.assert_array_equal(dense, model.layers[0].weight.toarray())


GRAD_MODELS = [(name, m) for name, m in MODELS if not name.startswith("counting")]


# Straight-through (steepness) applies to relu/abs units; softplus is smooth already.
GRAD_CASES = [
    (name, model, steepness)
    for name, model in GRAD_MODELS
    for steepness in (None, 2.0)
    if steepness is None or model.lowering != "softplus"
]


@pytest.mark.parametrize(
    ("name", "model", "steepness"),
    GRAD_CASES,
    ids=[f"{n}-{s}" for n, _, s in GRAD_CASES],
)
def test_autograd_equals_vjp_and_grad(name: str, model, steepness) -> None:
    X = RNG.standard_normal((16, model.n))  # distinct values: no ties
    dY = RNG.standard_normal((16, model.n_outputs))
    module = model.to_torch(dtype=torch.float64, sparse=model.n > 8, steepness=steepness)
    x = torch.tensor(X, requires_grad=True)
    (module(x) * torch.tensor(dY)).sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), model.vjp(X, dY, steepness=steepness), rtol=1e-9, atol=1e-9
    )
    for layer, grads in zip(module.layers, model.grad(X, dY, steepness=steepness), strict=True):
        np.testing.assert_allclose(layer.bias.grad.numpy(), grads.bias, rtol=1e-9, atol=1e-9)
        for matrix_name, is_sparse in layer.sparse.items():
            expected = getattr(grads, matrix_name)
            if is_sparse:
                values = getattr(layer, f"{matrix_name}_values").grad
                got = np.zeros(getattr(layer, f"{matrix_name}_shape"))
                rows = getattr(layer, f"{matrix_name}_rows").numpy()
                cols = getattr(layer, f"{matrix_name}_cols").numpy()
                np.add.at(got, (rows, cols), values.numpy())
            else:
                got = getattr(layer, matrix_name).grad.numpy()
            expected = expected if isinstance(expected, np.ndarray) else expected.toarray()
            # Sparse storage (torch's or the model's CSR) keeps gradients on the pattern only.
            pattern = np.asarray(to_dense(getattr(model.layers[layer.index], matrix_name)) != 0)
            if is_sparse:
                expected = expected * pattern
            elif not isinstance(getattr(grads, matrix_name), np.ndarray):
                got = got * pattern
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_step_and_indicator_pass_no_gradient_but_gates_do() -> None:
    model = compilers.compile(sortnet.counting_network(4), bound=100)
    X = np.array([[3.0, 1.0, 4.0, 2.0]])
    x = torch.tensor(X, requires_grad=True)
    model.to_torch(dtype=torch.float64)(x)[0, 0].backward()
    np.testing.assert_array_equal(x.grad.numpy(), model.vjp(X, [[1.0, 0, 0, 0]]))


def test_fine_tuning_and_device() -> None:
    model = compilers.compile(sortnet.network("best", 4), "residual")
    module = model.to_torch().to("cpu")
    params = list(module.parameters())
    assert params and all(p.requires_grad and p.dtype == torch.float32 for p in params)
    assert sum(p.numel() for p in params) == model.parameters
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    X = torch.randn(8, 4)
    loss = module(X).square().sum()
    loss.backward()
    optimizer.step()
    assert not torch.equal(module(X), model.to_torch()(X))  # the weights moved
    one = model.to_torch(device=torch.device("cpu"))(torch.tensor([2.0, 1.0, 4.0, 3.0]))
    assert one.tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(sortnet.SortnetError):
        model.to_torch(dtype=torch.int32)
    with pytest.raises(sortnet.SortnetError):
        module(torch.zeros(2, 5))
    if torch.cuda.is_available():  # pragma: no cover - no GPU on the CI machine
        gpu = model.to_torch(device="cuda")
        assert gpu(X.cuda()).cpu().allclose(model.to_torch()(X))


@pytest.mark.parametrize("n", [2, 5, 16])
def test_soft_permutation_torch_equals_numpy(n: int) -> None:
    net = sortnet.network("best", n)
    X = RNG.standard_normal((10, n))
    P, values = soft_permutation_torch(torch.tensor(X), net, 3.0)
    np.testing.assert_allclose(P.numpy(), soft_permutation(X, net, 3.0), atol=1e-12)
    model = compilers.compile(net, "softplus", steepness=3.0)
    np.testing.assert_allclose(values.numpy(), model(X), atol=1e-12)


def test_straight_through_sort_is_exact_forward_soft_backward() -> None:
    net = sortnet.network("best", 6)
    X = torch.tensor(RNG.standard_normal((5, 6)), requires_grad=True)
    P, values = SoftSort(net, 2.0, straight_through=True)(X)
    order = np.argsort(X.detach().numpy(), axis=1)
    np.testing.assert_array_equal(P.detach().numpy().argmax(axis=2), order)
    np.testing.assert_allclose(values.detach().numpy(), np.sort(X.detach().numpy(), axis=1))
    values.sum(dim=1).pow(2).sum().backward()  # any loss; the grad comes from the soft p
    assert X.grad is not None and torch.isfinite(X.grad).all()
    # the sorted values' backward Jacobian is the soft one at the exact inputs
    x = torch.tensor(X.detach().numpy()[:1], requires_grad=True)
    jac = torch.autograd.functional.jacobian(
        lambda v: SoftSort(net, 2.0, straight_through=True)(v)[1], x
    )[0, :, 0, :]
    model = compilers.compile(net, "relu")
    expected = model.jacobian(x.detach().numpy(), steepness=2.0)[0]
    np.testing.assert_allclose(jac.numpy(), expected, atol=1e-9)


def test_soft_permutation_refuses_counting_networks() -> None:
    with pytest.raises(sortnet.SortnetError):
        soft_permutation_torch(torch.zeros(1, 3), sortnet.counting_network(3), 1.0)
    assert "to_torch" in repr(to_torch.__name__)


@pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("diffsort") is None,
    reason="the ranking benchmark needs scikit-learn and diffsort",
)
def test_ranking_benchmark_smoke(tmp_path) -> None:
    from sortnet.devtools import ranking_bench

    report = ranking_bench.main(["--smoke", "--out", str(tmp_path)])
    assert report["accuracy"] and report["speed"]
    for row in report["accuracy"]:
        assert 0.0 <= row["exact_mean"] <= 1.0


def _naive_permutation(X, net, beta, straight_through=False):
    """The recurrence under plain autograd (every layer's state kept): the reference."""
    n = X.shape[1]
    P = torch.eye(n, dtype=X.dtype).expand(X.shape[0], n, n)
    values = X
    for layer in net.layers():
        first = torch.tensor([i for i, _ in layer])
        second = torch.tensor([j for _, j in layer])
        a, b = values[:, first], values[:, second]
        p = torch.sigmoid(beta * (a - b))
        shift = torch.nn.functional.softplus(beta * (a - b)) / beta
        if straight_through:
            hard = (a > b).to(X.dtype)
            p = hard + (p - p.detach())
            shift = (hard * (a - b)).detach() + (shift - shift.detach())
        low, high = P[:, first], P[:, second]
        moved = p[:, :, None] * (high - low)
        P = P.index_copy(1, first, low + moved).index_copy(1, second, high - moved)
        values = values.index_copy(1, first, a - shift).index_copy(1, second, b + shift)
    order = torch.tensor([net.outputs[p] for p in range(n)])
    return P[:, order], values[:, order]


@pytest.mark.parametrize("checkpoint", [None, 1, 2, 100, "recompute"])
@pytest.mark.parametrize("straight_through", [False, True])
@pytest.mark.parametrize("chunk", [None, 16])
def test_checkpointed_backward_equals_plain_autograd(
    checkpoint, straight_through, chunk, monkeypatch
) -> None:
    if chunk:  # 16 values per scratch buffer: one comparator per chunk (batch 4, n 8 -> 1)
        import sortnet.nn.torch_soft as torch_soft

        monkeypatch.setattr(torch_soft, "CHUNK_VALUES", chunk)
    net = sortnet.network("bitonic", 8)
    X = RNG.standard_normal((4, 8))
    G = torch.tensor(RNG.standard_normal((4, 8, 8)))
    grads = []
    for fn in (
        lambda x: soft_permutation_torch(
            x, net, 1.5, checkpoint=checkpoint, straight_through=straight_through
        ),
        lambda x: _naive_permutation(x, net, 1.5, straight_through),
    ):
        x = torch.tensor(X, requires_grad=True)
        P, values = fn(x)
        ((P * G).sum() + values.square().sum()).backward()
        grads.append((P.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], atol=1e-10)
    x = torch.tensor(X[:2, :5], requires_grad=True)
    net5 = sortnet.network("best", 5)
    assert torch.autograd.gradcheck(
        lambda v: soft_permutation_torch(v, net5, 2.0, checkpoint=checkpoint)[0], (x,)
    )
