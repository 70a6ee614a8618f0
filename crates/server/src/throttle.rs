//! Keeping repeated failures cheap: accept loops pause after errors (out of file descriptors),
//! and events a client can repeat at will are logged as one summary line per interval.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

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

/// Counts events and says when a summary is due.
#[derive(Debug, Default)]
struct ReportState {
    last_report: Option<Instant>,
    unreported: u64,
}

impl ReportState {
    fn note(&mut self, now: Instant, every: Duration) -> Option<u64> {
        self.unreported += 1;
        let due = self
            .last_report
            .is_none_or(|last| now.duration_since(last) >= every);
        due.then(|| {
            self.last_report = Some(now);
            std::mem::take(&mut self.unreported)
        })
    }
}

/// One kind of loggable event shared by every connection (a `static`): the first occurrence
/// is reported at once, later ones as a count once per interval.
#[derive(Debug)]
pub struct ReportEvery {
    every: Duration,
    state: Mutex<ReportState>,
}

impl ReportEvery {
    pub const fn new(every: Duration) -> ReportEvery {
        ReportEvery {
            every,
            state: Mutex::new(ReportState {
                last_report: None,
                unreported: 0,
            }),
        }
    }

    /// Counts one event; returns how many to report (this one included) when it is time to.
    pub fn note(&self, now: Instant) -> Option<u64> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .note(now, self.every)
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
