//! Signing keys: generated key sets, the test fixture, rotation on a file, the session key.

use super::*;

/// A generated one-key set: valid against the schema and the parser, kid = thumbprint, and
/// a signature made by the host crypto verifies with the public JWKS (by an independent
/// implementation for each kind), and not over other bytes.
fn check_key_set(json: &str, alg: Alg) -> PrivateJwk {
    assert_eq!(json.trim_end().lines().count(), 1, "one line");
    let set = PrivateJwkSet::parse_any(json).expect("PrivateJwkSet::parse_any");
    assert_valid("signing-keys", &serde_json::from_str(json).unwrap());
    assert_eq!(set.keys.len(), 1);
    let k = set.keys[0].clone();
    assert_eq!(k.alg(), alg);
    assert_eq!(k.kid, k.key.thumbprint(), "kid is the RFC 7638 thumbprint");
    if let KeyMaterial::Rsa { n, e, d, p, q, dp, dq, qi } = &k.key {
        let (n, e, d, p, q) = (uint(n), uint(e), uint(d), uint(p), uint(q));
        assert_eq!(n.bits(), 2048);
        assert_eq!(&p * &q, n);
        let one = BigUint::from(1u32);
        assert_eq!(uint(dp), &d % (&p - &one), "dp");
        assert_eq!(uint(dq), &d % (&q - &one), "dq");
        assert_eq!((uint(qi) * &q) % &p, one, "qi");
        let thumbprint = b64url(&sha256(
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(&e.to_bytes_be()), b64url(&n.to_bytes_be()))
                .as_bytes(),
        ));
        assert_eq!(k.kid, thumbprint);
        assert_eq!(e, BigUint::from(65537u32));
    }

    // Sign with the host crypto; verify with the public JWKS.
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";
    let crypto = NativeCrypto::from_set(&set).expect("host crypto");
    let signature = block_on(crypto.sign(alg, message)).expect("sign");
    assert!(block_on(crypto.verify(&k.kid, message, &signature)).unwrap());
    assert!(!block_on(crypto.verify(&k.kid, b"other bytes", &signature)).unwrap());
    let jwks = set.public_jwks();
    let public = &jwks["keys"][0];
    for private in ["d", "p", "q", "dp", "dq", "qi", "active", "retired_at"] {
        assert!(public.get(private).is_none(), "public JWKS leaks private member {private}");
    }
    let b = |m: &str| b64url_decode(public[m].as_str().unwrap()).unwrap();
    match alg {
        Alg::RS256 => {
            let pk = RsaPublicKey::new(uint(public["n"].as_str().unwrap()), uint(public["e"].as_str().unwrap()))
                .expect("public key");
            assert_eq!(pk.size(), 256);
            let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).expect("signature");
            vk.verify(message, &sig).expect("RS256 signature verifies");
            assert!(vk.verify(b"other bytes", &sig).is_err());
        }
        Alg::ES256 => {
            assert_eq!(public["crv"], "P-256");
            let point =
                p256::EncodedPoint::from_affine_coordinates(b("x").as_slice().into(), b("y").as_slice().into(), false);
            let vk = p256::ecdsa::VerifyingKey::from_encoded_point(&point).expect("P-256 point");
            let sig = p256::ecdsa::Signature::from_slice(&signature).expect("r || s");
            vk.verify(message, &sig).expect("ES256 signature verifies");
            assert!(vk.verify(b"other bytes", &sig).is_err());
        }
        Alg::EdDSA => {
            assert_eq!(public["crv"], "Ed25519");
            let x: [u8; 32] = b("x").try_into().unwrap();
            let vk = ed25519_dalek::VerifyingKey::from_bytes(&x).expect("Ed25519 key");
            let sig = ed25519_dalek::Signature::from_slice(&signature).expect("signature");
            vk.verify_strict(message, &sig).expect("EdDSA signature verifies");
            assert!(vk.verify_strict(b"other bytes", &sig).is_err());
        }
    }
    k
}

