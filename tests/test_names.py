"""Names of databases, tables, dimensions and measures, as Timestream checks them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsstore.errors import ValidationError
from tsstore.model.names import validate_column_name, validate_resource_name

RESOURCE_ALPHABET = "abcXYZ019_.-"


@pytest.mark.parametrize("name", ["iot", "a.b", "db-1_x", "A" * 256, "..a", "._-"])
@pytest.mark.parametrize("kind", ["database", "table"])
def test_valid_resource_names(name, kind):
    assert validate_resource_name(name, kind) == name


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("ab", "has 2 characters; use 3 to 256"),
        ("a" * 257, "has 257 characters"),
        ("...", "would name a directory"),
        ("a/b", "contains '/'"),
        ("a b", "contains ' '"),
        ("abc\n", "contains '\\\\n'"),  # a trailing newline is not allowed by the anchor
        ("dé_1", "contains 'é'"),
        (b"iot", "must be a string"),
        (None, "must be a string"),
    ],
)
def test_invalid_resource_names(name, match):
    with pytest.raises(ValidationError, match=match):
        validate_resource_name(name, "database")


@given(st.text(RESOURCE_ALPHABET, min_size=3, max_size=256))
def test_any_name_of_the_alphabet_is_valid_unless_all_dots(name):
    if set(name) == {"."}:
        with pytest.raises(ValidationError):
            validate_resource_name(name, "table")
    else:
        assert validate_resource_name(name, "table") == name


@given(
    st.text(RESOURCE_ALPHABET, max_size=10),
    st.characters(),
    st.text(RESOURCE_ALPHABET, max_size=10),
)
def test_a_character_outside_the_alphabet_is_refused(before, bad, after):
    name = before + bad + after
    if bad in RESOURCE_ALPHABET or re.fullmatch(r"[a-zA-Z0-9_.\-]", bad):
        return
    with pytest.raises(ValidationError):
        validate_resource_name(name.ljust(3, "a"), "database")


@pytest.mark.parametrize("kind", ["dimension", "measure"])
@pytest.mark.parametrize("name", ["time", "TIME", "Measure_Name", "measure_value", "ts_x", "TS_"])
def test_reserved_column_names(kind, name):
    with pytest.raises(ValidationError, match="reserved"):
        validate_column_name(name, kind)


def test_prefixes_differ_for_dimensions_and_measures():
    with pytest.raises(ValidationError, match="reserved"):
        validate_column_name("measure_value::double", "measure")
    assert validate_column_name("measure_value_x", "measure") == "measure_value_x"
    with pytest.raises(ValidationError, match="reserved"):
        validate_column_name("measure_value_x", "dimension")
    with pytest.raises(ValidationError, match="contains ':'"):
        validate_column_name("a:b", "dimension")
    assert validate_column_name("a:b", "measure") == "a:b"
    assert validate_column_name("timestamp", "dimension") == "timestamp"
    assert validate_column_name("its_x", "dimension") == "its_x"


@pytest.mark.parametrize(
    ("kind", "ok", "too_long"),
    [
        ("dimension", "d" * 60, "d" * 61),
        ("dimension", "é" * 30, "é" * 31),  # the limit is in UTF-8 bytes
        ("measure", "m" * 256, "m" * 257),
        ("measure", "€" * 85, "€" * 86),
    ],
)
def test_length_limits_in_bytes(kind, ok, too_long):
    assert validate_column_name(ok, kind) == ok
    with pytest.raises(ValidationError, match="bytes long; the limit is"):
        validate_column_name(too_long, kind)


@pytest.mark.parametrize(("name", "match"), [("", "is empty"), (3, "must be a string")])
def test_empty_and_non_string_column_names(name, match):
    with pytest.raises(ValidationError, match=match):
        validate_column_name(name, "measure")


@given(
    st.sampled_from(["dimension", "measure"]),
    st.one_of(
        st.sampled_from(["time", "measure_name", "measure_value"]),
        st.text("abc:_", max_size=8).map(lambda s: "ts_" + s),
        st.text("abc:_", max_size=8).map(lambda s: "measure_value::" + s),
    ),
)
def test_the_suggested_fix_is_itself_a_valid_name(kind, name):
    with pytest.raises(ValidationError) as info:
        validate_column_name(name, kind)
    fix = re.search(r"e\.g\. to '([^']*)'", str(info.value))
    assert fix is not None, str(info.value)
    assert validate_column_name(fix.group(1), kind) == fix.group(1)
