//! How callbacks travel: the HTTP side of `ucwa_service::callbacks` (which decides what is
//! sent, when, and what a failure means). POSTs go over http or https with rustls and the
//! ring provider, never follow redirects (a receiver must answer itself), ignore proxy
//! settings, time out after `--callback-timeout` and read at most [`MAX_ANSWER_BYTES`] of an
//! answer.
//!
//! # Where callbacks may go (finding 5 of issue 11, SSRF)
//! A service application names the callback URL, so without a rule it could make the
//! server POST to the server's own loopback services, the cloud metadata address or the
//! private network behind it. Callbacks to loopback, private, link-local, shared (CGNAT),
//! multicast, reserved and unspecified addresses, IPv4 and IPv6 (IPv4-mapped, NAT64 and
//! 6to4 forms by the IPv4 address they carry), are refused unless an operator allows their
//! network with `--callback-allow-networks`. The rule is applied to the addresses a URL
//! resolves to *when the connection is made* (a resolver that drops refused addresses, so a
//! name that resolves to a public address at join time and to a private one later gains
//! nothing), and to IP literals before sending; the URL parser already turns odd spellings
//! (`2130706433`, `0x7f.1`) into the address they mean. [`CallbackTransport::check`] lets a
//! join refuse such a URL up front with 400 naming `callbackUrl`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use ucwa_core::credentials::new_id;
use ucwa_service::CallbackTransport;
use ucwa_service::callbacks::{CALLBACK_CONTENT_TYPE, DELIVERY_HEADER, SIGNATURE_HEADER};
use url::{Host, Url};

/// The most of a receiver's answer that is read (it matters only for a `CallbackContext`);
/// the rest is never read.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Which addresses callbacks may reach.
#[derive(Debug, Clone, Default)]
pub struct CallbackPolicy {
    /// Networks allowed even though they are internal (`--callback-allow-networks`).
    pub allowed: Vec<IpNet>,
}

/// Internal IPv4 networks: unspecified ("this network"), private, shared (CGNAT),
/// loopback, link-local, IETF protocol assignments, benchmarking, multicast, reserved and
/// broadcast.
const INTERNAL_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 0, 0, 0), 24),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(198, 18, 0, 0), 15),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
];

fn internal_v4(ip: Ipv4Addr) -> bool {
    INTERNAL_V4.iter().any(|(net, prefix)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
        u32::from(ip) & mask == u32::from(*net) & mask
    })
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _]
            if ip != Ipv6Addr::UNSPECIFIED && ip != Ipv6Addr::LOCALHOST =>
        {
            Some(tail)
        }
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8)),
        _ => None,
    }
}

/// Whether `ip` is internal: never a callback target unless allowed.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xff00) == 0xff00 // multicast
                || v6.segments()[..4] == [0x100, 0, 0, 0] // discard-only
        }
    }
}

impl CallbackPolicy {
    /// Whether callbacks may go to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        !is_internal(canonical) || self.allowed.iter().any(|net| net.contains(&canonical) || net.contains(&ip))
    }

    fn refused(ip: IpAddr) -> String {
        format!(
            "must not point at an internal address ({ip}: loopback, private, link-local or unspecified) unless the operator allows its network (--callback-allow-networks)"
        )
    }
}

/// Resolves names with the system resolver and drops the addresses the policy refuses,
/// when the connection is made.
struct FilteringResolver(Arc<CallbackPolicy>);

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let (kept, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved.partition(|a| policy.permits(a.ip()));
            if kept.is_empty() {
                let why = refused
                    .first()
                    .map_or_else(|| format!("{host} has no address"), |a| CallbackPolicy::refused(a.ip()));
                return Err(why.into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Sends callbacks with one shared `reqwest::Client`.
pub struct HttpTransport {
    client: reqwest::Client,
    policy: Arc<CallbackPolicy>,
}

impl HttpTransport {
    pub fn new(timeout: Duration, policy: CallbackPolicy) -> Self {
        install_crypto_provider();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the filter.
            .no_proxy()
            .dns_resolver(Arc::new(FilteringResolver(policy.clone())))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client, policy }
    }

    /// Refuses an IP literal the policy refuses (names are filtered when resolved).
    fn check_literal(&self, url: &Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err("has no host".into()),
        };
        if self.policy.permits(ip) { Ok(()) } else { Err(CallbackPolicy::refused(ip)) }
    }
}

#[async_trait]
impl CallbackTransport for HttpTransport {
    async fn check(&self, url: &Url) -> Result<(), String> {
        self.check_literal(url)?;
        let Some(Host::Domain(name)) = url.host() else { return Ok(()) };
        // A name that does not resolve fails later, as unreachable; one that resolves only
        // to refused addresses is refused now.
        let Ok(resolved) = tokio::net::lookup_host((name, 0)).await else { return Ok(()) };
        let addresses: Vec<IpAddr> = resolved.map(|a| a.ip()).collect();
        match addresses.first() {
            Some(first) if addresses.iter().all(|ip| !self.policy.permits(*ip)) => Err(CallbackPolicy::refused(*first)),
            _ => Ok(()),
        }
    }

    async fn post(&self, url: &Url, signature: &str, delivery: Option<&str>, body: Vec<u8>) -> Result<Vec<u8>, String> {
        self.check_literal(url).map_err(|e| format!("callback URL refused: it {e}"))?;
        let mut request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(CALLBACK_CONTENT_TYPE))
            .header("x-ms-correlation-id", new_id())
            .header(SIGNATURE_HEADER, signature);
        if let Some(delivery) = delivery {
            request = request.header(DELIVERY_HEADER, delivery);
        }
        // Without the URL: a receiver's address may carry credentials in its query.
        let mut resp = request
            .body(body)
            .send()
            .await
            .map_err(|e| format!("callback request failed: {}", with_causes(&e.without_url())))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("callback receiver answered {status}"));
        }
        // At most MAX_ANSWER_BYTES: a receiver answering a gigabyte costs 64 KiB.
        let mut answer = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let room = MAX_ANSWER_BYTES - answer.len();
            answer.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if answer.len() >= MAX_ANSWER_BYTES {
                break;
            }
        }
        Ok(answer)
    }
}

/// An error and its causes, `: `-separated (reqwest's own message leaves them out).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// https uses rustls with the ring provider (built without aws-lc or OpenSSL), and reqwest
/// refuses to build any client in the process until a process-wide provider is installed.
/// Call this before building a `reqwest::Client`; a second call changes nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "fc00::2",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:0101::1",
            "fec0::1",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn odd_spellings_parse_to_the_address_they_mean() {
        for spelled in
            ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://[::ffff:7f00:1]/"]
        {
            let url = Url::parse(spelled).unwrap();
            let transport = HttpTransport::new(Duration::from_secs(1), CallbackPolicy::default());
            assert!(transport.check_literal(&url).is_err(), "{spelled} -> {:?}", url.host());
        }
    }

    #[test]
    fn allowed_networks_open_only_themselves() {
        let policy = CallbackPolicy { allowed: vec!["127.0.0.0/8".parse().unwrap()] };
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("::1")));
        assert!(!policy.permits(ip("10.0.0.1")));
        assert!(policy.permits(ip("8.8.8.8")));
    }
}
