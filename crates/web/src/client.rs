//! Who sent a request. Behind a reverse proxy every request comes from the proxy, so throttling
//! by peer address would throttle everyone at once; trusting `X-Forwarded-For` from anyone would
//! let a client name any address it likes. The operator lists the proxies (`trusted_proxies`,
//! addresses or CIDR ranges); only a request whose peer is one of them has its
//! `X-Forwarded-For` read, right to left, skipping the listed proxies: the first address that
//! is not one of them is the client. With no list (the default), the peer is the client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address, put in every request's extensions by the middleware
/// [`with_client_address`] adds. `None` when the server runs without connection info (router tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The address as text, `unknown` when there is none; the key throttling counts under.
    pub fn key(&self) -> String {
        self.0
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: &[IpNet]) -> Self {
        Self(networks.into())
    }

    fn contains(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(address))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(&peer) {
            return peer;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // An entry that is not an address ends the walk: whoever wrote it is not trusted.
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            client = address;
            if !self.contains(&address) {
                break;
            }
        }
        client
    }

    /// Middleware: puts the request's [`ClientAddress`] in its extensions.
    pub async fn middleware(self, mut request: Request, next: Next) -> Response {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let client = peer.map(|peer| self.client_of(peer, request.headers()));
        request.extensions_mut().insert(ClientAddress(client));
        next.run(request).await
    }
}

/// Adds the client-address middleware to `router`.
pub fn with_client_address<S>(router: axum::Router<S>, proxies: TrustedProxies) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn(move |request, next| {
        proxies.clone().middleware(request, next)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(value));
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_of(ip("203.0.113.9"), &forwarded("1.2.3.4")),
            ip("203.0.113.9")
        );
        let proxy = TrustedProxies::new(&["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            proxy.client_of(ip("203.0.113.9"), &forwarded("1.2.3.4")),
            ip("203.0.113.9"),
            "only a listed proxy's header is read"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = TrustedProxies::new(&[
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]);
        // The client wrote a fake first entry; the proxies appended the real hops.
        let headers = forwarded("6.6.6.6, 198.51.100.7, 10.1.2.3");
        assert_eq!(
            proxies.client_of(ip("127.0.0.1"), &headers),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client_of(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1"),
            "without the header the proxy itself is all we know"
        );
        assert_eq!(
            proxies.client_of(ip("10.9.9.9"), &forwarded("garbage, 10.1.1.1")),
            ip("10.1.1.1"),
            "an entry that is not an address stops the walk at the last trusted hop"
        );
    }
}
