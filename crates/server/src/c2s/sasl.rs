//! The SASL exchange of RFC 6120 §6 over a transport: mechanism choice by channel security,
//! base64 framing of challenges and responses, and the account lookups behind PLAIN and SCRAM.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use minidom::Element;
use switchboard_xmpp::framing::StreamEvent;
use switchboard_xmpp::ns;

use super::{C2sContext, End, Security, Transport};
use crate::auth::scram::{self, Mechanism, ScramServer};

/// Mechanisms offered on a channel: SCRAM-*-PLUS only with a known channel binding.
pub fn offered(security: &Security) -> Vec<Mechanism> {
    let binding = matches!(
        security,
        Security::Tls {
            channel_binding: Some(_)
        }
    );
    Mechanism::ALL
        .into_iter()
        .filter(|m| binding || !m.is_plus())
        .collect()
}

pub fn mechanisms_element(offered: &[Mechanism]) -> Element {
    let mut mechanisms = Element::bare("mechanisms", ns::SASL);
    for m in offered {
        mechanisms.append_child(
            Element::builder("mechanism", ns::SASL)
                .append(m.name())
                .build(),
        );
    }
    mechanisms
}

pub fn failure(condition: &str) -> Element {
    Element::builder("failure", ns::SASL)
        .append(Element::bare(condition, ns::SASL))
        .build()
}

pub fn success(additional: Option<&[u8]>) -> Element {
    let mut el = Element::bare("success", ns::SASL);
    if let Some(data) = additional {
        el.append_text(B64.encode(data));
    }
    el
}

/// SASL payloads: base64, with `=` standing for an empty payload (RFC 6120 §6.4.2).
fn decode(el: &Element) -> Result<Vec<u8>, &'static str> {
    let text = el.text();
    let text = text.trim();
    if text == "=" {
        return Ok(Vec::new());
    }
    B64.decode(text).map_err(|_| "incorrect-encoding")
}

async fn exchange<T: Transport>(
    t: &mut T,
    challenge: &[u8],
) -> Result<Result<Vec<u8>, &'static str>, End> {
    let mut el = Element::bare("challenge", ns::SASL);
    if !challenge.is_empty() {
        el.append_text(B64.encode(challenge));
    }
    t.send(&el).await?;
    let answer = match t.next_event().await? {
        Some(StreamEvent::Element(el)) => el,
        Some(StreamEvent::Close) => return Err(End::PeerClosed),
        _ => return Err(End::Gone),
    };
    if answer.is("abort", ns::SASL) {
        return Ok(Err("aborted"));
    }
    if !answer.is("response", ns::SASL) {
        return Ok(Err("malformed-request"));
    }
    Ok(decode(&answer))
}

/// Runs one authentication attempt started by `auth`. Inner `Ok` carries the username and
/// the `<success/>` payload; inner `Err` the failure condition for the caller to report.
pub async fn authenticate<T: Transport>(
    t: &mut T,
    ctx: &C2sContext,
    auth: &Element,
    offered: &[Mechanism],
) -> Result<Result<(String, Option<Vec<u8>>), &'static str>, End> {
    let Some(mechanism) = auth
        .attr("mechanism")
        .and_then(Mechanism::from_name)
        .filter(|m| offered.contains(m))
    else {
        return Ok(Err("invalid-mechanism"));
    };
    let mut initial = match decode(auth) {
        Ok(data) => data,
        Err(condition) => return Ok(Err(condition)),
    };
    if auth.text().trim().is_empty() {
        // No initial response: ask for it with an empty challenge.
        initial = match exchange(t, &[]).await? {
            Ok(data) => data,
            Err(condition) => return Ok(Err(condition)),
        };
    }
    if mechanism == Mechanism::Plain {
        return Ok(plain(ctx, &initial).await);
    }
    let channel_binding = match t.security() {
        Security::Tls { channel_binding } => channel_binding,
        Security::Plain { .. } => None,
    };
    let plus_offered = offered.iter().any(Mechanism::is_plus);
    let mut server = ScramServer::new(mechanism, channel_binding, plus_offered)
        .with_decoy(&ctx.decoy_secret, ctx.auth.scram_iterations);
    let username = match server.client_first(&initial) {
        Ok(name) => name,
        Err(e) => return Ok(Err(e.sasl_condition())),
    };
    let user = ctx.server.accounts().username(&username).ok();
    let creds = match &user {
        Some(user) => ctx
            .server
            .accounts()
            .store()
            .credentials(user)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let keys = match (mechanism.hash(), &creds) {
        (Some(hash), Some(creds)) => Some(creds.for_hash(hash)),
        _ => None,
    };
    let server_first = server.server_first(keys);
    let client_final = match exchange(t, &server_first).await? {
        Ok(data) => data,
        Err(condition) => return Ok(Err(condition)),
    };
    match (server.client_final(&client_final), user) {
        (Ok(server_final), Some(user)) if creds.is_some() => {
            tracing::info!(%user, mechanism = mechanism.name(), "authenticated");
            Ok(Ok((user, Some(server_final))))
        }
        (Err(e), _) => Ok(Err(e.sasl_condition())),
        _ => Ok(Err("not-authorized")),
    }
}

async fn plain(
    ctx: &C2sContext,
    initial: &[u8],
) -> Result<(String, Option<Vec<u8>>), &'static str> {
    let (authcid, password) = scram::parse_plain(initial).map_err(|e| e.sasl_condition())?;
    let accounts = ctx.server.accounts();
    let user = accounts.username(&authcid).map_err(|_| "not-authorized")?;
    match accounts.check_password(&user, &password).await {
        Ok(true) => {
            tracing::info!(%user, mechanism = "PLAIN", "authenticated");
            Ok((user, None))
        }
        Ok(false) => Err("not-authorized"),
        Err(e) => {
            tracing::error!(error = %e, "password check failed");
            Err("temporary-auth-failure")
        }
    }
}
