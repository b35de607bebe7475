"""Open-set assignment: a line joins a topic only on evidence, otherwise it fits no topic (-1).

Being nearest to a topic's centroid is not evidence: a request about tai chi is nearest to
*some* topic of a store that has none about it. A line joins a topic only when

* it has one of the topic's distinctive words (then it joins the most similar of the
  topics whose words it has, unless it is unrelated: cosine below ``min_similarity``), and
  either most of its words, counted by how specific they are, are ones the store has seen
  (``KNOWN_SHARE``) or it is close to the topic (as close to the centroid as the topic's
  weakest members, or to one of its members as the members are to each other):
  「想学短视频剪辑」 shares 视频 with a topic about video calls, but it is far from that topic
  and its other words are new to the store, so the word is incidental; or
* it is above the floor of its most similar topic (the similarity of that topic's weakest
  members) and as close to one of the topic's members as the members are to each other
  (``neighbour_floor``), and most of its words are established in the store
  (``KNOWN_SHARE``): "能不能教做短视频" in a store without 短视频 is about something new, however close its
  characters (视频) bring it to "微信视频通话"; a line with one rare word beside words the
  store uses all the time is not; or
* its nearest training lines by meaning and by wording are both in the topic, it is as
  close to them as training lines typically are to theirs, and most of its words (by IDF)
  are ones the store has seen (``nearest_lines.py``): a new line of the topic's subject
  outside its dense core. A line whose nearest training line is in no topic is familiar
  text that fits no topic, and stays out; or
* the training lines around it that are in a topic are all in the same one, in both spaces,
  and it is as close to them as that topic's members are to each other (the
  neighbourhood rule of ``nearest_lines.py``, by which the training lines themselves
  spread their topics first).

Its score tells how familiar the line is: the mean of its similarity to the nearest training
line in the latent space, of its similarity to the nearest training line in the TF-IDF
(word and character n-gram) space, and of the share of its words the model knows, each word
counted by how specific it is in general Chinese (its IDF: 太极拳 more than 一下), an unknown
common noun half as much again (a new thing is what a line is about). All three
are lower for a request about something the store has never seen, whether or not a
distinctive word let it join a topic (a generic word of a topic, 「我要」 or 「计划」, is in many
unrelated requests). The latent space blurs what a line shares with its neighbours into the
store's main directions; the TF-IDF rows keep the exact characters and words, so a request
that merely resembles the store's topics is told from one that repeats its wording.

The same rule assigns every line at the end of ``fit`` and every new line in ``predict``,
so a line gets the same topic either way. ``open_set=False`` (the fixed-``n_topics``
partition) keeps only the centroid floor.

In a retrain (``prior``, see :func:`index_prior`) a line that belonged to a topic keeps it
while the topic continues, and a line that was in no topic joins one only by a distinctive
word: a retrain does not move lines between two topics they fit almost equally well, nor
pull old lines in and out at the margin of a topic whose description moved a little. New
lines, and lines of topics that ended, are assigned like any other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.model.nearest_lines import calibrate, join_by_agreement, join_by_nearest, nearest_dense, nearest_sparse
from recommender.text.lexicon import general_idf, is_common_noun

# Member vectors kept per topic for the neighbour test (more members: a hash-chosen sample).
EXEMPLARS = 48
# Percentiles of the members' own statistics used as floors: a line is close to a topic when
# it is as close to the centroid as all but the weakest tenth of its members and to one of
# its members as the least connected tenth of members are to theirs. The neighbour floor was
# the 25th percentile: at the 10th, held-back lines of seen classes in no topic fall 0.66 ->
# 0.65 (SMP2017) and 0.58 -> 0.57 (tipdm 495), unseen-class lines 0.89 -> 0.88 and 0.93 ->
# 0.93 (bench/organizer.py open set, in process), and the top-5 suggestions of every purity
# set are the same. Lower neighbour floors (0, 5) add as many unseen lines as seen ones on
# SMP2017; a centroid floor at the 0th-5th percentile lets one outlying member set it (a
# 打电话 topic then took 「查询北京到上海的路线」; purity 0.886 -> 0.885).
CENTROID_FLOOR_PERCENTILE = 10
NEIGHBOUR_FLOOR_PERCENTILE = 10
# Lines scored per block (memory: block x topics similarities).
BLOCK = 4096
# Training lines (a text-hashed sample) kept to tell how familiar a new line is: their
# latent rows and their unit TF-IDF rows (on 150,000 lines of which a third are 100-200
# characters long: 92 non-zero features a line, 2 MB pickled before joblib's compression;
# comparing every line with them adds 4.7 s to the 47.7 s fit, and 0.3 ms to predict one
# text, 2.6 -> 2.9 ms).
REFERENCE_LINES = 2000
# A line joins a topic by closeness only when words established in the store (in two
# training lines or more: the vocabulary) make up at least this share of its words of two
# characters or more. Its score counts every word of the reference lines as known too: on a
# small store a word of a single line is still one the store has seen. A distinctive word
# joins a line far from its topic only when at least this share of its words are ones the
# store has seen. With that rule (in process, against one distinctive word being enough) the
# gap of -1 shares between unseen- and seen-class lines goes 0.216 -> 0.230 (SMP2017),
# 0.100 -> 0.104 (THUCNews), 0.350 -> 0.350 (tipdm 495); with the neighbour floor above,
# 0.239 / 0.104 / 0.367. For a distinctive word the share counts each word by its general
# IDF, as the score does: in 「来一首青花瓷」 the unknown song 青花瓷 is what the line is about,
# not the known frame 一首 of a topic about poems (in process, same sets: 0.265 / 0.128 /
# 0.383 with the plain share, 0.283 / 0.130 / 0.383 weighted; training lines unchanged).
KNOWN_SHARE = 0.5
# In the score, each word counts by its IDF in general Chinese (jieba's table): an unknown
# 太极拳 (9.9) says more about what a line is about than an unknown 一下 or 咨询 does. A word
# the table does not list counts as its median word (11.95): rare, but no rarer than the
# typical listed word. AUROC of the score (seen vs unseen classes, in process; SMP2017 /
# THUCNews / tipdm 495) with the plain share 0.758 / 0.737 / 0.835, with the IDF-weighted
# one 0.754 / 0.743 / 0.855 (SMP2017's unknown words are song and place names of seen
# classes as often as of unseen ones).
UNLISTED_IDF = 12.0
# In the score only, an unknown word that jieba's dictionary calls a common noun (tags n, ng:
# 太极拳, 灭火器, 螺纹钢; ``lexicon.is_common_noun``) counts this many times its IDF: a new
# thing is what a line is about, more than a new verb or adjective (首映, 稀少) or a name
# (梅西, 汪雨亲, whose kind says nothing of the subject). AUROC of the score over the
# organizer's open-set splits, seeds 0 / 1 / 2 / 3 (kept stores, bench/openset_parts.py), from
# weight 1 to 1.5: SMP2017 0.790 / 0.786 / 0.742 / 0.725 -> 0.790 / 0.789 / 0.742 / 0.728,
# THUCNews 0.745 / 0.795 / 0.731 / 0.761 -> 0.749 / 0.795 / 0.735 / 0.761, tipdm 495
# 0.848 / 0.830 / 0.802 / 0.733 -> 0.848 / 0.834 / 0.806 / 0.730. Weight 2 raised THUCNews
# and SMP2017 more but cost tipdm 495 at two seeds; weighting unknown names down instead
# helped when name-heavy classes were seen and hurt as much when one was held back
# (bench/RESULTS.md, s26-a). The tests of acceptance (``KNOWN_SHARE``) keep weight 1.
SUBJECT_NOUN_WEIGHT = 1.5
# With the similarity to the nearest reference line in TF-IDF space as a third part of the
# score (in process, same sets, AUROC SMP2017 / THUCNews / tipdm 495): latent + known share
# 0.767 / 0.743 / 0.855; TF-IDF + known 0.801 / 0.737 / 0.848; the mean of all three 0.807 /
# 0.746 / 0.848 (through the CLI, bench/organizer.py: 0.750 / 0.743 / 0.855 -> 0.789 / 0.746
# / 0.848). Equal thirds: no other weighting (0 to 1.5 each) raised the lowest of the three,
# and weighing the store's own word counts (half for a word of one line) traded tipdm for
# THUCNews (0.815 / 0.753 / 0.834). The TF-IDF rows before the learned feature weights separate better than
# weighted ones (0.815 against 0.802 alone on SMP2017): the weights favour what tells the
# store's topics apart, not what tells the store from the rest of the language.
# A line's prior in index space (``index_prior``): a topic index, or one of these.
STAYED_OUT = -1  # in no topic before: joins one only by a distinctive word
FREE = -2  # new, or its topic ended: assigned like any line


def index_prior(prior: np.ndarray, continued: Mapping[int, int]) -> np.ndarray:
    """Each line's prior for :meth:`TopicIndex.assign` from its previous topic number
    (``prior_labels``: -1 in no topic, ``NEW_LINE`` -2 new) and ``continued`` (previous
    number -> index topic of the topic that continues it)."""
    return np.fromiter(
        (continued.get(int(p), STAYED_OUT if p == -1 else FREE) for p in prior), dtype=np.int64, count=len(prior)
    )


@dataclass
class LineWords:
    """The tokens of some lines as codes of their distinct words: what assignment looks up
    once per distinct word rather than once per token."""

    words: list[str]  # the distinct words
    codes: np.ndarray  # (tokens,) the distinct word of each token, line after line
    lines: np.ndarray  # (tokens,) the line of each token
    n_lines: int

    @classmethod
    def of(cls, words: Sequence[Sequence[str]]) -> LineWords:
        position: defaultdict[str, int] = defaultdict()
        position.default_factory = position.__len__  # a new word gets the next number
        codes = np.fromiter(map(position.__getitem__, chain.from_iterable(words)), dtype=np.int64)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        return cls(list(position), codes, np.repeat(np.arange(len(words)), lengths), len(words))


@dataclass
class TopicIndex:
    """What assignment needs to know of each of ``k`` topics."""

    centroids: np.ndarray  # (k, d) unit rows
    floors: np.ndarray  # (k,) centroid similarity floor
    exemplars: np.ndarray  # (m, d) unit member vectors, grouped by topic
    exemplar_offsets: np.ndarray  # (k + 1,): topic t's exemplars are rows offsets[t]:offsets[t + 1]
    neighbour_floors: np.ndarray  # (k,)
    terms: list[frozenset[str]]  # distinctive words of each topic
    reference: np.ndarray | None = None  # (r, d) unit vectors of a sample of training lines
    # (features, r) CSR: the same lines' unit TF-IDF rows (before the learned weights),
    # transposed so that a line's row times it costs only the line's own features.
    reference_features: sp.csr_matrix | None = None
    known_words: Mapping[str, int] | None = None  # words of the training vocabulary
    reference_words: frozenset[str] = frozenset()  # other words of the reference lines
    # Topic of each reference line and the (latent, TF-IDF) similarity floors with which a
    # line in no topic joins the topic of its nearest reference lines (nearest_lines.py;
    # None in models saved before: they do without).
    reference_labels: np.ndarray | None = None
    reference_floors: np.ndarray | None = None
    # (2, k) closeness floors of each topic for a line whose nearest reference lines agree
    # on it (nearest_lines.spread; None in models saved before).
    agreement_floors: np.ndarray | None = None
    min_similarity: float = 0.1
    open_set: bool = True
    _term_topics: dict | None = field(default=None, repr=False, compare=False)

    @property
    def n_topics(self) -> int:
        return int(self.centroids.shape[0])

    def subset(self, order: Sequence[int]) -> TopicIndex:
        """The index of the topics ``order`` (in that order)."""
        order = [int(t) for t in order]
        parts = [self.exemplars[self.exemplar_offsets[t] : self.exemplar_offsets[t + 1]] for t in order]
        counts = [p.shape[0] for p in parts]
        d = self.centroids.shape[1]
        reference_labels = self.reference_labels
        if reference_labels is not None:  # renumbered as the topics are; a dropped topic's lines: -1
            remap = np.full(self.n_topics + 1, -1, dtype=np.int64)
            remap[order] = np.arange(len(order))
            reference_labels = remap[reference_labels]  # -1 reads the last entry: -1
        agreement_floors = self.agreement_floors
        if agreement_floors is not None:
            agreement_floors = agreement_floors[:, order] if order else np.zeros((2, 0))
        return TopicIndex(
            centroids=self.centroids[order] if order else np.zeros((0, d)),
            floors=self.floors[order] if order else np.zeros(0),
            exemplars=np.vstack(parts) if parts else np.zeros((0, d), np.float32),
            exemplar_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            neighbour_floors=self.neighbour_floors[order] if order else np.zeros(0),
            terms=[self.terms[t] for t in order],
            reference=self.reference,
            reference_features=self.reference_features,
            known_words=self.known_words,
            reference_words=self.reference_words,
            reference_labels=reference_labels,
            reference_floors=self.reference_floors,
            agreement_floors=agreement_floors,
            min_similarity=self.min_similarity,
            open_set=self.open_set,
        )

    def assign(
        self,
        Z: np.ndarray,
        words: Sequence[Sequence[str]],
        prior: np.ndarray | None = None,
        X: sp.spmatrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Topic of each unit row of ``Z`` (-1: none) and its assignment score.

        ``words`` are each line's tokens; ``prior`` (optional, a retrain) each line's
        previous topic index in this index, ``STAYED_OUT`` or ``FREE`` (:func:`index_prior`);
        ``X`` the lines' TF-IDF rows (``Representation.features``, before the learned
        weights; needed by an index with ``reference_features``).
        The score, between about -0.5 and 1, is high for lines like those the model learned
        from: the mean of the similarity to the nearest training line (latent space), the
        same in TF-IDF space, and the share of known words (:meth:`known_share`, each word
        weighted by its general IDF, an unknown common noun more: ``subject_nouns``),
        whatever the line's prior; without ``open_set`` it is
        the cosine to the topic's centroid (a kept previous topic's when higher).
        """
        n = Z.shape[0]
        labels = np.full(n, -1, dtype=np.int64)
        scores = np.zeros(n)
        if self.n_topics == 0 or n == 0:
            return labels, scores
        C = self.centroids.astype(np.float32)
        coded = LineWords.of(words)
        established = self._known_share(coded, established_only=True)
        known = self._known_share(coded, weighted=True)
        familiar = self._known_share(coded, weighted=True, subject_nouns=True) if self.open_set else known
        term_lines, term_topics = self._term_pairs(coded)
        for start in range(0, n, BLOCK):
            block = np.asarray(Z[start : start + BLOCK], dtype=np.float32)
            sims = row_products(block, C)
            end = start + block.shape[0]
            pairs = slice(*np.searchsorted(term_lines, [start, end]))
            has_term = np.zeros(sims.shape, dtype=bool)
            has_term[term_lines[pairs] - start, term_topics[pairs]] = True
            lab, sc, by_term = self._decide(block, sims, has_term, established[start:end], known[start:end])
            if self.open_set and self.reference is not None and self.reference.shape[0]:
                latent_all = row_products(block, self.reference)
                latent = nearest_dense(latent_all)
                # In float32, as the latent similarity is (``row_products``: the same bits
                # whatever the block's shape, a partition of the Dask engine or one line).
                parts = [latent[0], familiar[start:end].astype(np.float32)]
                if self.reference_features is not None:
                    if X is None:
                        raise ValueError("this index scores lines by their TF-IDF rows: pass X")
                    wording_all = _unit_rows(X[start:end]) @ self.reference_features
                    wording = nearest_sparse(wording_all)
                    parts.append(wording[0])
                    if self.reference_labels is not None and self.reference_floors is not None:
                        allowed = known[start:end] >= KNOWN_SHARE
                        lab = join_by_nearest(lab, latent, wording, self.reference_labels, self.reference_floors, allowed)
                        if self.agreement_floors is not None:
                            lab = join_by_agreement(
                                lab, latent_all, wording_all, self.reference_labels, self.agreement_floors, allowed
                            )
                sc = sum(parts[1:], parts[0]) / np.float32(len(parts))
            if prior is not None:
                p = prior[start : start + BLOCK]
                keep = p >= 0
                p_sim = np.where(keep, sims[np.arange(block.shape[0]), np.maximum(p, 0)], -np.inf)
                lab = np.where(keep, p, lab)
                if self.open_set:  # the score is how familiar the line is, whatever its prior
                    lab = np.where((p == STAYED_OUT) & (by_term < 0), -1, lab)
                else:
                    sc = np.where(keep, np.maximum(sc, p_sim), sc)
            empty = ~np.any(block != 0, axis=1)  # no topic word: no topic
            labels[start : start + BLOCK] = np.where(empty, -1, lab)
            scores[start : start + BLOCK] = np.where(empty, 0.0, sc)
        return labels, scores

    def known_share(
        self, words: Sequence[Sequence[str]], established_only: bool = False, weighted: bool = False,
        subject_nouns: bool = False,
    ) -> np.ndarray:
        """For each line's tokens, the share of its words of two characters or more that the
        model knows (1 for a line without such words; all 1 without ``known_words``): words
        of the vocabulary (in two training lines or more) and, unless ``established_only``,
        the other words of the reference lines. ``weighted``: each word counts by its IDF in
        general Chinese (the share the tests of acceptance use), not 1; ``subject_nouns`` as
        well: an unknown common noun counts ``SUBJECT_NOUN_WEIGHT`` times its IDF (the share
        the score uses)."""
        return self._known_share(LineWords.of(words), established_only, weighted, subject_nouns)

    def _known_share(
        self, coded: LineWords, established_only: bool = False, weighted: bool = False, subject_nouns: bool = False
    ) -> np.ndarray:
        """:meth:`known_share` of lines whose tokens are ``coded``: each distinct word is
        looked up once, the shares are counted in numpy. ``weighted``: each word counts by
        its general IDF (``UNLISTED_IDF``), not 1; ``subject_nouns`` (with ``weighted``): an
        unknown common noun ``SUBJECT_NOUN_WEIGHT`` times that."""
        if self.known_words is None:
            return np.ones(coded.n_lines)
        known, extra = self.known_words, frozenset() if established_only else self.reference_words
        is_long = np.fromiter((len(w) >= 2 for w in coded.words), dtype=bool, count=len(coded.words))
        is_known = np.fromiter((w in known or w in extra for w in coded.words), dtype=bool, count=len(coded.words))
        long_tokens = is_long[coded.codes]
        if weighted:
            weight = np.fromiter(
                (general_idf(w) or UNLISTED_IDF for w in coded.words), dtype=np.float64, count=len(coded.words)
            )
            if subject_nouns:  # every long word is looked up, so the service's warm-up loads the table
                noun = np.fromiter(
                    (long and is_common_noun(w) for w, long in zip(coded.words, is_long)), dtype=bool,
                    count=len(coded.words),
                )
                weight = np.where(noun & ~is_known, weight * SUBJECT_NOUN_WEIGHT, weight)
            weight = weight[coded.codes]
            total = np.bincount(coded.lines[long_tokens], weights=weight[long_tokens], minlength=coded.n_lines)
            hit = long_tokens & is_known[coded.codes]
            found = np.bincount(coded.lines[hit], weights=weight[hit], minlength=coded.n_lines)
            return np.where(total > 0, found / np.where(total > 0, total, 1.0), 1.0)
        n_long = np.bincount(coded.lines[long_tokens], minlength=coded.n_lines)
        n_known = np.bincount(coded.lines[long_tokens & is_known[coded.codes]], minlength=coded.n_lines)
        # Integer counts divided in float64: the same value as the count / length of Python.
        return np.where(n_long > 0, n_known / np.maximum(n_long, 1), 1.0)

    def _term_pairs(self, coded: LineWords) -> tuple[np.ndarray, np.ndarray]:
        """(line, topic) of every line that has a distinctive word of a topic, in line
        order (a pair may repeat)."""
        lookup = self.term_topics
        topics_of = [lookup.get(w, ()) for w in coded.words]
        counts = np.fromiter((len(ts) for ts in topics_of), dtype=np.int64, count=len(topics_of))
        flat = np.fromiter((t for ts in topics_of for t in ts), dtype=np.int64, count=int(counts.sum()))
        starts = np.cumsum(counts) - counts
        per_token = counts[coded.codes]
        lines = np.repeat(coded.lines, per_token)
        # Position of each pair inside its token's topics: 0, 1, ... per token.
        within = np.arange(lines.size) - np.repeat(np.cumsum(per_token) - per_token, per_token)
        return lines, flat[np.repeat(starts[coded.codes], per_token) + within]

    def _decide(
        self, block: np.ndarray, sims: np.ndarray, has_term: np.ndarray, established: np.ndarray, known: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(topic or -1, score, topic joined by a distinctive word or -1) of each row;
        ``has_term``: (rows, topics) whether the row has a distinctive word of the topic;
        ``established``: each row's share of words in two training lines or more; ``known``:
        its share of words the model has seen at all, each counted by its general IDF
        (:meth:`known_share` ``weighted``)."""
        rows = np.arange(block.shape[0])
        best = np.argmax(sims, axis=1)
        best_sim = sims[rows, best]
        if not self.open_set:
            return (
                np.where(best_sim >= self.floors[best], best, -1),
                best_sim.astype(np.float64),
                np.full(block.shape[0], -1, dtype=np.int64),
            )
        # 1. A distinctive word of a topic: the most similar topic among those whose words
        #    the line has, when it is not unrelated (min_similarity).
        #    (argmax takes the first of equal similarities: the lowest topic number.)
        term_best = np.argmax(np.where(has_term, sims, -np.inf), axis=1)
        joins = has_term.any(axis=1) & (sims[rows, term_best] >= self.min_similarity)
        target = np.where(joins, term_best, best)
        nearest = np.zeros(block.shape[0], dtype=np.float64)
        for t in np.unique(target):
            r = np.flatnonzero(target == t)
            E = self.exemplars[self.exemplar_offsets[t] : self.exemplar_offsets[t + 1]]
            if E.shape[0]:
                nearest[r] = row_products(block[r], E).max(axis=1)
        # Words the model never saw ("短视频" in a store without it) that make up most of the
        # line (by general IDF: a rare word says more than a frame like 一首) are what it is
        # about: one distinctive word of a topic the line is far from (视频 of a topic about
        # video calls) is then no evidence. Such a line joins by its word only
        # when it is as close to the topic as the topic's weakest members or to a member as
        # members are to each other. (A training line has seen every word of its own, so this
        # refuses new lines only: on a store of 495 messages, where most words are in one line,
        # testing established words instead refused training lines about the topic's subject.)
        near_term = (sims[rows, term_best] >= self.floors[term_best]) | (nearest >= self.neighbour_floors[term_best])
        by_term = np.where(joins & (near_term | (known >= KNOWN_SHARE)), term_best, -1).astype(np.int64)
        # 2. Otherwise closeness: above the best topic's floor and as close to one of its
        #    members as its members are to each other, with most of its words established:
        #    closeness through the characters of words the store hardly knows is no evidence.
        #    (A line refused in 1 has mostly unseen words, so it is not close either: its
        #    ``nearest`` is to the word's topic.)
        close = (best_sim >= self.floors[best]) & (nearest >= self.neighbour_floors[best]) & (established >= KNOWN_SHARE)
        labels = np.where(by_term >= 0, by_term, np.where(close, best, -1))
        return labels, nearest, by_term

    @property
    def term_topics(self) -> dict[str, tuple[int, ...]]:
        """Each distinctive word and the topics it belongs to."""
        if self._term_topics is None:
            found: dict[str, list[int]] = {}
            for t, words in enumerate(self.terms):
                for w in words:
                    found.setdefault(w, []).append(t)
            self._term_topics = {w: tuple(ts) for w, ts in found.items()}
        return self._term_topics


def build_index(
    Z: np.ndarray,
    members: Sequence[np.ndarray],
    terms: Sequence[frozenset[str]],
    *,
    min_similarity: float,
    open_set: bool = True,
    order_key: np.ndarray | None = None,
    known_words: Mapping[str, int] | None = None,
    tokens: Sequence[Sequence[str]] | None = None,
    X: sp.spmatrix | None = None,
) -> TopicIndex:
    """A :class:`TopicIndex` from each topic's member rows of ``Z`` (unit vectors).

    ``order_key`` (e.g. text hashes of the rows) chooses the exemplars of large topics and
    the reference sample of all rows without depending on the order of the rows;
    ``tokens`` (of the rows) gives the words of the reference lines that ``known_words``
    lacks; ``X`` (the rows' TF-IDF rows) their ``reference_features``.
    """
    k = len(members)
    d = Z.shape[1]
    centroids = np.zeros((k, d))
    floors = np.full(k, min_similarity)
    neighbour_floors = np.ones(k)
    exemplars: list[np.ndarray] = []
    counts = np.zeros(k, dtype=np.int64)
    for t, rows in enumerate(members):
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            continue
        V = Z[rows]
        c = V.sum(axis=0)
        norm = np.linalg.norm(c)
        centroids[t] = c / norm if norm > 0 else c
        own = V @ centroids[t]
        floors[t] = max(min_similarity, float(np.percentile(own, CENTROID_FLOOR_PERCENTILE)))
        if rows.size > EXEMPLARS:
            key = order_key[rows] if order_key is not None else rows
            pick = np.argsort(key, kind="stable")[:EXEMPLARS]
            V = V[np.sort(pick)]
        exemplars.append(V)
        counts[t] = V.shape[0]
        if V.shape[0] > 1:
            S = V @ V.T
            np.fill_diagonal(S, -np.inf)
            neighbour_floors[t] = float(np.percentile(S.max(axis=1), NEIGHBOUR_FLOOR_PERCENTILE))
    reference = _reference(Z, order_key)
    reference_words: frozenset[str] = frozenset()
    if tokens is not None and known_words is not None:
        reference_words = frozenset(
            w for i in reference for w in tokens[i] if len(w) >= 2 and w not in known_words
        )
    index = TopicIndex(
        centroids=centroids,
        floors=floors,
        exemplars=np.vstack(exemplars).astype(np.float32) if exemplars else np.zeros((0, d), np.float32),
        exemplar_offsets=np.concatenate([[0], np.cumsum(counts)]),
        neighbour_floors=neighbour_floors,
        terms=[frozenset(t) for t in terms],
        reference=np.asarray(Z[reference], dtype=np.float32),
        reference_features=None if X is None else _unit_rows(X[reference]).T.tocsr(),
        known_words=known_words,
        reference_words=reference_words,
        min_similarity=min_similarity,
        open_set=open_set,
    )
    if open_set and X is not None and reference.size:
        # The reference lines' topics by the rule above, then by their nearest other
        # reference lines (nearest_lines.py): what a new line near them joins.
        words = [tokens[i] for i in reference] if tokens is not None else [[] for _ in reference]
        own, _ = index.assign(index.reference, words, X=X[reference])
        allowed = index.known_share(words, weighted=True) >= KNOWN_SHARE
        index.reference_labels, index.reference_floors, index.agreement_floors = calibrate(
            index.reference, index.reference_features, own, allowed, index.n_topics
        )
    return index


def membership(labels: np.ndarray, k: int) -> sp.csr_matrix:
    """(k x n) 0/1 matrix of which line is in which topic (-1 left out)."""
    mask = labels >= 0
    return sp.csr_matrix(
        (np.ones(int(mask.sum())), (labels[mask], np.flatnonzero(mask))), shape=(k, labels.size)
    )


def row_products(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B.T`` in float32, each row the same whatever other rows ``A`` holds and however
    many BLAS threads run. A float32 product's last bits depend on the block's shape and the
    thread count (the Dask engine assigns a partition in store order on one thread, the
    local fit all lines in hash order on several); a line's score then differed in its last
    bit, enough to reorder a topic's most central lines and so its examples. Computed in
    float64 and rounded to float32, those differences vanish except for a value within
    about 2**-29 of a float32 rounding boundary."""
    return (np.asarray(A, dtype=np.float64) @ np.asarray(B, dtype=np.float64).T).astype(np.float32)


def _unit_rows(X: sp.spmatrix) -> sp.csr_matrix:
    """``X`` as float32 CSR with unit rows (rows of zeros stay zeros)."""
    return normalize(sp.csr_matrix(X, dtype=np.float32))


def _reference(Z: np.ndarray, order_key: np.ndarray | None) -> np.ndarray:
    """Indices of up to ``REFERENCE_LINES`` rows of ``Z`` with distinct non-zero vectors,
    chosen by ``order_key`` (in the order of their vectors)."""
    rows = np.flatnonzero(np.any(Z != 0, axis=1))
    if order_key is not None:
        rows = rows[np.argsort(order_key[rows], kind="stable")]
    rows = rows[: REFERENCE_LINES * 2]
    _, first = np.unique(np.asarray(Z[rows], dtype=np.float32), axis=0, return_index=True)
    return rows[first[:REFERENCE_LINES]]
