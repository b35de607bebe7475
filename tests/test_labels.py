"""Phrase labels (model/labels.py): candidates from the lines, distinct choices."""

from recommender.model.labels import EXTEND_SHARE, candidate_labels, choose_labels


def test_a_phrase_gives_way_to_the_longer_one_most_of_its_lines_use():
    """充电 alone scores best, but most lines that say 充电 say 充电桩: the label is 充电桩."""
    lines = [{"充电", "充电桩"}] * 6 + [{"充电"}] * 3 + [{"电动车"}]
    assert candidate_labels(lines, ["充电", "充电桩"], generic=set())[0] == "充电桩"


def test_a_longer_phrase_few_lines_use_does_not_replace_the_common_one():
    """公众号 in every line, 公众号排版 in a third: the label stays 公众号."""
    lines = [{"公众号", "公众号排版"}] * 3 + [{"公众号"}] * 6
    assert 3 <= EXTEND_SHARE * 9
    assert candidate_labels(lines, ["公众号", "排版"], generic=set())[0] == "公众号"


def test_generic_phrases_are_no_candidates():
    lines = [{"问题", "停车问题"}] * 4
    assert "问题" not in candidate_labels(lines, ["问题", "停车"], generic={"问题"})


def test_a_dictionary_word_is_a_label_although_part_of_it_is_boilerplate():
    # On a city's message board "收费" and "公交" are learned as boilerplate; the words that
    # hold them still name what the lines are about.
    lines = [{"乱收费", "收费"}, {"乱收费"}, {"乱收费", "停车"}, {"停车"}]
    assert candidate_labels(lines, ["乱收费", "停车"], generic={"收费"})[0] == "乱收费"
    lines = [{"公交车", "公交"}, {"公交车"}, {"公交车"}]
    assert candidate_labels(lines, ["公交车"], generic={"公交"})[0] == "公交车"
    # A phrase that is no word is still refused when it starts or ends with boilerplate.
    assert "收费停车" not in candidate_labels([{"收费停车"}, {"收费停车"}], ["停车"], generic={"收费"})


def test_no_two_topics_share_a_label():
    labels = choose_labels([["停车"], ["停车", "车位"]], sizes=[10, 5], fallback=[["停车"], ["车位"]])
    assert labels == ["停车", "车位"]
