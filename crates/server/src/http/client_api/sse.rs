//! `GET /api/sse`: a real session (resource `sse-<id>`) whose stanzas are written as Server-Sent
//! Events; a reconnect with `Last-Event-ID` replays the archive from there before going live.
//!
//! No gap and no duplicate: the session is bound before the archive is read, so a message is
//! either archived before the replay reads it or delivered to the mailbox, which holds it
//! until the replay is done; the few archived after the binding and read by the replay too
//! are remembered and skipped when they arrive live. The mailbox is bounded
//! (`api.sse_mailbox_size`): a slow reader makes the router refuse stanzas to its sender, and
//! the client, reconnecting with its last id, reads from the archive what it missed. The
//! binding is dropped with the response body, as soon as the client goes away.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures::Stream;
use jid::{BareJid, Jid};
use serde::Deserialize;
use switchboard_xmpp::client_api::{StreamEvent, StreamKinds, archive_id};
use switchboard_xmpp::muc::Affiliation;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::http::account_ops::recv_message;
use crate::http::api_input::{ApiQuery, ApiUser};
use crate::http::error::HttpError;
use crate::http::room_ops::{self, SSE_RESOURCE};
use crate::http::state::AppState;
use crate::ids::random_id;
use crate::sessions::{Registration, SessionMsg};
use crate::storage::archive::{Criteria, PageRequest, Position, QueryError};

/// Archived messages read per replay step.
const REPLAY_PAGE: usize = 100;

/// Slack for clocks when telling which replayed messages may also arrive live.
const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/sse", get(open))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseQuery {
    /// `presence,receipt,chat_state`: kinds streamed besides messages.
    #[serde(default)]
    pub events: Option<String>,
}

/// What a stream holds while its client reads.
struct Session {
    app: AppState,
    /// Its full JID (`user@domain/sse-…`).
    session: Jid,
    user: String,
    own: BareJid,
    kinds: StreamKinds,
    rx: mpsc::Receiver<SessionMsg>,
    /// Unbinds the resource when the stream is dropped.
    _registration: Registration,
    /// When the binding began: replayed messages archived later may also arrive live.
    bound_at: DateTime<Utc>,
    replay: Option<Replay>,
    /// Replayed ids that may also arrive live.
    replayed: HashSet<String>,
    idle: Option<Duration>,
    /// Ends the stream when the server shuts down.
    shutdown: CancellationToken,
}

/// Archived messages still to send, read page by page.
struct Replay {
    after: String,
    ready: VecDeque<Event>,
    complete: bool,
}

async fn open(
    State(app): State<AppState>,
    caller: ApiUser,
    ApiQuery(query): ApiQuery<SseQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, HttpError> {
    let kinds = StreamKinds::parse(query.events.as_deref().unwrap_or(""))
        .map_err(HttpError::bad_request)?;
    let last = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| HttpError::bad_request("Invalid Last-Event-ID"))
        })
        .transpose()?
        .filter(|id| !id.is_empty());
    let config = app.server().config();
    let (tx, rx) = mpsc::channel(config.api.sse_mailbox_size);
    let resource = format!("{SSE_RESOURCE}{}", random_id());
    let registration =
        Registration::bind(app.server().sessions().clone(), &caller.user, &resource, tx);
    // Available at priority 0, so that messages to the bare JID reach it as any client.
    registration.update(|entry| entry.available = true);
    let session = Jid::new(&format!("{}/{resource}", caller.jid))
        .map_err(|_| HttpError::bad_request("Invalid session JID"))?;
    // The rooms the account is a member of, joined or not: this session joins them, so that
    // their messages reach it as they reach any occupant.
    if let Some(muc) = app.muc() {
        let rooms = muc.rooms_of(&caller.jid).await.unwrap_or_default();
        for room in rooms
            .iter()
            .filter(|r| r.affiliation >= Affiliation::Member)
        {
            room_ops::join(&app, &caller.jid, &session, &room.jid).await;
        }
    }
    tracing::info!(user = caller.user, resource, "event stream opened");
    let mut session = Session {
        app: app.clone(),
        session,
        user: caller.user,
        own: caller.jid,
        kinds,
        rx,
        _registration: registration,
        bound_at: app.server().now(),
        replay: last.map(|after| Replay {
            after,
            ready: VecDeque::new(),
            complete: false,
        }),
        replayed: HashSet::new(),
        idle: (config.api.sse_idle_timeout_secs > 0)
            .then(|| Duration::from_secs(config.api.sse_idle_timeout_secs)),
        shutdown: app.c2s.shutdown.clone(),
    };
    // The first page now, so that an unknown Last-Event-ID is a 404 rather than a stream.
    session.replay_page().await?;
    let stream = futures::stream::unfold(session, |mut session| async move {
        session.next().await.map(|event| (Ok(event), session))
    });
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(config.api.sse_heartbeat_secs))
            .text("heartbeat"),
    ))
}

