//! `GET /api/sse`: a real session (resource `sse-<id>`) whose stanzas are written as Server-Sent
//! Events; a reconnect with `Last-Event-ID` replays the archives from there before going live.
//!
//! Every message event's id is the stanza-id its archive gave it: the account's archive for
//! `message`, the room's for `room.message`. Archive ids begin with their time, so one id marks
//! a point in every archive: the replay merges the account's archive and those of its member
//! rooms, in id order, from just after it.
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
use crate::storage::archive::{Archived, Criteria, PageRequest, Position};

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

/// Archived messages still to send: the account's archive and its member rooms', each read
/// page by page, merged in id order.
struct Replay {
    /// The client's last event id: everything after it is sent.
    last: String,
    start: DateTime<Utc>,
    sources: Vec<Source>,
}

/// One archive of a replay.
struct Source {
    /// `None`: the account's own archive; else the room's name.
    room: Option<String>,
    /// The last id read from it, where its next page starts.
    after: Option<String>,
    ready: VecDeque<(Archived, Event)>,
    complete: bool,
}

/// The time an archive id begins with (eleven base-36 digits of microseconds, see
/// `ids::time_ordered_id`), when it is one.
fn id_time(id: &str) -> Option<DateTime<Utc>> {
    let digits = id.get(..11).filter(|_| id.len() == 25)?;
    let micros = u64::from_str_radix(digits, 36).ok()?;
    DateTime::from_timestamp_micros(i64::try_from(micros).ok()?)
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
    let mut member_rooms = Vec::new();
    if let Some(muc) = app.muc() {
        let rooms = muc.rooms_of(&caller.jid).await.unwrap_or_default();
        for room in rooms
            .iter()
            .filter(|r| r.affiliation >= Affiliation::Member)
        {
            room_ops::join(&app, &caller.jid, &session, &room.jid).await;
            member_rooms.extend(room.jid.node().map(|n| n.as_str().to_owned()));
        }
    }
    let replay = match last {
        Some(last) => {
            let start = id_time(&last)
                .filter(|at| *at <= app.server().now() + CLOCK_SLACK)
                .ok_or_else(|| HttpError::not_found(format!("Unknown Last-Event-ID {last}")))?;
            let sources = std::iter::once(None)
                .chain(member_rooms.into_iter().map(Some))
                .map(|room| Source {
                    room,
                    after: None,
                    ready: VecDeque::new(),
                    complete: false,
                })
                .collect();
            Some(Replay {
                last,
                start,
                sources,
            })
        }
        None => None,
    };
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
        replay,
        replayed: HashSet::new(),
        idle: (config.api.sse_idle_timeout_secs > 0)
            .then(|| Duration::from_secs(config.api.sse_idle_timeout_secs)),
        shutdown: app.c2s.shutdown.clone(),
    };
    // The first pages now, so that an archive failing is an error rather than a stream.
    session.fill().await?;
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
            if self.replay.is_some() {
                match self.replayed_next().await {
                    Ok(Some(event)) => return Some(event),
                    Ok(None) => self.replay = None,
                    Err(_) => return None,
                }
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
                    let id = match &event {
                        StreamEvent::RoomMessage(m) => {
                            Some(m.id.clone()).filter(|id| !id.is_empty())
                        }
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

    /// The next replayed event: the lowest id at the head of any archive.
    async fn replayed_next(&mut self) -> Result<Option<Event>, HttpError> {
        self.fill().await?;
        let Some(replay) = &mut self.replay else {
            return Ok(None);
        };
        let next = replay
            .sources
            .iter_mut()
            .filter(|source| !source.ready.is_empty())
            .min_by(|a, b| a.ready[0].0.id.cmp(&b.ready[0].0.id));
        let Some((archived, event)) = next.and_then(|source| source.ready.pop_front()) else {
            return Ok(None);
        };
        if archived.at + CLOCK_SLACK >= self.bound_at {
            self.replayed.insert(archived.id);
        }
        Ok(Some(event))
    }

    /// Reads a page into every archive of the replay that has nothing ready and more to give,
    /// so that the heads compared are the true next ones.
    async fn fill(&mut self) -> Result<(), HttpError> {
        let Some(replay) = &mut self.replay else {
            return Ok(());
        };
        if replay
            .sources
            .iter()
            .any(|s| s.ready.is_empty() && !s.complete)
        {
            self.app.flush_archive().await;
        }
        for source in &mut replay.sources {
            while source.ready.is_empty() && !source.complete {
                read_page(
                    &self.app,
                    &self.user,
                    &self.own,
                    self.kinds,
                    replay.start,
                    &replay.last,
                    source,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// The next page of one archive of a replay: the events after `last`, as the live stream would
/// have shown them, each with its archive id.
async fn read_page(
    app: &AppState,
    user: &str,
    own: &BareJid,
    kinds: StreamKinds,
    start: DateTime<Utc>,
    last: &str,
    source: &mut Source,
) -> Result<(), HttpError> {
    let criteria = Criteria {
        start: Some(start),
        ..Criteria::default()
    };
    let request = PageRequest {
        from: source
            .after
            .clone()
            .map_or(Position::Oldest, Position::After),
        max: REPLAY_PAGE,
        count_limit: 0,
    };
    let store = app.server().store();
    let page = match &source.room {
        None => store.archive_page(user, &criteria, &request).await,
        Some(room) => store.muc_archive_page(room, &criteria, &request).await,
    }
    .map_err(|e| {
        tracing::error!(user, room = source.room, error = %e, "archive unavailable");
        HttpError::internal()
    })?;
    source.complete = page.complete || page.messages.is_empty();
    for archived in page.messages {
        source.after = Some(archived.id.clone());
        if archived.id.as_str() <= last {
            continue;
        }
        let Ok(el) = archived.stanza.parse::<minidom::Element>() else {
            continue;
        };
        let at = archived.at.timestamp_millis();
        let event = match (&source.room, StreamEvent::of(&el, own.as_str(), at, kinds)) {
            (Some(_), Some(event @ StreamEvent::RoomMessage(_))) => event,
            (None, Some(StreamEvent::Message(_))) if incoming(&el, own) => {
                StreamEvent::Message(recv_message(&archived, &el, false))
            }
            (None, Some(event @ (StreamEvent::Receipt(_) | StreamEvent::ChatState(_))))
                if incoming(&el, own) =>
            {
                event
            }
            _ => continue,
        };
        let sse = event_of(&event, Some(archived.id.clone()));
        source.ready.push_back((archived, sse));
    }
    Ok(())
}

/// Whether an archived message of the account's came from someone else.
fn incoming(el: &minidom::Element, own: &BareJid) -> bool {
    el.attr("from")
        .and_then(|f| Jid::new(f).ok())
        .is_some_and(|f| f.to_bare() != *own)
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