#[test]
fn keys_generate_signs_and_verifies() {
    for (flag, alg) in [("RS256", Alg::RS256), ("ES256", Alg::ES256), ("EdDSA", Alg::EdDSA)] {
        let out = admin_ok(&["keys", "generate", "--alg", flag], "");
        let key = check_key_set(&out, alg);
        // `keys public` prints the public set.
        let public: Value = serde_json::from_str(&admin_ok(&["keys", "public"], &out)).expect("JSON");
        assert_eq!(public["keys"][0]["kid"], key.kid.as_str());
        assert_eq!(public["keys"][0]["alg"], flag);
        assert!(public["keys"][0].get("d").is_none());
    }
    let default = admin_ok(&["keys", "generate"], "");
    check_key_set(&default, Alg::RS256);
    let err = admin_err(&["keys", "public"], "{\"keys\":[]}", 2);
    assert!(err.contains("no keys"), "{err}");
    let err = admin_err(&["keys", "generate", "--alg", "HS256"], "", 2);
    assert!(err.contains("RS256") && err.contains("EdDSA"), "{err}");
}

#[test]
fn test_key_fixtures_are_valid_key_sets() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-signing-keys.json");
    check_key_set(&std::fs::read_to_string(path).expect("fixture"), Alg::RS256);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-signing-keys-multi.json");
    let multi = std::fs::read_to_string(path).expect("fixture");
    assert_valid("signing-keys", &serde_json::from_str(&multi).unwrap());
    let set = PrivateJwkSet::parse(&multi).expect("the worker accepts the multi-key fixture");
    assert_eq!(set.signing_algs(), Alg::ALL);
}

/// Rotation through the binary, on a file: the procedure of the README.
#[test]
fn keys_rotation_on_a_file() {
    let dir = scratch_dir("rotation");
    let file = dir.join("keys.json");
    let f = file.to_str().unwrap();
    std::fs::write(&file, admin_ok(&["keys", "generate"], "")).unwrap();
    let load = || PrivateJwkSet::parse(&std::fs::read_to_string(&file).unwrap()).expect("valid set");
    let old = load().keys[0].kid.clone();

    for alg in ["ES256", "EdDSA"] {
        let out = admin_ok(&["keys", "add", "--alg", alg, "--file", f], "");
        assert!(out.contains("wrangler secret put SIGNING_KEYS"), "{out}");
    }
    let out = admin_ok(&["keys", "add", "--alg", "RS256", "--file", f], "");
    assert!(out.contains("does not sign yet") && out.contains("keys activate"), "{out}");
    let set = load();
    assert_eq!(set.keys.len(), 4);
    let new = set.keys[3].kid.clone();
    assert_eq!(set.signer(Alg::RS256).unwrap().kid, old, "a new key does not sign before it is activated");
    assert_eq!(set.signing_algs(), Alg::ALL);
    assert_valid("signing-keys", &serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap());

    let err = admin_err(&["keys", "retire", &old, "--file", f], "", 2);
    assert!(err.contains("activate another first"), "{err}");
    admin_ok(&["keys", "activate", &new, "--file", f], "");
    assert_eq!(load().signer(Alg::RS256).unwrap().kid, new);
    admin_ok(&["keys", "retire", &old, "--file", f], "");
    let set = load();
    assert!(set.get(&old).unwrap().retired_at.is_some());
    assert_eq!(set.public_jwks()["keys"].as_array().unwrap().len(), 4, "a retired key stays published");

    let err = admin_err(&["keys", "remove", &old, "--file", f], "", 2);
    assert!(err.contains("--id-token-ttl"), "{err}");
    admin_ok(&["keys", "remove", &old, "--file", f, "--id-token-ttl", "0"], "");
    assert!(load().get(&old).is_none());
    let err = admin_err(&["keys", "activate", "no-such-kid", "--file", f], "", 2);
    assert!(err.contains("no key 'no-such-kid'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn session_key_is_256_bits() {
    let a = admin_ok(&["keys", "session-key"], "");
    let b = admin_ok(&["keys", "session-key"], "");
    assert_eq!(b64url_decode(a.trim()).map(|k| k.len()), Some(32));
    assert_ne!(a, b);
}
