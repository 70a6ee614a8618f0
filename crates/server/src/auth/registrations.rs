//! In-band registrations (XEP-0077) counted per client address: one account per address (an
//! IPv6 /64) per `auth.registration_interval_secs`, in a bounded table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::throttle::Key;

/// When each address last registered an account.
#[derive(Debug)]
pub struct RegistrationThrottle {
    capacity: usize,
    table: Mutex<HashMap<Key, Instant>>,
}

impl RegistrationThrottle {
    /// Remembers at most `capacity` addresses (`auth.max_tracked_addresses`).
    pub fn new(capacity: usize) -> RegistrationThrottle {
        RegistrationThrottle {
            capacity: capacity.max(1),
            table: Mutex::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `client`'s turn to register if it has one (`interval` zero: always); otherwise how
    /// long until it has. A table full of addresses still waiting refuses newcomers too: that
    /// many registrations in one interval is a flood.
    pub fn admit(&self, client: IpAddr, interval: Duration) -> Result<(), Duration> {
        self.admit_at(client, interval, Instant::now())
    }

    fn admit_at(&self, client: IpAddr, interval: Duration, now: Instant) -> Result<(), Duration> {
        if interval.is_zero() {
            return Ok(());
        }
        let key = Key::of(client);
        let mut table = self.table();
        if let Some(last) = table.get(&key) {
            let waited = now.duration_since(*last);
            if waited < interval {
                return Err(interval - waited);
            }
        }
        if table.len() >= self.capacity && !table.contains_key(&key) {
            table.retain(|_, last| now.duration_since(*last) < interval);
            if table.len() >= self.capacity {
                return Err(interval);
            }
        }
        table.insert(key, now);
        Ok(())
    }

    /// Gives `client` its turn back: its registration did not happen (name taken, refused).
    pub fn release(&self, client: IpAddr) {
        self.table().remove(&Key::of(client));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_registration_per_address_per_interval() {
        let t = RegistrationThrottle::new(10);
        let start = Instant::now();
        assert_eq!(t.admit_at(ip("192.0.2.1"), MINUTE, start), Ok(()));
        let later = start + Duration::from_secs(20);
        assert_eq!(
            t.admit_at(ip("192.0.2.1"), MINUTE, later),
            Err(Duration::from_secs(40))
        );
        assert_eq!(t.admit_at(ip("192.0.2.2"), MINUTE, later), Ok(()));
        // The same /64 is one subscriber.
        assert_eq!(t.admit_at(ip("2001:db8::1"), MINUTE, later), Ok(()));
        assert!(t.admit_at(ip("2001:db8::2"), MINUTE, later).is_err());
        assert_eq!(t.admit_at(ip("192.0.2.1"), MINUTE, start + MINUTE), Ok(()));
        t.release(ip("192.0.2.1"));
        assert_eq!(t.admit_at(ip("192.0.2.1"), MINUTE, start + MINUTE), Ok(()));
    }

    #[test]
    fn zero_is_no_limit_and_the_table_is_bounded() {
        let t = RegistrationThrottle::new(2);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.admit_at(ip("192.0.2.1"), Duration::ZERO, now), Ok(()));
        }
        assert_eq!(t.admit_at(ip("192.0.2.1"), MINUTE, now), Ok(()));
        assert_eq!(t.admit_at(ip("192.0.2.2"), MINUTE, now), Ok(()));
        assert_eq!(t.admit_at(ip("192.0.2.3"), MINUTE, now), Err(MINUTE));
        // Once the others' interval has passed, they make room.
        assert_eq!(t.admit_at(ip("192.0.2.3"), MINUTE, now + MINUTE), Ok(()));
        assert_eq!(t.table().len(), 1);
    }
}
