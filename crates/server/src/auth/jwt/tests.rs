//! Every rule of `[auth.jwt]` against tokens made here with independent keys (rcgen's).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;
use crate::config::Secret;
use crate::storage::sqlite::SqliteStore;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs_config() -> JwtConfig {
    JwtConfig {
        secret: Some(Secret::from(SECRET)),
        ..JwtConfig::default()
    }
}

fn hs(claims: &Value) -> String {
    hs_with(Algorithm::HS256, SECRET, claims)
}

fn hs_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn valid_for(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600, "iat": now() })
}

fn verifier(config: &JwtConfig) -> JwtVerifier {
    JwtVerifier::new(config, "localhost").unwrap()
}

#[test]
fn a_valid_token_names_its_account() {
    let v = verifier(&hs_config());
    let exp = now() + 600;
    let verified = v
        .verify(&hs(&json!({ "sub": "Alice", "exp": exp })))
        .unwrap();
    assert_eq!(verified.user, "alice");
    assert_eq!(verified.expires, UNIX_EPOCH + Duration::from_secs(exp));
}

#[test]
fn time_claims() {
    let v = verifier(&hs_config());
    let expired = json!({ "sub": "alice", "exp": now() - 120 });
    assert_eq!(v.verify(&hs(&expired)), Err(JwtError::Expired));
    // Within the leeway (30 s by default) an expired token still passes.
    let barely = json!({ "sub": "alice", "exp": now() - 5 });
    assert!(v.verify(&hs(&barely)).is_ok());
    let no_exp = json!({ "sub": "alice" });
    assert_eq!(v.verify(&hs(&no_exp)), Err(JwtError::Claim("exp".into())));
    let early = json!({ "sub": "alice", "exp": now() + 600, "nbf": now() + 300 });
    assert_eq!(v.verify(&hs(&early)), Err(JwtError::NotYetValid));
    let future = json!({ "sub": "alice", "exp": now() + 600, "iat": now() + 300 });
    assert_eq!(v.verify(&hs(&future)), Err(JwtError::IssuedInFuture));
    let strict = verifier(&JwtConfig {
        leeway_secs: 0,
        ..hs_config()
    });
    assert_eq!(strict.verify(&hs(&barely)), Err(JwtError::Expired));
}

#[test]
fn issuer_and_audience_when_configured() {
    let v = verifier(&JwtConfig {
        issuer: Some("https://app.example.com".into()),
        audience: Some("switchboard".into()),
        ..hs_config()
    });
    let good = json!({ "sub": "alice", "exp": now() + 600,
        "iss": "https://app.example.com", "aud": ["other", "switchboard"] });
    assert!(v.verify(&hs(&good)).is_ok());
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    assert_eq!(v.verify(&hs(&wrong_iss)), Err(JwtError::Issuer));
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("other");
    assert_eq!(v.verify(&hs(&wrong_aud)), Err(JwtError::Audience));
    let mut no_iss = good.clone();
    no_iss.as_object_mut().unwrap().remove("iss");
    assert_eq!(v.verify(&hs(&no_iss)), Err(JwtError::Issuer));
    let mut no_aud = good;
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(v.verify(&hs(&no_aud)), Err(JwtError::Audience));
}

#[test]
fn signature_and_algorithm() {
    let v = verifier(&hs_config());
    let claims = valid_for("alice");
    let other_secret = hs_with(
        Algorithm::HS256,
        "another secret of thirty-two bytes!",
        &claims,
    );
    assert_eq!(v.verify(&other_secret), Err(JwtError::Signature));
    // HS512 is not in the default allow-list.
    let hs512 = hs_with(Algorithm::HS512, SECRET, &claims);
    assert_eq!(v.verify(&hs512), Err(JwtError::Algorithm));
    let both = verifier(&JwtConfig {
        algorithms: vec!["HS256".into(), "HS512".into()],
        ..hs_config()
    });
    assert!(both.verify(&hs512).is_ok());
    // A tampered payload.
    let token = hs(&claims);
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(valid_for("admin").to_string());
    parts[1] = &forged;
    assert_eq!(v.verify(&parts.join(".")), Err(JwtError::Signature));
    assert_eq!(v.verify("not a token"), Err(JwtError::Malformed));
}

