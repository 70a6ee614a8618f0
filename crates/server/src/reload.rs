//! What a configuration reload may change while serving: the new configuration with every value
//! that needs a restart (listeners, domain, data directory, …) kept as it was, and their names.

use crate::config::Config;

/// A reloaded configuration ready to be put in force.
#[derive(Debug)]
pub struct Plan {
    /// The new configuration, except for the values that need a restart: those are the old ones,
    /// so that what the running server reports is what it does.
    pub config: Config,
    /// The keys whose new value waits for a restart.
    pub restart_needed: Vec<&'static str>,
}

/// Splits `new` into what applies now and what waits for a restart, compared with `old`.
pub fn plan(old: &Config, mut new: Config) -> Plan {
    let mut restart_needed = Vec::new();
    // Keeps the running value of a key that is only read at start, noting a change.
    macro_rules! fixed {
        ($key:literal, $($field:ident).+) => {
            if new.$($field).+ != old.$($field).+ {
                restart_needed.push($key);
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    fixed!("domain", domain);
    fixed!("data_dir", data_dir);
    fixed!("log", log);
    fixed!("log_format", log_format);
    fixed!("http.addr", http.addr);
    fixed!("http.allow_plaintext", http.allow_plaintext);
    fixed!("http.tls", http.tls);
    fixed!("http.https_addr", http.https_addr);
    fixed!("http.request_timeout_secs", http.request_timeout_secs);
    fixed!("http.body_timeout_secs", http.body_timeout_secs);
    fixed!("http.max_concurrent_requests", http.max_concurrent_requests);
    // The app's files are routed when the HTTP app is built.
    fixed!("http.static_dir", http.static_dir);
    fixed!("c2s.addr", c2s.addr);
    fixed!("c2s.direct_tls_addr", c2s.direct_tls_addr);
    fixed!("limits.max_connections", limits.max_connections);
    fixed!("limits.blocklist_cache_size", limits.blocklist_cache_size);
    // New passwords are hashed with the count the accounts were opened with.
    fixed!("auth.scram_iterations", auth.scram_iterations);
    // The per-address login throttle outlives reloads with the bounds it started with.
    fixed!("auth.max_attempts", auth.max_attempts);
    fixed!("auth.failure_window_secs", auth.failure_window_secs);
    fixed!("auth.max_tracked_addresses", auth.max_tracked_addresses);
    // The credential cache is built with the accounts, at start.
    fixed!("auth.credential_cache_size", auth.credential_cache_size);
    fixed!(
        "auth.credential_cache_ttl_secs",
        auth.credential_cache_ttl_secs
    );
    fixed!("auth.credential_poll_ms", auth.credential_poll_ms);
    // The retention task is started, or not, with the server.
    fixed!("mam.retention_days", mam.retention_days);
    // The capabilities and avatar caches are sized when the PEP service is built.
    fixed!("pep.caps_cache_size", pep.caps_cache_size);
    fixed!("pep.avatar_cache_size", pep.avatar_cache_size);
    // The upload service's domain and its routes' time bound are set up at start.
    fixed!("upload.enabled", upload.enabled);
    fixed!("upload.domain", upload.domain);
    fixed!("upload.transfer_timeout_secs", upload.transfer_timeout_secs);
    // The group chat service is registered with the router, on its domain, at start.
    fixed!("muc.enabled", muc.enabled);
    fixed!("muc.domain", muc.domain);
    // Push registration and notification are registered with the router at start.
    fixed!("push.enabled", push.enabled);
    fixed!("rest.max_body_bytes", rest.max_body_bytes);
    fixed!("rest.iq_timeout_secs", rest.iq_timeout_secs);
    fixed!("rest.iq_max_timeout_secs", rest.iq_max_timeout_secs);
    fixed!("webhook.connect_timeout_secs", webhook.connect_timeout_secs);
    fixed!("webhook.timeout_secs", webhook.timeout_secs);
    // The callbacks' HTTP client (with its resolver) is built at start.
    fixed!(
        "webhook.allow_private_targets",
        webhook.allow_private_targets
    );
    fixed!("webhook.iq_timeout_secs", webhook.iq_timeout_secs);
    fixed!("webhook.max_attempts", webhook.max_attempts);
    fixed!("webhook.max_age_secs", webhook.max_age_secs);
    fixed!("webhook.backoff_base_ms", webhook.backoff_base_ms);
    fixed!("webhook.backoff_max_ms", webhook.backoff_max_ms);
    fixed!("webhook.per_host_concurrency", webhook.per_host_concurrency);
    fixed!("webhook.ca_file", webhook.ca_file);
    // The router serves the component domains it started with: a component added or removed
    // waits for a restart, and until then all components stay as they were.
    let domains = |c: &Config| {
        c.component
            .iter()
            .map(|c| c.domain.clone())
            .collect::<Vec<_>>()
    };
    if domains(&new) != domains(old) {
        restart_needed.push("component (domains added or removed)");
        new.component.clone_from(&old.component);
    }
    Plan {
        config: new,
        restart_needed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ComponentConfig;

    fn component(domain: &str, token: &str) -> ComponentConfig {
        ComponentConfig {
            domain: domain.into(),
            rest_credentials: Some(token.into()),
            ..ComponentConfig::default()
        }
    }

    #[test]
    fn live_values_apply_and_start_values_wait() {
        let old = Config {
            component: vec![component("rest.localhost", "Bearer a")],
            ..Config::default()
        };
        let mut new = old.clone();
        new.admins = vec!["carol@localhost".parse().unwrap()];
        new.limits.max_stanza_bytes = 1234;
        new.component[0].rest_credentials = Some("Bearer b".into());
        let plan = plan(&old, new.clone());
        assert!(plan.restart_needed.is_empty(), "{:?}", plan.restart_needed);
        assert_eq!(plan.config, new);

        let mut moved = new.clone();
        moved.domain = "elsewhere.example".into();
        moved.http.addr = "127.0.0.1:1".parse().unwrap();
        moved.component.push(component("bot.localhost", "Bearer c"));
        let plan = super::plan(&old, moved);
        assert_eq!(
            plan.restart_needed,
            [
                "domain",
                "http.addr",
                "component (domains added or removed)"
            ]
        );
        assert_eq!(plan.config.domain, old.domain);
        assert_eq!(plan.config.http.addr, old.http.addr);
        assert_eq!(plan.config.component, old.component);
        assert_eq!(plan.config.admins, new.admins);
    }
}
