"""Tests of recommender.model.cooccurrence (PPMI-SVD feature vectors; a prototype basis,
see bench/quality.py --projection ppmi)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.model.cooccurrence import ppmi_matrix, ppmi_projection


def _lines() -> sp.csr_matrix:
    # features 0-2 always together, 3-5 always together, 6 in one line only
    rows = [[0, 1], [1, 2], [0, 2], [0, 1, 2], [3, 4], [4, 5], [3, 5], [3, 4, 5], [0, 6]] * 3
    data = [(i, j) for i, r in enumerate(rows) for j in r]
    i, j = zip(*data)
    return sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(len(rows), 8))


def test_ppmi_is_positive_and_links_only_co_occurring_features():
    """PPMI is > 0 inside each group, absent across groups and on the diagonal."""
    P, keep = ppmi_matrix(_lines())
    dense = np.zeros((8, 8))
    dense[np.ix_(keep, keep)] = P.toarray()
    assert (dense >= 0).all() and np.allclose(np.diag(dense), 0)
    assert dense[0, 1] > 0 and dense[3, 4] > 0
    assert dense[0, 3] == 0 and dense[1, 5] == 0
    assert 7 not in keep  # never seen: no vector


def test_features_that_co_occur_point_the_same_way():
    """Two lines that share no feature but whose features co-occur elsewhere are similar."""
    X = _lines()
    projection, kept = ppmi_projection(X, dims=2)
    assert projection.shape == (8, 2) and projection.dtype == np.float32
    assert 0 < kept <= 1
    v = np.asarray(sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 5])), shape=(2, 8)) @ projection)
    w = np.asarray(sp.csr_matrix(([1.0], ([0], [2])), shape=(1, 8)) @ projection)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    assert float(v[0] @ w[0]) > 0.9  # feature 0 vs feature 2: same group
    assert abs(float(v[1] @ w[0])) < 0.3  # feature 5 vs feature 2: other group
    assert np.allclose(projection[7], 0)


def test_projection_is_deterministic_and_handles_no_co_occurrence():
    """Equal input, equal output; lines of one feature each give one direction."""
    X = _lines()
    a, _ = ppmi_projection(X, dims=2)
    b, _ = ppmi_projection(X, dims=2)
    assert np.array_equal(a, b)
    single = sp.identity(4, format="csr")
    p, share = ppmi_projection(single, dims=2)
    assert p.shape == (4, 1) and share == 1.0
