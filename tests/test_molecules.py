import numpy as np
import pytest

from biodl.featurizers import ECFP, RDKitDescriptors, SmilesTokens, make_featurizer
from biodl.errors import UserError
from tests.conftest import DATA

BAD = ["CCO", "", None, "C1CC", "C(C)(C)(C)(C)C", "[Na+].[Cl-]", "c1ccccc1O", "not a smiles"]


def accounted(result, n):
    rows = sorted([*result.kept.tolist(), *(r.index for r in result.rejects)])
    return rows == list(range(n))


@pytest.mark.parametrize("featurizer", [ECFP(), ECFP(counts=True, radius=3, n_bits=1024),
                                        RDKitDescriptors(), SmilesTokens()])
def test_bad_smiles_are_rejected_with_reasons_and_nothing_is_lost(featurizer):
    result = featurizer.featurize(BAD)
    assert accounted(result, len(BAD))
    assert result.kept.tolist() == [0, 5, 6]
    reasons = {r.index: r.reason for r in result.rejects}
    assert reasons[1] == "empty SMILES"
    assert reasons[2] == "missing SMILES"
    assert reasons[3] == "invalid SMILES syntax"  # unclosed ring
    assert "valence" in reasons[4]
    assert reasons[7] == "invalid SMILES syntax"


def test_multi_fragment_smiles_is_kept_with_fragment_count():
    result = ECFP().featurize(["[Na+].[Cl-]", "CC(=O)[O-].[Na+]", "CCO"])
    assert result.kept.tolist() == [0, 1, 2]
    assert result.meta["n_fragments"] == [2, 2, 1]
    assert result.meta["canonical_smiles"][0] == "[Cl-].[Na+]"


def test_ecfp_matches_bare_rdkit_and_is_deterministic_across_processes():
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    import pandas as pd

    smiles = pd.read_csv(DATA / "molecules" / "freesolv.csv")["smiles"].tolist()[:300]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    expected = np.stack([gen.GetFingerprintAsNumPy(Chem.MolFromSmiles(s)) for s in smiles])
    serial = ECFP().featurize(smiles)
    parallel = ECFP(n_jobs=2).featurize(smiles)
    assert serial.X.dtype == np.uint8 and serial.X.shape == (300, 2048)
    np.testing.assert_array_equal(serial.X, expected)
    np.testing.assert_array_equal(parallel.X, serial.X)
    assert parallel.meta == serial.meta


def test_ecfp_counts_and_chirality_change_the_features():
    smiles = ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CCCCCCCC"]
    bits = ECFP(n_bits=512).featurize(smiles).X
    counts = ECFP(n_bits=512, counts=True).featurize(smiles).X
    chiral = ECFP(n_bits=512, chirality=True).featurize(smiles).X
    assert counts.max() > 1 and bits.max() == 1
    np.testing.assert_array_equal(bits[0], bits[1])  # enantiomers collide without chirality
    assert (chiral[0] != chiral[1]).any()


def test_scaffold_in_meta():
    result = ECFP().featurize(["c1ccccc1CCN", "CCCC"])
    assert result.meta["scaffold"] == ["c1ccccc1", ""]


def test_descriptors_record_nonfinite_values():
    # BCUT2D descriptors are undefined for a charged, isolated-ion system
    smiles = ["[Na+].[Cl-]", "CCO"]
    kept = RDKitDescriptors().featurize(smiles)
    assert kept.X.dtype == np.float32 and kept.X.shape[0] == 2
    assert np.isnan(kept.X[0]).any() and not np.isnan(kept.X[1]).any()
    assert "BCUT2D_MWHI" in kept.meta["nonfinite"][0]
    assert kept.meta["nonfinite"][1] == ""
    strict = RDKitDescriptors(nonfinite="reject").featurize(smiles)
    assert strict.kept.tolist() == [1]
    assert strict.rejects[0].reason.startswith("non-finite descriptors: BCUT2D")


def test_descriptor_subset_and_unknown_name():
    result = RDKitDescriptors(descriptors=["MolWt", "TPSA"]).featurize(["CCO"])
    assert result.X.shape == (1, 2)
    assert result.X[0, 0] == pytest.approx(46.069, abs=1e-2)
    with pytest.raises(ValueError, match="unknown RDKit descriptors: NotADescriptor"):
        RDKitDescriptors(descriptors=["NotADescriptor"]).featurize(["CCO"])


def test_smiles_tokens_vocabulary_is_learned_then_frozen():
    tok = SmilesTokens()
    result = tok.featurize(["CCBr", "c1ccccc1Cl", "C[C@H](N)C(=O)O"])
    vocab = tok.params["vocabulary"]
    assert vocab[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert {"Br", "Cl", "[C@H]"} <= set(vocab)  # multi-character tokens stay whole
    row = result.X[0]
    assert row[0] == 2 and [vocab[i] for i in row[1:4]] == ["C", "C", "Br"] and row[4] == 3
    # a rebuilt featurizer maps unseen tokens to <unk> and rejects over-long inputs
    again = make_featurizer(tok.spec())
    out = again.featurize(["CCI", "C" * 200])
    assert out.X[0][3] == 1
    assert out.rejects[0].index == 1 and "exceed max_length" in out.rejects[0].reason


def test_registry_errors_are_user_errors():
    with pytest.raises(UserError, match="unknown featurizer type 'morgan'"):
        make_featurizer({"type": "morgan"})
    with pytest.raises(UserError, match="unexpected keyword argument 'bits'"):
        make_featurizer({"type": "ecfp", "bits": 10})


def test_nci_smiles_real_file_accounts_every_row():
    from pathlib import Path

    import rdkit

    path = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
    smiles = [line.split()[0] if line.split() else "" for line in path.read_text().splitlines()[:1500]]
    result = ECFP(n_jobs=2).featurize(smiles, meta=False)
    assert accounted(result, len(smiles))
    assert len(result.kept) > 0.99 * len(smiles)
