"""The credential scan is linear in its input: 100 KB adversarial values (the shapes that made the
former regular expressions quadratic or worse) are scanned in well under half a second each, and
so is a whole admission carrying one in an annotation and in a container's args."""

from __future__ import annotations

import time

import pytest

from katib_llm.core import credentials
from tests.builders import admitted, batch_job, container, example, own_trial

SIZE = 100_000
ADVERSARIAL = {
    "word": "a" * SIZE,                        # a long run of scheme and word characters
    "keyword": "key" * (SIZE // 3),            # key-ish words with no separator
    "passw": "passw" * (SIZE // 5),            # was cubic: 2 KB took 23 s
    "separators": "key=" * (SIZE // 4),        # a key-ish word before every separator
    "spaced": "token = " * (SIZE // 8),
    "colons": "a:" * (SIZE // 2),
    "schemes": "a://" * (SIZE // 4),
    "authority": "x://" + "@:" * (SIZE // 2),
    "hf": "hf_" * (SIZE // 3),
    "akia": "AKIA" * (SIZE // 4),
    "ghp": "ghp_" * (SIZE // 4),
    "spaces": " " * SIZE,
    "quotes": "secret\"'" * (SIZE // 8),
    "unicode": "\u0663\u00b3key=" * (SIZE // 6),
}
BOUND = 0.5  # seconds, on one shared core; the scans take a few milliseconds to ~0.1 s


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_every_adversarial_value_is_scanned_in_linear_time(name):
    text = ADVERSARIAL[name]
    assert len(text) >= SIZE - 8
    started = time.perf_counter()
    credentials.value_shape(text)
    credentials.value_shape(text + "=" + "A" * 40)
    assert time.perf_counter() - started < 2 * BOUND


def test_a_shape_at_the_end_of_100_kb_is_still_found():
    assert credentials.value_shape("a" * SIZE + " api_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    assert credentials.value_shape("passw" * (SIZE // 5) + " https://u:p@example.com")


@pytest.mark.parametrize("name", ["passw", "separators", "keyword", "schemes"])
def test_a_whole_admission_with_a_hostile_value_is_fast(name):
    text = ADVERSARIAL[name][:30_000]
    exp = own_trial(example(annotations={"training-args": '{"run_name": "%s"}' % text}),
                    batch_job({"containers": [container("training", args=[text])]}), "training")
    started = time.perf_counter()
    result = admitted(exp)
    assert time.perf_counter() - started < 2 * BOUND
    expected = credentials.value_shape(text) is not None  # "key=" repeated ends in 40 characters after a key
    assert [e.code for e in result.errors] == (["credential.value"] * 2 if expected else [])


GHP = "ghp_" + "Q7wErTyUiOpAsDfGhJkLzXcVbNm123456789"


@pytest.mark.parametrize("text, found", [
    ('{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', True),
    ("password :  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'", True),
    ("mysecretvalue=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", True),
    ("secret-=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", False),       # no word just before the separator
    ("name=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", False),          # not a key-ish name
    ("api_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYX", False),      # 41 characters: not the shape
    (f"https://x-access-token:{GHP}@github.com/org/repo", True),
    (f"git+https://{GHP}@github.com/org/pkg", True),
    ("https://Zq7X2mKp9VwR4tLs8NyB3cDf@pypi.example.com/simple", True),  # a token-shaped user name
    ("https://git@github.com/org/repo", False),                          # a login, not a token
    ("git@github.com:org/repo.git", False),
    ("https://pypi.example.com/simple?user=a@b", False),                 # '@' outside the authority
    ("://u:p@host", False),                                              # no scheme
    (GHP, True), ("x" + GHP, False), ("xhf_" + "a" * 30, False), ("hf_" + "a" * 30, True),
    ("glpat-" + "a1" * 10, True), ("AKIAZ7Q2X9W4V6T8R1S3", True), ("AKIAZ7Q2X9W4V6T8R1S3X", False),
])
def test_the_linear_scan_finds_each_shape(text, found):
    assert (credentials.value_shape(text) is not None) is found


def test_credential_names_in_linear_time():
    started = time.perf_counter()
    for name in ("a" * SIZE, "token" * (SIZE // 5), "a_" * (SIZE // 2), "\u0663" * SIZE):
        credentials.is_credential_name(name)
    assert time.perf_counter() - started < BOUND
    assert credentials.is_credential_name("MY_API_KEY") and not credentials.is_credential_name("KEYBOARD_LAYOUT")
