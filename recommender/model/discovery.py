"""From latent vectors to topics: learn the boilerplate, find dense cores, keep the specific
ones, carry the previous model's topics over.

Steps (all on the discovery sample, see ``topic_model.py``):

1. :func:`learn_weights`: ``BOILERPLATE_ROUNDS`` times, find cores, judge which features are
   the corpus's boilerplate (``boilerplate.py``) and lower their weight.
2. :func:`find_cores`: HDBSCAN leaves on the re-weighted vectors (``density.py``).
3. :func:`distinctive_terms` / :func:`is_specific`: a core is a topic only when words that
   are typical of it and not generic cover most of its lines ("灭火器", "公积金"+"贷款"),
   each in three of its lines at least and, when the corpus has too few lines of it to judge
   it (fewer in a large store than in a small one, ``boilerplate.judged_lines``), not common
   in general Chinese (:func:`specific_terms`). A core held together by
   generic words only, or by words that pairs of its lines share, is dissolved: its lines
   fit no topic.
4. :func:`carry_over`: with the previous model's assignments (a retrain), a core whose
   lines mostly belonged to one previous topic *is* that topic (two such cores are one
   topic still), and a previous topic that no core matches is kept while its lines still
   form a specific, cohesive group (or when an organizer pinned it). A core that continues
   no previous topic is a new topic only when it is robust and holds new lines. So
   retraining on the same data changes nothing, and small additions change little.
5. :func:`split_subjects` (after the index has assigned the sample's lines): lines that
   share a subject of their own (a rare thing, 搅拌站) inside a broad topic whose frame they
   share (噪音扰民), with the lines in no topic that name it, become a topic of their own
   when there are enough of them and the rest of the topic does not use the word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.model.boilerplate import (
    GENERIC_WEIGHT,
    HEAD_MIN_LINES,
    RARE_IDF,
    catch_all_glue,
    head_words,
    headless_words,
    judged_lines,
    remainder_generic,
    spread_generic,
    spread_weights,
    word_feature_mask,
)
from recommender.model.density import topic_cores
from recommender.model.representation import Representation
from recommender.text.lexicon import general_idf, is_thing, morphemes, names_a_place, non_subject_words, specificity
from recommender.text.tokenize import char_segments

# Rounds of (find cores → learn boilerplate → re-weight) before the final cores.
BOILERPLATE_ROUNDS = 2
# A distinctive word of a topic: in at least this share of its lines ...
TERM_MIN_SHARE = 0.2
# ... and at least this many times more common in the topic than in the corpus.
TERM_MIN_LIFT = 2.0
# A topic is specific when its distinctive words together cover this share of its lines ...
SPECIFIC_SHARE = 0.5
# ... counting only the words in this many of its lines at least: a word two lines share is
# a coincidence (in a few hundred lines, the character n-grams of 经纪人, 经理人 and 经济 make
# a core of pairs: 「女孩」 twice, 「经济」 twice), a subject is a word several people use.
SPECIFIC_MIN_LINES = 3
# A previous topic no core matches is kept while its lines are this similar to their
# centroid (median cosine) ...
KEEP_COHESION = 0.35
# ... and a core matches a previous topic when this share of its lines belonged to it.
MATCH_SHARE = 0.5
# Each distinctive word but the most common one must have at least this share of the
# corpus's lines that use it inside the topic: a line with any of a topic's words may join
# it, so a word most of whose lines are about other things brings them along (购买 from
# "购买养老保险" took "购买二手房" and "购买电动轮椅" into a pension topic; 教师 joined teachers'
# lines of every kind to it). The most common word is the topic's subject and always kept.
TERM_MIN_PRECISION = 0.3
# Distinctive words kept per topic for assignment.
MAX_TERMS = 12
# Two cores are one topic (HDBSCAN's leaves can cut one request family in two: "灭火器" and
# "灭火器的操作", "小区停车" and "停车位不够") when their centroids are this similar and each
# one's head is used by most lines of the other (``MERGE_SHARE`` at least, words inside
# tokens included); not "搅拌站" and "扰民", although the mixing plant's lines speak of 噪音
# too. The head is the core's subject: of the words nearly as many of its lines use as its
# most used word (``HEAD_NEAR``), the most specific in general Chinese, then the most
# typical of the core. Not the rarest word alone: that named cores by an aspect (「操作」,
# 「看不懂」, 「实操」), and the demo store's four leaves about fire extinguishers stayed four
# topics, three of them in the first five suggestions.
MERGE_COSINE = 0.4
MERGE_SHARE = 0.5
HEAD_NEAR = 0.8
# A core must be found again without one line in this many (see ``find_cores``) ...
RESAMPLE_DROP = 7
# ... with at least this share of its lines (its robustness); in a retrain a core that
# continues no previous topic must have robustness ``NEW_TOPIC_MATCH``: a higher bar to
# appear than to stay, so topics at the margin do not come and go from one retrain to the
# next (a new request family of a few people clears it: its lines are all found again).
RESAMPLE_MATCH = 0.5
NEW_TOPIC_MATCH = 0.7
# A core that is not found again and at least this share of whose lines fell into no core
# of the refit gets a second look: a refit without another seventh, its robustness the
# better of the two. HDBSCAN's leaves are fragile at the margin: a real topic's lines can
# fall out of every leaf in one refit and be found in another (bench/RESULTS.md: the
# 72-line 扰民 core was lost so when 不合理 was a frame word); lines that went into
# *another* core say the core is part of something larger, and get no second look.
# Measured with the wider-refit rule of ``_found_again`` (in process, the bench's 9 purity
# sets and the 2,732 message-board titles): +1-3 topics per labelled set with the weighted
# purity unchanged (0.87 / 0.82 / 0.76 on the three larger sets), 56 -> 62 topics on the
# message board (执法, 大病医疗, 减速带, 供水, ...). Taking the better of two refits for
# every core added 10 % topics at a slightly lower purity.
SECOND_LOOK = 0.5
# In a retrain, a core that continues no previous topic must hold at least this many new
# lines (prior ``NEW_LINE``): lines the previous model left in no topic, regrouped because a
# few lines were added elsewhere, are no new request (seen: 9 "new" topics of 10–58 old
# lines after adding 1 % to a store of 2,700 citizen messages).
NEW_TOPIC_NEW_LINES = 2
# The prior of a line the previous model did not learn from and that is in no topic.
NEW_LINE = -2


def learn_weights(
    rep: Representation,
    X: sp.csr_matrix,
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    min_topic_size: int,
    keys: np.ndarray,
) -> tuple[np.ndarray, set[str]]:
    """Learned feature weights and generic words, from the discovery sample: its feature
    rows ``X`` (``rep.features``), texts, tokens and text hashes (``keys``)."""
    presence = X.copy()
    presence.data[:] = 1.0
    names = rep.feature_names
    weights = np.ones(X.shape[1])

    rows = FeatureRows(rep)

    def raw(ts: list[str], tk: list[list[str]]) -> np.ndarray:
        return rep.project(rows.of(ts, tk), weights, unit=False)

    # The lines' own latent rows come from their feature rows ``X``: the rows
    # ``rep.features`` would give them again.
    generic = remainder_generic(texts, tokens, rep.project(X, weights, unit=False), raw)
    for _ in range(BOILERPLATE_ROUNDS):
        weights = np.where(word_feature_mask(names, generic), np.minimum(weights, GENERIC_WEIGHT), weights)
        full = rep.project(X, weights, unit=False)
        Z = normalize(full)
        cores = topic_cores(Z, min_topic_size)
        spread = spread_generic(tokens, cores)
        members = [np.flatnonzero(cores == c) for c in range(int(cores.max()) + 1)]
        # Read with the weights the cores were found with (the lines' lengths are ``full``).
        glue = headless_words(
            head_words(members, tokens, generic | spread), texts, tokens, Z, raw, keys, np.linalg.norm(full, axis=1)
        )
        weights = np.minimum(weights, spread_weights(presence, cores))
        generic |= spread | catch_all_glue(texts, tokens, cores, Z, raw) | glue
    weights = np.where(word_feature_mask(names, generic), np.minimum(weights, GENERIC_WEIGHT), weights)
    return weights, generic


class FeatureRows:
    """Feature rows (``rep.features``) of the texts :func:`learn_weights` reads: the lines'
    rests without a word, read again in every round under new weights. Each distinct (text,
    tokens) is analyzed once; a row does not depend on the other lines it is computed with."""

    def __init__(self, rep: Representation) -> None:
        self.rep = rep
        self.position: dict[tuple[str, tuple[str, ...]], int] = {}
        self.rows: sp.csr_matrix | None = None

    def of(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """The feature rows of ``texts`` with these ``tokens``."""
        keys = [(t, tuple(tk)) for t, tk in zip(texts, tokens)]
        new = [k for k in dict.fromkeys(keys) if k not in self.position]
        if new:
            X = self.rep.features([list(tk) for _, tk in new], [char_segments(t) for t, _ in new])
            first = len(self.position)
            self.position.update((k, first + i) for i, k in enumerate(new))
            self.rows = X if self.rows is None else sp.vstack([self.rows, X], format="csr")
        return self.rows[[self.position[k] for k in keys]]


def word_shares(tokens: Sequence[Sequence[str]]) -> tuple[Counter, int]:
    """How many of the lines have each word, and the number of lines."""
    counts: Counter = Counter()
    for toks in tokens:
        counts.update(set(toks))
    return counts, len(tokens)


def distinctive_terms(
    tokens: Sequence[Sequence[str]],
    rows: np.ndarray,
    corpus_counts: Counter,
    n_corpus: int,
    generic: set[str],
) -> list[str]:
    """Words typical of the lines ``rows``: in two or more of them and a good share,
    rarer in the corpus, neither generic nor a name, time or locality; most common first.
    Beside the first, only words ``TERM_MIN_PRECISION`` of whose lines are among ``rows``."""
    local: Counter = Counter()
    for i in rows:
        local.update(set(tokens[i]))
    m = max(len(rows), 1)
    terms = []
    for word, c in local.items():
        share = c / m
        if c < 2 or share < TERM_MIN_SHARE or word in generic or len(word) < 2 or word in non_subject_words():
            continue
        if share / max(corpus_counts.get(word, c) / max(n_corpus, 1), 1e-12) < TERM_MIN_LIFT:
            continue
        terms.append((word, c))
    terms.sort(key=lambda wc: (-wc[1], wc[0]))
    terms = terms[:1] + [(w, c) for w, c in terms[1:] if c >= TERM_MIN_PRECISION * corpus_counts.get(w, c)]
    return [w for w, _ in terms[:MAX_TERMS]]


def specific_terms(
    tokens: Sequence[Sequence[str]], rows: np.ndarray, terms: Sequence[str], corpus_counts: Counter, judged: int
) -> list[str]:
    """The ``terms`` that can make the lines ``rows`` a topic: in ``SPECIFIC_MIN_LINES`` of
    them at least, and not common in general Chinese (general IDF below ``RARE_IDF``: 政府,
    解决, 结束, 投资者) unless the corpus has judged the word itself: ``judged`` lines of it
    at least (``corpus_counts``; ``boilerplate.judged_lines``). With ``HEAD_MIN_LINES``
    lines the head-word test (``boilerplate.headless_words``) judges any word. With fewer,
    general Chinese is the better guess in a large store: a handful of its lines that share
    a word any text uses (investors in sports, bank and stock-market titles among 2,000)
    share no subject. In a store of a few hundred lines the remainder test has read such a
    word from 3 lines on and made it generic when its lines share nothing else; a *thing* it
    left alone (``lexicon.is_thing``: 医院, 学校, 基金 on 5-12 of 120-150 lines) with as many
    lines as a topic needs is the store's subject. A word that names no thing (解决, 合理,
    负责) still needs the head-word test: what is left of its lines is most of them, and a
    latent space of a few dozen dimensions cannot tell whether they agree.
    """
    out = []
    for word in terms:
        if sum(1 for i in rows if word in tokens[i]) < SPECIFIC_MIN_LINES:
            continue
        lines = corpus_counts.get(word, 0)
        if lines < HEAD_MIN_LINES:
            idf = general_idf(word)
            if idf is not None and idf < RARE_IDF and (lines < judged or not is_thing(word)):
                continue
        out.append(word)
    return out


def is_specific(
    tokens: Sequence[Sequence[str]], rows: np.ndarray, terms: Sequence[str], corpus_counts: Counter, judged: int
) -> bool:
    """Whether the :func:`specific_terms` among ``terms`` together cover ``SPECIFIC_SHARE``
    of the lines ``rows`` (``judged``: see :func:`specific_terms`)."""
    terms = specific_terms(tokens, rows, terms, corpus_counts, judged)
    if not terms or len(rows) == 0:
        return False
    wanted = set(terms)
    covered = sum(1 for i in rows if not wanted.isdisjoint(tokens[i]))
    return covered >= SPECIFIC_SHARE * len(rows)


def _cores(Z: np.ndarray, min_topic_size: int) -> list[np.ndarray]:
    labels = topic_cores(Z, min_topic_size)
    return [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)] if (labels >= 0).any() else []


def find_cores(Z: np.ndarray, min_topic_size: int, keys: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Rows of each dense core of the unit rows ``Z`` that is found again when a
    ``1 / RESAMPLE_DROP`` share of the lines (chosen by their ``keys``, text hashes) is
    left out.

    A core that is there with all the lines but not without a few of them rests on those
    few: a retrain with a few more lines would lose it or find another in its place. Only
    cores that survive the perturbation are topics (``RESAMPLE_MATCH`` of the lines both
    fits saw are again in cores lying mostly inside it), so retrains do not make topics come
    and go. A core whose lines fell out of every core of that refit is judged again on a
    second one (``SECOND_LOOK``). Each core comes with that share, its robustness.
    """
    cores = _cores(Z, min_topic_size)
    if not cores:
        return cores
    found, fell = _found_again(cores, Z, min_topic_size, keys, 0)
    # A core whose lines fell out of every core (rather than into another one) gets a
    # second look, without another seventh of the lines: see ``SECOND_LOOK``.
    second = (found < RESAMPLE_MATCH) & (fell >= SECOND_LOOK)
    if second.any():
        again, _ = _found_again(cores, Z, min_topic_size, keys, 1)
        found = np.where(second, np.maximum(found, again), found)
    return [(rows, float(r)) for rows, r in zip(cores, found) if r >= RESAMPLE_MATCH]


