"""biodl.models: build from spec, shapes / dtypes, gradients, rebuild, strand and padding invariance."""

import json

import numpy as np

import pytest
import torch

from biodl.errors import UserError
from biodl.featurizers.dna import reverse_complement_codes
from biodl.models import ACTIVATIONS, MODELS, build_model, count_parameters

L_DNA, L_TOK, VOCAB = 40, 12, 20


def dna_batch(n=3, length=L_DNA, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 5, (n, length), generator=g, dtype=torch.int64).to(torch.uint8)  # N included


def token_batch():
    """Left-aligned <bos> ... <eos> then <pad> rows of different lengths, uint8 as stored."""
    x = torch.zeros(3, L_TOK, dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    for row, n in enumerate((L_TOK, 7, 3)):
        x[row, :n] = torch.randint(4, VOCAB, (n,), generator=g).to(torch.uint8)
        x[row, 0], x[row, n - 1] = 2, 3
    return x


# (spec, input_shape, batch) — small sizes keep the whole module fast
CASES = {
    "mlp": ({"type": "mlp", "hidden": [16, 8]}, (32,), lambda: torch.randint(0, 2, (3, 32)).to(torch.uint8)),
    "mlp_bn": ({"type": "mlp", "hidden": [16], "batch_norm": True, "input_dropout": 0.1}, (10,),
               lambda: torch.randn(3, 10)),
    "cnn1d": ({"type": "cnn1d", "channels": [8, 8], "kernel_sizes": [7, 5]}, (L_DNA,), dna_batch),
    "cnn1d_norc": ({"type": "cnn1d", "channels": [8], "kernel_sizes": [6], "rc": False, "global_pool": "avg"},
                   (L_DNA,), dna_batch),
    "cnn2d": ({"type": "cnn2d", "channels": [4, 8]}, (1, 16, 16), lambda: torch.rand(3, 1, 16, 16)),
    "cnn2d_pool": ({"type": "cnn2d", "channels": [4, 8], "stride": 1, "pool": 2, "global_pool": "max",
                    "batch_norm": False}, (3, 12, 10), lambda: torch.rand(3, 3, 12, 10)),
    "rnn_tokens": ({"type": "rnn", "hidden": 8, "embedding": 6, "vocab_size": VOCAB}, (L_TOK,), token_batch),
    "rnn_lstm": ({"type": "rnn", "cell": "lstm", "hidden": 8, "layers": 2, "bidirectional": False},
                 (L_TOK,), token_batch),
    "rnn_dna": ({"type": "rnn", "input": "dna", "hidden": 8, "layers": 2}, (L_DNA,), dna_batch),
}


def build(case, n_outputs=2, seed=0, **overrides):
    spec, shape, make_x = CASES[case]
    torch.manual_seed(seed)
    return build_model({**spec, **overrides}, input_shape=shape, n_outputs=n_outputs), make_x()


def test_every_registered_type_is_covered():
    # mpnn reads molecular graphs, not one tensor: tests/test_mpnn.py covers it with the same checks;
    # the unet's outputs are per pixel: the test below and tests/test_segmentation.py
    assert {spec["type"] for spec, _, _ in CASES.values()} | {"mpnn", "unet"} == set(MODELS)
    assert set(MODELS) == {"mlp", "cnn1d", "cnn2d", "rnn", "mpnn", "unet"}


@pytest.mark.parametrize("shape", [(1, 16, 24), (2, 32, 8)])
def test_unet_gives_class_logits_per_pixel_and_rebuilds_from_its_config(shape):
    torch.manual_seed(0)
    model = build_model({"type": "unet", "depth": 2, "width": 4, "dropout": 0.2}, input_shape=shape, n_outputs=3)
    x = torch.rand(2, *shape)
    model.train()
    y = model(x)
    assert y.shape == (2, 3, *shape[1:]) and y.dtype == torch.float32
    y.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.manual_seed(1)
    rebuilt = build_model(json.loads(json.dumps(model.spec)), input_shape=model.input_shape, n_outputs=3)
    rebuilt.load_state_dict(model.state_dict())
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(model(x), rebuilt(x))
    with pytest.raises(UserError, match="model 'unet': needs input_shape"):
        build_model({"type": "unet"}, input_shape=(16, 16), n_outputs=3)


@pytest.mark.parametrize("case", CASES)
def test_forward_shape_dtype_and_gradients(case):
    model, x = build(case, n_outputs=3)
    model.train()
    y = model(x)
    assert y.shape == (3, 3) and y.dtype == torch.float32
    y.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("case", CASES)
def test_rebuild_from_config_gives_identical_outputs(case):
    model, x = build(case, seed=0)
    config = json.loads(json.dumps(model.config))  # what a saved model stores: JSON-able
    assert model.spec == {"type": CASES[case][0]["type"], **config}
    torch.manual_seed(1)  # different init, then overwritten by the weights
    rebuilt = build_model(model.spec, input_shape=model.input_shape, n_outputs=model.n_outputs)
    rebuilt.load_state_dict(model.state_dict())
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(model(x), rebuilt(x))


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_init_and_deterministic_eval(case):
    a, x = build(case, seed=7)
    b, _ = build(case, seed=7)
    c, _ = build(case, seed=8)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    a.eval()
    with torch.no_grad():
        assert torch.equal(a(x), a(x))


def test_dropout_is_the_only_randomness_and_is_plain_nn_dropout():
    model, x = build("cnn1d", dropout=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # MC dropout: dropout modules in train mode
        torch.manual_seed(3)
        first = model(x)
        torch.manual_seed(3)
        assert torch.equal(first, model(x))


@pytest.mark.parametrize("case", ["cnn1d", "cnn1d_norc"])
def test_cnn1d_reverse_complement(case):
    model, x = build(case, global_pool="avg")  # avg: every position counts, so a strand bias would show
    model.eval()
    with torch.no_grad():
        y, y_rc = model(x), model(reverse_complement_codes(x))
    if model.config["rc"]:
        torch.testing.assert_close(y, y_rc, rtol=1e-5, atol=1e-6)
    else:
        assert not torch.allclose(y, y_rc, atol=1e-4)


@pytest.mark.parametrize("length, pool, blocks", [(41, 2, 3), (40, 3, 2), (17, 1, 1)])
def test_cnn1d_rc_invariance_any_length_pool_depth(length, pool, blocks):
    torch.manual_seed(0)
    spec = {"type": "cnn1d", "channels": [6] * blocks, "kernel_sizes": [4] * blocks, "pool": pool,
            "n_value": 0.25}
    model = build_model(spec, input_shape=(length,), n_outputs=2).eval()
    x = dna_batch(length=length)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(reverse_complement_codes(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("length, pool, blocks, rc", [(41, 2, 3, True), (21, 1, 2, True), (21, 1, 1, True),
                                                      (21, 1, 2, False)])
def test_cnn1d_flatten_head_is_position_specific_and_rc_invariant(length, pool, blocks, rc):
    """The book's Chapter 6 layout: no global pooling, the output layer sees every position."""
    torch.manual_seed(0)
    spec = {"type": "cnn1d", "channels": [5] * blocks, "kernel_sizes": [4] * blocks, "pool": pool,
            "global_pool": "flatten", "rc": rc}
    model = build_model(spec, input_shape=(length,), n_outputs=2).eval()
    final = length // pool ** (blocks - 1) if pool > 1 else length
    assert model.head.in_features == 5 * final
    x = dna_batch(length=length)
    with torch.no_grad():
        out, out_rc = model(x), model(reverse_complement_codes(x))
        # a motif moved along the sequence changes the output (max pooling would not see the move)
        shifted = model(torch.roll(x, 3, dims=1))
    assert out.shape == (len(x), 2)
    assert not torch.allclose(out, shifted, atol=1e-4)
    if rc:
        torch.testing.assert_close(out, out_rc, rtol=1e-5, atol=1e-6)
    else:
        assert not torch.allclose(out, out_rc, atol=1e-4)


def test_cnn1d_sigmoid_output_is_bounded_and_trains_on_unscaled_targets():
    from biodl.train import fit

    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, size=(200, 21)).astype(np.uint8)
    y = (0.2 + 0.6 * (X[:, 0] == 3) + rng.normal(0, 0.05, 200)).astype(np.float32)[:, None]
    spec = {"type": "cnn1d", "channels": [8], "kernel_sizes": [5], "global_pool": "flatten", "rc": False,
            "output": "sigmoid"}
    model = build_model(spec, input_shape=(21,), n_outputs=1)
    assert model.bounded_output
    with torch.no_grad():
        raw = model(torch.as_tensor(X))
    assert ((raw > 0) & (raw < 1)).all()
    trained, _ = fit(spec, X[:160], y[:160], X[160:], y[160:], task_type="regression", tasks=["efficacy"],
                     config={"epochs": 40, "batch_size": 32, "lr": 0.01, "patience": 40, "progress": False})
    assert trained.preprocessor.y_mean is None  # predictions are the sigmoid's own values
    pred = trained.predict(X[160:])
    assert np.corrcoef(pred[:, 0], y[160:, 0])[0, 1] > 0.9


def test_dna_models_accept_float_onehot():
    from biodl.featurizers.dna import codes_to_onehot

    for case in ("cnn1d", "rnn_dna"):
        model, x = build(case)
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), model(codes_to_onehot(x)))
            assert torch.equal(model(x), model(x.long()))


def test_rnn_padding_is_masked():
    model, x = build("rnn_tokens")
    longer = torch.cat([x, torch.zeros(3, 9, dtype=x.dtype)], dim=1)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(longer), rtol=0, atol=1e-6)
        # and the model does read the tokens: changing a valid one changes the output
        changed = x.clone()
        changed[2, 1] = 5 if x[2, 1] != 5 else 6
        assert not torch.allclose(model(x)[2], model(changed)[2])
    lstm, x = build("rnn_lstm")
    lstm.eval()
    with torch.no_grad():
        torch.testing.assert_close(lstm(x), lstm(torch.nn.functional.pad(x, (0, 4))), rtol=0, atol=1e-6)


