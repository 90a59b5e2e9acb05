"""The SSRF guard: private destinations are refused at creation and again at delivery."""

from __future__ import annotations

import pytest

from graphql_api.domain.webhook_destinations import DestinationPolicy, DestinationRefused
from tests.webhooks.support import CREATE, create_webhook, finish_turn, new_session, settled

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.10.10/hook",  # link-local
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://[ff02::1]/hook",
    "http://240.0.0.1/hook",  # reserved
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
    "http://[fc00::1]/hook",
]
NOT_HTTP = ["ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com/", "/relative"]


@pytest.mark.parametrize("url", REFUSED + NOT_HTTP)
async def test_the_guard_refuses_non_public_destinations(url):
    with pytest.raises(DestinationRefused):
        await DestinationPolicy().resolve(url)


async def test_public_addresses_pass():
    resolved = await DestinationPolicy().resolve("https://93.184.215.14:8443/hook")
    assert (resolved.scheme, resolved.port, [str(a) for a in resolved.addresses]) == (
        "https",
        8443,
        ["93.184.215.14"],
    )


async def test_the_allowlist_lets_listed_hosts_and_networks_through_but_never_metadata():
    policy = DestinationPolicy.from_setting(
        " 127.0.0.1 , 10.0.0.0/8, hooks.internal ,169.254.0.0/16"
    )
    assert (await policy.resolve("http://127.0.0.1:9/x")).addresses
    assert (await policy.resolve("http://10.1.2.3/x")).addresses
    with pytest.raises(DestinationRefused):
        await policy.resolve("http://192.168.0.1/x")
    with pytest.raises(DestinationRefused, match="metadata"):
        await policy.resolve("http://169.254.169.254/x")
    with pytest.raises(DestinationRefused, match="metadata"):
        await DestinationPolicy(["fd00::/8"]).resolve("http://[fd00:ec2::254]/x")


async def test_creation_refuses_private_urls_without_the_allowlist(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    for url in REFUSED[:4] + REFUSED[8:10] + NOT_HTTP[:1]:
        error = await client.error(CREATE, {"input": {"url": url, "events": ["TURN_FINISHED"]}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (url, error)
        assert error["extensions"]["field"] == "input.url"
    assert (await client.data("{ webhooks { totalCount } }"))["webhooks"]["totalCount"] == 0


async def test_delivery_rechecks_the_destination(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    """Allowed when created, refused when sent (here: the allowlist changed; DNS may too)."""
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer(allowed="")

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "FAILED"
    assert delivery["lastResponseStatus"] is None
    assert "destination refused" in delivery["lastError"]
    assert "loopback" in delivery["lastError"]
    assert receiver.at(path) == []


async def test_delivery_connects_to_the_checked_address_with_the_real_host_header(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    hook, _ = await create_webhook(client, receiver.url(path, host="localhost"))
    await finish_turn(hook_services, owner, session)
    await deliverer(allowed="localhost")

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "DELIVERED"
    [request] = receiver.at(path)
    assert request.headers["host"] == f"localhost:{receiver.port}"
