"""cogid quickstart: the whole developer-identity flow on the local backend, step by step."""

from typing import Annotated, Any

import typer

from cogid import config, output
from cogid.cli.options import output_option
from cogid.errors import UsageError

POOL_NAME = "cogid-quickstart"
PROVIDER = "login.quickstart.cogid"
FACEBOOK_APP = "quickstart-facebook-app"
FORMATS = ("json", "table")
MAX_USER = 1024  # characters of a developer user id
SYNC_DATASET = "settings"


def _find_pool(cognito: Any) -> str | None:
    from cogid.local.sdk.paging import paginate

    for page in paginate(cognito, "ListIdentityPools", MaxResults=60):
        for pool in page["IdentityPools"]:
            if pool["IdentityPoolName"] == POOL_NAME:
                return str(pool["IdentityPoolId"])
    return None


def quickstart(
    user: Annotated[str, typer.Option("--user", "-u", help="The user to issue for")] = "alice",
    output_format: Annotated[str | None, output_option(FORMATS)] = None,
) -> None:
    """Run the developer-identity flow on the local backend and show each step.

    Creates (once) a pool with a developer provider, Facebook and the standard roles; issues
    a token for a user; links a test Facebook login; decodes and verifies the token; exchanges
    it for credentials and asks STS who they belong to; with them, as the user's device, writes
    theme=dark to the Cognito Sync dataset `settings` and reads it back. Safe to run again.
    """
    from cogid import clients, flows, tokens
    from cogid.local import mint_social_token

    fmt = output.choose(output_format, FORMATS)
    if not user.strip() or len(user) > MAX_USER:  # before anything is made
        raise UsageError(f"--user {user[:40]!r}: give a user id of 1 to {MAX_USER} characters")
    profile = config.Profile(name="quickstart")  # always the local backend, whatever the config says
    cognito = clients.client(profile, "cognito-identity")

    def step(title: str, detail: str) -> None:
        output.message(f"✓ {title}: {detail}", style="green")

    iam = clients.client(profile, "iam")
    facebook_key = flows.PROVIDERS["facebook"]
    pool_id = _find_pool(cognito)
    if pool_id is None:
        pool = flows.create_pool(
            cognito,
            iam,
            {
                "IdentityPoolName": POOL_NAME,
                "AllowUnauthenticatedIdentities": True,
                "AllowClassicFlow": True,
                "DeveloperProviderName": PROVIDER,
                "SupportedLoginProviders": {facebook_key: FACEBOOK_APP},
            },
            make_roles=True,
        )
        pool_id, roles, facebook_app = pool["IdentityPoolId"], pool["Roles"], FACEBOOK_APP
        step("1. identity pool", f"created {pool_id} with developer provider {PROVIDER} and two roles")
    else:
        roles = _repaired_roles(cognito, iam, pool_id)
        facebook_app = _facebook_app(cognito, pool_id)
        step("1. identity pool", f"reusing {pool_id} (developer provider {PROVIDER})")
    profile.identity_pool_id, profile.developer_provider = pool_id, PROVIDER

    issued = flows.issue_token(profile, cognito, user)
    step("2. token issued", f"{user} -> identity {issued['IdentityId']}")

    facebook = mint_social_token(facebook_key, f"fb-{user}", facebook_app, home=config.data_dir())
    linked = flows.issue_token(profile, cognito, user, links={facebook_key: facebook})
    logins = cognito.describe_identity(IdentityId=linked["IdentityId"]).get("Logins", [])
    step("3. Facebook linked", f"identity {linked['IdentityId']} has logins {', '.join(logins)}")

    header, claims = tokens.decode(issued["Token"])
    tokens.verify(issued["Token"], clients.jwks(profile), pool_id)
    step("4. token verified", f"{header['alg']} signature, iss, aud, exp; amr {claims['amr'][:2]}")

    credentials = flows.exchange(profile, user)
    caller = _signed_sts(profile, credentials).get_caller_identity()
    step("5. credentials", f"{credentials['AccessKeyId']} until {credentials['Expiration']} as {caller['Arn']}")

    # As the user's device would: its own credentials, ListRecords then UpdateRecords at the
    # current sync counts (so a second run writes again instead of conflicting), then read back.
    sync = clients.signed_client(profile, "cognito-sync", credentials)
    written = flows.sync_write(sync, pool_id, credentials["IdentityId"], SYNC_DATASET, {"theme": "dark"}, verb="put")
    records = flows.sync_records(sync, pool_id, credentials["IdentityId"], SYNC_DATASET)["Records"]
    theme = next(r.get("Value") for r in records if r["Key"] == "theme")
    sync_count = written["Records"][0]["SyncCount"]
    step(
        "6. Cognito Sync",
        f"as the identity, put theme=dark in dataset {SYNC_DATASET} (sync count {sync_count}), read back {theme!r}",
    )
    next_step = _adopt(pool_id)

    result = {
        "IdentityPoolId": pool_id,
        "DeveloperProviderName": PROVIDER,
        "Roles": roles,
        "User": user,
        "IdentityId": issued["IdentityId"],
        "Token": issued["Token"],
        "Logins": logins,
        "Claims": claims,
        "Credentials": {k: v for k, v in credentials.items() if k in ("AccessKeyId", "Expiration")},
        "CallerArn": caller["Arn"],
        "Sync": {"DatasetName": SYNC_DATASET, "Records": records},
    }
    output.message(f"Next: {next_step}   (cogid --help for the rest)")
    rows = [
        ["identity pool", pool_id],
        ["user", user],
        ["identity", issued["IdentityId"]],
        ["logins", ", ".join(logins)],
        ["amr", ", ".join(claims["amr"])],
        ["access key", credentials["AccessKeyId"]],
        ["expires", credentials["Expiration"]],
        ["assumed role", caller["Arn"]],
        ["sync", f"{SYNC_DATASET}: theme={theme} (sync count {sync_count})"],
    ]
    output.emit(fmt, result, rows=rows, headers=["step", "result"])


