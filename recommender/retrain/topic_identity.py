"""Stable topic identity across model versions.

A retrain produces topics in an arbitrary order. :func:`match_topics` pairs each new topic
with at most one previous topic (an optimal one-to-one assignment on a similarity matrix),
so the new topic keeps the previous ``topic_id`` – and with it the organizer's label edit,
the trend history and "recently covered". Unpaired new topics get a fresh id from
``next_id`` (the store's topic counter). Splits, merges and retirements are reported as
events for the store's ``topic_events`` table.

Similarity of previous topic *i* and new topic *j*::

    S[i, j] = overlap_weight * member_jaccard[i, j] + (1 - overlap_weight) * centroid_cosine[i, j]

*Members* are feedback ids. They are compared only on the **shared** feedback – ids that are
assigned to some topic in the previous version and present in the new training data –
because a monthly retrain adds new feedback (which no previous topic could contain) and may
drop old feedback out of the data window; counting those would make every growing topic
look like a different one.

Jaccard rather than the overlap coefficient: the overlap coefficient ``|A∩B| / min(|A|,|B|)``
is 1.0 whenever one set contains the other, so after a split *both* halves look identical
to the parent and a small splinter could take the parent's id (and its organizer label).
Jaccard penalises the size difference, so the id goes to the bigger continuation. The
"where did the members go" question (splits, merges) is answered separately with shares:
``share[i, j]`` = the part of previous topic *i*'s shared members that landed in new topic *j*.

*Centroids* are only comparable when both live in the same latent space. A refit model has
its own space – even with the same dimension (a new SVD basis) – so the best input is
``prev_centroids_in_new_space``: the previous topics' members embedded with the *new*
model and averaged. Otherwise ``prev.centroids`` are used when their dimension matches
(trusting the caller that the space is the same, e.g. a fixed encoder), and ignored when it
does not. With only one of the two signals available, ``S`` is that signal alone.

Events (each a dict with ``kind``, ``topic_id`` and ``other_topic_ids``):

- ``kept``: new topic ``topic_id`` continues the previous topic of the same id.
- ``new``: a fresh id; ``split_from`` names the previous topic it split off, if any.
- ``split``: previous topic ``topic_id`` sent at least ``min_share`` of its members to each of
  two or more new topics; ``other_topic_ids`` are those that do not carry its id
  (``parent_kept`` says whether one of them does).
- ``merge``: previous topics ``other_topic_ids`` ended (no pair of their own) and at least
  ``min_share`` of their members – all of it that went anywhere substantial – went into
  ``topic_id``; trends may follow them there.
- ``retired``: previous topic ``topic_id`` ended and no substantial share went anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["IdentityResult", "PreviousTopics", "match_topic_overlaps", "match_topics"]


@dataclass(frozen=True)
class PreviousTopics:
    """The previous model version's topics.

    ``topic_ids[i]`` is the stable id of previous topic *i*, ``members[i]`` the feedback ids
    assigned to it, ``centroids`` (optional) its centroid rows in the previous model's space.
    """

    topic_ids: Sequence[str]
    members: Sequence[Set[str]]
    centroids: np.ndarray | None = None


@dataclass(frozen=True, eq=False)  # holds arrays: == would be ambiguous
class IdentityResult:
    """Outcome of :func:`match_topics`.

    ``topic_ids[j]`` is the stable id of new topic *j*; ``matched_prev[j]`` the index of the
    previous topic it continues (or ``None``). Matrices are (n_previous, n_new):
    ``similarity`` drove the assignment, ``member_similarity`` is the Jaccard on shared
    feedback, ``centroid_similarity`` the cosine (clipped at 0; ``None`` when not used),
    ``shares`` the member flow. ``centroid_source`` is "reprojected", "previous" or "none".
    """

    topic_ids: list[str]
    events: list[dict[str, Any]]
    matched_prev: list[int | None]
    similarity: np.ndarray
    member_similarity: np.ndarray
    centroid_similarity: np.ndarray | None
    shares: np.ndarray
    centroid_source: str
    n_shared_members: int = field(default=0)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=float), where=norms > 0)


def _as_matrix(name: str, value: Any, rows: int, dim: int | None = None) -> np.ndarray:
    matrix = np.asarray(value, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise ValueError(f"{name} has shape {matrix.shape}; expected ({rows}, d)")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"{name} has dimension {matrix.shape[1]}; expected {dim} (the new centroids' dimension)")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return matrix


def _fresh_ids(n: int, next_id: Callable[[], str], taken: set[str]) -> list[str]:
    ids = []
    for _ in range(n):
        topic_id = next_id()
        if not isinstance(topic_id, str) or not topic_id or topic_id in taken:
            raise ValueError(f"next_id() returned {topic_id!r}, which is empty or already in use")
        taken.add(topic_id)
        ids.append(topic_id)
    return ids


def match_topics(
    prev: PreviousTopics | None,
    new_members: Sequence[Set[str]],
    new_centroids: np.ndarray | None,
    *,
    next_id: Callable[[], str],
    min_similarity: float = 0.3,
    overlap_weight: float = 0.6,
    min_share: float = 0.3,
    prev_centroids_in_new_space: np.ndarray | None = None,
    universe: Set[str] | None = None,
    continues: Sequence[str | None] | None = None,
) -> IdentityResult:
    """Give each new topic a stable id, matching it to the previous version's topics.

    ``new_members[j]`` are the feedback ids of new topic *j*, ``new_centroids`` its centroid
    rows (or ``None``). ``universe``, when given, is every feedback id in the new training
    data (also those that fit no topic), so that previous members that became noise count
    against a share; by default it is the union of ``new_members``. ``next_id`` is called
    once per unmatched new topic, in topic order. ``continues[j]``, when given, is the
    previous topic id the model itself carried into new topic *j* (its prior; None: a new
    one): such a pair is kept whatever the similarity, so a retrain with nothing new keeps
    every id. Pure and deterministic.
    """
    if not 0 <= overlap_weight <= 1:
        raise ValueError(f"overlap_weight={overlap_weight} should be between 0 and 1")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share={min_share} should be in (0, 1]")
    n_new = len(new_members)
    new_sets = [frozenset(members) for members in new_members]
    if prev is None or len(prev.topic_ids) == 0:
        inter = np.zeros((0, n_new))
        prev_sizes = np.zeros(0)
        new_sizes = np.zeros(n_new)
    else:
        if len(prev.members) != len(prev.topic_ids):
            raise ValueError(f"prev has {len(prev.topic_ids)} topic_ids but {len(prev.members)} member sets")
        prev_sets = [frozenset(members) for members in prev.members]
        # Members are compared on the shared feedback only (see the module docstring).
        new_pool = frozenset().union(*new_sets) | (frozenset(universe) if universe is not None else frozenset())
        shared = frozenset().union(*prev_sets) & new_pool
        prev_shared = [members & shared for members in prev_sets]
        new_shared = [members & shared for members in new_sets]
        inter = np.array([[len(p & n) for n in new_shared] for p in prev_shared], dtype=float).reshape(
            len(prev_sets), n_new
        )
        prev_sizes = np.array([len(p) for p in prev_shared], dtype=float)
        new_sizes = np.array([len(n) for n in new_shared], dtype=float)
    return match_topic_overlaps(
        prev,
        inter,
        prev_sizes,
        new_sizes,
        new_centroids,
        next_id=next_id,
        min_similarity=min_similarity,
        overlap_weight=overlap_weight,
        min_share=min_share,
        prev_centroids_in_new_space=prev_centroids_in_new_space,
        continues=continues,
    )


def match_topic_overlaps(
    prev: PreviousTopics | None,
    inter: np.ndarray,
    prev_sizes: np.ndarray,
    new_sizes: np.ndarray,
    new_centroids: np.ndarray | None,
    *,
    next_id: Callable[[], str],
    min_similarity: float = 0.3,
    overlap_weight: float = 0.6,
    min_share: float = 0.3,
    prev_centroids_in_new_space: np.ndarray | None = None,
    continues: Sequence[str | None] | None = None,
) -> IdentityResult:
    """:func:`match_topics` from member *counts* instead of member sets, for callers that
    add them up across partitions: ``inter[i, j]`` shared lines of previous topic *i* now in
    new topic *j*, ``prev_sizes[i]`` shared lines of previous topic *i* (also those now in
    no topic), ``new_sizes[j]`` shared lines of new topic *j*. ``prev.members`` is unused."""
    if not 0 <= overlap_weight <= 1:
        raise ValueError(f"overlap_weight={overlap_weight} should be between 0 and 1")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share={min_share} should be in (0, 1]")
    n_new = int(np.asarray(new_sizes).size)
    new_matrix = None if new_centroids is None else _as_matrix("new_centroids", new_centroids, n_new)

    n_prev = 0 if prev is None else len(prev.topic_ids)
    if prev is None or n_prev == 0:
        ids = _fresh_ids(n_new, next_id, set())
        empty = np.zeros((0, n_new))
        events = [
            {"kind": "new", "topic_id": ids[j], "other_topic_ids": [], "new_index": j, "split_from": None}
            for j in range(n_new)
        ]
        return IdentityResult(ids, events, [None] * n_new, empty, empty, None, empty, "none")

    prev_ids = list(prev.topic_ids)
    if len(set(prev_ids)) != n_prev:
        raise ValueError("prev.topic_ids contains duplicates")
    inter = np.asarray(inter, dtype=float).reshape(n_prev, n_new)
    prev_sizes = np.asarray(prev_sizes, dtype=float)
    new_sizes = np.asarray(new_sizes, dtype=float)
    shared = prev_sizes.sum() > 0
    union = prev_sizes[:, None] + new_sizes[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    shares = np.divide(inter, prev_sizes[:, None], out=np.zeros_like(inter), where=prev_sizes[:, None] > 0)

    # --- centroid similarity ----------------------------------------------------------------
    cosine: np.ndarray | None = None
    source = "none"
    if new_matrix is not None:
        dim = new_matrix.shape[1]
        prev_matrix = None
        if prev_centroids_in_new_space is not None:
            prev_matrix = _as_matrix("prev_centroids_in_new_space", prev_centroids_in_new_space, n_prev, dim)
            source = "reprojected"
        elif prev.centroids is not None:
            candidate = _as_matrix("prev.centroids", prev.centroids, n_prev)
            if candidate.shape[1] == dim:
                prev_matrix, source = candidate, "previous"
        if prev_matrix is not None:
            cosine = np.clip(_unit_rows(prev_matrix) @ _unit_rows(new_matrix).T, 0.0, 1.0)

    if cosine is None:
        similarity = jaccard
    elif not shared:
        similarity = cosine
    else:
        similarity = overlap_weight * jaccard + (1 - overlap_weight) * cosine

    # --- optimal one-to-one assignment ------------------------------------------------------
    # Pairs below the threshold count as 0, so they cannot pull the optimum toward them.
    eligible = np.where(similarity >= min_similarity, similarity, 0.0)
    matched_prev: list[int | None] = [None] * n_new
    prev_match: list[int | None] = [None] * n_prev
    # Pairs the model carried over come first; the rest are matched among themselves.
    row_of = {tid: i for i, tid in enumerate(prev_ids)}
    for j, tid in enumerate(continues or ()):
        i = row_of.get(tid) if tid is not None else None
        if i is not None and prev_match[i] is None and j < n_new:
            matched_prev[j], prev_match[i] = i, j
    eligible[[i for i in range(n_prev) if prev_match[i] is not None], :] = 0.0
    eligible[:, [j for j in range(n_new) if matched_prev[j] is not None]] = 0.0
    for i, j in zip(*linear_sum_assignment(eligible, maximize=True), strict=True):
        if eligible[i, j] > 0:
            matched_prev[j], prev_match[i] = int(i), int(j)

    unmatched_new = [j for j in range(n_new) if matched_prev[j] is None]
    fresh = iter(_fresh_ids(len(unmatched_new), next_id, set(prev_ids)))
    ids = [prev_ids[i] if i is not None else next(fresh) for i in matched_prev]

    # --- where did each previous topic's members go? ---------------------------------------
    def targets(i: int) -> list[int]:
        order = sorted(range(n_new), key=lambda j: (-shares[i, j], j))
        return [j for j in order if shares[i, j] >= min_share]

    split_events: list[dict[str, Any]] = []
    retired_events: list[dict[str, Any]] = []
    absorbed: dict[int, list[int]] = {}  # new index -> previous topics that ended in it
    split_parent: dict[int, tuple[float, int]] = {}  # new index -> (share, parent) for split_from
    for i in range(n_prev):
        flow = targets(i)
        kept_in = prev_match[i]
        if kept_in is None and len(flow) == 1:
            absorbed.setdefault(flow[0], []).append(i)
            continue
        if kept_in is None and not flow:
            retired_events.append({"kind": "retired", "topic_id": prev_ids[i], "other_topic_ids": []})
            continue
        children = [j for j in flow if j != kept_in]
        if not children:
            continue
        # A split: substantial shares went to topics that do not carry this id (if the id
        # survives, its continuation is listed in shares even when its own share is small).
        carried = [] if kept_in is None else [kept_in]
        split_events.append(
            {
                "kind": "split",
                "topic_id": prev_ids[i],
                "other_topic_ids": [ids[j] for j in children],
                "parent_kept": kept_in is not None,
                "shares": {ids[j]: round(float(shares[i, j]), 4) for j in (*carried, *children)},
            }
        )
        for j in children:
            if j not in split_parent or shares[i, j] > split_parent[j][0]:
                split_parent[j] = (float(shares[i, j]), i)

    topic_events: list[dict[str, Any]] = []
    for j in range(n_new):
        i = matched_prev[j]
        if i is not None:
            topic_events.append(
                {
                    "kind": "kept",
                    "topic_id": ids[j],
                    "other_topic_ids": [],
                    "new_index": j,
                    "similarity": round(float(similarity[i, j]), 4),
                }
            )
        else:
            parent = split_parent.get(j)
            topic_events.append(
                {
                    "kind": "new",
                    "topic_id": ids[j],
                    "other_topic_ids": [],
                    "new_index": j,
                    "split_from": None if parent is None else prev_ids[parent[1]],
                }
            )
    merge_events = [
        {
            "kind": "merge",
            "topic_id": ids[j],
            "other_topic_ids": [prev_ids[i] for i in absorbed[j]],
            "new_index": j,
            "shares": {prev_ids[i]: round(float(shares[i, j]), 4) for i in absorbed[j]},
        }
        for j in sorted(absorbed)
    ]
    return IdentityResult(
        topic_ids=ids,
        events=topic_events + merge_events + split_events + retired_events,
        matched_prev=matched_prev,
        similarity=similarity,
        member_similarity=jaccard,
        centroid_similarity=cosine,
        shares=shares,
        centroid_source=source,
        n_shared_members=int(prev_sizes.sum()),
    )
