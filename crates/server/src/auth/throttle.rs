//! Failed logins counted per client address across every surface (XMPP SASL over TCP and
//! WebSocket, `/rest`, `/msg`, the admin APIs): past `auth.max_attempts` in a window, refused.
//!
//! An address starts a window with its first attempt; within `auth.failure_window_secs` it may
//! fail `auth.max_attempts` times. Once it has failed, attempts still being checked count as
//! failures to come, so that parallel connections cannot guess more than that either; an
//! address that has not failed may have up to [`MAX_IN_FLIGHT`] logins checked at once (many
//! clients behind one NAT reconnecting together). Past either bound every attempt from it is
//! refused without checking anything. Other addresses are never slowed: the table
//! is one short lock, and the password work happens outside it. IPv6 clients are counted per
//! /64, the block one subscriber usually holds. The table is bounded
//! (`auth.max_tracked_addresses`): when full, finished windows go first, then the oldest ones.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::AuthConfig;
use crate::throttle::ReportEvery;

/// Failed logins are logged one by one up to this many per 10 s, then summarised.
static FAILED: ReportEvery = ReportEvery::with_burst(Duration::from_secs(10), 20);
/// Attempts refused because their address is over the limit: one line per 10 s.
static REFUSED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

/// Logins from one address being checked at once. Guesses per window are bounded by this plus
/// `auth.max_attempts`: a first burst runs before any failure is known.
pub const MAX_IN_FLIGHT: u32 = 32;

/// Longest account name a log line quotes: the name is the client's input.
const LOGGED_ACCOUNT_CHARS: usize = 64;

/// Where a login was tried, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthSurface {
    /// SASL on a TCP stream (STARTTLS or direct TLS).
    C2s,
    /// SASL on a WebSocket stream (RFC 7395).
    WebSocket,
    /// `/rest`.
    Rest,
    /// `/msg`.
    PostMsg,
    /// The admin API (`/rest/admin`).
    Admin,
    /// The webhook administration (`/rest/admin/webhooks`).
    WebhookAdmin,
}

impl AuthSurface {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthSurface::C2s => "c2s",
            AuthSurface::WebSocket => "websocket",
            AuthSurface::Rest => "rest",
            AuthSurface::PostMsg => "msg",
            AuthSurface::Admin => "admin",
            AuthSurface::WebhookAdmin => "webhook-admin",
        }
    }
}

impl fmt::Display for AuthSurface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address over its limit, and how long until its window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

/// What the throttle counts: an IPv4 address, or the /64 of an IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key(IpAddr);

impl Key {
    pub(crate) fn of(client: IpAddr) -> Key {
        match client.to_canonical() {
            IpAddr::V4(v4) => Key(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Key(IpAddr::V6(prefix.into()))
            }
        }
    }
}

#[derive(Debug)]
struct Window {
    start: Instant,
    failures: u32,
    /// Attempts being checked now, counted against the limit until they end.
    pending: u32,
}

/// The per-address failure counts shared by every surface.
#[derive(Debug)]
pub struct AuthThrottle {
    max_attempts: u32,
    /// Zero turns the throttle off.
    window: Duration,
    capacity: usize,
    table: Mutex<HashMap<Key, Window>>,
}

impl AuthThrottle {
    pub fn new(config: &AuthConfig) -> AuthThrottle {
        AuthThrottle {
            max_attempts: config.max_attempts.max(1),
            window: Duration::from_secs(config.failure_window_secs),
            capacity: config.max_tracked_addresses.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a login attempt from `client`, or refuses it while the address is over its limit.
    /// The attempt counts against the limit until it ends: [`Attempt::failed`] keeps it
    /// counted, [`Attempt::succeeded`] or dropping it (nothing was checked) releases it.
    pub fn begin(&self, client: IpAddr, surface: AuthSurface) -> Result<Attempt<'_>, Throttled> {
        self.begin_at(client, surface, Instant::now())
    }

    fn begin_at(
        &self,
        client: IpAddr,
        surface: AuthSurface,
        now: Instant,
    ) -> Result<Attempt<'_>, Throttled> {
        let key = Key::of(client);
        let attempt = Attempt {
            throttle: self,
            key,
            client,
            surface,
            done: self.window.is_zero(),
        };
        if attempt.done {
            return Ok(attempt);
        }
        let mut table = self.table();
        if !table.contains_key(&key) && table.len() >= self.capacity {
            self.make_room(&mut table, now);
        }
        let window = table.entry(key).or_insert(Window {
            start: now,
            failures: 0,
            pending: 0,
        });
        if now.duration_since(window.start) >= self.window {
            window.start = now;
            window.failures = 0;
        }
        let over = window.failures >= self.max_attempts
            || window.pending >= MAX_IN_FLIGHT
            || (window.failures > 0
                && window.failures.saturating_add(window.pending) >= self.max_attempts);
        if over {
            let retry_after = self.window - now.duration_since(window.start);
            drop(table);
            if let Some(refused) = REFUSED.note(now) {
                tracing::info!(
                    %client,
                    %surface,
                    refused,
                    "login refused: too many failed attempts from this address (auth.max_attempts)"
                );
            }
            return Err(Throttled { retry_after });
        }
        window.pending += 1;
        Ok(attempt)
    }

