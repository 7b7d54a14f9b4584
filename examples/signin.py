"""The backend code under test in the README's "Testing your application": nothing in it knows
of cogid."""

import boto3

DEVELOPER_PROVIDER = "login.example.app"


def sign_in(pool_id, user, facebook_token=None, cognito=None):
    """`user` has signed in to our own login system: get their Cognito identity and a token for
    it, linking their Facebook login if they gave one, and exchange the token for the temporary
    AWS credentials their device will use."""
    cognito = cognito or boto3.client("cognito-identity")
    logins = {DEVELOPER_PROVIDER: user}
    if facebook_token:
        logins["graph.facebook.com"] = facebook_token
    issued = cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins=logins)
    credentials = cognito.get_credentials_for_identity(
        IdentityId=issued["IdentityId"], Logins={"cognito-identity.amazonaws.com": issued["Token"]}
    )["Credentials"]
    return {"IdentityId": issued["IdentityId"], "Token": issued["Token"], "Credentials": credentials}
