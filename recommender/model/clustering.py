"""Hash samples of the lines, the cosine kNN graph, and the fixed-``n_topics`` partition:
a Ward hierarchy on a kNN graph refined by spherical k-means, with similarity floors that
send outliers to -1.

Everything here works on dense rows of unit length, so a dot product is a cosine.

Why this design for a partition into ``n_topics`` (see bench/RESULTS.md):

* k-means from random starts has many near-equal local optima on short texts, so two
  seeds gave different topics (seed agreement 0.72-0.85 NMI). Ward's agglomeration is
  deterministic; restricted to a k-nearest-neighbour graph (``connectivity``) it only
  merges groups that are neighbours, which follows the shape of the data rather than
  cutting it into equal-variance balls. Its centroids then start one spherical k-means
  (Lloyd, cosine) refinement: deterministic, and it repairs Ward's greedy early merges.
* Samples are chosen by a hash of each line's text, not by ``random_state``: the same
  lines give the same sample in every fit and retrain, in either training engine.

The automatic topics (``n_topics=None``) are not a partition: see ``density.py``.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from sklearn.cluster import ward_tree
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

# Rows the kNN graph and the Ward hierarchy are built on (Ward with a sparse connectivity
# takes about a second on 8,000 rows; the rest are assigned by the k-means refinement).
GRAPH_SAMPLE = 8000
# Rows the SVD (LSA) basis is computed on; the vocabulary and the projection use all rows.
SVD_SAMPLE = 20000
# Neighbours per line in the graph: enough to link the paraphrases of one request, few
# enough that a topic of a dozen lines is still a dense region of its own.
N_NEIGHBORS = 15


def text_hashes(texts: list[str]) -> np.ndarray:
    """A 64-bit hash of each text (blake2b), the key of :func:`hash_sample`."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big") for t in texts),
        dtype=np.uint64,
        count=len(texts),
    )


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit value from each input (vectorized)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def copy_keys(hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sample key of every copy of every distinct text: copy j of the text with hash h
    gets ``mix(h ^ mix(j + 1))``, so each copy is drawn on its own (a line sent 50 times
    is in the sample about 50 times as often) and the keys need no row order."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    copy = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
    return _mix64(np.repeat(hashes, counts) ^ _mix64(copy.astype(np.uint64) + np.uint64(1)))


def smallest_keys(hashes: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` smallest copy keys (all of them when there are fewer)."""
    keys = copy_keys(hashes, counts)
    if keys.size > size:
        keys = np.partition(keys, size - 1)[:size]
    return np.sort(keys)


def copies_in_sample(hashes: np.ndarray, counts: np.ndarray, threshold: np.uint64) -> np.ndarray:
    """How many copies of each distinct text have a key at or below ``threshold``."""
    counts = np.asarray(counts, dtype=np.int64)
    selected = copy_keys(hashes, counts) <= threshold
    group = np.repeat(np.arange(counts.size), counts)
    return np.bincount(group, weights=selected, minlength=counts.size).astype(np.int64)


def canonical_order(hashes: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
    """The rows by text hash, copies of one text by their ``prior`` (previous topic), then
    by position: ``fit`` works on its lines in this order, so the same lines in any order
    give the same topics (HDBSCAN's spanning tree and the kNN graph break ties between
    equal distances by row; floating-point sums depend on the order too). Copies of one
    text with the same prior are alike in everything ``fit`` reads, so their positions
    decide nothing."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    keys = (np.arange(hashes.size),) if prior is None else (np.arange(hashes.size), np.asarray(prior))
    return np.lexsort((*keys, hashes))


def text_sample(texts: list[str], size: int) -> np.ndarray:
    """Indices of up to ``size`` rows chosen by a hash of their text (:func:`hash_sample`)."""
    return hash_sample(text_hashes(texts), size)


def hash_sample(hashes: np.ndarray, size: int) -> np.ndarray:
    """Indices of up to ``size`` rows chosen by their text ``hashes``.

    Independent of ``random_state`` and of the order of the rows, so refits on the same
    or slightly grown data see (nearly) the same sample. It is defined on the multiset of
    texts alone (distinct text hashes, their counts, :func:`copy_keys`), so a distributed
    engine that only reduces (hash, count) pairs across partitions draws the same sample.
    Rows come ordered by text hash (then position), an order both engines can reproduce;
    when there are no more than ``size``, every row in row order (``fit``'s rows are in
    :func:`canonical_order`, so that is text-hash order too).
    """
    n = hashes.size
    if n <= size:
        return np.arange(n)
    uniq, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    threshold = smallest_keys(uniq, counts, size)[-1]
    take = copies_in_sample(uniq, counts, threshold)
    order = np.lexsort((np.arange(n), hashes))  # grouped by hash, each group in row order
    group = inverse[order]
    starts = np.cumsum(counts) - counts
    rank = np.arange(n) - starts[group]
    return order[rank < take[group]]


def knn_graph(X: np.ndarray, n_neighbors: int = N_NEIGHBORS, chunk: int = 1024) -> sp.csr_matrix:
    """Symmetric cosine-similarity graph of each (unit-length) row's nearest rows.

    Computed in blocks of ``chunk`` rows so memory stays at ``chunk x n`` similarities
    (a full brute-force neighbour search would hold up to a gigabyte at once).
    """
    n = X.shape[0]
    k = int(min(n_neighbors, n - 1))
    X = np.ascontiguousarray(X, dtype=np.float32)
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        block = X[start : start + chunk] @ X.T
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -np.inf  # not its own neighbour
        part = top_columns(block, k)
        idx[start : start + chunk] = part
        sim[start : start + chunk] = block[rows[:, None], part]
    sim = np.clip(sim, 1e-6, None)  # an edge must count even between orthogonal rows
    A = sp.csr_matrix((sim.ravel().astype(np.float64), (np.repeat(np.arange(n), k), idx.ravel())), shape=(n, n))
    return A.maximum(A.T).tocsr()


def top_columns(block: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` largest values of each row of ``block``: the ones
    ``np.argpartition(-block, k - 1, axis=1)[:, :k]`` picks, in another order.

    Partitioning every row of the discovery sample's similarities was a third of finding
    the topic cores. The k-th largest value of a row is at least the smallest of the maxima
    of k disjoint groups of its columns, and few values clear that bound; the top k are
    sorted out of those. Where the k-th value is tied with the next one, which of the tied
    columns is taken is argpartition's choice, so the row is left to it (as are rows with
    many candidates: a line without a vector of its own is equally close to all).
    """
    m, n = block.shape
    width = n // k
    if width < TOP_GROUP_COLUMNS:
        return np.argpartition(-block, k - 1, axis=1)[:, :k]
    bound = block[:, : width * k].reshape(m, k, width).max(axis=2).min(axis=1)
    mask = block >= bound[:, None]
    crowded = mask.sum(axis=1) > TOP_CANDIDATES
    mask[crowded] = False
    r, c = np.nonzero(mask)
    v = block[r, c]
    order = np.lexsort((-v, r))  # row by row, largest first
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(r, np.arange(m + 1))
    top = c[np.minimum(starts[:-1, None] + np.arange(k), max(c.size - 1, 0))] if c.size else np.zeros((m, k), np.int64)
    more = starts[1:] - starts[:-1] > k
    tied = crowded.copy()
    tied[more] |= v[starts[:-1][more] + k] == v[starts[:-1][more] + k - 1]
    for i in np.flatnonzero(tied):
        top[i] = np.argpartition(-block[i], k - 1)[:k]
    return top


# Columns per group for the bound of ``top_columns`` (fewer: a plain partition), and the
# most candidates a row may have before it is partitioned as a whole.
TOP_GROUP_COLUMNS = 8
TOP_CANDIDATES = 256


def _connected(A: sp.csr_matrix, X: np.ndarray) -> sp.csr_matrix:
    """``A`` with its connected components joined (Ward needs one component) along the
    maximum spanning tree of their centroids' similarities: Ward may merge a component only
    with those it is linked to, so each is linked to its nearest ones, not to whichever
    comes next in row order (a store of a few texts sent many times falls apart into
    components of copies)."""
    n_comp, comp = connected_components(A, directed=False)
    if n_comp == 1:
        return A
    H = sp.csr_matrix((np.ones(comp.size), (comp, np.arange(comp.size))), shape=(n_comp, comp.size))
    centroids = normalize(np.asarray(H @ X))
    distance = np.clip(2.0 - centroids @ centroids.T, 1e-9, None)  # > 0: an explicit edge
    tree = minimum_spanning_tree(sp.csr_matrix(np.triu(distance, 1))).tocoo()
    reps = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
    link = sp.csr_matrix((np.full(tree.nnz, 1e-6), (reps[tree.row], reps[tree.col])), shape=A.shape)
    return (A + link + link.T).tocsr()


def ward_cuts(X: np.ndarray, A: sp.csr_matrix, ks: list[int]) -> dict[int, np.ndarray]:
    """Labels of the Ward hierarchy (restricted to graph ``A``) cut at each k in ``ks``."""
    n = X.shape[0]
    children = ward_tree(X, connectivity=_connected(A, X))[0]
    parent = np.arange(2 * n - 1)
    cuts: dict[int, np.ndarray] = {}
    done = 0
    for k in sorted(set(ks), reverse=True):
        upto = n - k  # the first n - k merges leave k clusters
        for i in range(done, upto):
            parent[children[i]] = n + i
        done = upto
        root = parent.copy()
        while True:  # pointer jumping to every leaf's current root
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        cuts[k] = np.unique(root[:n], return_inverse=True)[1].astype(np.int64)
    return cuts


def hierarchical_topics(X: np.ndarray, sample: np.ndarray, n_topics: int) -> np.ndarray:
    """Initial centroids of ``n_topics`` topics: the Ward hierarchy of ``X[sample]`` (on its
    kNN graph) cut at that number."""
    Xs = X[sample]
    n = Xs.shape[0]
    if n_topics == 1 or n < 2:
        return normalize(X.mean(axis=0, keepdims=True))
    if n_topics >= n:
        return Xs.copy()  # as many topics as lines: every line is one
    # On a few dozen lines 15 neighbours would link most of the corpus.
    A = knn_graph(Xs, int(min(N_NEIGHBORS, max(5, round(np.sqrt(n))))))
    labels = ward_cuts(Xs, A, [n_topics])[n_topics]
    centroids = np.vstack([Xs[labels == c].mean(axis=0) for c in range(n_topics)])
    return normalize(centroids)


def refine(X: np.ndarray, centroids: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Spherical Lloyd iterations on every row from the given centroids (deterministic).

    Rows go to the most similar (cosine) centroid and centroids are re-normalized means,
    the same rule ``predict`` uses. Euclidean k-means would favour the short centroid of
    a diffuse group: a line weakly similar to everything lies closer to the origin-ward
    mean of such a group than to any sharp topic, so one catch-all topic grew.
    """
    centroids = np.unique(centroids, axis=0)  # repeated lines can give equal starting points
    k = centroids.shape[0]
    if k == 1:
        return np.zeros(X.shape[0], dtype=np.int64), normalize(X.mean(axis=0, keepdims=True))
    C = normalize(np.asarray(centroids, dtype=np.float64))
    labels = np.full(X.shape[0], -1, dtype=np.int64)
    # Stop when at most one line in 10,000 still moves (the tail of Lloyd's iterations
    # shuffles a handful of borderline lines for dozens of rounds).
    settled = X.shape[0] // 10_000
    for _ in range(max_iter):
        new = np.argmax(X @ C.T, axis=1).astype(np.int64)
        moved = int((new != labels).sum())
        labels = new
        if moved <= settled:
            break
        H = sp.csr_matrix((np.ones(labels.size), (labels, np.arange(labels.size))), shape=(k, labels.size))
        sums = np.asarray(H @ X)
        filled = np.linalg.norm(sums, axis=1) > 0
        C[filled] = normalize(sums[filled])  # an emptied topic keeps its last centroid
    labels = np.argmax(X @ C.T, axis=1).astype(np.int64)  # exactly what predict returns
    return labels, C


def similarity_floors(similarity: np.ndarray, labels: np.ndarray, k: int, min_similarity: float) -> np.ndarray:
    """Per-topic similarity below which a line fits no topic.

    A line is an outlier of its topic when it is both below the robust lower fence of the
    topic's similarity distribution (median minus three scaled MADs) and less than half as
    similar as the median member; the floor is never below ``min_similarity``. The second
    condition keeps tight topics (MAD near zero) from rejecting mild variants.
    """
    floors = np.full(k, min_similarity, dtype=np.float64)
    for c in range(k):
        s = similarity[labels == c]
        if s.size < 20:  # too few lines to estimate a spread
            continue
        med = float(np.median(s))
        mad = 1.4826 * float(np.median(np.abs(s - med)))
        floors[c] = max(min_similarity, min(med - 3.0 * mad, 0.5 * med))
    return floors