    /// Frees at least one place: finished windows and idle entries go first, then the oldest
    /// eighth of the table (so that a flood of new addresses pays this rarely).
    fn make_room(&self, table: &mut HashMap<Key, Window>, now: Instant) {
        table.retain(|_, w| {
            now.duration_since(w.start) < self.window && (w.failures > 0 || w.pending > 0)
        });
        if table.len() < self.capacity {
            return;
        }
        let mut starts: Vec<Instant> = table.values().map(|w| w.start).collect();
        let cut = (starts.len() / 8).max(1);
        let (_, &mut newest_dropped, _) = starts.select_nth_unstable(cut - 1);
        table.retain(|_, w| w.start > newest_dropped);
    }

    fn end(&self, key: Key, failed: bool) {
        let mut table = self.table();
        match table.get_mut(&key) {
            Some(window) => {
                window.pending = window.pending.saturating_sub(1);
                if failed {
                    window.failures = window.failures.saturating_add(1);
                } else if window.failures == 0 && window.pending == 0 {
                    table.remove(&key);
                }
            }
            // Evicted while the attempt was checked: a failure opens a new window.
            None if failed => {
                let now = Instant::now();
                if table.len() >= self.capacity {
                    self.make_room(&mut table, now);
                }
                table.insert(
                    key,
                    Window {
                        start: now,
                        failures: 1,
                        pending: 0,
                    },
                );
            }
            None => {}
        }
    }

    /// Addresses tracked now (for tests of the bound).
    pub fn tracked(&self) -> usize {
        self.table().len()
    }
}

/// One login attempt being checked; see [`AuthThrottle::begin`].
#[must_use = "an attempt ends with failed() or succeeded()"]
pub struct Attempt<'a> {
    throttle: &'a AuthThrottle,
    key: Key,
    client: IpAddr,
    surface: AuthSurface,
    done: bool,
}

impl Attempt<'_> {
    /// The credentials were wrong: the attempt stays counted, and is logged (address, account,
    /// surface) at `info`, summarised when they flood. Call it as soon as the check answers,
    /// before any delay, so that a client hanging up early still pays for its guess.
    pub fn failed(mut self, account: &str) {
        if !self.done {
            self.throttle.end(self.key, true);
        }
        self.done = true;
        if let Some(failures) = FAILED.note(Instant::now()) {
            let account: String = account.chars().take(LOGGED_ACCOUNT_CHARS).collect();
            tracing::info!(
                client = %self.client,
                ?account,
                surface = %self.surface,
                failures,
                "authentication failed"
            );
        }
    }

    /// The credentials were right: the attempt no longer counts (earlier failures still do).
    pub fn succeeded(mut self) {
        if !self.done {
            self.throttle.end(self.key, false);
        }
        self.done = true;
    }
}