def test_mlp_structure_and_multitask_head():
    model, _ = build("mlp", n_outputs=5)
    assert model.head.out_features == 5  # one Linear, one column per task
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == [16, 8, 5]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_activation_choices(activation):
    for case in ("mlp", "cnn1d", "cnn2d"):
        model, x = build(case, activation=activation)
        assert isinstance(model(x), torch.Tensor)
        assert any(isinstance(m, ACTIVATIONS[activation]) for m in model.modules())


def test_required_activations_are_registered():
    assert {"relu", "tanh", "sigmoid", "mish", "gelu"} <= set(ACTIVATIONS)


def test_unknown_type_lists_known_types():
    known = r"\(known: cnn1d, cnn2d, mlp, mpnn, rnn, unet\)"
    with pytest.raises(UserError, match=r"unknown model type 'transformer' " + known):
        build_model({"type": "transformer"}, input_shape=(10,), n_outputs=1)
    with pytest.raises(UserError, match="unknown model type None"):
        build_model({"hidden": [4]}, input_shape=(10,), n_outputs=1)


def test_unknown_param_is_named():
    with pytest.raises(UserError, match=r"model 'mlp': unknown parameter 'hiden' \(did you mean 'hidden'\?"):
        build_model({"type": "mlp", "hiden": [4]}, input_shape=(10,), n_outputs=1)
    with pytest.raises(UserError, match="unknown parameter 'input_shape'"):  # data args are not spec params
        build_model({"type": "mlp", "input_shape": [4]}, input_shape=(10,), n_outputs=1)


