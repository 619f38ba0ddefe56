"""The per-email login budget counts the account, not the spelling: every way of writing an address that
logs into one account spends that account's budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clinic_api.rate_limiting import email_key
from clinic_api.services import RateLimit, RateLimits
from tests.api.conftest import PASSWORD, Api

EMAIL = "vet@demo.example.com"
# A fullwidth d (U+FF44): UTS-46 maps the domain onto demo.example.com, so it logs into the same account.
FULLWIDTH_SPELLING = "vet@\uff44emo.example.com"


@pytest.mark.parametrize(
    "spelling",
    [
        " VET@Demo.Example.COM ",
        FULLWIDTH_SPELLING,
        "\uff36\uff25\uff34@demo.example.com",  # a fullwidth local part, NFKC-normalised by Email.parse
    ],
)
def test_spellings_of_one_address_share_a_key(spelling: str) -> None:
    assert email_key(spelling) == email_key(EMAIL)


def test_an_unparseable_address_still_gets_a_key() -> None:
    assert email_key(" Not An Email ") == email_key("not an email")


async def test_another_spelling_of_the_email_gets_no_fresh_budget(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=RateLimits(login_per_email=RateLimit(3)))
    await api.sign_up(EMAIL, "Clínica Demo")
    for _ in range(3):
        response = await api.post("/v1/auth/login", {"email": EMAIL, "password": "wrong password!"})
        assert response.status == 401
    response = await api.post("/v1/auth/login", {"email": FULLWIDTH_SPELLING, "password": PASSWORD})
    assert response.status == 429, await response.text()
