//! `oidc-admin keys`: the SIGNING_KEYS and SESSION_KEY secrets, and key rotation on a key
//! set file (docs/key-rotation.md).

use crate::cli::{AlgArg, KeysCommand};
use crate::error::{failed, usage, Result};
use edge_oidc::crypto::{b64url, random_bytes, random_token};
use edge_oidc::keys::{Alg, KeyMaterial, PrivateJwk, PrivateJwkSet};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use std::io::Read;
use std::path::Path;

/// How long relying parties may cache the JWKS (the endpoint's `Cache-Control: max-age`).
pub const JWKS_MAX_AGE: i64 = 600;

/// Runs a `keys` subcommand; returns what to print on stdout.
pub fn run(cmd: &KeysCommand) -> Result<String> {
    match cmd {
        KeysCommand::Generate { alg, bits } => generate_set((*alg).into(), *bits as usize),
        KeysCommand::Add { alg, file, bits } => add((*alg).into(), *bits as usize, file),
        KeysCommand::Activate { kid, file } => activate(kid, file),
        KeysCommand::Retire { kid, file, force } => retire(kid, file, *force, crate::now()),
        KeysCommand::Remove { kid, file, id_token_ttl, force } => {
            remove(kid, file, *id_token_ttl, *force, crate::now())
        }
        KeysCommand::SessionKey => random_token::<32>().map_err(failed),
        KeysCommand::Public => public_jwks(&read_stdin()?),
    }
}

/// A one-key private JWK set, as one line of JSON.
fn generate_set(alg: Alg, bits: usize) -> Result<String> {
    let set = PrivateJwkSet { keys: vec![generate_jwk(alg, bits)?] };
    if alg != Alg::RS256 {
        eprintln!(
            "note: the worker also needs an RS256 key (OpenID Connect Discovery §3); add one with \
             `oidc-admin keys add --alg RS256 --file <file>`"
        );
    }
    to_line(&set)
}

fn to_line(set: &PrivateJwkSet) -> Result<String> {
    serde_json::to_string(set).map_err(|e| failed(format!("cannot serialise the key set: {e}")))
}

/// A new signing key of `alg`, its kid the RFC 7638 thumbprint (RFC 8037 §2 for OKP).
pub fn generate_jwk(alg: Alg, bits: usize) -> Result<PrivateJwk> {
    let key = match alg {
        Alg::RS256 => generate_rsa(bits)?,
        Alg::ES256 => {
            let sk = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
            let point = sk.verifying_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(failed("P-256 key generation failed: no affine point"));
            };
            KeyMaterial::Ec { crv: "P-256".into(), x: b64url(x), y: b64url(y), d: b64url(&sk.to_bytes()) }
        }
        Alg::EdDSA => {
            let seed = random_bytes::<32>().map_err(failed)?;
            let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
            KeyMaterial::Okp { crv: "Ed25519".into(), x: b64url(sk.verifying_key().as_bytes()), d: b64url(&seed) }
        }
    };
    Ok(PrivateJwk { kid: key.thumbprint(), key, alg: Some(alg), use_: "sig".into(), active: false, retired_at: None })
}

/// An RSA key with every CRT member (WebCrypto's JWK import needs them).
fn generate_rsa(bits: usize) -> Result<KeyMaterial> {
    let mut key = RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|e| failed(format!("RSA key generation failed: {e}")))?;
    key.precompute().map_err(|e| failed(format!("RSA key generation failed: {e}")))?;
    let missing = || failed("RSA key generation failed: CRT values missing");
    let [p, q] = key.primes() else { return Err(failed("RSA key generation failed: expected two primes")) };
    // RFC 7518 §6.3.2: dp = d mod (p-1), dq = d mod (q-1), qi = q^-1 mod p.
    let (dp, dq, qi) =
        (key.dp().ok_or_else(missing)?, key.dq().ok_or_else(missing)?, key.crt_coefficient().ok_or_else(missing)?);
    Ok(KeyMaterial::Rsa {
        n: uint(key.n()),
        e: uint(key.e()),
        d: uint(key.d()),
        p: uint(p),
        q: uint(q),
        dp: uint(dp),
        dq: uint(dq),
        qi: uint(&qi),
    })
}

/// base64url of the unsigned big-endian bytes (RFC 7518 §2 Base64urlUInt).
fn uint(x: &BigUint) -> String {
    b64url(&x.to_bytes_be())
}

fn read_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| failed(format!("cannot read stdin: {e}")))?;
    Ok(s)
}

fn public_jwks(private_set: &str) -> Result<String> {
    let set = PrivateJwkSet::parse_any(private_set.trim()).map_err(|e| usage(format!("stdin: {e}")))?;
    serde_json::to_string_pretty(&set.public_jwks()).map_err(|e| failed(e.to_string()))
}

