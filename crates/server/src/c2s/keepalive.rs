//! Keepalive of a bound session: after half the idle timeout without a byte from the client the
//! server sends a XEP-0199 ping; a whole idle timeout without one ends the stream.

use std::time::Duration;

use minidom::Element;
use switchboard_xmpp::ns;
use tokio::time::Instant;

/// What the idle timer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    Ping,
    Timeout,
}

pub struct Keepalive {
    idle: Duration,
    /// The id and time of the ping sent last, until it is answered.
    ping: Option<(String, Instant)>,
}

impl Keepalive {
    pub fn new(idle: Duration) -> Keepalive {
        Keepalive { idle, ping: None }
    }

    /// A ping went out after the client last sent anything.
    fn outstanding(&self, last_read: Instant) -> bool {
        self.ping
            .as_ref()
            .is_some_and(|(_, sent)| *sent >= last_read)
    }

    /// When the timer must look again, given when bytes last arrived.
    pub fn deadline(&self, last_read: Instant) -> Instant {
        if self.outstanding(last_read) {
            last_read + self.idle
        } else {
            last_read + self.idle / 2
        }
    }

    pub fn due(&self, last_read: Instant, now: Instant) -> Due {
        if now >= last_read + self.idle {
            Due::Timeout
        } else if now >= last_read + self.idle / 2 && !self.outstanding(last_read) {
            Due::Ping
        } else {
            Due::Nothing
        }
    }

    pub fn pinged(&mut self, id: String, now: Instant) {
        self.ping = Some((id, now));
    }

    /// Whether `el` is the client's answer to our ping: such an answer is consumed here.
    pub fn is_answer(&mut self, el: &Element) -> bool {
        let answers = el.is("iq", ns::CLIENT)
            && matches!(el.attr("type"), Some("result" | "error"))
            && self
                .ping
                .as_ref()
                .is_some_and(|(id, _)| el.attr("id") == Some(id.as_str()));
        if answers {
            self.ping = None;
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);

    #[test]
    fn ping_at_half_time_then_timeout() {
        let mut k = Keepalive::new(IDLE);
        let read = Instant::now();
        assert_eq!(k.deadline(read), read + IDLE / 2);
        assert_eq!(k.due(read, read + IDLE / 4), Due::Nothing);
        let half = read + IDLE / 2;
        assert_eq!(k.due(read, half), Due::Ping);
        k.pinged("k1".into(), half);
        assert_eq!(k.due(read, half), Due::Nothing, "one ping per silence");
        assert_eq!(k.deadline(read), read + IDLE);
        assert_eq!(k.due(read, read + IDLE), Due::Timeout);
    }

    #[test]
    fn any_bytes_restart_the_clock() {
        let mut k = Keepalive::new(IDLE);
        let read = Instant::now();
        k.pinged("k1".into(), read + IDLE / 2);
        // Whitespace (or anything) arrives: the ping is no longer what the clock waits for.
        let later = read + IDLE * 3 / 4;
        assert_eq!(k.deadline(later), later + IDLE / 2);
        assert_eq!(k.due(later, read + IDLE), Due::Nothing);
        assert_eq!(k.due(later, later + IDLE / 2), Due::Ping);
    }

    #[test]
    fn only_the_answer_to_our_ping_is_consumed() {
        let mut k = Keepalive::new(IDLE);
        let parse = |xml: &str| -> Element { xml.parse().unwrap() };
        let answer = parse("<iq xmlns='jabber:client' type='result' id='k1'/>");
        assert!(!k.is_answer(&answer), "no ping sent yet");
        k.pinged("k1".into(), Instant::now());
        assert!(!k.is_answer(&parse("<iq xmlns='jabber:client' type='get' id='k1'/>")));
        assert!(!k.is_answer(&parse(
            "<iq xmlns='jabber:client' type='result' id='other'/>"
        )));
        assert!(k.is_answer(&parse("<iq xmlns='jabber:client' type='error' id='k1'/>")));
        assert!(!k.is_answer(&answer), "answered once");
    }
}
