// The AWS SDK for JavaScript v3 against `cogid serve`, as a browser or Node app would use it:
//  1. LookupDeveloperIdentity, SigV4-signed by the SDK with a developer key (JSON protocol);
//  2. fromCognitoIdentity: the developer token in `logins` exchanged for temporary credentials
//     (GetCredentialsForIdentity, unsigned);
//  3. STS GetCallerIdentity signed with those credentials (Query protocol).
// Input from the environment (see tests/test_clients_external.py); prints one JSON object.
import { CognitoIdentityClient, LookupDeveloperIdentityCommand } from "@aws-sdk/client-cognito-identity";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromCognitoIdentity } from "@aws-sdk/credential-providers";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const endpoint = required("COGID_ENDPOINT");
const region = "us-east-1";
const poolId = required("COGID_POOL_ID");
const identityId = required("COGID_IDENTITY_ID");

const developer = new CognitoIdentityClient({
  region,
  endpoint,
  maxAttempts: 1,
  credentials: { accessKeyId: required("COGID_KEY_ID"), secretAccessKey: required("COGID_KEY_SECRET") },
});
const found = await developer.send(new LookupDeveloperIdentityCommand({
  IdentityPoolId: poolId,
  DeveloperUserIdentifier: required("COGID_USER"),
}));

const provider = fromCognitoIdentity({
  identityId,
  logins: { "cognito-identity.amazonaws.com": required("COGID_TOKEN") },
  clientConfig: { region, endpoint, maxAttempts: 1 },
});
const credentials = await provider();

const sts = new STSClient({ region, endpoint, maxAttempts: 1, credentials });
const caller = await sts.send(new GetCallerIdentityCommand({}));

console.log(JSON.stringify({
  LookedUpIdentityId: found.IdentityId,
  AccessKeyId: credentials.accessKeyId,
  Expiration: credentials.expiration?.toISOString(),
  Arn: caller.Arn,
  UserId: caller.UserId,
  Account: caller.Account,
}));