impl Drop for Attempt<'_> {
    /// Nothing was decided (the client left, the store failed): the attempt is released.
    fn drop(&mut self) {
        if !self.done {
            self.throttle.end(self.key, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_attempts: u32, window_secs: u64, capacity: usize) -> AuthThrottle {
        AuthThrottle::new(&AuthConfig {
            max_attempts,
            failure_window_secs: window_secs,
            max_tracked_addresses: capacity,
            ..AuthConfig::default()
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const S: AuthSurface = AuthSurface::Rest;

    /// A clock the tests move by hand.
    struct Clock(Instant);

    impl Clock {
        fn new() -> Clock {
            Clock(Instant::now())
        }

        fn advance(&mut self, by: Duration) {
            self.0 += by;
        }
    }

    impl AuthThrottle {
        fn try_at(&self, client: IpAddr, clock: &Clock) -> Result<Attempt<'_>, Throttled> {
            self.begin_at(client, S, clock.0)
        }
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let t = throttle(3, 60, 100);
        let mut clock = Clock::new();
        let attacker = ip("192.0.2.1");
        for _ in 0..3 {
            t.try_at(attacker, &clock).unwrap().failed("alice");
        }
        let refused = t.try_at(attacker, &clock).err().unwrap();
        assert_eq!(refused.retry_after, Duration::from_secs(60));
        // Another address is not affected.
        t.try_at(ip("192.0.2.2"), &clock).unwrap().succeeded();
        clock.advance(Duration::from_secs(45));
        assert_eq!(
            t.try_at(attacker, &clock).err().unwrap().retry_after,
            Duration::from_secs(15)
        );
        clock.advance(Duration::from_secs(15));
        t.try_at(attacker, &clock).unwrap().succeeded();
    }

    #[test]
    fn after_a_failure_attempts_in_flight_count_against_the_limit() {
        let t = throttle(3, 60, 100);
        let clock = Clock::new();
        let client = ip("192.0.2.1");
        t.try_at(client, &clock).unwrap().failed("x");
        let a = t.try_at(client, &clock).unwrap();
        let b = t.try_at(client, &clock).unwrap();
        assert!(
            t.try_at(client, &clock).is_err(),
            "one failure and two in flight fill the budget"
        );
        a.succeeded();
        drop(b);
        // Neither counted: both places are free again.
        let c = t.try_at(client, &clock).unwrap();
        let d = t.try_at(client, &clock).unwrap();
        c.failed("x");
        d.succeeded();
        t.try_at(client, &clock).unwrap().failed("x");
        assert!(t.try_at(client, &clock).is_err());
    }

    #[test]
    fn an_address_without_failures_may_log_in_many_at_once_up_to_a_bound() {
        let t = throttle(2, 60, 100);
        let clock = Clock::new();
        let nat = ip("192.0.2.1");
        let in_flight: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|_| t.try_at(nat, &clock).unwrap())
            .collect();
        assert!(
            t.try_at(nat, &clock).is_err(),
            "the bound on logins at once"
        );
        for attempt in in_flight {
            attempt.succeeded();
        }
        t.try_at(nat, &clock).unwrap().succeeded();
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn a_success_does_not_wipe_earlier_failures() {
        let t = throttle(2, 60, 100);
        let clock = Clock::new();
        let client = ip("192.0.2.1");
        t.try_at(client, &clock).unwrap().failed("alice");
        t.try_at(client, &clock).unwrap().succeeded();
        t.try_at(client, &clock).unwrap().failed("alice");
        assert!(t.try_at(client, &clock).is_err());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = throttle(1, 60, 100);
        let clock = Clock::new();
        t.try_at(ip("2001:db8:1:2::1"), &clock).unwrap().failed("a");
        assert!(t.try_at(ip("2001:db8:1:2:ffff::9"), &clock).is_err());
        t.try_at(ip("2001:db8:1:3::1"), &clock).unwrap().succeeded();
        t.try_at(ip("192.0.2.9"), &clock).unwrap().failed("a");
        assert!(t.try_at(ip("::ffff:192.0.2.9"), &clock).is_err());
    }

    #[test]
    fn the_table_is_bounded_and_sheds_its_oldest_entries() {
        let t = throttle(1, 600, 64);
        let mut clock = Clock::new();
        let first = ip("10.0.0.1");
        t.try_at(first, &clock).unwrap().failed("a");
        for i in 0..1000u32 {
            clock.advance(Duration::from_millis(1));
            let client = IpAddr::V4((0x0a01_0000 + i).into());
            t.try_at(client, &clock).unwrap().failed("a");
            assert!(t.tracked() <= 64);
        }
        // The oldest entry was evicted: that address starts afresh.
        t.try_at(first, &clock).unwrap().succeeded();
        // The newest ones are still refused.
        assert!(
            t.try_at(IpAddr::V4((0x0a01_0000 + 999).into()), &clock)
                .is_err()
        );
    }

    #[test]
    fn successes_leave_nothing_behind() {
        let t = throttle(5, 60, 100);
        let clock = Clock::new();
        for i in 0..50u32 {
            t.try_at(IpAddr::V4((0x0a00_0000 + i).into()), &clock)
                .unwrap()
                .succeeded();
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn a_zero_window_turns_the_throttle_off() {
        let t = throttle(1, 0, 100);
        let clock = Clock::new();
        for _ in 0..10 {
            t.try_at(ip("192.0.2.1"), &clock).unwrap().failed("a");
        }
        assert_eq!(t.tracked(), 0);
    }
}
