//! The process's own figures, read from `/proc/self` at each scrape under the names every
//! Prometheus client uses (`process_*`): CPU time, memory, descriptors, threads, start time.

use std::sync::Mutex;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, IntGauge, Opts};

/// What `/proc/self/stat` says, in base units.
#[derive(Debug, Default, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    threads: i64,
    /// Since boot, in seconds.
    started_after_boot: f64,
    virtual_bytes: i64,
    resident_bytes: i64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
fn parse_stat(text: &str, ticks_per_second: u64, page_size: u64) -> Option<Stat> {
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // `fields[0]` is field 3 of proc(5), the state.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = ticks_per_second.max(1) as f64;
    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        threads: signed(field(20)?),
        started_after_boot: field(22)? as f64 / ticks,
        virtual_bytes: signed(field(23)?),
        resident_bytes: signed(field(24)?.saturating_mul(page_size)),
    })
}

/// The boot time (`btime`) of `/proc/stat`, in seconds since the Unix epoch.
fn parse_boot_time(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}

pub struct Process {
    descs: Vec<Desc>,
    cpu: Counter,
    resident: IntGauge,
    virtual_memory: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: Gauge,
    /// Scrapes may overlap; the counter is set, not added to, so one at a time.
    collecting: Mutex<()>,
}

impl Process {
    pub fn new() -> Process {
        let int = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help)).expect("a valid metric")
        };
        let process = Process {
            descs: Vec::new(),
            cpu: Counter::with_opts(Opts::new(
                "process_cpu_seconds_total",
                "User and system CPU time spent, in seconds",
            ))
            .expect("a valid metric"),
            resident: int(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
            ),
            virtual_memory: int(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
            ),
            open_fds: int("process_open_fds", "Open file descriptors"),
            max_fds: int(
                "process_max_fds",
                "Limit of open file descriptors (soft RLIMIT_NOFILE)",
            ),
            threads: int("process_threads", "Operating system threads of the process"),
            start_time: Gauge::with_opts(Opts::new(
                "process_start_time_seconds",
                "Start time of the process, in seconds since the Unix epoch",
            ))
            .expect("a valid metric"),
            collecting: Mutex::new(()),
        };
        let descs = process
            .metrics()
            .iter()
            .flat_map(|m| m.desc().into_iter().cloned())
            .collect();
        Process { descs, ..process }
    }

    fn metrics(&self) -> [&dyn Collector; 7] {
        [
            &self.cpu,
            &self.resident,
            &self.virtual_memory,
            &self.open_fds,
            &self.max_fds,
            &self.threads,
            &self.start_time,
        ]
    }

    /// Reads `/proc/self` into the series; on a system without it they stay at zero.
    fn refresh(&self) {
        let ticks = rustix::param::clock_ticks_per_second();
        let page = rustix::param::page_size() as u64;
        if let Some(stat) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|text| parse_stat(&text, ticks, page))
        {
            self.cpu.reset();
            self.cpu.inc_by(stat.cpu_seconds);
            self.threads.set(stat.threads);
            self.virtual_memory.set(stat.virtual_bytes);
            self.resident.set(stat.resident_bytes);
            if let Some(boot) = std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|text| parse_boot_time(&text))
            {
                self.start_time.set(boot + stat.started_after_boot);
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            // The listing's own descriptor is among them.
            let open = entries.count().saturating_sub(1);
            self.open_fds.set(i64::try_from(open).unwrap_or(i64::MAX));
        }
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        self.max_fds.set(
            limit
                .current
                .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
        );
    }
}

impl Collector for Process {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let _one = self
            .collecting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.refresh();
        self.metrics().iter().flat_map(|m| m.collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_counted_from_the_last_parenthesis() {
        let text = "4242 (sb (x) y) S 1 4242 4242 0 -1 4194560 2950 0 0 0 250 50 0 0 20 0 \
                    7 0 123400 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 \
                    0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(text, 100, 4096),
            Some(Stat {
                cpu_seconds: 3.0,
                threads: 7,
                started_after_boot: 1234.0,
                virtual_bytes: 987_654_321,
                resident_bytes: 2048 * 4096,
            })
        );
        assert_eq!(parse_stat("garbage", 100, 4096), None);
        assert_eq!(
            parse_boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000.0)
        );
    }

    #[test]
    fn this_process_is_seen() {
        let p = Process::new();
        let families = p.collect();
        let value = |name: &str| {
            let family = families.iter().find(|f| f.name() == name).unwrap();
            let m = &family.get_metric()[0];
            m.get_gauge().get_value() + m.get_counter().get_value()
        };
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_threads") >= 1.0);
        assert!(value("process_start_time_seconds") > 1.0e9);
    }
}
