"""The `local` stack's rpcUrl, validated before anything starts (settings.local_rpc_endpoint)."""

from __future__ import annotations

import pytest

from chain.errors import ConfigError
from settings import local_rpc_endpoint


@pytest.mark.parametrize(
    "url,endpoint",
    [
        ("http://127.0.0.1:8545", ("127.0.0.1", 8545)),
        ("http://localhost:9545/", ("localhost", 9545)),
        ("http://[::1]:8545", ("::1", 8545)),
        ("http://127.0.0.2:1", ("127.0.0.2", 1)),
    ],
)
def test_a_local_url_gives_where_the_chain_listens(url, endpoint):
    assert local_rpc_endpoint(url) == endpoint


@pytest.mark.parametrize(
    "url,expected",
    [
        (None, "None is not set"),
        ("", "'' is not set"),
        ("https://127.0.0.1:8545", "is not an http:// URL"),
        ("ws://127.0.0.1:8546", "is not an http:// URL"),
        ("127.0.0.1:8545", "is not an http:// URL"),
        ("http://127.0.0.1", "has no valid port"),
        ("http://127.0.0.1:0", "has no valid port"),
        ("http://127.0.0.1:99999", "has no valid port"),
        ("http://127.0.0.1:85x5", "has no valid port"),
        ("http://10.0.0.5:8545", "is not on this machine (host 10.0.0.5;"),
        ("http://eth.keep.svc.cluster.local:8545", "is not on this machine"),
        ("http://0.0.0.0:8545", "is not on this machine"),
        ("http://127.0.0.1:8545/rpc", "has a path or query"),
        ("http://127.0.0.1:8545/?key=1", "has a path or query"),
        ("http://user:hunter2@127.0.0.1:8545", "carries credentials"),
    ],
)
def test_anything_else_is_one_line_naming_the_key(url, expected):
    with pytest.raises(ConfigError) as e:
        local_rpc_endpoint(url)
    message = str(e.value)
    assert message.startswith("config keep-cd:rpcUrl: ") and expected in message and "\n" not in message
    assert "hunter2" not in message
