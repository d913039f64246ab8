import numpy as np
import pytest
import torch

from biodl.featurizers import KmerCounts, OneHot, codes_to_onehot, reverse_complement_codes

SEQS = ["ACGTacgtNN", "ACGTRYACGT", "ACGTXACGTA", "", None, "ACG", "AAAAAAAAAAAA", "acgu-ACGTA"]


def accounted(result, n):
    return sorted([*result.kept.tolist(), *(r.index for r in result.rejects)]) == list(range(n))


def test_codes_case_iupac_and_rejects():
    result = OneHot().featurize(SEQS)
    assert accounted(result, len(SEQS))
    assert result.X.dtype == np.uint8
    # lowercase read as uppercase, N and IUPAC codes -> 4
    np.testing.assert_array_equal(result.X[0], [0, 1, 2, 3, 0, 1, 2, 3, 4, 4])
    np.testing.assert_array_equal(result.X[1], [0, 1, 2, 3, 4, 4, 0, 1, 2, 3])
    reasons = {r.index: r.reason for r in result.rejects}
    assert reasons[2] == "non-DNA letters: 'X'"
    assert reasons[3] == "empty sequence"
    assert reasons[4] == "missing sequence"
    assert reasons[5].startswith("length 3 != 10")
    assert reasons[6].startswith("length 12 != 10")
    assert reasons[7] == "non-DNA letters: '-'"  # RNA's u is read as T
    assert result.meta["lowercase_fraction"].tolist() == [0.4, 0.0]
    assert result.meta["n_fraction"].tolist() == [0.2, 0.2]


def test_rna_letters_encode_as_their_dna():
    rna, dna = ["CUCUCAGGAAUGAUAACUUCU", "acguACGU"], ["CTCTCAGGAATGATAACTTCT", "acgtACGT"]
    for featurizer in (OneHot(length=21, resize="crop_pad"), KmerCounts(k=3)):
        got, want = featurizer.featurize(rna), featurizer.featurize(dna)
        assert not got.rejects
        np.testing.assert_array_equal(got.X, want.X)


def test_fixed_length_centre_crop_and_n_padding():
    result = OneHot(length=8, resize="crop_pad").featurize(["ACGTACGTAC", "ACG", "ACGTACGT"])
    np.testing.assert_array_equal(result.X[0], [1, 2, 3, 0, 1, 2, 3, 0])  # one base off each end
    np.testing.assert_array_equal(result.X[1], [4, 4, 0, 1, 2, 4, 4, 4])
    np.testing.assert_array_equal(result.X[2], [0, 1, 2, 3, 0, 1, 2, 3])


def test_learned_length_becomes_a_param():
    featurizer = OneHot()
    featurizer.featurize(["ACGT", "ACGA", "AC"])
    assert featurizer.params == {"length": 4, "resize": "reject"}


def test_onehot_expansion_on_torch_with_n_policy():
    codes = np.array([[0, 1, 2, 3, 4]], np.uint8)
    zeros = codes_to_onehot(codes)
    uniform = codes_to_onehot(torch.as_tensor(codes), n_value=0.25)
    assert zeros.shape == (1, 4, 5) and zeros.dtype == torch.float32
    np.testing.assert_array_equal(zeros[0, :, :4].numpy(), np.eye(4))
    assert zeros[0, :, 4].sum() == 0
    np.testing.assert_allclose(uniform[0, :, 4].numpy(), [0.25] * 4)


def test_reverse_complement_numpy_and_torch_agree_and_invert():
    codes = np.array([[0, 0, 1, 4, 2, 3]], np.uint8)  # AACNGT
    rc = reverse_complement_codes(codes)
    np.testing.assert_array_equal(rc, [[0, 1, 4, 2, 3, 3]])  # ACNGTT
    np.testing.assert_array_equal(reverse_complement_codes(rc), codes)
    rc_t = reverse_complement_codes(torch.as_tensor(codes))
    np.testing.assert_array_equal(rc_t.numpy(), rc)


def test_kmer_counts_match_a_python_count():
    seqs = ["ACGTACGTNNACG", "acgtTT", "GGGG"]
    k = 3
    result = KmerCounts(k=k).featurize(seqs)
    names = KmerCounts(k=k).feature_names()
    for row, seq in zip(result.X, seqs):
        seq = seq.upper()
        expected = {}
        for i in range(len(seq) - k + 1):
            kmer = seq[i:i + k]
            if "N" not in kmer:
                expected[kmer] = expected.get(kmer, 0) + 1
        assert {names[j]: int(c) for j, c in enumerate(row) if c} == expected


def test_kmer_canonical_is_strand_symmetric():
    seq = "ACGTTGCAAGGCTTAACGGATCC"
    from biodl.featurizers.dna import _LUT

    rc = "".join("TGCA"[_LUT[ord(c)]] for c in reversed(seq))
    result = KmerCounts(k=4, canonical=True).featurize([seq, rc])
    np.testing.assert_array_equal(result.X[0], result.X[1])
    assert KmerCounts(k=4).featurize([seq]).X.sum() == len(seq) - 3


def test_kmer_accepts_unequal_lengths_and_rejects_bad_letters():
    result = KmerCounts(k=2).featurize(["ACGT", "AC", "A", "AXG"])
    assert result.kept.tolist() == [0, 1, 2]
    assert result.X[2].sum() == 0  # shorter than k: no k-mer, but not an error
    assert result.rejects[0].reason == "non-DNA letters: 'X'"


@pytest.mark.parametrize("k", [0, 9])
def test_kmer_k_range(k):
    with pytest.raises(ValueError, match="k must be between 1 and 8"):
        KmerCounts(k=k)
