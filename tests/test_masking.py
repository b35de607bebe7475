"""Tests for recommender.text.masking: personal data is masked, ordinary numbers are not."""

from __future__ import annotations

import re

import pytest

from recommender.text.masking import PLACEHOLDERS, mask_personal_data

MASKED = [
    # mobile numbers
    ("mobile-plain", "我的手机13812345678有事联系", "我的手机[手机号]有事联系"),
    ("mobile-dashes", "电话138-1234-5678", "电话[手机号]"),
    ("mobile-dots", "电话138.1234.5678", "电话[手机号]"),
    ("mobile-spaces", "手机号 138 1234 5678 谢谢", "手机号 [手机号] 谢谢"),
    ("mobile-plus86", "+8613912345678", "[手机号]"),
    ("mobile-plus86-space", "打 +86 159 1234 5678 找我", "打 [手机号] 找我"),
    ("mobile-0086", "0086-18612345678", "[手机号]"),
    ("mobile-86-paren", "(+86)17712345678", "[手机号]"),
    ("mobile-fullwidth", "联系我１３８１２３４５６７８。", "联系我[手机号]。"),
    ("mobile-fullwidth-dash", "１３８－１２３４－５６７８", "[手机号]"),
    ("mobile-cued-one-digit-too-many", "手机号码：138123456789", "手机号码：[手机号]"),
    ("mobile-cued-one-digit-too-few", "电话是1381234567有事找我", "电话是[手机号]有事找我"),
    ("mobile-cued-unknown-prefix", "手机 12345678901", "手机 [手机号]"),
    ("mobile-end-of-sentence", "有问题请打19912345678", "有问题请打[手机号]"),
    ("mobile-two", "13812345678或15987654321都行", "[手机号]或[手机号]都行"),
    # landlines
    ("landline-beijing", "社区电话010-12345678", "社区电话[电话]"),
    ("landline-paren", "(010)12345678", "[电话]"),
    ("landline-fullwidth-paren", "（０２１）６２３４５６７８", "[电话]"),
    ("landline-7-digits", "0755-1234567", "[电话]"),
    ("landline-extension-dash", "010-62345678-806", "[电话]"),
    ("landline-extension-zhuan", "座机0571-87654321转123找王老师", "座机[电话]找王老师"),
    ("landline-space", "0755 26123456", "[电话]"),
    ("landline-contiguous", "02087654321", "[电话]"),
    ("landline-local-with-cue", "办公电话：62345678", "办公电话：[电话]"),
    ("landline-grouped-dash-space", "居委会电话0755-8888 6666", "居委会电话[电话]"),
    ("landline-grouped-spaces", "打020 8765 4321找我", "打[电话]找我"),
    ("landline-grouped-fullwidth", "０２０　８７６５　４３２１", "[电话]"),
    ("landline-local-with-cue-spaced", "座机 6234 5678", "座机 [电话]"),
    # ID numbers
    ("id-18", "身份证号110101199003071234", "身份证号[身份证号]"),
    ("id-18-x-upper", "我的证件是11010519491231002X", "我的证件是[身份证号]"),
    ("id-18-x-lower", "44030619880808123x 请核实", "[身份证号] 请核实"),
    ("id-18-spaced", "110101 19900307 1234", "[身份证号]"),
    ("id-15-old", "老身份证号是130503670401001", "老身份证号是[身份证号]"),
    ("id-with-cue-odd-date", "身份证号码：110101199013071234", "身份证号码：[身份证号]"),
    ("id-fullwidth", "１１０１０１１９９００３０７１２３４", "[身份证号]"),
    # first-generation (15-digit) ID numbers, with or without a cue
    ("id-15-no-cue", "旧号码130503670401001已作废", "旧号码[身份证号]已作废"),
    ("id-15-grouped", "130503 670401 001", "[身份证号]"),
    ("id-15-dashed", "130503-670401-001", "[身份证号]"),
    ("id-15-leap-day-1984", "110105840229123", "[身份证号]"),
    ("id-15-fullwidth", "１３０５０３６７０４０１００１", "[身份证号]"),
    ("id-15-cue-wins-over-a-bad-date", "身份证号130503670231001", "身份证号[身份证号]"),
    # e-mail
    ("email-qq", "邮箱123456789@qq.com", "邮箱[邮箱]"),
    ("email-dotted", "请发到zhang.san-01@example.com.cn，谢谢", "请发到[邮箱]，谢谢"),
    ("email-fullwidth-at", "ｗａｎｇ＠１６３．ｃｏｍ", "[邮箱]"),
    # bank cards
    ("card-16", "卡号6222021234567890", "卡号[银行卡号]"),
    ("card-19", "6217001234567890123", "[银行卡号]"),
    ("card-grouped-spaces", "6222 0212 3456 7890", "[银行卡号]"),
    ("card-grouped-dashes", "6228-4800-1234-5678-912", "[银行卡号]"),
    # social accounts after a cue
    ("qq-cue", "QQ：123456789", "QQ：[社交账号]"),
    ("wechat-cue", "微信号：zhangsan_88", "微信号：[社交账号]"),
    # names after explicit cues
    ("name-wojiao", "我叫张三，想学公文写作", "我叫[姓名]，想学公文写作"),
    ("name-contact-colon", "联系人：李四", "联系人：[姓名]"),
    ("name-contact-fullwidth-colon", "联系人： 王小明 电话13812345678", "联系人： [姓名] 电话[手机号]"),
    ("name-compound-surname", "我叫欧阳娜娜", "我叫[姓名]"),
    ("name-stops-at-clause", "我叫张三想学公文", "我叫[姓名]想学公文"),
    ("name-title-kept", "联系人：王老师", "联系人：[姓名]老师"),
    ("name-xingming", "姓名：赵丽，网格员", "姓名：[姓名]，网格员"),
    ("mixed-everything", "我叫陈红，电话13912345678，邮箱chen@163.com", "我叫[姓名]，电话[手机号]，邮箱[邮箱]"),
]

