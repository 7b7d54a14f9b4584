"""Links and identities: link, unlink, lookup, show, list, merge, delete; test social logins."""

import json

import jwt
from conftest import DEV, FACEBOOK_APP, ok


def test_link_and_unlink_social_login(cli, cli_pool, social):
    alice = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    fb = social("fb-alice")
    linked = cli("link", "--facebook", fb, env={"COGID_USER": "alice"})
    assert ok(linked) == {"IdentityId": alice, "Logins": [DEV, "graph.facebook.com"]}
    assert f"Linked graph.facebook.com to alice's identity {alice}" in linked.stderr
    assert ok(cli("unlink", "--user", "alice", "--facebook", fb)) == {"IdentityId": alice, "Logins": [DEV]}
    assert ok(cli("unlink", "--user", "alice")) == {"IdentityId": alice, "Logins": []}
    assert ok(cli("token", "issue", "--user", "alice"))["IdentityId"] != alice

def test_identity_lookup_show_list_merge_delete(cli, cli_pool):
    alice = ok(cli("token", "issue", "--user", "alice"))["IdentityId"]
    bob = ok(cli("token", "issue", "--user", "bob"))["IdentityId"]
    assert ok(cli("identity", "lookup", "--user", "alice")) == {"IdentityId": alice, "DeveloperUserIdentifierList": ["alice"]}
    assert ok(cli("identity", "merge", "--from", "bob", "--into", "alice")) == {"IdentityId": alice}
    assert ok(cli("identity", "lookup", alice))["DeveloperUserIdentifierList"] == ["alice", "bob"]
    shown = ok(cli("identity", "show", "--user", "bob"))
    assert shown["IdentityId"] == alice and shown["Logins"] == [DEV]
    assert shown["DeveloperUserIdentifierList"] == ["alice", "bob"]
    assert shown["CreationDate"].endswith("Z")
    listed = ok(cli("identity", "list"))
    assert [i["IdentityId"] for i in listed] == [alice, bob]
    assert [i["IdentityId"] for i in ok(cli("identity", "list", "--hide-disabled"))] == [alice]
    assert ok(cli("identity", "delete", bob, "--yes")) == {"Deleted": [bob], "UnprocessedIdentityIds": [], "NotFound": []}
    again = cli("identity", "delete", bob, "--yes")
    assert again.exit_code == 4 and json.loads(again.stdout)["NotFound"] == [bob]
    assert again.stderr.splitlines()[-1] == f"cogid: error: not found: {bob}"
    assert [i["IdentityId"] for i in ok(cli("identity", "list"))] == [alice]

def test_a_twitter_test_token_links_with_the_twitter_option(cli, cli_pool):
    ok(cli("pool", "update", "--twitter", "consumer;secret"))
    token = ok(cli("social", "token", "twitter", "--subject", "t-1", "-o", "text")).strip()
    linked = ok(cli("link", "--user", "alice", "--twitter", token))
    assert "api.twitter.com" in linked["Logins"]

def test_social_token_for_a_provider_the_pool_lacks_says_how_to_add_it(cli, cli_pool):
    for provider, option in (("twitter", "--twitter 'CONSUMER_KEY;CONSUMER_SECRET'"), ("google", "--google CLIENT_ID"),
                             ("amazon", "--amazon APP_ID"), ("apple", "--apple SERVICES_ID")):
        refused = cli("social", "token", provider, "--subject", "1")
        assert refused.exit_code == 3 and f"`cogid pool update {option}`" in refused.stderr, refused.stderr


def test_social_token_on_an_aws_profile_says_test_tokens_are_local(cli, cli_pool):
    ok(cli("profile", "add", "prod", "--backend", "aws", "--region", "us-east-1", "--pool", cli_pool))
    refused = cli("social", "token", "facebook", "--subject", "1", "-p", "prod")
    assert refused.exit_code == 3
    assert "profile 'prod' reaches real AWS, which accepts only real graph.facebook.com tokens" in refused.stderr


def test_social_token_is_accepted_as_that_provider(cli, cli_pool, cognito):
    minted = ok(cli("social", "token", "facebook", "--subject", "10001"))
    assert minted["Provider"] == "graph.facebook.com" and minted["Subject"] == "10001"
    identity = cognito.get_id(IdentityPoolId=cli_pool, Logins={"graph.facebook.com": minted["Token"]})["IdentityId"]
    assert cognito.describe_identity(IdentityId=identity)["Logins"] == ["graph.facebook.com"]
    assert jwt.decode(minted["Token"], options={"verify_signature": False})["aud"] == FACEBOOK_APP
