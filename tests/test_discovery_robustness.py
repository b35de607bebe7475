"""Tests of what lets a small store keep its topics: the resampling judgement of
``discovery.find_cores`` (which dense cores count as found again when a seventh of the lines
is left out; HDBSCAN is replaced by scripted clusterings, ``discovery._cores``, so each case
is exactly the situation it names) and the remainder test's verdict on a word that is most
of what its lines say (``boilerplate.remainder_generic``, with scripted latent rows)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.model import discovery

N = 70
KEYS = np.arange(N, dtype=np.uint64)  # line i is left out of refit f when i % 7 == f
A = np.arange(0, 14)  # a core of the full fit
B = np.arange(14, 24)  # a smaller core beside it
NOISE = np.arange(24, N)  # lines the full fit leaves in no core


def rows_matrix() -> np.ndarray:
    """Unit rows whose first coordinate tells the scripted clustering which line it is."""
    Z = np.zeros((N, 2))
    Z[:, 0] = np.arange(N)
    Z[:, 1] = 1.0
    return Z


def script(full: list[np.ndarray], refits: dict[int, list[np.ndarray]]):
    """A stand-in for ``discovery._cores``: ``full`` on all lines; on a refit (fewer lines),
    the cores listed for that refit's left-out fold, restricted to the lines it holds."""

    def cores(Z: np.ndarray, min_topic_size: int) -> list[np.ndarray]:
        lines = Z[:, 0].astype(int)
        if lines.size == N:
            return [np.asarray(c) for c in full]
        fold = int(np.setdiff1d(np.arange(N), lines)[0]) % 7
        position = {line: p for p, line in enumerate(lines)}
        return [np.array([position[i] for i in c if i in position]) for c in refits.get(fold, [])]

    return cores


def kept_sizes(monkeypatch: pytest.MonkeyPatch, full, refits) -> set[int]:
    monkeypatch.setattr(discovery, "_cores", script(full, refits))
    return {int(rows.size) for rows, _ in discovery.find_cores(rows_matrix(), 5, KEYS)}


def test_a_core_found_again_inside_a_wider_refit_core_is_kept(monkeypatch):
    # The refit finds the same region cut wider: A plus 20 lines the full fit left in no
    # core (more than A's own lines). Nothing of another core is in it.
    wider = np.concatenate([A, NOISE[:20]])
    assert kept_sizes(monkeypatch, [A, B], {0: [wider, B]}) == {A.size, B.size}


def test_a_core_merged_into_a_larger_one_is_not_kept(monkeypatch):
    # The refit joins B to A: B is part of something larger (A's lines are most of it).
    merged = np.concatenate([A, B])
    assert kept_sizes(monkeypatch, [A, B], {0: [merged]}) == {A.size}


def test_a_core_whose_lines_fell_to_noise_gets_a_second_look(monkeypatch):
    # B's lines fall out of every core in the first refit and are found in the second.
    assert kept_sizes(monkeypatch, [A, B], {0: [A], 1: [A, B]}) == {A.size, B.size}
    # Found in neither: not kept.
    assert kept_sizes(monkeypatch, [A, B], {0: [A], 1: [A]}) == {A.size}


def test_a_core_absorbed_by_another_gets_no_second_look(monkeypatch):
    # In the first refit B's lines went into A's core (not to noise): no second refit
    # can bring B back.
    merged = np.concatenate([A, B])
    assert kept_sizes(monkeypatch, [A, B], {0: [merged], 1: [A, B]}) == {A.size}


# ------------------------------------------------------------------ the remainder test


def remainder_verdict(rest_share: float) -> bool:
    """Whether ``remainder_generic`` finds 基金 (common in general Chinese) generic in 30
    lines, 8 of which use it, when each of those lines keeps ``rest_share`` of its latent
    vector without the word and the rests point in unrelated directions."""
    from recommender.model.boilerplate import remainder_generic

    rng = np.random.default_rng(0)
    n, dims = 30, 40
    texts = [f"基金第{i}条" if i < 8 else f"其他第{i}条" for i in range(n)]
    tokens = [["基金", f"词{i}"] if i < 8 else ["其他", f"词{i}"] for i in range(n)]
    full = rng.normal(size=(n, dims))
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    rests = {}
    for i in range(8):
        direction = rng.normal(size=dims)
        rests[texts[i].replace("基金", " ")] = rest_share * direction / np.linalg.norm(direction)

    def latent(ts, tk):
        return np.vstack([rests.get(t, np.zeros(dims)) for t in ts])

    return "基金" in remainder_generic(texts, tokens, full, latent)


def test_a_word_that_is_most_of_its_lines_is_their_subject_not_glue():
    # Rests unrelated to each other, but small: the word is what the lines are about.
    assert not remainder_verdict(0.5)
    # The same unrelated rests, substantial: the word was glue.
    assert remainder_verdict(0.95)