#[test]
fn alg_none_is_refused() {
    let v = verifier(&JwtConfig {
        algorithms: vec!["HS256".into()],
        ..hs_config()
    });
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(valid_for("alice").to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert!(v.verify(&token).is_err(), "{token}");
    }
    assert!(algorithms(&["none".into()]).is_err());
}

fn ec_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn es256(key: &rcgen::KeyPair, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).unwrap();
    encode(&header, claims, &key).unwrap()
}

#[test]
fn public_key_file_and_no_algorithm_confusion() {
    let dir = tempfile::tempdir().unwrap();
    let key = ec_key();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, key.public_key_pem()).unwrap();
    let v = verifier(&JwtConfig {
        secret: Some(Secret::from(SECRET)),
        public_key_file: Some(pem),
        algorithms: vec!["HS256".into(), "ES256".into()],
        ..JwtConfig::default()
    });
    let claims = valid_for("alice");
    assert_eq!(v.verify(&es256(&key, None, &claims)).unwrap().user, "alice");
    assert_eq!(
        v.verify(&es256(&ec_key(), None, &claims)),
        Err(JwtError::Signature)
    );
    // The classic confusion: an HMAC token keyed with the public key's own bytes.
    let confused = hs_with(Algorithm::HS256, &key.public_key_pem(), &claims);
    assert_eq!(v.verify(&confused), Err(JwtError::Signature));
    // Without an HMAC secret an HS token finds no key at all.
    let public_only = verifier(&JwtConfig {
        secret: None,
        ..v.config().clone()
    });
    assert_eq!(public_only.verify(&confused), Err(JwtError::NoKey));
}

fn jwks(keys: &[(&str, &rcgen::KeyPair)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, key)| {
            // An uncompressed P-256 point: 0x04, x, y.
            let raw = key.public_key_raw();
            json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
            })
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

#[test]
fn jwks_keys_rotate_when_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let (old, new) = (ec_key(), ec_key());
    std::fs::write(&path, jwks(&[("old", &old)])).unwrap();
    let v = verifier(&JwtConfig {
        jwks_file: Some(path.clone()),
        algorithms: vec!["ES256".into()],
        ..JwtConfig::default()
    });
    let claims = valid_for("alice");
    assert!(v.verify(&es256(&old, Some("old"), &claims)).is_ok());
    assert_eq!(
        v.verify(&es256(&new, Some("new"), &claims)),
        Err(JwtError::NoKey)
    );
    // Rotation: the new key is published, the old one withdrawn (a longer file, so that the
    // change shows even where modification times are coarse).
    std::fs::write(&path, jwks(&[("new", &new), ("newer", &ec_key())])).unwrap();
    assert!(v.verify(&es256(&new, Some("new"), &claims)).is_ok());
    assert_eq!(
        v.verify(&es256(&old, Some("old"), &claims)),
        Err(JwtError::NoKey)
    );
    // A broken file keeps the keys read before.
    std::fs::write(&path, "{ not json").unwrap();
    assert!(v.verify(&es256(&new, Some("new"), &claims)).is_ok());
}

#[test]
fn claim_mapping() {
    let v = verifier(&hs_config());
    for (sub, user) in [("alice", "alice"), ("Bob@localhost", "bob")] {
        assert_eq!(v.verify(&hs(&valid_for(sub))).unwrap().user, user, "{sub}");
    }
    for sub in [
        "alice@elsewhere.example",
        "alice@localhost/phone",
        "@localhost",
        "",
        "a b@localhost",
    ] {
        assert_eq!(
            v.verify(&hs(&valid_for(sub))),
            Err(JwtError::NotOurAccount),
            "{sub}"
        );
    }
    let by_email = verifier(&JwtConfig {
        jid_claim: "xmpp".into(),
        ..hs_config()
    });
    let claims = json!({ "sub": "u-123", "xmpp": "carol@localhost", "exp": now() + 60 });
    assert_eq!(by_email.verify(&hs(&claims)).unwrap().user, "carol");
    assert_eq!(
        by_email.verify(&hs(&valid_for("alice"))),
        Err(JwtError::Claim("xmpp".into()))
    );
    let numeric = json!({ "sub": 42, "exp": now() + 60 });
    assert_eq!(v.verify(&hs(&numeric)), Err(JwtError::Claim("sub".into())));
}

