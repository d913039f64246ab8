"""MLP sparse first layer: same numbers, gradients, state_dict and files as the dense Linear."""

import io

import numpy as np
import pytest
import torch

from biodl.errors import UserError
from biodl.models import build_model
from biodl.models.mlp import InputLinear

D = 64


def bits(n=7, density=0.08, seed=0, counts=False):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, D, generator=g) < density).to(torch.uint8)
    x[3] = 0  # a molecule with no bit on: its bag is empty, the output is the bias path
    if counts:
        x = x * torch.randint(1, 5, (n, D), generator=g, dtype=torch.uint8)
    return x


def pair(seed=0, **spec):
    """A model on the sparse path and a plain dense one holding the same weights."""
    spec = {"type": "mlp", "hidden": [16, 8], "dropout": 0.3, **spec}
    torch.manual_seed(seed)
    sparse = build_model({**spec, "sparse_input": "auto"}, input_shape=(D,), n_outputs=3)
    torch.manual_seed(seed)
    dense = build_model({**spec, "sparse_input": "false"}, input_shape=(D,), n_outputs=3)
    return sparse, dense


def grads(model):
    return {k: p.grad.t() if isinstance(model.first_linear, InputLinear) and p is model.first_linear.weight else p.grad
            for k, p in model.named_parameters()}


@pytest.mark.parametrize("spec", [{}, {"hidden": []}, {"batch_norm": True}, {"activation": "tanh", "hidden": [5]}],
                         ids=["two_layers", "linear", "batch_norm", "tanh"])
@pytest.mark.parametrize("counts", [False, True], ids=["bits", "counts"])
def test_sparse_path_matches_dense_outputs_and_gradients(spec, counts):
    sparse, dense = pair(**spec)
    # same seed → the same initial values, whatever the layout
    assert {k: v.shape for k, v in sparse.state_dict().items()} == {k: v.shape for k, v in dense.state_dict().items()}
    for key, value in sparse.state_dict().items():
        torch.testing.assert_close(value, dense.state_dict()[key], rtol=0, atol=0)
    x = bits(counts=counts)
    assert sparse.uses_sparse_path(x) and not dense.uses_sparse_path(x)
    for mode in ("train", "eval"):
        if mode == "train":  # dropout off, batch norm in training mode (batch statistics)
            sparse.train(), dense.train()
            for m in (sparse, dense):
                for layer in m.modules():
                    if isinstance(layer, torch.nn.Dropout):
                        layer.eval()
        else:
            sparse.eval(), dense.eval()
        sparse.zero_grad(), dense.zero_grad()
        target = torch.linspace(-1, 1, 3 * len(x)).view(len(x), 3)
        out_s, out_d = sparse(x), dense(x)
        torch.testing.assert_close(out_s, out_d, rtol=0, atol=1e-5)
        ((out_s - target) ** 2).sum().backward()
        ((out_d - target) ** 2).sum().backward()
        g_s, g_d = grads(sparse), grads(dense)
        assert g_s.keys() == g_d.keys()
        for key in g_s:
            torch.testing.assert_close(g_s[key], g_d[key], rtol=0, atol=1e-5, msg=key)


def test_weights_load_either_way_and_files_load_weights_only():
    sparse, dense = pair(seed=1)
    torch.manual_seed(5)
    other = build_model({"type": "mlp", "hidden": [16, 8], "dropout": 0.3, "sparse_input": "false"},
                        input_shape=(D,), n_outputs=3)
    x = bits()
    sparse.eval(), other.eval()
    # dense → sparse through a file, as TrainedModel.save / load do
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in other.state_dict().items()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    sparse.load_state_dict(state)
    torch.testing.assert_close(sparse(x), other(x), rtol=0, atol=1e-5)
    # the caller's dict is not changed by loading (best weights are restored from it more than once)
    assert state["body.2.weight"].shape == (16, D)
    sparse.load_state_dict(state)
    torch.testing.assert_close(sparse(x), other(x), rtol=0, atol=1e-5)
    # sparse → dense
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in sparse.state_dict().items()}, buffer)
    buffer.seek(0)
    dense.load_state_dict(torch.load(buffer, weights_only=True))
    dense.eval()
    torch.testing.assert_close(dense(x), other(x), rtol=0, atol=1e-5)
    with pytest.raises(RuntimeError, match="size mismatch"):
        sparse.load_state_dict({**other.state_dict(), "body.2.weight": torch.zeros(D, 16)})