@pytest.mark.parametrize("spec, shape, message", [
    ({"type": "mlp", "activation": "swish"}, (10,), "activation must be one of relu"),
    ({"type": "mlp", "dropout": 1.5}, (10,), r"dropout must be a number in \[0, 1\)"),
    ({"type": "mlp", "hidden": [4, "x"]}, (10,), r"hidden\[1\] must be an integer"),
    ({"type": "cnn1d", "channels": [4, 4], "kernel_sizes": [3]}, (40,), "equal length"),
    ({"type": "cnn1d", "pool": 4, "channels": [4] * 3, "kernel_sizes": [3] * 3}, (10,), "too short"),
    ({"type": "cnn1d"}, (4, 40), r"needs input_shape \(L,\)"),
    ({"type": "cnn2d"}, (2048,), r"needs input_shape \(C, H, W\)"),
    ({"type": "cnn2d", "channels": [4] * 3, "stride": 1, "pool": 4}, (1, 8, 8), "too small"),
    ({"type": "rnn", "cell": "transformer"}, (10,), "cell must be one of gru, lstm"),
    ({"type": "rnn", "input": "protein"}, (10,), "input must be one of tokens, dna"),
])
def test_bad_values_are_user_errors(spec, shape, message):
    with pytest.raises(UserError, match=f"model '{spec['type']}': .*{message}"):
        build_model(spec, input_shape=shape, n_outputs=1)


def test_models_import_stays_out_of_biodl_import():
    import subprocess
    import sys

    code = "import sys, biodl, biodl.featurizers; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
