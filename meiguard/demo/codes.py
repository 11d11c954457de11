"""Valid-looking identifiers for demo data and tests (checksums computed, never copied from real people)."""

from __future__ import annotations

import datetime as dt

from stdnum.cn import ric, uscc

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_code(seed: int, region: str = "430100") -> str:
    """A unified social credit code (GB 32100) with valid organisation-code and final check digits."""
    for n in range(seed * 31, seed * 31 + 1000):
        base = f"91{region}{n % 10**8:08d}"
        for c in _ALPHABET:
            code = base + c + uscc.calc_check_digit(base + c)
            if uscc.is_valid(code):
                return code
    raise AssertionError("unreachable")


def id_number(seed: int, region: str = "430102") -> str:
    """A resident ID number (GB 11643) with a valid check digit; distinct seeds give distinct numbers
    (the seed picks the birth date, 1986-01-01 plus ``seed`` days, up to 12,000 seeds)."""
    birth = (dt.date(1986, 1, 1) + dt.timedelta(days=seed % 12000)).strftime("%Y%m%d")
    for n in range(1, 1000):
        base = f"{region}{birth}{n:03d}"
        code = base + ric.calc_check_digit(base + "0")  # stdnum expects a placeholder check digit
        if ric.is_valid(code):
            return code
    raise AssertionError("unreachable")


def licence_no(seed: int, region: str = "430102") -> str:
    """A 医疗机构执业许可证登记号: 9-char organisation code, 6-digit division, 7 more characters."""
    return f"PDY{seed:06d}{region}{seed:05d}11"
