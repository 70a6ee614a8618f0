//! Keeping repeated failures cheap: accept loops pause after errors (out of file descriptors),
//! and events a client can repeat at will are logged as one summary line per interval.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Whether an accept error means the process or the system ran out of file descriptors.
pub fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Whether an accept error concerns only the connection being accepted (the client gave up
/// between connect and accept), so that the next accept may follow at once.
pub fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Pauses after failed accepts, doubling up to a second, and reports failures at most once
/// per interval (with how many there were) so that a descriptor shortage cannot flood the log.
#[derive(Default)]
pub struct AcceptBackoff {
    pause: Duration,
    report: ReportState,
}

impl AcceptBackoff {
    pub const FIRST_PAUSE: Duration = Duration::from_millis(10);
    pub const MAX_PAUSE: Duration = Duration::from_secs(1);
    pub const REPORT_EVERY: Duration = Duration::from_secs(10);

    /// How long to pause, and the number of failures to report now, if it is time to.
    pub fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        self.pause = if self.pause.is_zero() {
            Self::FIRST_PAUSE
        } else {
            (self.pause * 2).min(Self::MAX_PAUSE)
        };
        (self.pause, self.report.note(now, Self::REPORT_EVERY))
    }

    pub fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }
}

/// The next connection `listener` accepts, or `None` once `shutdown` is cancelled. A failed
/// accept pauses the loop (`backoff`) and is logged as a summary naming `listener_name`.
pub async fn accept(
    listener: &TcpListener,
    backoff: &mut AcceptBackoff,
    shutdown: &CancellationToken,
    listener_name: &str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return None,
        };
        match accepted {
            Ok(pair) => {
                backoff.succeeded();
                return Some(pair);
            }
            // The client gave up between connect and accept: nothing to do.
            Err(e) if is_transient_accept_error(&e) => {}
            Err(e) => {
                let (pause, report) = backoff.failed(Instant::now());
                if let Some(failures) = report {
                    let cause = if is_out_of_descriptors(&e) {
                        "out of file descriptors"
                    } else {
                        "accept failed"
                    };
                    tracing::warn!(error = %e, failures, "{listener_name}: {cause}, backing off");
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown.cancelled() => return None,
                }
            }
        }
    }
}

/// Counts events and says when a summary is due.
#[derive(Debug, Default)]
struct ReportState {
    last_report: Option<Instant>,
    unreported: u64,
    /// Events reported one by one since `last_report`.
    reported: u32,
}

impl ReportState {
    const fn new() -> ReportState {
        ReportState {
            last_report: None,
            unreported: 0,
            reported: 0,
        }
    }

    fn note(&mut self, now: Instant, every: Duration) -> Option<u64> {
        self.note_within(now, every, 1)
    }

    /// Up to `burst` events per interval are reported one by one; the rest are counted and
    /// reported with the first event of a later interval.
    fn note_within(&mut self, now: Instant, every: Duration, burst: u32) -> Option<u64> {
        self.unreported += 1;
        let due = self
            .last_report
            .is_none_or(|last| now.duration_since(last) >= every);
        if due {
            self.last_report = Some(now);
            self.reported = 1;
            return Some(std::mem::take(&mut self.unreported));
        }
        if self.reported < burst {
            self.reported += 1;
            self.unreported -= 1;
            return Some(1);
        }
        None
    }
}

/// One kind of loggable event shared by every connection (a `static`): the first `burst`
/// occurrences of an interval are reported at once, later ones as a count with the first
/// report of a later interval.
#[derive(Debug)]
pub struct ReportEvery {
    every: Duration,
    burst: u32,
    state: Mutex<ReportState>,
}

impl ReportEvery {
    /// One report per interval.
    pub const fn new(every: Duration) -> ReportEvery {
        ReportEvery::with_burst(every, 1)
    }

    /// Up to `burst` reports per interval, for events worth a line each while they are few.
    pub const fn with_burst(every: Duration, burst: u32) -> ReportEvery {
        ReportEvery {
            every,
            burst,
            state: Mutex::new(ReportState::new()),
        }
    }

    /// Counts one event; returns how many to report (this one included) when it is time to.
    pub fn note(&self, now: Instant) -> Option<u64> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .note_within(now, self.every, self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_and_are_reported_once_per_interval() {
        let mut backoff = AcceptBackoff::default();
        let t0 = Instant::now();
        assert_eq!(backoff.failed(t0), (AcceptBackoff::FIRST_PAUSE, Some(1)));
        let (pause, report) = backoff.failed(t0 + Duration::from_millis(10));
        assert_eq!((pause, report), (AcceptBackoff::FIRST_PAUSE * 2, None));
        for _ in 0..20 {
            backoff.failed(t0 + Duration::from_secs(1));
        }
        let (pause, report) = backoff.failed(t0 + AcceptBackoff::REPORT_EVERY);
        assert_eq!(pause, AcceptBackoff::MAX_PAUSE);
        assert_eq!(report, Some(22));
        backoff.succeeded();
        let (pause, report) = backoff.failed(t0 + AcceptBackoff::REPORT_EVERY);
        assert_eq!((pause, report), (AcceptBackoff::FIRST_PAUSE, None));
    }

    #[test]
    fn events_are_summarised_once_per_interval() {
        static EVENTS: ReportEvery = ReportEvery::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(
            EVENTS.note(t0),
            Some(1),
            "the first one is reported at once"
        );
        for i in 1..100 {
            assert_eq!(EVENTS.note(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(EVENTS.note(t0 + Duration::from_secs(10)), Some(100));
        assert_eq!(EVENTS.note(t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn a_burst_is_reported_one_by_one_then_summarised() {
        static EVENTS: ReportEvery = ReportEvery::with_burst(Duration::from_secs(10), 3);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(EVENTS.note(t0 + Duration::from_millis(i)), Some(1));
        }
        for i in 3..50 {
            assert_eq!(EVENTS.note(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(
            EVENTS.note(t0 + Duration::from_secs(10)),
            Some(48),
            "the 47 unreported ones and this one"
        );
        assert_eq!(EVENTS.note(t0 + Duration::from_secs(11)), Some(1));
        assert_eq!(EVENTS.note(t0 + Duration::from_secs(12)), Some(1));
        assert_eq!(EVENTS.note(t0 + Duration::from_secs(13)), None);
    }

    #[test]
    fn descriptor_errors_are_recognised() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::ECONNABORTED
        )));
        assert!(is_transient_accept_error(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}