UNCHANGED = [
    ("year", "2024年开始的夜校很好"),
    ("hours", "每次上课3个小时太长了"),
    ("date-dashes", "2024-05-01那次课很好"),
    ("date-slashes", "2024/5/1 19:30 的课"),
    ("date-compact", "20240501那期"),
    ("room-number", "我住3栋201，楼道灯坏了"),
    ("building-unit-room", "2号楼1单元302室的老人想学手机"),
    ("hotline-12345", "有问题打12345热线反映"),
    ("emergency-numbers", "着火打119，报警打110，急救打120"),
    ("consumer-hotline", "可以打12315投诉"),
    ("count", "我们网格有1380户居民"),
    ("money", "补贴是每月1500元"),
    ("percent", "参加率只有60%"),
    ("time-of-day", "晚上7:30上课太晚了"),
    ("session-number", "第10期夜校的内容很实用"),
    ("big-count", "小区一共有12000多人"),
    ("ten-digits", "工单号1381234567"),
    ("twelve-digits-starting-1", "编号138123456789"),
    ("phone-like-in-word", "型号ABC13812345678X"),
    ("ordinary-wojiao", "我叫了好几次物业都不来"),
    ("ordinary-name-words", "老师讲得很好，张弛有度"),
    ("ordinary-contact-word", "联系人都不在办公室"),
    ("version", "WPS 2019版本怎么用"),
    ("version-dotted", "升级到13.1.2版本后打不开"),
    ("decimal", "比例是1.38，面积138.5平方米"),
    ("temperature", "今天37度太热了"),
    ("placeholder-already", "我叫[姓名]，电话[手机号]"),
    ("plain-text", "希望下次讲讲消防安全知识"),
    # 15-digit numbers that are no ID: an impossible birth date, region 9…, a thing's number, an amount
    ("fifteen-date-does-not-exist", "申通773015870230123还没到"),
    ("fifteen-feb-29-of-1900", "编码110105000229123"),
    ("fifteen-region-starting-with-9", "912345880101123"),
    ("fifteen-tracking-number-cued", "快递单号：773015870401123一直没更新"),
    ("fifteen-order-number-cued", "订单号 431203670401001 退款没到"),
    ("fifteen-imei-cued", "IMEI 861234870401123"),
    ("fifteen-licence-number-cued", "营业执照注册号110108850315123"),
    ("fifteen-amount", "合计130503670401001.50元"),
    ("fifteen-no-province-40", "编号401234670401001"),
    ("phone-words-with-short-numbers", "手机128G内存，电话费100元，手机号码还没改"),
    ("fifteen-no-province-77", "设备号 773456850101123"),
    ("fifteen-decimal-fraction", "系数0.130503670401001"),
    ("fifteen-letters-around", "顺丰单号SF130503670401001"),
    ("empty", ""),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in MASKED], ids=[c[0] for c in MASKED])
def test_personal_data_is_masked(text: str, expected: str) -> None:
    """Each kind of personal data is replaced by its placeholder and the rest stays as written."""
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize("text", [c[1] for c in UNCHANGED], ids=[c[0] for c in UNCHANGED])
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Years, counts, dates, rooms, hotlines, names without a cue and 15-digit numbers that are no ID are not masked."""
    assert mask_personal_data(text) == text


@pytest.mark.parametrize("text", [c[1] for c in MASKED], ids=[c[0] for c in MASKED])
def test_masking_is_idempotent(text: str) -> None:
    """Masking a masked text changes nothing."""
    once = mask_personal_data(text)
    assert mask_personal_data(once) == once


def test_no_digit_run_of_a_mobile_survives() -> None:
    """No 11-digit mobile number is left behind in a sentence that has several."""
    text = "张阿姨13812345678，李叔叔 139-8765-4321，王姐+86 150 1111 2222"
    masked = mask_personal_data(text)
    assert masked.count("[手机号]") == 3
    assert not any(ch.isdigit() for ch in masked)


@pytest.mark.parametrize("placeholder", sorted(set(PLACEHOLDERS.values())))
def test_placeholders_are_short_chinese_in_brackets(placeholder: str) -> None:
    """Every placeholder is a short Chinese word in square brackets, the shape the tokenizer drops."""
    assert re.fullmatch(r"\[[\u3400-\u9fff]{1,6}\]", placeholder)
