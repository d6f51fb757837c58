"""PRC resident ID (ISO 7064 MOD 11-2, embedded birth date), phones, ages and masks."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.lending import identity

TODAY = date(2026, 1, 15)
KNOWN_VALID = "11010519491231002X"  # the standard's worked example


def codes(number: str) -> list[str]:
    return [p.code for p in identity.resident_id_problems(number, TODAY)]


def test_known_valid_id_and_its_birth_date():
    assert codes(KNOWN_VALID) == []
    assert identity.resident_id_birth_date(KNOWN_VALID) == date(1949, 12, 31)
    assert codes("110105 19491231 002x") == []  # spaces and lower-case x are normalized


def test_each_wrong_check_character_is_refused():
    for c in "0123456789":
        assert codes(KNOWN_VALID[:17] + c) == ["check_digit"]


@given(st.from_regex(r"\A(11|31|44)[0-9]{4}(19[5-9][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])"
                     r"[0-9]{3}\Z"))
def test_exactly_one_check_character_validates_any_prefix(prefix):
    valid = [c for c in "0123456789X" if not codes(prefix + c)]
    assert valid == [identity.check_char(prefix)]


@given(st.text(alphabet="0123456789X", min_size=18, max_size=18), st.sampled_from(range(17)),
       st.integers(1, 9))
def test_a_single_digit_error_is_always_caught(number, position, delta):
    prefix = number[:17].replace("X", "1")
    good = prefix + identity.check_char(prefix)
    changed = str((int(good[position]) + delta) % 10)
    bad = good[:position] + changed + good[position + 1:]
    assert "check_digit" in codes(bad)


def test_birth_date_region_format_and_legacy_problems():
    def with_check(first17: str) -> str:
        return first17 + identity.check_char(first17)

    assert codes(with_check("11010519490230002")) == ["invalid_birth_date"]  # 30 February
    assert codes(with_check("11010520990101002")) == ["invalid_birth_date"]  # future
    assert codes(with_check("99010519491231002")) == ["invalid_region"]
    assert codes("110105194912310") == ["legacy_id"]
    assert codes("11010519491231002Y") == ["invalid_format"]
    assert codes("1101051949") == ["invalid_format"]
    # several problems are all reported
    assert set(codes("99010519490230002" + "0")) >= {"invalid_region", "invalid_birth_date"}


def test_problem_texts_never_echo_the_number_or_the_expected_digit():
    for p in identity.resident_id_problems(KNOWN_VALID[:17] + "1", TODAY):
        assert KNOWN_VALID[:6] not in p.msg and "X" not in p.msg.replace("MOD", "")


def test_phones():
    assert identity.normalize_phone("13812345678") == "+8613812345678"
    assert identity.normalize_phone("+86 138-1234-5678") == "+8613812345678"
    assert identity.normalize_phone("+14155552671") == "+14155552671"
    for bad in ("12345678901", "+8612345678901", "+0123456789", "phone", "+1234567"):
        assert identity.normalize_phone(bad) is None, bad


def test_age_counts_whole_years_and_leap_birthdays():
    assert identity.age_on(date(2000, 1, 15), date(2026, 1, 15)) == 26
    assert identity.age_on(date(2000, 1, 16), date(2026, 1, 15)) == 25
    assert identity.age_on(date(2004, 2, 29), date(2022, 2, 28)) == 17
    assert identity.age_on(date(2004, 2, 29), date(2022, 3, 1)) == 18


@given(st.text(alphabet="0123456789X", min_size=5, max_size=20))
def test_masks_keep_only_the_last_four(number):
    masked = identity.mask_id(number)
    assert masked.endswith(number[-4:]) and set(masked[:-4]) <= {"*"}


def test_phone_and_name_masks():
    assert identity.mask_phone("+8613812345678") == "+86138****5678"
    assert "2671" in identity.mask_phone("+14155552671")
    assert "555" not in identity.mask_phone("+14155552671")[:-4]
    assert identity.mask_name("王小明") == "王**"
    assert identity.mask_name("Li") == "L*"
