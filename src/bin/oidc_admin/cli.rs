//! The command line: every command, subcommand and flag, with its help text.

use clap::{Args, Parser, Subcommand, ValueEnum};
use edge_oidc::crypto::{DEFAULT_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS};
use edge_oidc::model::AuthMethod;
use std::path::PathBuf;

/// Operator tool for edge-oidc: signing keys, clients and users.
///
/// Client and user records are written to the worker's KV namespaces (bindings CLIENTS
/// and USERS) through wrangler: the local development store by default, the deployed
/// namespaces with --remote, or nowhere with --print (the records are printed as JSON).
#[derive(Debug, Parser)]
#[command(name = "oidc-admin", version, propagate_version = true, arg_required_else_help = true)]
#[command(after_help = "Examples:\n  \
    oidc-admin keys generate > keys.json && npx wrangler secret put SIGNING_KEYS < keys.json\n  \
    oidc-admin keys add --alg ES256 --file keys.json\n  \
    oidc-admin keys session-key | npx wrangler secret put SESSION_KEY\n  \
    oidc-admin clients add my-app --redirect-uri https://app.example/callback\n  \
    oidc-admin users add alice --email alice@example.com --name 'Alice Liddell'\n  \
    oidc-admin --remote clients list\n  \
    oidc-admin --print demo")]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Print results as JSON instead of text (clients, users and demo commands).
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where KV records are read from and written to.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Storage (any command)")]
pub struct TargetArgs {
    /// Use the deployed KV namespaces (wrangler --remote) instead of the local store.
    #[arg(long, global = true, conflicts_with_all = ["print", "persist_to"])]
    pub remote: bool,

    /// Write nothing: print the KV records a command would write as JSON
    /// ({"records":[{"binding","key","value"}], "result":{..}}).
    #[arg(long, global = true, conflicts_with = "persist_to")]
    pub print: bool,

    /// Directory of the local KV state (passed to wrangler as --persist-to).
    #[arg(long, global = true, value_name = "DIR")]
    pub persist_to: Option<PathBuf>,

    /// The wrangler executable [default: ./node_modules/.bin/wrangler if present, else
    /// wrangler on PATH].
    #[arg(long, global = true, value_name = "PATH")]
    pub wrangler: Option<PathBuf>,

    /// Wrangler configuration file declaring the CLIENTS and USERS KV bindings (passed to
    /// wrangler as --config) [default: wrangler's own lookup, ./wrangler.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Signing keys (generate, rotate in a key set file) and the session key; nothing is
    /// written to KV.
    #[command(subcommand, arg_required_else_help = true)]
    Keys(KeysCommand),
    /// Register, list, show and remove relying parties (KV binding CLIENTS).
    #[command(subcommand, arg_required_else_help = true)]
    Clients(ClientsCommand),
    /// Add, list, show and remove users (KV binding USERS).
    #[command(subcommand, arg_required_else_help = true)]
    Users(UsersCommand),
    /// Define custom scopes and the claims they release (KV binding CLIENTS, key scope:<name>).
    #[command(subcommand, arg_required_else_help = true)]
    Scopes(ScopesCommand),
    /// Register resource servers (RFC 8707): their URI, API scopes and access tokens (KV
    /// binding CLIENTS, key resource:<uri>).
    #[command(subcommand, arg_required_else_help = true)]
    Resources(ResourcesCommand),
    /// Seed (overwriting) the demo client `demo-app` and the demo user `demo`.
    ///
    /// The user signs in as `demo` (or demo@example.com) with password `demo-password`.
    /// A new client secret is generated on every run; the user's `sub` is kept when the
    /// user already exists.
    Demo(DemoArgs),
    /// Check the configuration: wrangler.toml, the secrets, the key set and every KV record.
    ///
    /// Local by default (.dev.vars and the local KV); with --remote, the deployed Worker's
    /// secrets (names only) and KV, the ISSUER an https origin, real KV namespace ids, and the
    /// published keys. Prints each problem with the command that fixes it; exit status 1 on
    /// any problem.
    Doctor(crate::doctor::DoctorArgs),
    /// Deploy (`make deploy`): create the KV namespaces and write their ids into wrangler.toml,
    /// set ISSUER, generate and upload the missing secrets, run `doctor --remote`, deploy.
    ///
    /// Idempotent: what exists is kept (namespaces found by title, secrets by name, the key
    /// set file). Needs `npx wrangler login` (or CLOUDFLARE_API_TOKEN).
    Deploy(crate::deploy::DeployArgs),
}

