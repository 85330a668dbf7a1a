"""The API key file format: hashes only, every mistake named at start-up."""

import hashlib

import pytest

from devstack_client import config
from devstack_client.apikeys import KeyRing, hash_line, load, new_key, parse
from devstack_client.config import ConfigError
from devstack_client.main import main

HEX = "a" * 64


def test_a_line_is_a_hash_a_role_and_an_optional_label():
    keys = parse(f"sha256:{HEX} operator  CI bot, nightly \n# comment\nsha256:{'b' * 64} reader # no label", "x")

    assert [(k.digest.hex(), k.role, k.label) for k in keys] == [
        (HEX, "operator", "CI bot, nightly"),
        ("b" * 64, "reader", ""),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("sha256:abc reader", "line 2: expected `sha256:<64 hex digits> reader|operator [label]`"),
        (f"md5:{HEX} reader", "line 2: expected"),
        (f"sha256:{HEX}", "line 2: expected"),
        (f"sha256:{HEX} admin", "line 2: the role must be reader or operator, not 'admin'"),
        ("dsk_0123456789abcdef reader", "it looks like a key itself: configure its hash"),
    ],
)
def test_a_bad_line_is_a_config_error_that_does_not_echo_it(line, message):
    with pytest.raises(ConfigError, match=r"keys\.txt, line 2") as error:
        parse(f"# keys\n{line}\n", "keys.txt")

    assert message in str(error.value)
    assert "dsk_0123456789abcdef" not in str(error.value)


def test_the_file_and_the_variable_add_up(tmp_path):
    path = tmp_path / "keys"
    path.write_text(hash_line("one", "reader"))

    ring = load(
        config.load(
            {"API_KEYS_FILE": str(path), "API_KEYS": f"{hash_line('two', 'operator')},{hash_line('three', 'reader')}"},
            environ={},
        )
    )

    assert len(ring) == 3
    assert ring.match("two").role == "operator"
    assert ring.match("four") is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"API_KEYS_FILE": "/nonexistent/keys"}, "API_KEYS_FILE /nonexistent/keys: cannot read it"),
        ({"API_KEYS": " # nothing\n"}, "API_KEYS is set but holds no key"),
        ({"API_KEYS": f"{hash_line('k', 'reader')},{hash_line('k', 'operator')}"}, "the same key is configured twice"),
    ],
)
def test_unusable_key_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError) as error:
        load(config.load(settings, environ={}))

    assert message in str(error.value)


def test_no_key_settings_means_no_keys():
    assert not load(config.load({}, environ={}))


def test_matching_compares_hashes():
    ring = KeyRing(parse(hash_line("s3cret", "reader", "me"), "x"))

    assert ring.match("s3cret").label == "me"
    assert ring.match("s3cret ") is None
    assert ring.match("") is None


def test_new_keys_are_random_and_their_line_matches_them():
    (key, line), (other, _) = new_key("operator", "ci"), new_key("operator", "ci")

    assert key.startswith("dsk_") and len(key) > 40 and key != other
    assert line == f"sha256:{hashlib.sha256(key.encode()).hexdigest()} operator ci"
    assert KeyRing(parse(line, "x")).match(key).role == "operator"


def test_the_hash_key_command_prints_a_key_and_its_line(capsys):
    assert main(["hash-key", "operator", "ci  bot"]) == 0

    lines = capsys.readouterr().out.splitlines()
    key, line = lines[1], lines[3]
    assert line.endswith(" operator ci bot")
    assert KeyRing(parse(line, "x")).match(key).label == "ci bot"


def test_the_hash_key_command_makes_reader_keys_by_default(capsys):
    assert main(["hash-key"]) == 0

    assert capsys.readouterr().out.splitlines()[3].endswith(" reader")