def _found_again(
    cores: list[np.ndarray], Z: np.ndarray, min_topic_size: int, keys: np.ndarray, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per core, the share of its lines found again and the share left in no core, in a
    fit without the lines whose ``keys`` are ``fold`` modulo ``RESAMPLE_DROP``."""
    kept = (np.asarray(keys, dtype=np.uint64) % np.uint64(RESAMPLE_DROP)) != np.uint64(fold)
    sub = np.flatnonzero(kept)
    # Fewer lines, a proportionally smaller fewest: a core of exactly the fewest lines
    # that loses one of them must still be found.
    sub_size = max(2, int(np.floor(min_topic_size * (1 - 1 / RESAMPLE_DROP))))
    again = [sub[c] for c in _cores(Z[sub], sub_size)]
    # Cores are disjoint, so each core of the second fit is compared with all of the first
    # at once (a core number per line), not core by core.
    core_of, again_of = np.full(Z.shape[0], -1), np.full(Z.shape[0], -1)
    for c, rows in enumerate(cores):
        core_of[rows] = c
    inside_of: list[list[int]] = [[] for _ in cores]
    for j, a in enumerate(again):
        again_of[a] = j
        overlap = np.bincount(core_of[a][core_of[a] >= 0], minlength=len(cores))
        if overlap.sum() == 0:
            continue
        # Mostly inside = most of its lines that were in a core were in this one: the lines
        # the full fit left in no core do not count (a refit core that is this core plus
        # some of those lines is the same region cut a little wider: a 34-line 公交车 core of
        # the message board was lost so, found again with 27 such lines), another core's do.
        for c in np.flatnonzero(overlap >= 0.5 * overlap.sum()):
            inside_of[c].append(j)
    found, fell = np.zeros(len(cores)), np.zeros(len(cores))
    for c, (rows, inside) in enumerate(zip(cores, inside_of)):
        seen = rows[kept[rows]]
        if seen.size == 0:
            continue
        # Found again = its lines are again in cores that lie mostly inside it (one, or a
        # few if the perturbation cut it in parts), not noise or part of something larger.
        found[c] = np.isin(again_of[seen], inside).sum() / seen.size
        fell[c] = (again_of[seen] < 0).sum() / seen.size
    return found, fell


def subject_head(words: set[str], counts: Counter, corpus: Counter) -> str | None:
    """A core's subject among ``words`` (those most of its lines use; ``counts`` in the
    core, ``corpus`` in all lines): see ``HEAD_NEAR``."""
    if not words:
        return None
    most = max(counts[w] for w in words)
    near = [w for w in words if counts[w] >= HEAD_NEAR * most]
    return max(near, key=lambda w: (specificity(w), counts[w] / corpus[w], len(w), w))


def merge_twins(
    cores: Sequence[tuple[np.ndarray, float]],
    Z: np.ndarray,
    tokens: Sequence[Sequence[str]],
    generic: set[str],
) -> list[tuple[np.ndarray, float]]:
    """``cores`` with each group of twins (see ``MERGE_COSINE``) joined into one."""
    if len(cores) < 2:
        return list(cores)
    names = non_subject_words()
    corpus: Counter = Counter(w for toks in tokens for w in morphemes(toks))
    common, heads = [], []
    for rows, _ in cores:
        counts: Counter = Counter(w for i in rows for w in morphemes(tokens[i]))
        words = {w for w, c in counts.items() if c >= MERGE_SHARE * len(rows) and w not in generic and w not in names}
        common.append(words)
        heads.append(subject_head(words, counts, corpus))
    C = np.vstack([Z[rows].mean(axis=0) for rows, _ in cores])
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    parent = list(range(len(cores)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    S = C @ C.T
    for i in range(len(cores)):
        for j in range(i + 1, len(cores)):
            if S[i, j] >= MERGE_COSINE and heads[i] in common[j] and heads[j] in common[i]:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(cores)):
        groups.setdefault(root(i), []).append(i)
    return [
        (np.unique(np.concatenate([cores[i][0] for i in g])), min(cores[i][1] for i in g))
        for g in sorted(groups.values())
    ]


@dataclass
class Topic:
    """A topic found by ``fit``: the lines it is built from and what makes it specific."""

    members: np.ndarray  # row indices (into all lines) the topic's statistics come from
    terms: list[str]
    prior: int = -1  # the previous model's topic it continues (-1: new)


def carry_over(
    cores: Sequence[tuple[np.ndarray, float]],
    prior: np.ndarray | None,
    Z: np.ndarray,
    tokens: Sequence[Sequence[str]],
    corpus_counts: Counter,
    n_corpus: int,
    generic: set[str],
    *,
    min_topic_size: int,
    pinned: frozenset[int] = frozenset(),
) -> list[Topic]:
    """The topics: specific cores ((rows, robustness) from :func:`find_cores`; rows index
    ``Z``, ``tokens`` and ``prior``, all lines), each matched to the previous topic most of
    its lines belonged to, plus the previous topics no core matched that still hold
    together. Pinned previous topics are kept whatever their lines look like."""
    topics: list[Topic] = []
    judged = judged_lines(n_corpus, min_topic_size)
    continues: dict[int, int] = {}  # previous topic -> its position in ``topics``
    for rows, robustness in merge_twins(cores, Z, tokens, generic):
        before = -1
        if prior is not None:
            votes = Counter(int(p) for p in prior[rows] if p >= 0)
            if votes:
                p, c = votes.most_common(1)[0]
                if c >= MATCH_SHARE * len(rows):
                    before = p
        if before in continues:  # another core of the same previous topic: one topic still
            t = topics[continues[before]]
            t.members = np.union1d(t.members, rows)
            t.terms = distinctive_terms(tokens, t.members, corpus_counts, n_corpus, generic)
            continue
        if prior is not None and before < 0 and (
            robustness < NEW_TOPIC_MATCH or int((prior[rows] == NEW_LINE).sum()) < NEW_TOPIC_NEW_LINES
        ):
            continue
        terms = distinctive_terms(tokens, rows, corpus_counts, n_corpus, generic)
        if before not in pinned and not is_specific(tokens, rows, terms, corpus_counts, judged):
            continue
        if before >= 0:
            continues[before] = len(topics)
        topics.append(Topic(members=rows, terms=terms, prior=before))
    matched = set(continues)
    if prior is None:
        return topics
    for p in sorted(set(int(x) for x in prior[prior >= 0]) - matched):
        rows = np.flatnonzero((prior == p) & np.any(Z != 0, axis=1))
        if rows.size == 0:
            continue
        terms = distinctive_terms(tokens, rows, corpus_counts, n_corpus, generic)
        if p not in pinned:
            if rows.size < min_topic_size or not is_specific(tokens, rows, terms, corpus_counts, judged):
                continue
            c = Z[rows].sum(axis=0)
            c = c / max(np.linalg.norm(c), 1e-12)
            if float(np.median(Z[rows] @ c)) < KEEP_COHESION:
                continue
        topics.append(Topic(members=rows, terms=terms, prior=p))
    return topics


# A topic's lines that share a subject of their own are a topic of their own (one evening
# class is about the mixing plant's noise, not about every noise complaint): a word that
# jieba calls a thing (``lexicon.is_thing``: 搅拌站, 酒吧, 工地; not 老旧, 协调 or 有偿) and
# that is not a place (``lexicon.names_a_place``: 县一中, the county's first school),
# not common in general Chinese (``RARE_IDF``), used by at least the fewest lines of a topic
# of which most (``SPLIT_HOST_SHARE``) are in one topic whose words do not include it and
# where it is in fewer than ``TERM_MIN_SHARE`` of the lines (the rest of the topic does not
# use it), the others in no topic; and nearly all (``SPLIT_WORD_SHARE``) of the corpus's
# lines with it are among them, so it is the subject of no other topic. The latent space
# keeps a corpus's main directions and blurs a handful of lines about a rare subject into
# the broad topic they share a frame with (搅拌站噪音扰民 → 扰民); the words keep it.
SPLIT_HOST_SHARE = 0.5
SPLIT_WORD_SHARE = 0.9


def split_subjects(
    topics: list[Topic],
    labels: np.ndarray,
    tokens: Sequence[Sequence[str]],
    corpus_counts: Counter,
    n_corpus: int,
    generic: set[str],
    prior: np.ndarray | None,
    min_topic_size: int,
) -> list[Topic]:
    """``topics`` with each group of lines about a subject of its own (see
    ``SPLIT_HOST_SHARE``) taken out of its host topic as a new topic; ``labels`` are the
    lines' topics (positions in ``topics``, -1 none) as the index assigns them. In a retrain
    (``prior``) a group continues the previous topic most of its lines belonged to when no
    other topic continues it, and is otherwise new only with ``NEW_TOPIC_NEW_LINES`` new
    lines, as a new core is (``carry_over``)."""
    k = len(topics)
    if k == 0:
        return topics
    judged = judged_lines(n_corpus, min_topic_size)
    names = non_subject_words()
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    host_words = [morphemes(t.terms) for t in topics]
    lines_of: dict[str, list[int]] = {}
    for i, toks in enumerate(tokens):
        for w in set(toks):
            lines_of.setdefault(w, []).append(i)
    found = []
    for word, where in lines_of.items():
        if len(where) < min_topic_size or len(word) < 2 or word in generic or word in names or names_a_place(word):
            continue
        idf = general_idf(word)
        if (idf is not None and idf < RARE_IDF) or not is_thing(word):
            continue
        rows = np.asarray(where)
        hosts = Counter(int(t) for t in labels[rows] if t >= 0)
        if not hosts:
            continue
        host, inside = min(hosts.items(), key=lambda tc: (-tc[1], tc[0]))
        group = rows[(labels[rows] == host) | (labels[rows] < 0)]
        if (
            group.size < min_topic_size
            or inside < SPLIT_HOST_SHARE * group.size
            or group.size < SPLIT_WORD_SHARE * rows.size
            or inside >= TERM_MIN_SHARE * sizes[host]
            or word in host_words[host]
        ):
            continue
        found.append((group, host, word))
    found.sort(key=lambda g: (-g[0].size, g[2]))
    taken = np.zeros(len(tokens), dtype=bool)
    continued = {t.prior for t in topics if t.prior >= 0}
    out = [Topic(members=t.members, terms=list(t.terms), prior=t.prior) for t in topics]
    for group, host, word in found:
        group = group[~taken[group]]
        if group.size < min_topic_size:
            continue
        before = -1
        if prior is not None:
            votes = Counter(int(p) for p in prior[group] if p >= 0)
            if votes:
                p, c = min(votes.items(), key=lambda pc: (-pc[1], pc[0]))
                if c >= MATCH_SHARE * group.size and p not in continued:
                    before = p
            if before < 0 and int((prior[group] == NEW_LINE).sum()) < NEW_TOPIC_NEW_LINES:
                continue
        terms = distinctive_terms(tokens, group, corpus_counts, n_corpus, generic)
        if word not in terms or not is_specific(tokens, group, terms, corpus_counts, judged):
            continue
        taken[group] = True
        out[host].members = np.setdiff1d(out[host].members, group)
        if before >= 0:
            continued.add(before)
        out.append(Topic(members=group, terms=terms, prior=before))
    return out
