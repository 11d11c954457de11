import pytest
from django.utils import translation

from meiguard.core.apierrors import pydantic_message


@pytest.mark.parametrize(
    ("err", "zh", "en"),
    [
        ({"type": "missing"}, "必填", "required"),
        ({"type": "date_from_datetime_parsing"}, "YYYY-MM-DD", "YYYY-MM-DD"),
        ({"type": "date_parsing"}, "YYYY-MM-DD", "YYYY-MM-DD"),
        ({"type": "datetime_from_date_parsing"}, "ISO 8601", "ISO 8601"),
        ({"type": "int_parsing"}, "整数", "whole number"),
        ({"type": "greater_than_equal", "ctx": {"ge": 1}}, "不能小于 1", "at least 1"),
        ({"type": "less_than_equal", "ctx": {"le": 4}}, "不能大于 4", "at most 4"),
        ({"type": "too_long", "ctx": {"max_length": 1000}}, "1000", "1000"),
        ({"type": "literal_error", "ctx": {"expected": "'a' or 'b'"}}, "'a' or 'b'", "'a' or 'b'"),
        (
            {"type": "value_error", "ctx": {"error": ValueError("统一社会信用代码校验位错误")}},
            "校验位",
            "校验位",
        ),
        ({"type": "something_new"}, "输入无效", "Invalid input"),
    ],
)
def test_every_pydantic_error_gets_a_precise_translated_message(err, zh, en):
    with translation.override("zh-hans"):
        assert zh in pydantic_message(err)
    with translation.override("en"):
        assert en in pydantic_message(err)