def test_trained_model_file_round_trip(tmp_path):
    from biodl.train import TrainedModel, fit

    rng = np.random.default_rng(0)
    X = (rng.random((60, D)) < 0.1).astype(np.uint8)
    y = (X[:, :8].sum(1, keepdims=True) + rng.normal(0, 0.1, (60, 1))).astype(np.float32)
    model, _ = fit({"type": "mlp", "hidden": [16], "dropout": 0.1}, X[:45], y[:45], X[45:], y[45:],
                   task_type="regression", tasks=["t"], config={"epochs": 3, "batch_size": 8, "progress": False})
    assert model.module.uses_sparse_path(torch.from_numpy(X))
    model.save(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["state_dict"]["body.2.weight"].shape == (16, D)
    loaded = TrainedModel.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # the same file read by a dense model
    payload["model_spec"]["sparse_input"] = "false"
    torch.save(payload, tmp_path / "dense.pt")
    np.testing.assert_allclose(TrainedModel.load(tmp_path / "dense.pt").predict(X), model.predict(X), atol=1e-5)


def test_deterministic_training_on_cpu():
    def run():
        torch.manual_seed(3)
        model = build_model({"type": "mlp", "hidden": [16], "dropout": 0.5, "input_dropout": 0.2},
                            input_shape=(D,), n_outputs=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        x = bits(n=20, seed=4)
        for _ in range(5):
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
        model.eval()
        return model(x).detach(), {k: v.clone() for k, v in model.state_dict().items()}

    (out_a, state_a), (out_b, state_b) = run(), run()
    assert torch.equal(out_a, out_b)
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


def test_input_dropout_masks_on_bits():
    torch.manual_seed(0)
    layer = InputLinear(D, D)
    with torch.no_grad():  # identity weights, no bias: the layer returns its (dropped-out) input
        layer.weight.copy_(torch.eye(D))
        layer.bias.zero_()
    x = bits(n=200, density=0.2, seed=1, counts=True)
    dropout = torch.nn.Dropout(0.5)
    torch.testing.assert_close(layer.forward_sparse(x, dropout.eval()), x.float())  # eval: identity
    out = layer.forward_sparse(x, dropout.train())
    on = x > 0
    assert torch.all(out[~on] == 0)  # an off bit stays off
    kept = out[on] != 0
    torch.testing.assert_close(out[on][kept], 2 * x[on][kept].float())  # survivors scaled by 1 / (1 - p)
    assert 0.4 < 1 - kept.float().mean().item() < 0.6  # about p of the on-bits dropped


def test_mc_dropout_still_samples():
    from biodl.tasks import Binary
    from biodl.train import Preprocessor, TrainedModel

    sparse, _ = pair(input_dropout=0.2)
    assert all(type(m) is torch.nn.Dropout for m in sparse.modules() if isinstance(m, torch.nn.Dropout))
    model = TrainedModel(module=sparse, model_spec=sparse.spec, input_shape=(D,), task=Binary(["a", "b", "c"]),
                         preprocessor=Preprocessor())
    X = bits(n=30).numpy()
    a, b = model.raw_outputs(X, dropout=True), model.raw_outputs(X, dropout=True)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(model.raw_outputs(X), model.raw_outputs(X))


def test_which_batches_take_the_sparse_path():
    sparse, dense = pair()
    x = bits()
    assert sparse.uses_sparse_path(x)
    assert not sparse.uses_sparse_path(x.float())  # float features: dense
    assert not sparse.uses_sparse_path(torch.ones(4, D, dtype=torch.uint8))  # dense bits: dense
    assert not sparse.uses_sparse_path(x.float().requires_grad_())  # saliency needs every input
    assert not dense.uses_sparse_path(x)
    assert type(dense.first_linear) is torch.nn.Linear  # sparse_input false: the plain Linear
    forced = build_model({"type": "mlp", "hidden": [16, 8], "sparse_input": "true"}, input_shape=(D,), n_outputs=3)
    assert forced.uses_sparse_path(torch.randn(4, D))
    forced.eval(), dense.eval()
    forced.load_state_dict(dense.state_dict())
    torch.testing.assert_close(forced(x.float()), dense(x.float()), rtol=0, atol=1e-5)
    # float descriptors on the default model take the dense path with the same numbers
    f = torch.randn(5, D)
    sparse.eval()
    torch.testing.assert_close(sparse(f), dense(f), rtol=0, atol=1e-5)
    # images / multi-axis inputs are flattened first
    flat = build_model({"type": "mlp", "hidden": [4]}, input_shape=(4, 16), n_outputs=1).eval()
    assert flat.uses_sparse_path(x.view(-1, 4, 16))
    torch.testing.assert_close(flat(x.view(-1, 4, 16)), flat(x.view(-1, 4, 16).float()), rtol=0, atol=1e-5)


def test_sparse_input_setting_is_checked():
    assert build_model({"type": "mlp", "sparse_input": True}, input_shape=(D,), n_outputs=1).config[
        "sparse_input"] == "true"
    with pytest.raises(UserError, match="sparse_input must be one of auto, true, false; got 'sometimes'"):
        build_model({"type": "mlp", "sparse_input": "sometimes"}, input_shape=(D,), n_outputs=1)


def test_fit_is_deterministic_with_the_fused_optimizer():
    from biodl.train import fit

    rng = np.random.default_rng(1)
    X = (rng.random((80, D)) < 0.1).astype(np.uint8)
    y = (X[:, :8].sum(1, keepdims=True) + rng.normal(0, 0.1, (80, 1))).astype(np.float32)

    def run(**spec):
        model, history = fit({"type": "mlp", "hidden": [16], "dropout": 0.2, "input_dropout": 0.1, **spec},
                             X[:60], y[:60], X[60:], y[60:], task_type="regression", tasks=["t"],
                             config={"epochs": 4, "batch_size": 8, "weight_decay": 1e-4, "progress": False})
        return model.predict(X), [h["valid_rmse"] for h in history]

    (pred_a, hist_a), (pred_b, hist_b) = run(), run()
    np.testing.assert_array_equal(pred_a, pred_b)
    assert hist_a == hist_b
    # without dropout (whose masks come from differently sized draws), the dense model with the
    # plain optimizer learns the same function, up to float rounding
    pred_sparse, _ = run(dropout=0.0, input_dropout=0.0)
    pred_dense, _ = run(dropout=0.0, input_dropout=0.0, sparse_input="false")
    np.testing.assert_allclose(pred_dense, pred_sparse, atol=1e-4)


def test_dense_features_give_bit_identical_training():
    """Float descriptors take the dense path with the plain optimizer: exactly a plain MLP's numbers."""
    from biodl.train import fit

    rng = np.random.default_rng(2)
    X = rng.normal(size=(70, 37)).astype(np.float32)
    y = (X[:, :3].sum(1, keepdims=True) + rng.normal(0, 0.1, (70, 1))).astype(np.float32)
    preds = [fit({"type": "mlp", "hidden": [24, 9], "dropout": 0.2, "sparse_input": mode}, X[:50], y[:50],
                 X[50:], y[50:], task_type="regression", tasks=["t"],
                 config={"epochs": 3, "batch_size": 7, "weight_decay": 1e-4, "progress": False})[0].predict(X)
             for mode in ("auto", "false")]
    np.testing.assert_array_equal(preds[0], preds[1])
