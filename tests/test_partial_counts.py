"""What lets the Dask engine reproduce the local one: vocabularies from term counts that
add up across partitions, and hash samples drawn from (text hash, copies) counts alone."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.model.clustering import copies_in_sample, smallest_keys, text_hashes, text_sample
from recommender.model.representation import char_ngrams
from recommender.model.vocabulary import (
    count_terms,
    fitted_vectorizer,
    merge_counts,
    select_terms,
    split_counts,
)

DOCS = [
    ["消防", "灭火器", "使用"],
    ["消防", "通道", "堵塞"],
    ["反诈", "老人", "电话"],
    ["反诈", "宣传", "老人"],
    ["灭火器", "检查"],
    ["公文", "写作", "格式"],
    ["公文", "格式", "退回"],
    ["调解", "邻里", "纠纷"],
] * 3 + [["罕见词"]]


def _tokens(doc):
    return doc


def test_vectorizer_from_counts_equals_sklearn_fit():
    """Without ties at the max_features cut, vocabulary_ and idf_ equal TfidfVectorizer.fit's."""
    template = TfidfVectorizer(analyzer=_tokens, min_df=2, sublinear_tf=True, dtype=np.float32, lowercase=False)
    expected = template.fit(DOCS)
    counts = select_terms(count_terms(template.build_analyzer(), DOCS), 2, None)
    built = fitted_vectorizer(template, counts, len(DOCS))
    assert built.vocabulary_ == expected.vocabulary_
    np.testing.assert_array_equal(built.idf_, expected.idf_)
    assert built.idf_.dtype == np.float32
    probe = [["消防", "灭火器"], ["老人", "反诈", "没见过"]]
    np.testing.assert_array_equal(built.transform(probe).toarray(), expected.transform(probe).toarray())


@pytest.mark.parametrize("n_parts", [1, 2, 5])
@pytest.mark.parametrize("max_features", [None, 7, 30])
def test_counts_added_up_across_partitions_select_the_same_terms(n_parts, max_features):
    """Counting partitions, adding the counts in term buckets and selecting per bucket then
    overall gives exactly the selection from one count over all documents."""
    texts = ["灭火器怎么使用", "楼道堆放杂物", "电信诈骗新套路", "老人防诈骗", "公文格式", "会议纪要怎么写"] * 4
    analyzer = partial(char_ngrams, ngram_range=(1, 3))
    docs = [[t] for t in texts]
    whole = select_terms(count_terms(analyzer, docs), 2, max_features)
    parts = [count_terms(analyzer, docs[i::n_parts]) for i in range(n_parts)]
    buckets = [split_counts(p, 3) for p in parts]
    per_bucket = [select_terms(merge_counts([b[j] for b in buckets]), 2, max_features) for j in range(3)]
    combined = select_terms(merge_counts(per_bucket), 2, max_features)
    assert list(combined.terms) == list(whole.terms)
    np.testing.assert_array_equal(combined.df, whole.df)
    np.testing.assert_array_equal(combined.tf, whole.tf)


def test_max_features_ties_are_broken_alphabetically():
    docs = [["乙"], ["甲"], ["丙"], ["甲"], ["乙"], ["丙"]]
    chosen = select_terms(count_terms(_tokens, docs), 1, 2)
    assert list(chosen.terms) == sorted(["丙", "乙", "甲"])[:2]


def _distributed_sample(texts: list[str], size: int, n_parts: int) -> list[str]:
    """The Dask engine's draw: only (hash, copies) pairs cross partitions."""
    parts = [texts[i::n_parts] for i in range(n_parts)]
    pairs = [np.unique(text_hashes(p), return_counts=True) for p in parts]
    h = np.concatenate([p[0] for p in pairs])
    c = np.concatenate([p[1] for p in pairs])
    uniq, inverse = np.unique(h, return_inverse=True)
    counts = np.bincount(inverse, weights=c).astype(np.int64)
    threshold = smallest_keys(uniq, counts, size)[-1]
    take = copies_in_sample(uniq, counts, threshold)
    text_of = {int(k): t for k, t in zip(text_hashes(texts), texts)}
    return [text_of[int(k)] for k, n in zip(uniq, take) for _ in range(int(n))]


@pytest.mark.parametrize("n_parts", [1, 3, 7])
def test_hash_sample_from_counts_equals_the_local_sample(n_parts):
    """``text_sample`` and the draw from partial counts pick the same texts, copies
    included, in the same (hash) order."""
    rng = np.random.default_rng(0)
    pool = [f"第{i}条反馈：希望讲讲主题{i % 17}" for i in range(400)]
    texts = [pool[i] for i in rng.zipf(1.5, 3000) % len(pool)]  # many repeated lines
    local = [texts[i] for i in text_sample(texts, 500)]
    assert len(local) == 500
    assert local == _distributed_sample(texts, 500, n_parts)


def test_hash_sample_ignores_row_order_and_draws_copies_independently():
    texts = ["常见问题"] * 600 + [f"独特问题{i}" for i in range(1400)]
    sample = [texts[i] for i in text_sample(texts, 400)]
    shuffled = list(reversed(texts))
    assert sorted(sample) == sorted(shuffled[i] for i in text_sample(shuffled, 400))
    # 600 of 2,000 rows repeat one line: it takes about 30 % of the sample, not 1 row or all.
    assert 80 <= sample.count("常见问题") <= 160