// ---------------------------------------------------------------- key set files

fn read_set(file: &Path) -> Result<PrivateJwkSet> {
    let text = std::fs::read_to_string(file).map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    PrivateJwkSet::parse_any(text.trim()).map_err(|e| usage(format!("{}: {e}", file.display())))
}

/// Writes the set to `file` atomically (a temporary file in the same directory, readable by
/// the owner only, then renamed over it), after validating it.
fn write_set(file: &Path, set: &PrivateJwkSet) -> Result<()> {
    set.validate().map_err(|e| failed(format!("refusing to write an invalid key set: {e}")))?;
    let text = to_line(set)? + "\n";
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = file.file_name().ok_or_else(|| usage(format!("{} is not a file name", file.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let io = |e: std::io::Error| failed(format!("cannot write {}: {e}", file.display()));
    let result = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn find<'a>(set: &'a mut PrivateJwkSet, kid: &str, file: &Path) -> Result<&'a mut PrivateJwk> {
    set.keys.iter_mut().find(|k| k.kid == kid).ok_or_else(|| usage(format!("no key '{kid}' in {}", file.display())))
}

fn deploy_hint(file: &Path) -> String {
    format!("npx wrangler secret put SIGNING_KEYS < {}", file.display())
}

/// Adds a new key that does not sign yet: the current signer of its algorithm is marked
/// active so that the new key, wherever it sits in the set, changes nothing but the JWKS.
fn add(alg: Alg, bits: usize, file: &Path) -> Result<String> {
    let mut set = match file.exists() {
        true => read_set(file)?,
        false => PrivateJwkSet { keys: vec![] },
    };
    let current = set.signer(alg).map(|k| k.kid.clone());
    if let Some(kid) = &current {
        find(&mut set, kid, file)?.active = true;
    }
    let key = generate_jwk(alg, bits)?;
    let kid = key.kid.clone();
    set.keys.push(key);
    write_set(file, &set)?;
    Ok(match current {
        Some(_) => format!(
            "Added {alg} key {kid} to {}; it is published but does not sign yet.\n\
             Next:\n  1. {}\n  2. wait at least {JWKS_MAX_AGE} s (the JWKS cache lifetime) so relying parties see it\n  \
             3. oidc-admin keys activate {kid} --file {}\n  4. deploy the secret again",
            file.display(),
            deploy_hint(file),
            file.display()
        ),
        None => format!(
            "Added {alg} key {kid} to {}; it is the only {alg} key, so it signs {alg} ID tokens once deployed.\n\
             Next: {}",
            file.display(),
            deploy_hint(file)
        ),
    })
}

/// Makes `kid` the signing key of its algorithm.
fn activate(kid: &str, file: &Path) -> Result<String> {
    let mut set = read_set(file)?;
    let key = find(&mut set, kid, file)?;
    if key.retired_at.is_some() {
        return Err(usage(format!("key '{kid}' is retired; a retired key never signs again (add a new one)")));
    }
    let alg = key.alg();
    let previous = set.signer(alg).map(|k| k.kid.clone());
    for k in set.keys.iter_mut().filter(|k| k.alg() == alg) {
        k.active = k.kid == kid;
    }
    write_set(file, &set)?;
    let retire = match previous.filter(|p| p != kid) {
        Some(p) => format!(
            "\nThen retire the previous {alg} key (it stays published): oidc-admin keys retire {p} --file {}",
            file.display()
        ),
        None => String::new(),
    };
    Ok(format!("Key {kid} now signs {alg} ID tokens (once deployed).\nNext: {}{retire}", deploy_hint(file)))
}

/// Marks `kid` retired: still published, never signs.
fn retire(kid: &str, file: &Path, force: bool, now: i64) -> Result<String> {
    let mut set = read_set(file)?;
    let key = find(&mut set, kid, file)?;
    if key.retired_at.is_some() {
        return Err(usage(format!("key '{kid}' is already retired")));
    }
    let alg = key.alg();
    if set.signer(alg).is_some_and(|s| s.kid == kid) && !force {
        let others: Vec<&str> = set
            .keys
            .iter()
            .filter(|k| k.alg() == alg && k.kid != kid && k.retired_at.is_none())
            .map(|k| k.kid.as_str())
            .collect();
        return Err(usage(match others.first() {
            Some(other) => format!(
                "key '{kid}' is the signing key of {alg}: activate another first (oidc-admin keys activate {other} --file {}), or use --force",
                file.display()
            ),
            None => format!(
                "key '{kid}' is the only signing key of {alg}: clients registered for {alg} would get no ID tokens. Add and activate another first, or use --force"
            ),
        }));
    }
    let key = find(&mut set, kid, file)?;
    key.active = false;
    key.retired_at = Some(now);
    write_set(file, &set)?;
    Ok(format!(
        "Key {kid} is retired: still published (tokens it signed keep verifying), never signs.\nNext: {}\n\
         Remove it once the ID tokens it signed have expired: oidc-admin keys remove {kid} --file {}",
        deploy_hint(file),
        file.display()
    ))
}

/// Deletes `kid`, once no unexpired token it signed can remain.
fn remove(kid: &str, file: &Path, id_token_ttl: u32, force: bool, now: i64) -> Result<String> {
    let mut set = read_set(file)?;
    let key = find(&mut set, kid, file)?;
    if !force {
        let Some(retired_at) = key.retired_at else {
            return Err(usage(format!(
                "key '{kid}' is not retired: retire it first (oidc-admin keys retire {kid} --file {}), or use --force",
                file.display()
            )));
        };
        let ready = retired_at + i64::from(id_token_ttl);
        if now < ready {
            return Err(usage(format!(
                "key '{kid}' was retired {} s ago; ID tokens it signed may be valid for {} s more (--id-token-ttl {id_token_ttl}). Wait, or use --force",
                now - retired_at,
                ready - now
            )));
        }
    }
    set.keys.retain(|k| k.kid != kid);
    if set.keys.is_empty() {
        return Err(usage(format!("key '{kid}' is the last key of {}; refusing to empty the set", file.display())));
    }
    write_set(file, &set)?;
    Ok(format!("Removed key {kid} from {}.\nNext: {}", file.display(), deploy_hint(file)))
}

impl From<AlgArg> for Alg {
    fn from(a: AlgArg) -> Alg {
        match a {
            AlgArg::Rs256 => Alg::RS256,
            AlgArg::Es256 => Alg::ES256,
            AlgArg::EdDsa => Alg::EdDSA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("oidc-admin-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("keys.json")
    }

    fn load(file: &Path) -> PrivateJwkSet {
        PrivateJwkSet::parse_any(&std::fs::read_to_string(file).unwrap()).unwrap()
    }

    fn signer(file: &Path, alg: Alg) -> String {
        load(file).signer(alg).unwrap().kid.clone()
    }

    #[test]
    fn generated_keys_have_thumbprint_kids_and_sign() {
        for alg in [Alg::ES256, Alg::EdDSA] {
            let k = generate_jwk(alg, 2048).unwrap();
            assert_eq!(k.kid, k.key.thumbprint());
            assert_eq!(k.alg(), alg);
            let set = PrivateJwkSet { keys: vec![k] };
            set.validate().unwrap();
            edge_oidc::keys::native::NativeCrypto::from_set(&set).unwrap();
        }
    }

    /// The whole rotation on a file, with ES256 keys (fast to generate).
    #[test]
    fn rotation_on_a_file() {
        let file = scratch("rotation");
        let out = add(Alg::ES256, 2048, &file).unwrap();
        assert!(out.contains("only ES256 key"), "{out}");
        let first = signer(&file, Alg::ES256);
        let out = add(Alg::ES256, 2048, &file).unwrap();
        assert!(out.contains("does not sign yet") && out.contains("wrangler secret put SIGNING_KEYS"), "{out}");
        let set = load(&file);
        let second = set.keys[1].kid.clone();
        assert_eq!(signer(&file, Alg::ES256), first, "adding does not change the signer");
        assert!(set.keys[0].active, "the signer is pinned");

        // Retiring the signer is refused; activating the new key moves signing.
        let e = retire(&first, &file, false, 1000).unwrap_err().to_string();
        assert!(e.contains("activate another first") && e.contains(&second), "{e}");
        let out = activate(&second, &file).unwrap();
        assert!(out.contains(&format!("keys retire {first}")), "{out}");
        assert_eq!(signer(&file, Alg::ES256), second);
        assert!(!load(&file).keys[0].active);

        // Retire the old key, then remove it only after the ID token lifetime.
        retire(&first, &file, false, 1000).unwrap();
        assert_eq!(load(&file).keys[0].retired_at, Some(1000));
        assert!(activate(&first, &file).unwrap_err().to_string().contains("retired"));
        let e = remove(&first, &file, 3600, false, 2000).unwrap_err().to_string();
        assert!(e.contains("2600 s more"), "{e}");
        remove(&first, &file, 3600, false, 4600).unwrap();
        assert_eq!(load(&file).keys.len(), 1);

        // The last signer of an algorithm: refused without --force; remove needs retired.
        let e = retire(&second, &file, false, 5000).unwrap_err().to_string();
        assert!(e.contains("only signing key"), "{e}");
        assert!(remove(&second, &file, 3600, false, 5000).unwrap_err().to_string().contains("not retired"));
        assert!(remove(&second, &file, 3600, true, 5000).unwrap_err().to_string().contains("last key"));
        assert!(activate("nope", &file).unwrap_err().to_string().contains("no key 'nope'"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }
}
