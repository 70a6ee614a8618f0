//! The inbound stanza limit of one c2s stream: a token bucket of `limits.c2s_rate_per_second`
//! with `limits.c2s_rate_burst`, an answer at most once a second, and the point where it is abuse.

use std::time::Duration;

use tokio::time::Instant;

/// At most one error answer per this interval; other refused stanzas are dropped silently.
const ANSWER_EVERY: Duration = Duration::from_secs(1);
/// Once a stanza is refused, the stanzas of this window are counted…
const ABUSE_WINDOW: Duration = Duration::from_secs(10);
/// …and reaching this many times the allowed rate over the window ends the stream.
const ABUSE_FACTOR: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateConfig {
    /// Sustained stanzas per second; 0 disables the limit.
    pub per_second: u32,
    /// Stanzas allowed at once above the sustained rate.
    pub burst: u32,
}

/// What becomes of one stanza.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Dropped; `answer` says whether it gets a `resource-constraint` error.
    Refuse {
        answer: bool,
    },
    /// The client keeps sending far over the limit: end the stream.
    Abuse,
}

pub struct StanzaRate {
    config: RateConfig,
    tokens: f64,
    refilled: Instant,
    last_answer: Option<Instant>,
    /// Since the first refusal: when the window opened and the stanzas seen since.
    window: Option<(Instant, u64)>,
}

impl StanzaRate {
    pub fn new(config: RateConfig, now: Instant) -> StanzaRate {
        StanzaRate {
            config,
            tokens: f64::from(config.burst),
            refilled: now,
            last_answer: None,
            window: None,
        }
    }

    /// Counts one stanza received at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let RateConfig { per_second, burst } = self.config;
        if per_second == 0 {
            return Verdict::Allow;
        }
        if self
            .window
            .is_some_and(|(opened, _)| now.duration_since(opened) >= ABUSE_WINDOW)
        {
            self.window = None;
        }
        if let Some((_, seen)) = &mut self.window {
            *seen += 1;
            if *seen >= ABUSE_FACTOR * u64::from(per_second) * ABUSE_WINDOW.as_secs() {
                return Verdict::Abuse;
            }
        }
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * f64::from(per_second)).min(f64::from(burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        self.window.get_or_insert((now, 1));
        let answer = self
            .last_answer
            .is_none_or(|last| now.duration_since(last) >= ANSWER_EVERY);
        if answer {
            self.last_answer = Some(now);
        }
        Verdict::Refuse { answer }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: u32, burst: u32) -> (StanzaRate, Instant) {
        let now = Instant::now();
        (StanzaRate::new(RateConfig { per_second, burst }, now), now)
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let (mut r, t0) = rate(10, 5);
        for _ in 0..5 {
            assert_eq!(r.check(t0), Verdict::Allow);
        }
        assert_eq!(r.check(t0), Verdict::Refuse { answer: true });
        assert_eq!(r.check(t0), Verdict::Refuse { answer: false });
        // A tenth of a second later one more stanza is allowed.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(r.check(t1), Verdict::Allow);
        assert_eq!(r.check(t1), Verdict::Refuse { answer: false });
        // One answer per second at most; the bucket refilled to its burst meanwhile.
        let t2 = t0 + Duration::from_millis(1000);
        for _ in 0..5 {
            assert_eq!(r.check(t2), Verdict::Allow);
        }
        assert_eq!(r.check(t2), Verdict::Refuse { answer: true });
        // The bucket never holds more than the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert_eq!(r.check(later), Verdict::Allow);
        }
        assert_eq!(r.check(later), Verdict::Refuse { answer: true });
    }

    #[test]
    fn ten_times_the_rate_for_ten_seconds_is_abuse() {
        let (mut r, t0) = rate(10, 10);
        let mut verdicts = Vec::new();
        // 100 stanzas a second: ten times the rate.
        for i in 0..1100u64 {
            let at = t0 + Duration::from_millis(i * 10);
            let verdict = r.check(at);
            verdicts.push(verdict);
            if verdict == Verdict::Abuse {
                break;
            }
        }
        assert_eq!(verdicts.last(), Some(&Verdict::Abuse));
        let stanzas = verdicts.len();
        assert!((1000..=1011).contains(&stanzas), "abuse after {stanzas}");
    }

    #[test]
    fn refusals_now_and_then_are_no_abuse() {
        let (mut r, t0) = rate(10, 10);
        // Twice the rate for a minute: many refusals, never abuse.
        for i in 0..1200u64 {
            assert_ne!(r.check(t0 + Duration::from_millis(i * 50)), Verdict::Abuse);
        }
    }

    #[test]
    fn zero_disables_the_limit() {
        let (mut r, t0) = rate(0, 0);
        for _ in 0..10_000 {
            assert_eq!(r.check(t0), Verdict::Allow);
        }
    }
}