def _repaired_roles(cognito: Any, iam: Any, pool_id: str) -> dict[str, str]:
    """The pool's roles, made again if a run was interrupted before they were set, or were deleted."""
    from cogid import flows

    roles: dict[str, str] = cognito.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"]
    names = [arn.rsplit("/", 1)[-1] for arn in roles.values()]
    present = {role["RoleName"] for role in iam.list_roles()["Roles"]}
    if len(roles) < 2 or not set(names) <= present:
        for name in set(names) & present:
            iam.delete_role(RoleName=name)
        roles = flows.create_roles(iam, POOL_NAME, pool_id, guests=True)
        cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles)
    return roles


def _facebook_app(cognito: Any, pool_id: str) -> str:
    """The Facebook app the pool takes logins for, as `pool update` may have changed it; taken
    again if it was removed since (step 3 links a Facebook login)."""
    from cogid import flows

    key = flows.PROVIDERS["facebook"]
    pool = flows.pool_settings(cognito, pool_id)
    providers = pool.get("SupportedLoginProviders", {})
    if key not in providers:
        flows.update_pool(cognito, {**pool, "SupportedLoginProviders": {**providers, key: FACEBOOK_APP}})
        output.message(f"Identity pool {pool_id}: Facebook logins taken again (app {FACEBOOK_APP})")
        return FACEBOOK_APP
    return str(providers[key])


def _adopt(pool_id: str) -> str:
    """Point the `local` profile at the quickstart pool, unless it is the aws backend's or has a
    pool of its own that still exists; the command that issues the next token in that pool."""
    with config.editing() as document:
        settings = document["profiles"].setdefault(config.DEFAULT_PROFILE, config.Profile().settings())
        if settings.get("backend", "local") != "local":
            output.message("Profile 'local' uses the aws backend: left as it is")
            return f"cogid profile add quickstart --pool {pool_id} --use; cogid token issue --user bob"
        issue = "cogid token issue --user bob"
        if config.selected_name(document) != config.DEFAULT_PROFILE:
            issue += " -p local"
        own = settings.get("identity_pool_id")
        if own not in (None, pool_id) and "endpoint_url" not in settings and not _pool_exists(own):
            own = None  # deleted since: the profile has nothing left to keep
        if own is None:
            config.point_at_pool(settings, pool_id, PROVIDER)
            output.message(f"Profile 'local' now uses identity pool {pool_id}")
        elif own != pool_id:
            output.message(f"Profile 'local' keeps its own identity pool; this one is {pool_id}")
            issue += f" --pool {pool_id}"
    return issue


def _pool_exists(pool_id: str) -> bool:
    """Is `pool_id` in this machine's local store (where the `local` profile's pools live)?"""
    from botocore.exceptions import ClientError

    from cogid import clients

    region = pool_id.partition(":")[0]
    cognito = clients.client(config.Profile(name="quickstart", region=region), "cognito-identity")
    try:
        cognito.describe_identity_pool(IdentityPoolId=pool_id)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _signed_sts(profile: config.Profile, credentials: dict[str, Any]) -> Any:
    from cogid.local import client

    return client(
        "sts",
        home=config.data_dir(),
        region=profile.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)