#[tokio::test]
async fn provision_on_and_off() {
    let store: Arc<dyn crate::storage::Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let accounts = Accounts::new(store, "localhost", 4096);
    let off = verifier(&JwtConfig {
        provision: false,
        ..hs_config()
    });
    let token = hs(&valid_for("newcomer"));
    assert!(matches!(
        off.admit(&accounts, &token).await,
        Err(LoginError::NoAccount(user)) if user == "newcomer"
    ));
    assert!(!accounts.exists("newcomer").await.unwrap());
    let on = verifier(&hs_config());
    assert_eq!(on.admit(&accounts, &token).await.unwrap().user, "newcomer");
    assert!(accounts.exists("newcomer").await.unwrap());
    // Provisioned without a password: no password logs in to it.
    assert!(!accounts.check_password("newcomer", "").await.unwrap());
    assert!(!accounts.check_password("newcomer", &token).await.unwrap());
    // Once it exists, provision off admits it too; a bad token still fails.
    assert!(off.admit(&accounts, &token).await.is_ok());
    let expired = hs(&json!({ "sub": "newcomer", "exp": now() - 3600 }));
    assert!(matches!(
        off.admit(&accounts, &expired).await,
        Err(LoginError::Token(JwtError::Expired))
    ));
}

#[test]
fn signing_uses_the_hmac_secret() {
    let config = JwtConfig {
        issuer: Some("me".into()),
        audience: Some("you".into()),
        ..hs_config()
    };
    let token = sign(&config, "alice", Duration::from_secs(60)).unwrap();
    let verified = verifier(&config).verify(&token).unwrap();
    assert_eq!(verified.user, "alice");
    let public_only = JwtConfig {
        secret: None,
        ..JwtConfig::default()
    };
    assert!(matches!(
        sign(&public_only, "alice", Duration::from_secs(60)),
        Err(KeyError::NoSecret)
    ));
    let no_hs = JwtConfig {
        algorithms: vec!["ES256".into()],
        ..hs_config()
    };
    assert!(matches!(
        sign(&no_hs, "alice", Duration::from_secs(60)),
        Err(KeyError::NoHmacAlgorithm)
    ));
}

#[test]
fn the_verifier_follows_the_configuration() {
    let keys = JwtKeys::default();
    assert!(
        keys.verifier(&JwtConfig::default(), "localhost")
            .unwrap()
            .is_none()
    );
    let first = keys.verifier(&hs_config(), "localhost").unwrap().unwrap();
    let again = keys.verifier(&hs_config(), "localhost").unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let changed = JwtConfig {
        leeway_secs: 5,
        ..hs_config()
    };
    let rebuilt = keys.verifier(&changed, "localhost").unwrap().unwrap();
    assert!(!Arc::ptr_eq(&first, &rebuilt));
}

#[test]
fn eddsa_public_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let pem = dir.path().join("ed25519.pem");
    std::fs::write(&pem, key.public_key_pem()).unwrap();
    let v = verifier(&JwtConfig {
        public_key_file: Some(pem),
        algorithms: vec!["EdDSA".into(), "ES256".into()],
        ..JwtConfig::default()
    });
    let signing = EncodingKey::from_ed_pem(key.serialize_pem().as_bytes()).unwrap();
    let claims = valid_for("alice");
    let token = encode(&Header::new(Algorithm::EdDSA), &claims, &signing).unwrap();
    assert_eq!(v.verify(&token).unwrap().user, "alice");
    // An ES256 token finds no key of its kind in an Ed25519 file.
    assert_eq!(
        v.verify(&es256(&ec_key(), None, &claims)),
        Err(JwtError::NoKey)
    );
}
