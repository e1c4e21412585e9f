//! Who may talk to the console: requests whose `Host` names this console by an IP address or
//! `localhost` (with the port it listens on), and, when a browser says where a request comes
//! from (`Origin`), only from the console's own pages.
//!
//! The `Host` check defeats DNS rebinding: a page on `evil.example` that makes its name
//! resolve to 127.0.0.1 still sends `Host: evil.example:PORT`. The `Origin` check stops other
//! pages (and sandboxed frames, `Origin: null`) from driving the console cross-site.

/// Why a request was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    MissingHost,
    ForeignHost(String),
    ForeignOrigin(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::MissingHost => write!(f, "the request has no Host header"),
            Refusal::ForeignHost(host) => write!(
                f,
                "Host {host:?} is not this console's address (only an IP address or localhost \
                 with the console's port is served, against DNS rebinding)"
            ),
            Refusal::ForeignOrigin(origin) => write!(
                f,
                "Origin {origin:?} is not this console: other web pages cannot use it"
            ),
        }
    }
}

/// Checks one request's `Host` and `Origin` headers against the console's `port`.
pub fn check(host: Option<&str>, origin: Option<&str>, port: u16) -> Result<(), Refusal> {
    let host = host.ok_or(Refusal::MissingHost)?;
    if !host_allowed(host, port) {
        return Err(Refusal::ForeignHost(host.to_string()));
    }
    if let Some(origin) = origin {
        // The console's own pages send `http://` + the Host they were loaded from.
        let own = origin
            .strip_prefix("http://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
        if !own {
            return Err(Refusal::ForeignOrigin(origin.to_string()));
        }
    }
    Ok(())
}

/// `localhost`, an IPv4 address or a bracketed IPv6 address, with `port` (or no port for 80).
fn host_allowed(host: &str, port: u16) -> bool {
    let (name, given_port) = split_port(host);
    let port_ok = match given_port {
        Some(p) => p.parse::<u16>().ok() == Some(port),
        None => port == 80,
    };
    if !port_ok {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => name.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// `name[:port]`, where an IPv6 name is bracketed.
fn split_port(host: &str) -> (&str, Option<&str>) {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => {
                let (name, rest) = host.split_at(end + 1);
                (name, rest.strip_prefix(':'))
            }
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_are_served() {
        for host in [
            "127.0.0.1:4100",
            "localhost:4100",
            "LOCALHOST:4100",
            "[::1]:4100",
            "192.168.1.7:4100",
        ] {
            assert_eq!(check(Some(host), None, 4100), Ok(()), "{host}");
            let origin = format!("http://{host}");
            assert_eq!(check(Some(host), Some(&origin), 4100), Ok(()), "{host}");
        }
        assert_eq!(check(Some("127.0.0.1"), None, 80), Ok(()));
    }

    #[test]
    fn rebinding_names_and_other_ports_are_refused() {
        for host in [
            "evil.example:4100",
            "localhost.evil.example:4100",
            "127.0.0.1.nip.io:4100",
            "127.0.0.1:4101",
            "127.0.0.1",
            "[::1]",
            "[::1:4100",
            "",
        ] {
            assert!(
                matches!(check(Some(host), None, 4100), Err(Refusal::ForeignHost(_))),
                "{host}"
            );
        }
        assert_eq!(check(None, None, 4100), Err(Refusal::MissingHost));
    }

    #[test]
    fn other_origins_are_refused() {
        for origin in [
            "http://evil.example",
            "http://evil.example:4100",
            "https://127.0.0.1:4100",
            "http://127.0.0.1:4101",
            "http://localhost:4100",
            "null",
        ] {
            assert!(
                matches!(
                    check(Some("127.0.0.1:4100"), Some(origin), 4100),
                    Err(Refusal::ForeignOrigin(_))
                ),
                "{origin}"
            );
        }
    }
}
