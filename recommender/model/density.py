"""Topic cores: dense groups of lines found by HDBSCAN on a nearest-neighbour graph.

Why density and not a partition (see bench/RESULTS.md, "Organizer view"):

* A partition (k-means, a Ward cut) puts every line in some topic. On real feedback most
  lines share a subject with few others, so the partition's large groups were catch-alls
  held together by generic words ("问题", "反映", "组图"), and they were the first
  suggestions an organizer saw.
* HDBSCAN keeps only regions that are denser than their surroundings and leaves the rest
  as noise; its *leaf* clusters are the finest such regions of at least
  ``min_topic_size`` lines: one request family each ("灭火器使用", "公积金贷款"), which is
  the granularity of one evening class. The number of topics follows from the data.
* Leaves are local: a region's leaf does not change when lines are added elsewhere, so
  small additions to the store move few topics (the stability the retrain needs).

The graph holds each line's ``N_NEIGHBORS`` most similar lines (cosine, computed in
blocks); HDBSCAN gets the sparse distance matrix (``1 - cosine``) of that graph, so memory
and time grow with ``n * N_NEIGHBORS``, not ``n²``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import HDBSCAN

from recommender.model.clustering import knn_graph

# Neighbours per line in the graph (fewer on tiny corpora, see ``neighbours_for``).
N_NEIGHBORS = 15
# HDBSCAN's ``min_samples``: a line is in a dense region when its 3rd neighbour is close
# (the sparse graph holds no line's distance to itself, so these are other lines; a topic
# of ``min_topic_size`` lines gives each member ``min_topic_size - 1`` close neighbours,
# hence at most that). Larger values make single lines of a small request family noise.
MIN_SAMPLES = 3
# Distance given to the links that join the graph's separate components (cosine
# distance is at most 2, so these links are never inside a cluster).
FAR = 2.0
# HDBSCAN cluster selection: "leaf" (the finest dense regions) or "eom".
SELECTION = "leaf"


def neighbours_for(n: int) -> int:
    """Graph degree for ``n`` lines: ``N_NEIGHBORS``, fewer on a few dozen lines."""
    return int(min(N_NEIGHBORS, max(5, round(np.sqrt(n))), n - 1))


def distance_graph(X: np.ndarray) -> sp.csr_matrix:
    """Symmetric sparse cosine-distance graph of the unit rows of ``X``, in one component."""
    n = X.shape[0]
    A = knn_graph(X, neighbours_for(n))
    D = A.copy()
    D.data = np.clip(1.0 - D.data, 1e-6, FAR)
    n_comp, comp = connected_components(D, directed=False)
    if n_comp > 1:  # HDBSCAN's spanning tree needs one component
        first = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
        link = sp.csr_matrix((np.full(n_comp - 1, FAR), (first[:-1], first[1:])), shape=(n, n))
        D = (D + link + link.T).tocsr()
    return D.tocsr()


def topic_cores(X: np.ndarray, min_topic_size: int) -> np.ndarray:
    """Core label of each unit row of ``X`` (-1: in no dense region).

    Deterministic for a given ``X`` (HDBSCAN has no random step).
    """
    n = X.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    if n <= min_topic_size:
        return labels
    D = distance_graph(X)
    hdb = HDBSCAN(
        min_cluster_size=int(min_topic_size),
        min_samples=int(max(1, min(MIN_SAMPLES, min_topic_size - 1))),
        metric="precomputed",
        cluster_selection_method=SELECTION,
        copy=True,
    )
    return hdb.fit_predict(D).astype(np.int64)
