"""The pooled OS random source behind receipt codes and CSP nonces (recommender.crypto)."""

from __future__ import annotations

import base64
import os

import pytest

from recommender import crypto as keys


def test_pooled_bytes_are_never_handed_out_twice():
    chunks = [keys.random_bytes(12) for _ in range(2000)]  # several refills of the 4 KiB pool
    assert all(len(c) == 12 for c in chunks)
    assert len(set(chunks)) == len(chunks)
    assert len(keys.random_bytes(10_000)) == 10_000  # more than one read's worth at once


def test_token_urlsafe_matches_the_secrets_format():
    token = keys.token_urlsafe(18)
    assert len(token) == 24 and "=" not in token
    assert len(base64.urlsafe_b64decode(token)) == 18
    assert len({keys.token_urlsafe(18) for _ in range(500)}) == 500


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_reuse_the_parents_pool():
    keys.random_bytes(1)  # the pool now holds bytes the parent will hand out next
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next bytes and leave without running pytest's cleanup
        os.close(read)
        os.write(write, keys.random_bytes(32))
        os._exit(0)
    os.close(write)
    child = b""
    while len(child) < 32:
        part = os.read(read, 32 - len(child))
        if not part:
            break
        child += part
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != keys.random_bytes(32)