impl Command {
    /// Whether the command only writes KV records, so that --print can show them.
    pub fn only_writes(&self) -> bool {
        match self {
            Command::Keys(_) | Command::Demo(_) => true,
            Command::Doctor(_) | Command::Deploy(_) => false,
            Command::Clients(c) => matches!(c, ClientsCommand::Add(_)),
            Command::Users(u) => matches!(u, UsersCommand::Add(_)),
            Command::Scopes(s) => matches!(s, ScopesCommand::Add(_)),
            Command::Resources(r) => matches!(r, ResourcesCommand::Add(_)),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new one-key private JWK set for the SIGNING_KEYS secret (one line of JSON).
    ///
    /// The kid is the RFC 7638 thumbprint. The worker needs an RS256 key; add keys of other
    /// algorithms, and rotate, with `keys add`, `activate`, `retire` and `remove` on a file.
    Generate {
        /// Algorithm: RS256 (RSA), ES256 (EC P-256) or EdDSA (Ed25519).
        #[arg(long, value_enum, default_value_t = AlgArg::Rs256)]
        alg: AlgArg,
        /// RSA modulus size in bits (RS256 only).
        #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(2048..=4096))]
        bits: u32,
    },
    /// Add a new key to a key set file. It is published in the JWKS but does not sign yet
    /// (unless it is the first key of its algorithm); activate it later.
    ///
    /// The file is created if missing and always rewritten atomically (mode 0600).
    Add {
        /// Algorithm: RS256 (RSA), ES256 (EC P-256) or EdDSA (Ed25519).
        #[arg(long, value_enum)]
        alg: AlgArg,
        /// The private key set file (what goes into SIGNING_KEYS).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// RSA modulus size in bits (RS256 only).
        #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(2048..=4096))]
        bits: u32,
    },
    /// Make a key the signing key of its algorithm ("active"); the other keys of that
    /// algorithm stop signing but stay published.
    Activate {
        /// The key id (a thumbprint may start with '-'; that is accepted).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// The private key set file.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
    /// Retire a key (retired_at = now): it stays published so the tokens it signed still
    /// verify, and never signs again. Refused for the signing key of its algorithm.
    Retire {
        /// The key id (a thumbprint may start with '-'; that is accepted).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// The private key set file.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Retire it even if it is its algorithm's signing key.
        #[arg(long)]
        force: bool,
    },
    /// Delete a key from the set (and so from the JWKS). Refused unless it was retired at
    /// least the ID token lifetime ago.
    Remove {
        /// The key id (a thumbprint may start with '-'; that is accepted).
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// The private key set file.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// The worker's ID_TOKEN_TTL_SECONDS.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        id_token_ttl: u32,
        /// Remove it even if it is not retired, or was retired too recently.
        #[arg(long)]
        force: bool,
    },
    /// Print a random 256-bit key (base64url) for the SESSION_KEY secret.
    SessionKey,
    /// Read a private JWK set on stdin and print its public JWKS (what /jwks.json serves).
    Public,
}

/// A JWS algorithm for ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgArg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA key).
    #[value(name = "RS256")]
    Rs256,
    /// ECDSA with P-256 and SHA-256 (EC key).
    #[value(name = "ES256")]
    Es256,
    /// Ed25519 (OKP key).
    #[value(name = "EdDSA")]
    EdDsa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PkceArg {
    Required,
    Optional,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and secret (the secret is shown only once).
    Add(Box<ClientAddArgs>),
    /// List clients: id, authentication method, name.
    List,
    /// Print a client's record as JSON.
    Show {
        /// The client id.
        client_id: String,
    },
    /// Delete a client's record.
    Remove {
        /// The client id.
        client_id: String,
    },
}

#[derive(Debug, Args)]
pub struct ClientAddArgs {
    /// The client id (1-128 characters of A-Z a-z 0-9 . _ ~ -).
    pub client_id: String,

    /// A redirect URI (repeat for several): https, http on loopback, or a reverse-domain
    /// private-use scheme (com.example.app:/cb). Matched exactly, no fragment. Required unless
    /// the client only uses client credentials.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,

    /// Display name shown on the consent page.
    #[arg(long)]
    pub name: Option<String>,

    /// How the client authenticates at the token endpoint; `none` makes a public client
    /// (no secret, PKCE required); `private_key_jwt` signs JWTs with its keys (--jwks-file or
    /// --jwks-uri).
    #[arg(long, value_enum, default_value_t = AuthMethodArg::ClientSecretBasic)]
    pub auth_method: AuthMethodArg,

    /// The client's public JWK Set, for private_key_jwt: a file holding it.
    #[arg(long, value_name = "FILE")]
    pub jwks_file: Option<std::path::PathBuf>,

    /// Where the client publishes its JWK Set, for private_key_jwt (https).
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,

    /// Space-separated scopes the client may request: openid and the claim scopes for
    /// OpenID Connect, a resource's API scopes for access tokens (offline_access asks for
    /// refresh tokens and needs --grant-type refresh_token).
    #[arg(long, default_value = "openid profile email")]
    pub scope: String,

    /// A grant type (repeat for several): authorization_code (always, when the client has a
    /// redirect URI), refresh_token (for grants with offline_access), client_credentials (the
    /// client's own tokens, confidential clients only).
    #[arg(long = "grant-type", value_enum, value_name = "TYPE")]
    pub grant_types: Vec<GrantTypeArg>,

    /// A resource (RFC 8707) the client may ask tokens for (repeat for several); none: any
    /// registered one. With client credentials and one resource, the default resource.
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,

    /// Home page of the client (client_uri), linked from the consent page.
    #[arg(long, value_name = "URL")]
    pub client_uri: Option<String>,

    /// Logo of the client (logo_uri), shown on the consent page: an https image.
    #[arg(long, value_name = "URL")]
    pub logo_uri: Option<String>,

    /// The client's privacy policy (policy_uri), linked from the consent page.
    #[arg(long, value_name = "URL")]
    pub policy_uri: Option<String>,

    /// The client's terms of service (tos_uri), linked from the consent page.
    #[arg(long, value_name = "URL")]
    pub tos_uri: Option<String>,

    /// Where RP-Initiated Logout may return the user (repeat for several); matched exactly.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,

    /// Give this client pairwise subject identifiers (OpenID Connect Core §8.1): its `sub` for a
    /// user differs from every other sector's. All redirect URIs must share one host. Needs the
    /// PAIRWISE_SALT secret.
    #[arg(long)]
    pub pairwise: bool,

    /// Algorithm of this client's ID tokens (id_token_signed_response_alg); SIGNING_KEYS needs a
    /// signing key for it.
    #[arg(long, value_enum, default_value_t = AlgArg::Rs256)]
    pub id_token_alg: AlgArg,

    /// Seconds after a refresh during which a retry with the token just replaced gets the
    /// current one back instead of revoking the grant (0-300; default 0: never). For
    /// confidential clients whose refreshes can race; public clients get none.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub refresh_grace: i64,

    /// PKCE at the authorization endpoint: `required` (S256; the default), or `optional` for
    /// a legacy confidential client that cannot send it (never for public clients).
    #[arg(long, value_enum, default_value_t = PkceArg::Required)]
    pub pkce: PkceArg,

    /// How strongly its users must sign in: `mfa` (a second factor) or `phr` (a passkey)
    /// [default: the provider's MINIMUM_ACR].
    #[arg(long, value_enum)]
    pub minimum_acr: Option<AcrArg>,

    /// Replace an existing client with this id (its old secret stops working).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcrArg {
    /// A password is enough.
    Pwd,
    /// A password and a one-time code, or a passkey.
    Mfa,
    /// A passkey (phishing-resistant).
    Phr,
}

impl AcrArg {
    pub fn as_str(self) -> &'static str {
        match self {
            AcrArg::Pwd => "pwd",
            AcrArg::Mfa => "mfa",
            AcrArg::Phr => "phr",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMethodArg {
    /// HTTP Basic authentication with the client secret.
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    /// Client secret in the token request body.
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    /// A JWT signed with the client's own key (RFC 7523): no shared secret.
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
    /// Public client: no secret (native and browser apps, PKCE required).
    #[value(name = "none")]
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantTypeArg {
    /// The authorization code grant (always allowed).
    #[value(name = "authorization_code")]
    AuthorizationCode,
    /// Refresh tokens (RFC 6749 §6), issued when the scope includes offline_access.
    #[value(name = "refresh_token")]
    RefreshToken,
    /// The client's own access tokens (RFC 6749 §4.4), for its API scopes.
    #[value(name = "client_credentials")]
    ClientCredentials,
}

impl GrantTypeArg {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantTypeArg::AuthorizationCode => "authorization_code",
            GrantTypeArg::RefreshToken => "refresh_token",
            GrantTypeArg::ClientCredentials => "client_credentials",
        }
    }
}

impl From<AuthMethodArg> for AuthMethod {
    fn from(a: AuthMethodArg) -> AuthMethod {
        match a {
            AuthMethodArg::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            AuthMethodArg::ClientSecretPost => AuthMethod::ClientSecretPost,
            AuthMethodArg::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
            AuthMethodArg::None => AuthMethod::None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user (password prompted twice, or read from stdin with --password-stdin).
    Add(Box<UserAddArgs>),
    /// List users: username, email, sub.
    List,
    /// Print a user's record as JSON.
    Show {
        /// The username.
        username: String,
    },
    /// Delete a user's record and its email alias.
    Remove {
        /// The username.
        username: String,
    },
    /// Invite a user to create a passkey: prints a one-time link (valid 3 days) to give them.
    ///
    /// A user that does not exist yet is created without a password (they sign in with
    /// passkeys only). Needs the running provider (--url) and its admin token.
    Invite(Box<InviteArgs>),
    /// List a user's passkeys and whether one-time codes are on (running provider).
    Passkeys {
        /// The username.
        username: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove one of a user's passkeys, by id (see `users passkeys`).
    RemovePasskey {
        /// The username.
        username: String,
        /// The passkey's id (base64url; may start with '-').
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Turn off a user's one-time codes and recovery codes (they lost their device).
    ResetCodes {
        /// The username.
        username: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// A running provider's admin endpoint. The token is read from OIDC_ADMIN_TOKEN or, for a
/// provider on localhost, from ADMIN_TOKEN in .dev.vars.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Provider (admin endpoint)")]
pub struct AdminArgs {
    /// The provider's issuer URL.
    #[arg(long, env = "OIDC_ADMIN_URL", default_value = "http://localhost:8787", value_name = "URL")]
    pub url: String,
    /// Where a local provider's ADMIN_TOKEN is (when OIDC_ADMIN_TOKEN is not set).
    #[arg(long, default_value = ".dev.vars", value_name = "PATH")]
    pub dev_vars: PathBuf,
}

#[derive(Debug, Args)]
pub struct InviteArgs {
    /// Login name (1-64 characters of A-Z a-z 0-9 . _ -).
    pub username: String,
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Claims of a user created now.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Login name (1-64 characters of A-Z a-z 0-9 . _ -).
    pub username: String,

    /// Read the password from the first line of stdin instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,

    /// PBKDF2-SHA256 iterations for the password hash.
    #[arg(long, default_value_t = DEFAULT_PBKDF2_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(MIN_PBKDF2_ITERATIONS as i64..=MAX_PBKDF2_ITERATIONS as i64))]
    pub iterations: u32,

    /// Replace an existing user with this username (its sub is kept).
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Standard claims (OpenID Connect Core §5.1).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Claims (OpenID Connect Core §5.1)")]
pub struct ProfileArgs {
    /// Email address; the user can also sign in with it (scope email).
    #[arg(long)]
    pub email: Option<String>,
    /// Mark the email address as verified.
    #[arg(long, requires = "email")]
    pub email_verified: bool,
    /// Full name.
    #[arg(long)]
    pub name: Option<String>,
    /// Given (first) name.
    #[arg(long)]
    pub given_name: Option<String>,
    /// Family (last) name.
    #[arg(long)]
    pub family_name: Option<String>,
    /// Middle name.
    #[arg(long)]
    pub middle_name: Option<String>,
    /// Casual name.
    #[arg(long)]
    pub nickname: Option<String>,
    /// Shorthand name released as preferred_username [default: the username].
    #[arg(long)]
    pub preferred_username: Option<String>,
    /// Profile picture URL.
    #[arg(long, value_name = "URL")]
    pub picture: Option<String>,
    /// Web page or blog URL.
    #[arg(long, value_name = "URL")]
    pub website: Option<String>,
    /// Profile page URL.
    #[arg(long, value_name = "URL")]
    pub profile: Option<String>,
    /// Gender (e.g. female, male, or another value).
    #[arg(long)]
    pub gender: Option<String>,
    /// Birthday, YYYY-MM-DD (or YYYY, or 0000-MM-DD).
    #[arg(long)]
    pub birthdate: Option<String>,
    /// Time zone, from the IANA database (e.g. Europe/Paris).
    #[arg(long)]
    pub zoneinfo: Option<String>,
    /// Locale, a BCP 47 language tag (e.g. en-US).
    #[arg(long)]
    pub locale: Option<String>,
    /// Phone number, E.164 recommended (e.g. +1 425 555 1212) (scope phone).
    #[arg(long)]
    pub phone_number: Option<String>,
    /// Mark the phone number as verified.
    #[arg(long, requires = "phone_number")]
    pub phone_number_verified: bool,
    /// Full postal address as one display string (scope address).
    #[arg(long)]
    pub address_formatted: Option<String>,
    /// Street address (may span lines).
    #[arg(long)]
    pub street_address: Option<String>,
    /// City or locality.
    #[arg(long)]
    pub locality: Option<String>,
    /// State, province, prefecture or region.
    #[arg(long)]
    pub region: Option<String>,
    /// Zip or postal code.
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Country name.
    #[arg(long)]
    pub country: Option<String>,
    /// A custom claim, NAME=VALUE (repeat for several); VALUE is JSON if it parses as JSON
    /// (e.g. groups='["staff","ops"]'), else a string. Released by custom scopes.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ScopesCommand {
    /// Define (or with --force replace) a custom scope. Clients request it only if their
    /// own scope list names it (oidc-admin clients add --scope "openid <name>").
    Add(ScopeAddArgs),
    /// List custom scopes: name, claims, description.
    List,
    /// Print a scope's record as JSON.
    Show {
        /// The scope name.
        name: String,
    },
    /// Delete a scope's record (clients asking for it then get it ignored).
    Remove {
        /// The scope name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ScopeAddArgs {
    /// The scope name (RFC 6749 §3.3 characters, not a standard scope).
    pub name: String,
    /// What the consent page says it allows, after "<app> wants to", e.g. "see your teams".
    #[arg(long)]
    pub description: String,
    /// The description in another language, as LOCALE=TEXT (repeat for several), e.g.
    /// --description-in "de=deine Teams sehen". Locales: en de fr es ja ar.
    #[arg(long = "description-in", value_name = "LOCALE=TEXT")]
    pub descriptions: Vec<String>,
    /// A claim it releases (repeat for several); plain names or URLs. Registered and
    /// standard claim names are refused.
    #[arg(long = "claim", value_name = "NAME")]
    pub claims: Vec<String>,
    /// Replace an existing scope with this name.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// Register (or with --force replace) a resource server. Clients then ask tokens for it
    /// with resource=<uri>; its scopes are granted as it defines them.
    Add(ResourceAddArgs),
    /// List resource servers: URI, token format, scopes.
    List,
    /// Print a resource's record as JSON.
    Show {
        /// The resource URI.
        uri: String,
    },
    /// Delete a resource's record (requests naming it then get invalid_target).
    Remove {
        /// The resource URI.
        uri: String,
    },
}

#[derive(Debug, Args)]
pub struct ResourceAddArgs {
    /// The canonical URI clients send as `resource` and tokens carry as `aud`: https, no
    /// query or fragment (e.g. https://mcp.example.com/mcp).
    pub uri: String,
    /// The name the consent page shows.
    #[arg(long)]
    pub name: Option<String>,
    /// An API scope and what the consent page says it allows, NAME=DESCRIPTION (repeat for
    /// several), e.g. --scope "mcp:tools=use your tools".
    #[arg(long = "scope", value_name = "NAME=DESCRIPTION")]
    pub scopes: Vec<String>,
    /// What its access tokens are: opaque (checked by introspection) or jwt (RFC 9068,
    /// checked with the JWKS).
    #[arg(long, value_enum, default_value_t = TokenFormatArg::Opaque)]
    pub format: TokenFormatArg,
    /// Its access tokens' lifetime (60-86400; default ACCESS_TOKEN_TTL_SECONDS).
    #[arg(long, value_name = "SECONDS")]
    pub access_token_ttl: Option<i64>,
    /// A confidential client (the resource server's own credentials) that may introspect its
    /// access tokens (repeat for several).
    #[arg(long = "introspection-client", value_name = "CLIENT_ID")]
    pub introspection_clients: Vec<String>,
    /// Replace an existing resource with this URI.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenFormatArg {
    /// A handle the resource server introspects (RFC 7662).
    #[value(name = "opaque")]
    Opaque,
    /// A signed JWT the resource server checks on its own (RFC 9068).
    #[value(name = "jwt")]
    Jwt,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Redirect URI registered for the demo client.
    #[arg(long, value_name = "URI", default_value = "http://127.0.0.1:3000/callback")]
    pub redirect_uri: String,
}