impl Session {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(replay) = &mut self.replay {
                if let Some(event) = replay.ready.pop_front() {
                    return Some(event);
                }
                if !replay.complete {
                    if self.replay_page().await.is_err() {
                        return None;
                    }
                    continue;
                }
                self.replay = None;
            }
            let idle = async {
                match self.idle {
                    Some(idle) => tokio::time::sleep(idle).await,
                    None => std::future::pending().await,
                }
            };
            let msg = tokio::select! {
                msg = self.rx.recv() => msg,
                () = idle => None,
                () = self.shutdown.cancelled() => None,
            };
            match msg? {
                SessionMsg::Stanza(el) => {
                    let now = self.app.now_ms();
                    let own = self.own.as_str();
                    let Some(event) = StreamEvent::of(&el, own, now, self.kinds) else {
                        continue;
                    };
                    // Room messages are resumed from the room's archive, not the account's:
                    // only the account's archive ids are event ids.
                    let id = match event {
                        StreamEvent::RoomMessage(_) => None,
                        _ => archive_id(&el, own),
                    };
                    if id.as_ref().is_some_and(|id| self.replayed.remove(id)) {
                        continue;
                    }
                    return Some(event_of(&event, id));
                }
                SessionMsg::Kick(..) => return None,
            }
        }
    }

    /// Reads the next page of the replay into `ready`: what others sent to the account, as
    /// the live stream would have shown it, each with its archive id.
    async fn replay_page(&mut self) -> Result<(), HttpError> {
        let Some(replay) = &mut self.replay else {
            return Ok(());
        };
        self.app.flush_archive().await;
        let request = PageRequest {
            from: Position::After(replay.after.clone()),
            max: REPLAY_PAGE,
            count_limit: 0,
        };
        let page = self
            .app
            .server()
            .store()
            .archive_page(&self.user, &Criteria::default(), &request)
            .await
            .map_err(|e| match e {
                QueryError::UnknownId(id) => {
                    HttpError::not_found(format!("Unknown Last-Event-ID {id}"))
                }
                QueryError::Store(e) => {
                    tracing::error!(user = self.user, error = %e, "archive unavailable");
                    HttpError::internal()
                }
            })?;
        replay.complete = page.complete || page.messages.is_empty();
        for archived in page.messages {
            replay.after.clone_from(&archived.id);
            let Ok(el) = archived.stanza.parse::<minidom::Element>() else {
                continue;
            };
            let incoming = el
                .attr("from")
                .and_then(|f| Jid::new(f).ok())
                .is_some_and(|f| f.to_bare() != self.own);
            if !incoming {
                continue;
            }
            let at = archived.at.timestamp_millis();
            let event = match StreamEvent::of(&el, self.own.as_str(), at, self.kinds) {
                Some(StreamEvent::Message(_)) => {
                    StreamEvent::Message(recv_message(&archived, &el, false))
                }
                Some(event) => event,
                None => continue,
            };
            if archived.at + CLOCK_SLACK >= self.bound_at {
                self.replayed.insert(archived.id.clone());
            }
            replay.ready.push_back(event_of(&event, Some(archived.id)));
        }
        Ok(())
    }
}

fn event_of(event: &StreamEvent, id: Option<String>) -> Event {
    let mut sse = Event::default()
        .event(event.name())
        .data(event.data().to_string());
    if let Some(id) = id {
        sse = sse.id(id);
    }
    sse
}

impl Drop for Session {
    /// Leaves the rooms the session was in, as a client's unavailable presence would (the
    /// binding itself goes with the registration at once).
    fn drop(&mut self) {
        tracing::info!(user = self.user, "event stream closed");
        let Some(muc) = self.app.muc().cloned() else {
            return;
        };
        let (app, own, session) = (self.app.clone(), self.own.clone(), self.session.clone());
        tokio::spawn(async move {
            for room in muc.rooms_of(&own).await.unwrap_or_default() {
                room_ops::leave(&app, &own, &session, &room.jid).await;
            }
        });
    }
}
