//! The machine this process runs on, as leases and replica rows name it.

/// The host name: the kernel's (`/proc/sys/kernel/hostname`), else
/// `/etc/hostname`, else `$HOSTNAME`, else `localhost`. Shown to operators
/// only (logs, the store's lease row), never in chat replies.
pub fn name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
