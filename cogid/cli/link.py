"""cogid link / unlink: a user's social logins on their identity."""

from typing import Annotated, Any

import typer

from cogid import output
from cogid.cli.options import (
    FORMATS,
    AllowMergeOpt,
    DryRunOpt,
    OutputOpt,
    PoolOpt,
    ProfileOpt,
    RegionOpt,
    UserOpt,
    logins,
    named_providers,
    terminal_asker,
)
from cogid.cli.options import cognito as cognito_client
from cogid.errors import Denied, UsageError

Facebook = Annotated[str | None, typer.Option("--facebook", help="Facebook access token", show_default=False)]
Google = Annotated[str | None, typer.Option("--google", help="Google ID token", show_default=False)]
Amazon = Annotated[str | None, typer.Option("--amazon", help="Login with Amazon token", show_default=False)]
Apple = Annotated[str | None, typer.Option("--apple", help="Sign in with Apple ID token", show_default=False)]
Twitter = Annotated[str | None, typer.Option("--twitter", help="Twitter token;secret", show_default=False)]
Login = Annotated[
    list[str] | None, typer.Option("--login", help="Any provider: KEY=TOKEN (repeatable)", show_default=False)
]


def _logins(
    facebook: str | None,
    google: str | None,
    amazon: str | None,
    apple: str | None,
    twitter: str | None,
    login: list[str] | None,
) -> dict[str, str]:
    given = {"facebook": facebook, "google": google, "amazon": amazon, "apple": apple, "twitter": twitter}
    return logins(login, "--login", given=named_providers(given, "token"))


def _view(cognito: Any, identity_id: str) -> dict[str, Any]:
    described = cognito.describe_identity(IdentityId=identity_id)
    return {"IdentityId": identity_id, "Logins": described.get("Logins", [])}


def link(
    user: UserOpt,
    facebook: Facebook = None,
    google: Google = None,
    amazon: Amazon = None,
    apple: Apple = None,
    twitter: Twitter = None,
    login: Login = None,
    allow_merge: AllowMergeOpt = False,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Link a user's social login to their identity.

    A login that belongs to another identity is not linked unless --allow-merge: Cognito would
    merge that identity into the user's.

    Examples:
      cogid link --user alice --facebook "$FB_TOKEN"
      COGID_USER=alice cogid link --login accounts.google.com="$GOOGLE_ID_TOKEN"
    """
    from cogid import flows

    fmt = output.choose(output_format, FORMATS)
    logins = _logins(facebook, google, amazon, apple, twitter, login)
    if not logins:
        raise UsageError("give a login to link: --facebook, --google, --amazon, --apple, --twitter or --login")
    chosen, cognito = cognito_client(profile, pool, region)
    issued = flows.issue_linking(chosen, cognito, user, logins, allow_merge, terminal_asker())
    result = _view(cognito, issued["IdentityId"])
    output.message(f"Linked {', '.join(logins)} to {user}'s identity {issued['IdentityId']}")
    output.emit(fmt, result, rows=[[result["IdentityId"], ",".join(result["Logins"])]] if fmt == "text" else None)


def unlink(
    user: UserOpt,
    facebook: Facebook = None,
    google: Google = None,
    amazon: Amazon = None,
    apple: Apple = None,
    twitter: Twitter = None,
    login: Login = None,
    pool: PoolOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    output_format: OutputOpt = None,
    dry_run: DryRunOpt = False,
) -> None:
    """Unlink logins from a user's identity, or the user from their identity.

    With a provider token (which proves the login), that login is unlinked (UnlinkIdentity).
    With none, the developer user itself is unlinked (UnlinkDeveloperIdentity): the user gets a
    new identity next time.

    Examples:
      cogid unlink --user alice --facebook "$FB_TOKEN"
      cogid unlink --user alice
    """
    from cogid import clients, flows

    fmt = output.choose(output_format, FORMATS)
    chosen, cognito = cognito_client(profile, pool, region)
    provider = flows.developer_provider(chosen, cognito)
    identity_id = cognito.lookup_developer_identity(IdentityPoolId=flows.pool_id(chosen), DeveloperUserIdentifier=user)[
        "IdentityId"
    ]
    logins = _logins(facebook, google, amazon, apple, twitter, login)
    if logins:
        from botocore.exceptions import ClientError

        try:
            clients.unsigned_client(chosen, "cognito-identity").unlink_identity(
                IdentityId=identity_id, Logins=logins, LoginsToRemove=list(logins)
            )
        except ClientError as error:
            details = error.response.get("Error", {})
            message = details.get("Message", "")
            if details.get("Code") != "NotAuthorizedException" or "Logins don't match" not in message:
                raise
            linked = _view(cognito, identity_id)["Logins"]
            raise Denied(
                f"unlink: {', '.join(logins)} is not linked to {user}'s identity {identity_id} (its logins:"
                f" {', '.join(linked) or 'none'}; the service says: {message})"
            ) from None
        output.message(f"Unlinked {', '.join(logins)} from {user}'s identity {identity_id}")
    else:
        cognito.unlink_developer_identity(
            IdentityId=identity_id,
            IdentityPoolId=flows.pool_id(chosen),
            DeveloperProviderName=provider,
            DeveloperUserIdentifier=user,
        )
        output.message(f"Unlinked developer user {user} from identity {identity_id}")
    result = _view(cognito, identity_id)
    output.emit(fmt, result, rows=[[result["IdentityId"], ",".join(result["Logins"])]] if fmt == "text" else None)


def register(app: typer.Typer) -> None:
    app.command("link")(link)
    app.command("unlink")(unlink)
