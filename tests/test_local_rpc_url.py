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


EXPECTED = "expected http://127.0.0.1:<port>, where a local chain listens or is started"
PORT = "a local chain's port must be explicit; " + EXPECTED


@pytest.mark.parametrize(
    "url,reason",
    [
        (None, f"None is not set ({EXPECTED})"),
        ("", f"'' is not set ({EXPECTED})"),
        ("https://127.0.0.1:8545", f"https://127.0.0.1:8545 is not an http:// URL ({EXPECTED})"),
        ("ws://127.0.0.1:8546", f"ws://127.0.0.1:8546 is not an http:// URL ({EXPECTED})"),
        ("127.0.0.1:8545", f"127.0.0.1:8545 is not an http:// URL ({EXPECTED})"),
        ("http://127.0.0.1", f"http://127.0.0.1 has no valid port ({PORT})"),
        ("http://127.0.0.1:0", f"http://127.0.0.1:0 has no valid port ({PORT})"),
        ("http://127.0.0.1:99999", f"http://127.0.0.1:99999 has no valid port ({PORT})"),
        ("http://127.0.0.1:85x5", f"http://127.0.0.1:85x5 has no valid port ({PORT})"),
        ("http://10.0.0.5:8545", f"http://10.0.0.5:8545 is not on this machine (host 10.0.0.5; {EXPECTED})"),
        (
            "http://eth.keep.svc.cluster.local:8545",
            f"http://eth.keep.svc.cluster.local:8545 is not on this machine (host eth.keep.svc.cluster.local; {EXPECTED})",
        ),
        ("http://0.0.0.0:8545", f"http://0.0.0.0:8545 is not on this machine (host 0.0.0.0; {EXPECTED})"),
        ("http://:8545", f"http://:8545 is not on this machine (host (none); {EXPECTED})"),
        ("http://127.0.0.1:8545/rpc", f"http://127.0.0.1:8545/rpc has a path or query (a local chain answers at /; {EXPECTED})"),
        ("http://127.0.0.1:8545/?key=1", f"http://127.0.0.1:8545/?key=1 has a path or query (a local chain answers at /; {EXPECTED})"),
        ("http://127.0.0.1:8545/#rpc", f"http://127.0.0.1:8545/#rpc has a path or query (a local chain answers at /; {EXPECTED})"),
        ("http://127.0.0.1:8545/;rpc", f"http://127.0.0.1:8545/;rpc has a path or query (a local chain answers at /; {EXPECTED})"),
        # The password is never printed; a user name alone is refused as well.
        ("http://user:hunter2@127.0.0.1:8545", f"http://user:***@127.0.0.1:8545 carries credentials ({EXPECTED})"),
        ("http://user:hunter2@10.0.0.5:8545", f"http://user:***@10.0.0.5:8545 carries credentials ({EXPECTED})"),
        ("http://user@127.0.0.1:8545", f"http://user@127.0.0.1:8545 carries credentials ({EXPECTED})"),
    ],
)
def test_anything_else_is_one_line_naming_the_key(url, reason):
    with pytest.raises(ConfigError) as e:
        local_rpc_endpoint(url)
    assert (e.value.key, e.value.reason) == ("keep-cd:rpcUrl", reason)
    assert str(e.value) == f"config keep-cd:rpcUrl: {reason}" and "\n" not in str(e.value)
