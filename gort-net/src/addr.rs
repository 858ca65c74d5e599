//! [`ToSocketAddrs`]: what `bind`, `connect` and `send_to` accept (tokio's
//! trait of the same name, sealed).
//!
//! Addresses and `"ip:port"` strings resolve without blocking. A host name
//! needs a DNS lookup, which blocks its thread (Go's cgo resolver does the
//! same on a thread of its own); gort runs it inside
//! [`gort_core::block_in_place`], so the P and its queued tasks move to
//! another worker meanwhile.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Converts to one or more socket addresses: a [`SocketAddr`], an
/// `(IpAddr, u16)` pair, a slice of addresses, or a string such as
/// `"127.0.0.1:8080"` or `"localhost:8080"` (resolved by DNS).
///
/// ```
/// # gort::runtime::Builder::new().build()?.block_on(async {
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// let a = gort::net::TcpListener::bind("127.0.0.1:0").await?;
/// let b = gort::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
/// let c = gort::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
/// assert!(a.local_addr()?.ip().is_loopback() && b.local_addr()?.ip().is_loopback());
/// # drop(c);
/// # Ok::<_, std::io::Error>(()) })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// The addresses, or a host to look up.
    pub enum Resolved {
        Addrs(io::Result<Vec<SocketAddr>>),
        Lookup(String),
    }

    pub trait Sealed {
        fn resolve(&self) -> Resolved;
    }
}

use sealed::{Resolved, Sealed};

/// Every address `addr` stands for, looking host names up off the P.
pub(crate) async fn to_addrs<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolve() {
        Resolved::Addrs(r) => r,
        Resolved::Lookup(host) => gort_core::block_in_place(|| {
            std::net::ToSocketAddrs::to_socket_addrs(&host).map(Iterator::collect)
        }),
    }
}

/// Tries `f` on each address in turn; the first success wins, else the
/// last error (tokio's and std's rule for `bind`/`connect`).
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in to_addrs(addr).await? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

fn one(a: SocketAddr) -> Resolved {
    Resolved::Addrs(Ok(vec![a]))
}

impl ToSocketAddrs for SocketAddr {}
impl Sealed for SocketAddr {
    fn resolve(&self) -> Resolved {
        one(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {}
impl Sealed for SocketAddrV4 {
    fn resolve(&self) -> Resolved {
        one((*self).into())
    }
}

impl ToSocketAddrs for SocketAddrV6 {}
impl Sealed for SocketAddrV6 {
    fn resolve(&self) -> Resolved {
        one((*self).into())
    }
}

impl ToSocketAddrs for (IpAddr, u16) {}
impl Sealed for (IpAddr, u16) {
    fn resolve(&self) -> Resolved {
        one((*self).into())
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {}
impl Sealed for (Ipv4Addr, u16) {
    fn resolve(&self) -> Resolved {
        one((*self).into())
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {}
impl Sealed for (Ipv6Addr, u16) {
    fn resolve(&self) -> Resolved {
        one((*self).into())
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl Sealed for [SocketAddr] {
    fn resolve(&self) -> Resolved {
        Resolved::Addrs(Ok(self.to_vec()))
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn resolve(&self) -> Resolved {
        match self.parse::<SocketAddr>() {
            Ok(a) => one(a),
            Err(_) => Resolved::Lookup(self.to_string()),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn resolve(&self) -> Resolved {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn resolve(&self) -> Resolved {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => one((ip, self.1).into()),
            Err(_) => Resolved::Lookup(format!("{}:{}", self.0, self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn resolve(&self) -> Resolved {
        (self.0.as_str(), self.1).resolve()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn resolve(&self) -> Resolved {
        (**self).resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(r: Resolved) -> Vec<SocketAddr> {
        match r {
            Resolved::Addrs(a) => a.unwrap(),
            Resolved::Lookup(h) => panic!("needed a lookup for {h}"),
        }
    }

    #[test]
    fn literal_addresses_resolve_without_a_lookup() {
        let want: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(addrs("127.0.0.1:80".resolve()), [want]);
        assert_eq!(addrs(("127.0.0.1", 80).resolve()), [want]);
        let by_ref: &SocketAddr = &want;
        assert_eq!(addrs(Sealed::resolve(&by_ref)), [want]);
        assert_eq!(addrs("[::1]:80".to_string().resolve()).len(), 1);
        assert!(matches!("localhost:80".resolve(), Resolved::Lookup(_)));
    }
}
