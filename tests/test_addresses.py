"""Account addresses are checked by their syntax alone, everywhere an account is made.

A malformed address used to be accepted and then failed at every alert run.
The check is email-validator's (RFC 5321/5322, internationalised addresses
of RFC 6531 included), with no DNS or network look-up: the reserved
``example.org`` and ``.test`` domains are valid, as tests and private
deployments need.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from search.alerts import add_user
from search.errors import AccountError
from search.settings import Settings
from web.cli import main
from webforms import make_app, own_instance, submit

VALID = ["ana@example.org", "a.b+alerts@news.example.com", "reporter@desk.test", "žana@example.org",
         "o'neil@example.org"]
INVALID = ["ana", "ana@", "@example.org", "ana@example", "a..b@example.org", "ana@-example.org",
           "ana @example.org", "ana@exa mple.org", "ana@example..org", '"ana smith"@example.org', "a@b@example.org"]


@pytest.mark.parametrize("address", VALID)
def test_a_valid_address_makes_an_account(fresh: Settings, address: str) -> None:
    assert add_user(fresh, address, "a long password").email == address


@pytest.mark.parametrize("address", INVALID)
def test_a_malformed_address_is_refused_with_a_hint(fresh: Settings, address: str) -> None:
    with pytest.raises(AccountError, match="is not an e-mail address") as refused:
        add_user(fresh, address, "a long password")
    assert refused.value.hint == "write it as name@example.org"


def test_the_cli_refuses_a_malformed_address(
    fresh: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))  # the password, as a script pipes it in
    assert main(["users", "add", "ana@example..org", "--index", str(fresh.index)]) == 1
    assert "is not an e-mail address" in capsys.readouterr().err


def test_registration_refuses_a_malformed_address(seeded: Settings, tmp_path: Path) -> None:
    client = make_app(own_instance(seeded, tmp_path, registration_open=True)).test_client()
    answer = submit(client, "/register", "/register", email="ana@example..org", password="a long password",
                    confirm="a long password")
    assert answer.status_code == 400 and "is not an e-mail address" in answer.get_data(as_text=True)
