//! ID token signatures: each client's algorithm, key rotation, and what this provider accepts
//! as its own token.

use super::*;

/// Registers `id` like "basic" but with `id_token_signed_response_alg`.
fn put_client_with_alg(w: &World, id: &str, alg: &str) {
    let mut v: Value = serde_json::from_str(&client_record(id, "client_secret_basic", Some(BASIC_SECRET))).unwrap();
    v["id_token_signed_response_alg"] = json!(alg);
    w.clients.put(id, &v.to_string());
}

fn tokens_for(w: &World, client: &str) -> Value {
    let p = w.code_for(client, &[]);
    let code = param(&p, "code").unwrap().to_string();
    let (status, v, _) = w.token(
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)],
        Some((client, BASIC_SECRET)),
    );
    assert_eq!(status, 200, "{v}");
    v
}

fn jws_header(token: &str) -> Value {
    serde_json::from_slice(&crate::crypto::b64url_decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

#[test]
fn es256_and_eddsa_id_tokens_verify_with_the_published_jwk() {
    use crate::keys::Alg;
    let w = World::new();
    for (client, alg, sig_len) in [("es256", Alg::ES256, 64), ("eddsa", Alg::EdDSA, 64), ("basic", Alg::RS256, 256)] {
        if client != "basic" {
            put_client_with_alg(&w, client, alg.as_str());
        }
        let v = tokens_for(&w, client);
        let token = v["id_token"].as_str().unwrap();
        let header = jws_header(token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], w.keys.signer(alg).unwrap().kid.as_str(), "kid = the {alg} signing key");
        let sig = crate::crypto::b64url_decode(token.rsplit('.').next().unwrap()).unwrap();
        assert_eq!(sig.len(), sig_len, "{alg} signature in its JWS form");
        let c = verify_id_token(&w, token);
        assert_eq!(c["aud"], client);
        assert_eq!(c["at_hash"], crate::protocol::id_token::at_hash(alg, v["access_token"].as_str().unwrap()));
    }
}

#[test]
fn rs256_tokens_use_the_active_key_never_the_retired_one() {
    let w = World::new();
    let (retired, active) = (&w.keys.keys[0], &w.keys.keys[1]);
    assert!(retired.retired_at.is_some() && active.active);
    let (v, _) = code_flow_tokens(&w);
    let header = jws_header(v["id_token"].as_str().unwrap());
    assert_eq!(header["kid"], active.kid.as_str());
    assert_ne!(header["kid"], retired.kid.as_str());
    verify_id_token(&w, v["id_token"].as_str().unwrap());
}

#[test]
fn client_alg_without_a_signing_key_is_a_clear_error() {
    // Only an RSA key: an ES256 client is refused at the authorization endpoint...
    let w = World::with_keys(test_key::JWKS);
    put_client_with_alg(&w, "es256", "ES256");
    let r = w.authorize(&[
        ("response_type", "code"),
        ("client_id", "es256"),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("state", "s"),
    ]);
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    let body = r.body_str();
    assert!(body.contains("Application misconfigured") && body.contains("ES256"), "{body}");
    assert!(w.logs.borrow().iter().any(|l| l.contains("no ES256 signing key")));

    // ... and at the token endpoint (the record changed after the code was issued): a JSON
    // error, and the code is not used up.
    let p = w.code_for("basic", &[]);
    let code = param(&p, "code").unwrap().to_string();
    put_client_with_alg(&w, "basic", "EdDSA");
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    let (status, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "unauthorized_client");
    assert!(v["error_description"].as_str().unwrap().contains("EdDSA"), "{v}");
    put_client_with_alg(&w, "basic", "RS256");
    let (status, v, _) = w.token(&form, Some(("basic", BASIC_SECRET)));
    assert_eq!(status, 200, "{v}");
}

#[test]
fn verify_own_token_accepts_ours_and_refuses_the_rest() {
    use crate::keys::Alg;
    use crate::protocol::id_token::{sign, verify_own_token};
    let w = World::new();
    let verify = |t: &str| block_on(verify_own_token(&w.crypto, ISSUER, t));
    put_client_with_alg(&w, "eddsa", "EdDSA");
    put_client_with_alg(&w, "es256", "ES256");
    let mut tokens = vec![code_flow_tokens(&w).0["id_token"].as_str().unwrap().to_string()];
    for client in ["es256", "eddsa"] {
        tokens.push(tokens_for(&w, client)["id_token"].as_str().unwrap().to_string());
    }
    for t in &tokens {
        let claims = verify(t).unwrap_or_else(|e| panic!("{e}: {t}"));
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], "u-7f3a9c");
    }
    // Expired tokens are still ours (id_token_hint, OpenID Connect Core §3.1.2.1).
    w.advance(10 * 3600);
    assert!(verify(&tokens[0]).is_ok());

    let rs = &tokens[0];
    let parts: Vec<&str> = rs.split('.').collect();
    // Tampered signature, tampered payload.
    let mut sig = crate::crypto::b64url_decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let e = verify(&format!("{}.{}.{}", parts[0], parts[1], b64url(&sig))).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    let other_payload = b64url(br#"{"iss":"https://id.example.com","sub":"admin"}"#);
    assert!(verify(&format!("{}.{other_payload}.{}", parts[0], parts[2])).unwrap_err().contains("does not verify"));
    // Another key's signature under our kid (the ES256 token's signature on the RS256 input).
    let es_sig = tokens[1].rsplit('.').next().unwrap();
    assert!(verify(&format!("{}.{}.{es_sig}", parts[0], parts[1])).is_err());

    // Wrong alg for the key, and alg none.
    let mut header = jws_header(rs);
    for alg in ["ES256", "none", "HS256"] {
        header["alg"] = json!(alg);
        let forged = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), parts[1], parts[2]);
        let e = verify(&forged).unwrap_err();
        assert!(e.contains("alg does not match"), "{alg}: {e}");
    }

    // A key we do not publish (unknown kid), and no kid.
    let foreign_keys = PrivateJwkSet::parse(test_key::JWKS).unwrap();
    let foreign = NativeCrypto::from_set(&foreign_keys).unwrap();
    let claims: serde_json::Map<String, Value> = serde_json::from_value(json!({"iss": ISSUER, "sub": "x"})).unwrap();
    let t = block_on(sign(&foreign, Alg::RS256, &claims)).unwrap();
    assert!(verify(&t).unwrap_err().contains("unknown kid"));
    let mut header = jws_header(rs);
    header.as_object_mut().unwrap().remove("kid");
    let no_kid = format!("{}.{}.{}", b64url(header.to_string().as_bytes()), parts[1], parts[2]);
    assert!(verify(&no_kid).unwrap_err().contains("no kid"));

    // Our key, a foreign issuer.
    let claims: serde_json::Map<String, Value> =
        serde_json::from_value(json!({"iss": "https://evil.example", "sub": "x"})).unwrap();
    let t = block_on(sign(&w.crypto, Alg::ES256, &claims)).unwrap();
    assert!(verify(&t).unwrap_err().contains("not issued by this provider"));

    // The retired key's tokens still verify (it stays published).
    let mut only_retired = PrivateJwkSet { keys: vec![w.keys.keys[0].clone()] };
    only_retired.keys[0].retired_at = None;
    let t = block_on(sign(&NativeCrypto::from_set(&only_retired).unwrap(), Alg::RS256, &claims_of(ISSUER))).unwrap();
    assert_eq!(jws_header(&t)["kid"], w.keys.keys[0].kid.as_str());
    assert!(verify(&t).is_ok());

    // Malformed input.
    for bad in ["", "a.b", "a.b.c.d", "!!.??.**", &format!("{}.{}", parts[0], parts[1])] {
        assert!(verify(bad).is_err(), "{bad}");
    }
}

fn claims_of(iss: &str) -> serde_json::Map<String, Value> {
    serde_json::from_value(json!({"iss": iss, "sub": "x"})).unwrap()
}
